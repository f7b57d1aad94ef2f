/**
 * A Connection is the reliable layer of one secure session: it multiplexes the session's
 * frames onto reliable channels by stream id, packs the channels' outgoing frames into
 * datagram-sized payloads, and sends a PING when the session has been quiet for
 * `keepaliveMs` (this also keeps NAT mappings open). Sans-IO: the caller seals payloads
 * with the Endpoint and feeds decrypted payloads back in.
 *
 * Stream 0 carries control messages and chat. Later streams (file transfers) are hosted
 * by a `StreamCore` the transfer layer attaches (a FileSender or FileReceiver owning its
 * own channel), so a chat message never waits behind a bulk queue.
 *
 * Stream ids: the session's initiator allocates odd ids and the responder even ones, so both
 * sides may open transfers at once without colliding. Packing: stream 0's frames always go
 * first in a payload; the transfer streams share the rest round-robin, starting one stream
 * further on each payload so that no transfer starves another. A detached stream is retired:
 * late frames for it are dropped instead of opening a plain channel.
 */

import { decodeFrames, encodeFrames, type Frame, frameBytes } from "../protocol/frames.js";
import { MAX_FRAMES_BYTES } from "../protocol/limits.js";
import type { StreamCore } from "./file-transfer.js";
import { ReliableChannel } from "./reliable-channel.js";

export const CONTROL_STREAM = 0;

export const MAX_STREAM_ID = 0xffff;
/** Streams (channels and transfer cores) a session holds at most; peers cannot make us allocate freely. */
export const MAX_STREAMS = 64;
const RETIRED_LIMIT = 4096;

export interface ConnectionOptions {
  keepaliveMs: number;
  payloadBytes?: number;
  /** Whether this side opened the session: it then allocates odd stream ids, else even ones. */
  initiator?: boolean;
}

export class Connection {
  private readonly channels = new Map<number, ReliableChannel>();
  private readonly cores = new Map<number, StreamCore>();
  private readonly retired = new Set<number>();
  private nextStream: number;
  private roundRobin = 0;
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
    this.nextStream = opts.initiator ? 1 : 2;
    this.channels.set(CONTROL_STREAM, this.newChannel(CONTROL_STREAM));
  }

  private newChannel(stream: number): ReliableChannel {
    // A segment must fit a payload together with a piggybacked ACK of the same stream.
    return new ReliableChannel({ stream, maxSegmentPayloadBytes: this.payloadBytes - 10 - 280 });
  }

  /** A fresh stream id of this side's parity for a transfer, or undefined when none is left. */
  allocateStream(): number | undefined {
    while (this.nextStream <= MAX_STREAM_ID) {
      const id = this.nextStream;
      this.nextStream += 2;
      if (!this.channels.has(id) && !this.cores.has(id) && !this.retired.has(id)) return id;
    }
    return undefined;
  }

  /** Whether the peer may have opened `stream` (its parity, not ours). */
  isPeerStream(stream: number): boolean {
    return stream > 0 && stream <= MAX_STREAM_ID && (stream % 2 === 1) !== Boolean(this.opts.initiator);
  }

  /** Host a transfer core on its stream. False if the stream is taken or too many are open. */
  attachStream(stream: number, core: StreamCore): boolean {
    if (stream === CONTROL_STREAM || this.channels.has(stream) || this.cores.has(stream)) return false;
    if (this.retired.has(stream) || this.channels.size + this.cores.size >= MAX_STREAMS) return false;
    this.cores.set(stream, core);
    return true;
  }

  /** Hand an attached stream to another core (a receiver rebuilt to resume). False if not attached. */
  replaceStream(stream: number, core: StreamCore): boolean {
    if (!this.cores.has(stream)) return false;
    this.cores.set(stream, core);
    return true;
  }

  /** Stop hosting a transfer core; later frames on its stream are dropped. Idempotent. */
  detachStream(stream: number): void {
    if (!this.cores.delete(stream)) return;
    if (this.retired.size >= RETIRED_LIMIT) {
      const oldest = this.retired.values().next().value;
      if (oldest !== undefined) this.retired.delete(oldest);
    }
    this.retired.add(stream);
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
          (
            this.cores.get(f.stream) ??
            this.channels.get(f.stream) ??
            this.acceptStream(f.stream)
          )?.handleSegment(f, now);
          break;
        case "ack":
          (this.cores.get(f.stream) ?? this.channels.get(f.stream))?.handleAck(f, now);
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
    if (this.retired.has(stream) || this.channels.size + this.cores.size >= MAX_STREAMS) return undefined;
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
    const drain = (s: StreamCore) => {
      for (;;) {
        const f = s.pollFrame(now, budget);
        if (!f) break;
        frames.push(f);
        budget -= frameBytes(f);
      }
    };
    for (const ch of this.channels.values()) drain(ch);
    const cores = [...this.cores.values()];
    if (cores.length > 0) {
      const start = this.roundRobin++ % cores.length;
      for (let i = 0; i < cores.length; i++) drain(cores[(start + i) % cores.length] as StreamCore);
    }
    if (frames.length === 0) return undefined;
    this.lastSentAt = now;
    return encodeFrames(frames);
  }

  pollTimeout(): number | undefined {
    let t: number = this.lastSentAt + this.opts.keepaliveMs;
    for (const s of [...this.channels.values(), ...this.cores.values()]) {
      const c = s.pollTimeout();
      if (c !== undefined && c < t) t = c;
    }
    return t;
  }

  handleTimeout(now: number): void {
    for (const ch of this.channels.values()) ch.handleTimeout(now);
    for (const core of [...this.cores.values()]) core.handleTimeout(now);
    if (now >= this.lastSentAt + this.opts.keepaliveMs) this.pingOwed = true;
  }

  /** A frame that tells the peer we are going away; sent best-effort. */
  closePayload(reason: string): Uint8Array {
    return encodeFrames([{ type: "close", reason }]);
  }
}
