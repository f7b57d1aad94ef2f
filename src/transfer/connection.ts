/**
 * A Connection is the reliable layer of one secure session: it multiplexes the session's
 * frames onto reliable channels by stream id, packs the channels' outgoing frames into
 * datagram-sized payloads, and sends a PING when the session has been quiet for
 * `keepaliveMs` (this also keeps NAT mappings open). Sans-IO: the caller seals payloads
 * with the Endpoint and feeds decrypted payloads back in.
 *
 * Stream 0 carries control messages and chat. Later streams (file transfers) get their
 * own channel, so a chat message never waits behind a bulk queue.
 */

import { decodeFrames, encodeFrames, type Frame, frameBytes } from "../protocol/frames.js";
import { MAX_FRAMES_BYTES } from "../protocol/limits.js";
import { ReliableChannel } from "./reliable-channel.js";

export const CONTROL_STREAM = 0;

export interface ConnectionOptions {
  keepaliveMs: number;
  payloadBytes?: number;
}

export class Connection {
  private readonly channels = new Map<number, ReliableChannel>();
  private readonly payloadBytes: number;
  private lastSentAt: number;
  private pingOwed = false;
  closedReason: string | undefined;
  droppedPayloads = 0;

  constructor(
    private readonly opts: ConnectionOptions,
    now: number,
  ) {
    this.payloadBytes = opts.payloadBytes ?? MAX_FRAMES_BYTES;
    this.lastSentAt = now;
    this.channels.set(CONTROL_STREAM, this.newChannel(CONTROL_STREAM));
  }

  private newChannel(stream: number): ReliableChannel {
    // A segment must fit a payload together with a piggybacked ACK of the same stream.
    return new ReliableChannel({ stream, maxSegmentPayloadBytes: this.payloadBytes - 10 - 280 });
  }

  /** Queue one reliable message on a stream (0 = control/chat). Throws MSG_TOO_LARGE. */
  sendMessage(message: Uint8Array, now: number, stream = CONTROL_STREAM): void {
    let ch = this.channels.get(stream);
    if (!ch) {
      ch = this.newChannel(stream);
      this.channels.set(stream, ch);
    }
    ch.send(message, now);
  }

  /** Ask for a PING in the next payload (a heartbeat that needs no answer). */
  ping(): void {
    this.pingOwed = true;
  }

  /** Feed one decrypted payload. Malformed payloads are counted and dropped. */
  handlePayload(payload: Uint8Array, now: number): void {
    const decoded = decodeFrames(payload);
    if (!decoded.ok) {
      this.droppedPayloads++;
      return;
    }
    for (const f of decoded.value) {
      switch (f.type) {
        case "segment":
          (this.channels.get(f.stream) ?? this.acceptStream(f.stream))?.handleSegment(f, now);
          break;
        case "ack":
          this.channels.get(f.stream)?.handleAck(f, now);
          break;
        case "ping":
          break;
        case "close":
          this.closedReason = f.reason || "closed by peer";
          break;
      }
    }
  }

  private acceptStream(stream: number): ReliableChannel | undefined {
    // Streams are opened by whoever sends first; bounded so a peer cannot make us allocate freely.
    if (this.channels.size >= 64) return undefined;
    const ch = this.newChannel(stream);
    this.channels.set(stream, ch);
    return ch;
  }

  /** Next complete message, in order, with its stream. */
  pollMessage(): { stream: number; message: Uint8Array } | undefined {
    for (const [stream, ch] of this.channels) {
      const message = ch.pollMessage();
      if (message) return { stream, message };
    }
    return undefined;
  }

  /** Next payload to seal and send, or undefined when nothing is due. */
  pollPayload(now: number): Uint8Array | undefined {
    const frames: Frame[] = [];
    let budget = this.payloadBytes;
    if (this.pingOwed) {
      frames.push({ type: "ping" });
      budget -= 1;
      this.pingOwed = false;
    }
    // Stream 0 first: control and chat go ahead of any bulk stream.
    for (const ch of this.channels.values()) {
      for (;;) {
        const f = ch.pollFrame(now, budget);
        if (!f) break;
        frames.push(f);
        budget -= frameBytes(f);
      }
    }
    if (frames.length === 0) return undefined;
    this.lastSentAt = now;
    return encodeFrames(frames);
  }

  pollTimeout(): number | undefined {
    let t: number = this.lastSentAt + this.opts.keepaliveMs;
    for (const ch of this.channels.values()) {
      const c = ch.pollTimeout();
      if (c !== undefined && c < t) t = c;
    }
    return t;
  }

  handleTimeout(now: number): void {
    for (const ch of this.channels.values()) ch.handleTimeout(now);
    if (now >= this.lastSentAt + this.opts.keepaliveMs) this.pingOwed = true;
  }

  /** A frame that tells the peer we are going away; sent best-effort. */
  closePayload(reason: string): Uint8Array {
    return encodeFrames([{ type: "close", reason }]);
  }
}
