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
 * sides may open transfers at once without colliding. A detached stream is retired: late
 * frames for it are dropped instead of opening a plain channel.
 *
 * Packing: stream 0's frames always go first in a payload, so chat and control never wait
 * behind bulk data. The transfer streams share the rest by bytes, not by turns: each keeps a
 * count of the bytes it was given (`served`), and every payload offers its room to the least
 * served stream first (a byte-based fair queue, as deficit round robin approximates). Turns
 * would not be fair: a stream of small chunks packs many into its turn, one of large chunks
 * only as many as fit. A stream that has nothing to send cannot bank credit: its count is
 * raised to the least count of those that sent (the queue's virtual time), so a transfer that
 * was waiting (for an accept, a disk, its pacing) joins as an equal, not with a backlog of
 * priority that would starve the others.
 *
 * Path: the Connection owns the session's `PathMtu` (path-mtu.ts) and is the `SegmentPath` of
 * every channel and core on it: it tells them how large a segment a datagram carries now,
 * collects the fate of their segments for the path's loss estimate, and sends the padded
 * PMTU probes and answers the peer's. The search for larger datagrams starts when a transfer
 * stream is attached (chat and control never need more than the base size), and starts over
 * when the session moves to another path (`handlePathChange`). A relayed path stays at
 * RELAYED_DATAGRAM_BYTES, the envelope included.
 *
 * Beside it: `connection-options.ts` (options, counters, the `PathAwareCore` it hosts) and
 * `payload-interleave.ts` (the session host's turns over several connections).
 */

import {
  decodeFrames,
  encodeFramePieces,
  encodeFrames,
  type Frame,
  frameBytes,
  PADDING_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
} from "../protocol/frames.js";
import {
  AEAD_TAG_BYTES,
  BASE_FRAMES_BYTES,
  DATA_HEADER_BYTES,
  DEFAULT_DATAGRAM_BYTES,
} from "../protocol/limits.js";
import { RELAY_HEADER_BYTES } from "../protocol/relay.js";
import type { ConnectionOptions, ConnectionStats, PathAwareCore } from "./connection-options.js";
import { PathMtu } from "./path-mtu.js";
import { ReliableChannel, type SegmentPath } from "./reliable-channel.js";
import type { StreamCore } from "./stream-core.js";

export type { ConnectionOptions, ConnectionStats, PathAwareCore } from "./connection-options.js";
export { interleavePayloads } from "./payload-interleave.js";

export const CONTROL_STREAM = 0;

export const MAX_STREAM_ID = 0xffff;
/** Streams (channels and transfer cores) a session holds at most; peers cannot make us allocate freely. */
export const MAX_STREAMS = 64;
const RETIRED_LIMIT = 4096;
/** A datagram through the relay, envelope included, is no larger than the base size. */
export const RELAYED_DATAGRAM_BYTES = DEFAULT_DATAGRAM_BYTES - RELAY_HEADER_BYTES;
/** Bytes of a DATA datagram around its frames. */
const DATAGRAM_OVERHEAD_BYTES = DATA_HEADER_BYTES + AEAD_TAG_BYTES;
/** Room a stream-0 segment leaves for a piggybacked ACK of the same stream (32 SACK ranges). */
const CONTROL_ACK_ROOM_BYTES = 280;
/** Largest control segment: the base payload less the ACK room (stream 0 never needs more). */
const CONTROL_SEGMENT_BYTES = BASE_FRAMES_BYTES - SEGMENT_HEADER_BYTES - CONTROL_ACK_ROOM_BYTES;
/** PMTU answers owed at most; more probes than this in one turn are not answered. */
const MAX_OWED_PROBE_ACKS = 8;

export class Connection implements SegmentPath {
  private readonly channels = new Map<number, ReliableChannel>();
  private readonly cores = new Map<number, PathAwareCore>();
  private readonly retired = new Set<number>();
  private nextStream: number;
  /** Bytes each transfer stream was given, on the fair queue's virtual clock. */
  private readonly served = new Map<number, number>();
  /** The largest frame each transfer stream has sent: the room it needs to send anything. */
  private readonly largestFrame = new Map<number, number>();
  private readonly pmtu = new PathMtu();
  private lastSentAt: number;
  private pingOwed = false;
  private probeAcksOwed: Array<{ id: number; datagramBytes: number }> = [];
  private probesAnswered = 0;
  private nowMs: number;
  closedReason: string | undefined;
  droppedPayloads = 0;

  constructor(
    private readonly opts: ConnectionOptions,
    now: number,
  ) {
    this.lastSentAt = now;
    this.nowMs = now;
    this.nextStream = opts.initiator ? 1 : 2;
    if (opts.linkMtuBytes !== undefined) this.pmtu.linkMtuBytes = opts.linkMtuBytes;
    if (opts.relayed) this.pmtu.disable(RELAYED_DATAGRAM_BYTES);
    this.channels.set(CONTROL_STREAM, this.newChannel(CONTROL_STREAM));
  }

  private newChannel(stream: number): ReliableChannel {
    // A control segment fits a base-size payload together with a piggybacked ACK of its stream.
    const onOversized = this.opts.onOversized;
    return new ReliableChannel({
      stream,
      maxSegmentPayloadBytes: CONTROL_SEGMENT_BYTES,
      ...(onOversized ? { onOversized: (head: Uint8Array) => onOversized(stream, head) } : {}),
    });
  }

  get stats(): ConnectionStats {
    return { path: this.pmtu.stats, probesAnswered: this.probesAnswered };
  }

  // ---- the path (SegmentPath, for the channels and cores of this session) -----------------

  /** Plaintext bytes a payload may have now: the datagram size in use less header and tag. */
  get payloadBudgetBytes(): number {
    return this.pmtu.datagramBytes - DATAGRAM_OVERHEAD_BYTES;
  }

  get segmentBudgetBytes(): number {
    return this.payloadBudgetBytes - SEGMENT_HEADER_BYTES;
  }

  onSegmentAcked(payloadBytes: number): void {
    this.pmtu.noteAcked(payloadBytes);
  }

  onSegmentLost(payloadBytes: number): void {
    this.pmtu.noteLost(payloadBytes);
  }

  onTimeout(largestPayloadBytes: number, now: number): void {
    this.pmtu.noteTimeout(largestPayloadBytes, now);
  }

  /**
   * The session moved to another path (roaming, a punched hole after the relay, or back): what
   * was learnt of the old one is void. A relayed path is fixed at the base size.
   */
  handlePathChange(relayed: boolean, now: number, linkMtuBytes?: number): void {
    if (linkMtuBytes !== undefined) this.pmtu.linkMtuBytes = linkMtuBytes;
    if (relayed) this.pmtu.disable(RELAYED_DATAGRAM_BYTES);
    else this.pmtu.reset(now, this.cores.size > 0);
  }

  // ---- streams ----------------------------------------------------------------------------

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
  attachStream(stream: number, core: PathAwareCore): boolean {
    if (stream === CONTROL_STREAM || this.channels.has(stream) || this.cores.has(stream)) return false;
    if (this.retired.has(stream) || this.channels.size + this.cores.size >= MAX_STREAMS) return false;
    this.cores.set(stream, core);
    this.served.set(stream, this.virtualTime());
    core.attachPath?.(this);
    // Bulk data will move: find out how large a datagram this path carries.
    this.pmtu.startSearch(this.nowMs);
    return true;
  }

  /** Hand an attached stream to another core (a receiver rebuilt to resume). False if not attached. */
  replaceStream(stream: number, core: PathAwareCore): boolean {
    if (!this.cores.has(stream)) return false;
    this.cores.set(stream, core);
    core.attachPath?.(this);
    return true;
  }

  /** Stop hosting a transfer core; later frames on its stream are dropped. Idempotent. */
  detachStream(stream: number): void {
    if (!this.cores.delete(stream)) return;
    this.served.delete(stream);
    this.largestFrame.delete(stream);
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
    this.nowMs = now;
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
        case "pmtu-probe":
          // The datagram's size is the payload's plus the header and tag around it.
          if (this.probeAcksOwed.length < MAX_OWED_PROBE_ACKS) {
            this.probeAcksOwed.push({ id: f.id, datagramBytes: payload.length + DATAGRAM_OVERHEAD_BYTES });
          }
          break;
        case "pmtu-ack":
          this.pmtu.srttMs = this.channels.get(CONTROL_STREAM)?.stats.srttMs;
          this.pmtu.handleProbeAck(f.id, f.datagramBytes, now);
          break;
        case "ping":
        case "padding":
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

  /**
   * Next payload to seal and send, or undefined when nothing is due. The payload comes in
   * pieces (`encodeFramePieces`): a file chunk is a piece of its own, sealed without a copy.
   */
  pollPayload(now: number): Uint8Array[] | undefined {
    this.nowMs = now;
    const probe = this.pmtu.pollProbe(now);
    if (probe !== undefined) return [this.probePayload(probe.id, probe.datagramBytes, now)];
    const frames: Frame[] = [];
    let budget = this.payloadBudgetBytes;
    if (this.pingOwed) {
      frames.push({ type: "ping" });
      budget -= 1;
      this.pingOwed = false;
    }
    for (const owed of this.probeAcksOwed) {
      frames.push({ type: "pmtu-ack", id: owed.id, datagramBytes: owed.datagramBytes });
      budget -= frameBytes({ type: "pmtu-ack", id: 0, datagramBytes: 0 });
      this.probesAnswered++;
    }
    this.probeAcksOwed = [];
    // Stream 0 first: control and chat go ahead of any bulk stream.
    const drain = (s: StreamCore, stream?: number): number => {
      let bytes = 0;
      for (;;) {
        const f = s.pollFrame(now, budget);
        if (!f) return bytes;
        const size = frameBytes(f);
        frames.push(f);
        budget -= size;
        bytes += size;
        if (stream !== undefined && size > (this.largestFrame.get(stream) ?? 0))
          this.largestFrame.set(stream, size);
      }
    };
    for (const ch of this.channels.values()) drain(ch);
    if (this.cores.size > 0) this.packTransfers(drain, () => budget);
    if (frames.length === 0) return undefined;
    this.lastSentAt = now;
    return encodeFramePieces(frames);
  }

  /** A probe: the PMTU_PROBE frame padded so that the sealed datagram is `datagramBytes`. */
  private probePayload(id: number, datagramBytes: number, now: number): Uint8Array {
    const probe: Frame = { type: "pmtu-probe", id };
    const fill = datagramBytes - DATAGRAM_OVERHEAD_BYTES - frameBytes(probe) - PADDING_HEADER_BYTES;
    this.lastSentAt = now;
    return encodeFrames([probe, { type: "padding", length: Math.max(0, fill) }]);
  }

  /** The transfer streams, least served first, into the rest of the payload (see the top). */
  private packTransfers(drain: (s: StreamCore, stream: number) => number, room: () => number): void {
    const order = [...this.cores.keys()].sort(
      (a, b) => (this.served.get(a) ?? 0) - (this.served.get(b) ?? 0) || a - b,
    );
    const idle: number[] = [];
    let least = Number.POSITIVE_INFINITY;
    for (const stream of order) {
      const offered = room();
      const bytes = drain(this.cores.get(stream) as StreamCore, stream);
      if (bytes === 0) {
        // Silent with room for its largest frame: it has nothing to send. Without the room it
        // was only crowded out, and keeps its place.
        if (offered >= (this.largestFrame.get(stream) ?? this.payloadBudgetBytes)) idle.push(stream);
        continue;
      }
      const served = (this.served.get(stream) ?? 0) + bytes;
      this.served.set(stream, served);
      least = Math.min(least, served);
    }
    if (!Number.isFinite(least)) return;
    for (const stream of idle) this.served.set(stream, Math.max(this.served.get(stream) ?? 0, least));
  }

  /** The least count among the transfer streams: where a newcomer starts. */
  private virtualTime(): number {
    let least = Number.POSITIVE_INFINITY;
    for (const v of this.served.values()) least = Math.min(least, v);
    return Number.isFinite(least) ? least : 0;
  }

  pollTimeout(): number | undefined {
    let t: number = this.lastSentAt + this.opts.keepaliveMs;
    if (this.pingOwed || this.probeAcksOwed.length > 0) t = this.nowMs;
    const p = this.pmtu.pollTimeout();
    if (p !== undefined && p < t) t = p;
    for (const ch of this.channels.values()) {
      const c = ch.pollTimeout();
      if (c !== undefined && c < t) t = c;
    }
    for (const core of this.cores.values()) {
      const c = core.pollTimeout();
      if (c !== undefined && c < t) t = c;
    }
    return t;
  }

  handleTimeout(now: number): void {
    this.nowMs = now;
    this.pmtu.handleTimeout(now);
    for (const ch of this.channels.values()) ch.handleTimeout(now);
    for (const core of [...this.cores.values()]) core.handleTimeout(now);
    if (now >= this.lastSentAt + this.opts.keepaliveMs) this.pingOwed = true;
  }

  /** A frame that tells the peer we are going away; sent best-effort. */
  closePayload(reason: string): Uint8Array {
    return encodeFrames([{ type: "close", reason }]);
  }
}
