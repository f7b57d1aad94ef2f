/**
 * The reliable channel's configuration and diagnostics: its options with their defaults and
 * checks, the path it runs on, and its stats (`reliable-channel.ts` composes the parts).
 */

import { MisuseError } from "../errors.js";
import { channelDiagnostics } from "../protocol/diagnostics.js";
import type { SegmentFrame } from "../protocol/frames.js";
import { MAX_MESSAGE_BYTES } from "../protocol/limits.js";
import { SEQ_MODULO } from "../protocol/seq.js";
import type { CongestionController } from "./congestion/index.js";

/**
 * What a channel knows of the path its session runs on (`Connection` implements it): how large
 * a segment a datagram carries now, and where to report the fate of each segment, for the
 * path's loss rate. A channel without one uses `maxSegmentPayloadBytes` and reports nothing.
 */
export interface SegmentPath {
  /** Largest segment payload a datagram of this path carries now (segment header excluded). */
  readonly segmentBudgetBytes: number;
  onSegmentAcked(payloadBytes: number): void;
  /** Declared lost by SACK: later data arrived. */
  onSegmentLost(payloadBytes: number): void;
  /** The retransmission timer expired with segments of up to this size in flight. */
  onTimeout(largestPayloadBytes: number, now: number): void;
}

export interface ReliableChannelOptions {
  /** u16 stream id written into every frame. */
  stream: number;
  /** u32, default 0; both ends are configured with the same value. */
  initialSeq?: number;
  /** Payload bytes per segment at most; the path may allow fewer (`path`). */
  maxSegmentPayloadBytes: number;
  /** The session's path: segment budget and loss reporting. */
  path?: SegmentPath;
  /** Max segments in flight, default 256. */
  sendWindowSegments?: number;
  /** Receive buffer for out-of-order segments and undelivered messages, default 1024; advertised in ACKs. */
  receiveWindowSegments?: number;
  /**
   * Also bound the receive buffer in bytes: the window advertised is what fits this many bytes
   * at the largest segment size seen (a bulk stream's segments grow from 1.1 KiB to 64 KiB as
   * its path proves larger datagrams; a window counted only in segments would be 60× too small
   * or 60× too large). A window once advertised is never taken back, but a segment inside it
   * that would take the buffer past this many bytes is dropped unacknowledged.
   */
  receiveWindowBytes?: number;
  /** LAN floor of the retransmission timeout, default 30. */
  minRtoMs?: number;
  /** Ceiling of the retransmission timeout, default 4000. */
  maxRtoMs?: number;
  /** Timeout before the first RTT sample, default 300. */
  initialRtoMs?: number;
  /** Delayed-ACK timer, default 5. */
  ackDelayMs?: number;
  /**
   * An in-order segment is acknowledged at once when this many are unacknowledged, default 2
   * (RFC 5681 §4.2). Bulk transfers acknowledge less often: see `BULK_DEFAULTS`.
   */
  ackEverySegments?: number;
  /** Largest message, default MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  /** Default: a fresh AimdCongestionController. */
  congestion?: CongestionController;
  /**
   * Checked on every new in-window segment before it is buffered; false drops it
   * unacknowledged (the sender sees a loss) and counts it in `integrityDropped`.
   */
  verifySegment?: (frame: SegmentFrame) => boolean;
  /**
   * A message over `maxMessageBytes` is dropped whole; this hears its first segment, so the
   * application can still answer it (the registry's "every request gets an answer").
   */
  onOversized?: (head: Uint8Array) => void;
}

export interface ReliableChannelStats {
  /** Segment frames emitted, first transmissions and retransmissions. */
  segmentsSent: number;
  /** Retransmitted segments for any reason (timeout, fast retransmit, zero-window probe). */
  retransmits: number;
  /** The part of `retransmits` triggered by SACK loss detection. */
  fastRetransmits: number;
  /** Payload bytes of `retransmits`: what loss (or a spurious timeout) cost on the wire. */
  retransmittedBytes: number;
  /** Segments received that were already acknowledged or buffered. */
  duplicatesDropped: number;
  /** Messages handed out by `pollMessage`. */
  messagesDelivered: number;
  srttMs: number | undefined;
  rtoMs: number;
  /**
   * Segments received at or beyond the advertised right edge, or inside it but beyond what the
   * receive buffer holds in bytes (`receiveWindowBytes`), and dropped.
   */
  outOfWindowDropped: number;
  /** Received messages dropped for exceeding `maxMessageBytes` or the receive buffer. */
  oversizedDropped: number;
  /** Segments the receive side holds right now (undelivered plus out-of-order). */
  bufferedSegments: number;
  /** Received segments that failed `verifySegment` and were dropped as lost. */
  integrityDropped: number;
  /** Segments acknowledged by the peer (cumulatively or by SACK) over the channel's life. */
  deliveredSegments: number;
  /** Payload bytes of those segments. */
  deliveredBytes: number;
  /** Fragment frames sent: segments resent in pieces after their path shrank. */
  fragmentsSent: number;
  /** The congestion window, bytes in flight and the pacing rate right now (diagnostics). */
  cwndBytes: number;
  inflightBytes: number;
  pacingRateBytesPerMs: number | undefined;
  /** Fragments dropped: contradicting ones, or beyond the reassembly limit. */
  fragmentsDropped: number;
  /** Timeouts found spurious (the originals arrived) and undone. */
  spuriousTimeouts: number;
}

/** The stats that only grow: `hallway:channel` reports how much each changed. */
export const COUNTED_STATS = [
  "segmentsSent",
  "retransmits",
  "fastRetransmits",
  "retransmittedBytes",
  "fragmentsSent",
  "deliveredSegments",
  "deliveredBytes",
  "spuriousTimeouts",
  "messagesDelivered",
  "duplicatesDropped",
  "outOfWindowDropped",
  "oversizedDropped",
  "integrityDropped",
  "fragmentsDropped",
] as const satisfies readonly (keyof ReliableChannelStats)[];

export type CountedStat = (typeof COUNTED_STATS)[number];

/**
 * Published on `hallway:channel` (protocol/diagnostics.ts) after an input or output that
 * changed a channel's counters: which, by how much since the channel last published, and
 * all its stats as they are now.
 */
export interface ChannelDiagnostic {
  /** The publishing `ReliableChannel`: channels are told apart by identity (streams repeat). */
  channel: object;
  stream: number;
  changed: Partial<Record<CountedStat, number>>;
  stats: ReliableChannelStats;
}

/** The counters that differ between `last` and `stats`, by how much; `last` becomes `stats`. */
export function counterChanges(
  last: Record<CountedStat, number>,
  stats: ReliableChannelStats,
): Partial<Record<CountedStat, number>> | undefined {
  let changed: Partial<Record<CountedStat, number>> | undefined;
  for (const key of COUNTED_STATS) {
    const delta = stats[key] - last[key];
    if (delta === 0) continue;
    changed ??= {};
    changed[key] = delta;
    last[key] = stats[key];
  }
  return changed;
}

export function zeroCounters(): Record<CountedStat, number> {
  return Object.fromEntries(COUNTED_STATS.map((k) => [k, 0])) as Record<CountedStat, number>;
}

/** A channel's `hallway:channel` publisher: what changed in its counters since it last published. */
export class ChannelPublisher {
  /** The counters as last published (only while someone listens). */
  private published: Record<CountedStat, number> | undefined;

  publish(channel: object, stream: number, stats: ReliableChannelStats): void {
    this.published ??= zeroCounters();
    const changed = counterChanges(this.published, stats);
    if (changed === undefined) return;
    const message: ChannelDiagnostic = { channel, stream, changed, stats };
    channelDiagnostics.publish(message);
  }
}

const DEFAULTS = {
  initialSeq: 0,
  sendWindowSegments: 256,
  receiveWindowSegments: 1024,
  minRtoMs: 30,
  maxRtoMs: 4000,
  /**
   * RFC 6298 §2.1 starts at 1 s because Internet RTTs can approach a second. Hallway runs on a
   * LAN, where RTTs are a few milliseconds, and the first segments of a session are login and
   * chat requests a person is waiting on: a lost first message should not freeze the UI for a
   * second. 300 ms is still far above any LAN RTT and above Wi-Fi power-save stalls
   * (~100–200 ms), so spurious retransmits stay rare, and a spurious one costs one duplicate
   * that the receiver drops. QUIC makes a similar choice (RFC 9002 §6.2.2: initial RTT 333 ms).
   */
  initialRtoMs: 300,
  /** Far below the 500 ms ceiling of RFC 1122 §4.2.3.2; a LAN RTT is a few ms. */
  ackDelayMs: 5,
  /** RFC 5681 §4.2: ACK at least every second full-sized segment. */
  ackEverySegments: 2,
} as const;

/** Windows are compared through signed 32-bit sequence distances, so they stay far below 2^31. */
export const MAX_WINDOW_SEGMENTS = 0x1000000;

/** The options with every default filled in and checked (the congestion controller apart). */
export interface ResolvedChannelOptions {
  readonly stream: number;
  readonly initialSeq: number;
  readonly maxSegmentPayloadBytes: number;
  readonly sendWindowSegments: number;
  readonly receiveWindowSegments: number;
  readonly receiveWindowBytes: number | undefined;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  readonly initialRtoMs: number;
  readonly ackDelayMs: number;
  readonly ackEverySegments: number;
  readonly maxMessageBytes: number;
  readonly verifySegment: ((frame: SegmentFrame) => boolean) | undefined;
  readonly onOversized: ((head: Uint8Array) => void) | undefined;
}

/** Segments a message of `messageBytes` takes at `segmentBytes` each (an empty one takes one). */
export function segmentsFor(messageBytes: number, segmentBytes: number): number {
  return Math.max(1, Math.ceil(messageBytes / segmentBytes));
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < SEQ_MODULO;
}

function invalidOption(what: string): MisuseError {
  return new MisuseError(`ReliableChannel: ${what}`);
}

/** Fills in the defaults; throws on a configuration that could never work. */
export function resolveChannelOptions(opts: ReliableChannelOptions): ResolvedChannelOptions {
  const o: ResolvedChannelOptions = {
    stream: opts.stream,
    initialSeq: opts.initialSeq ?? DEFAULTS.initialSeq,
    maxSegmentPayloadBytes: opts.maxSegmentPayloadBytes,
    sendWindowSegments: opts.sendWindowSegments ?? DEFAULTS.sendWindowSegments,
    receiveWindowSegments: opts.receiveWindowSegments ?? DEFAULTS.receiveWindowSegments,
    receiveWindowBytes: opts.receiveWindowBytes,
    minRtoMs: opts.minRtoMs ?? DEFAULTS.minRtoMs,
    maxRtoMs: opts.maxRtoMs ?? DEFAULTS.maxRtoMs,
    initialRtoMs: opts.initialRtoMs ?? DEFAULTS.initialRtoMs,
    ackDelayMs: opts.ackDelayMs ?? DEFAULTS.ackDelayMs,
    ackEverySegments: opts.ackEverySegments ?? DEFAULTS.ackEverySegments,
    maxMessageBytes: opts.maxMessageBytes ?? MAX_MESSAGE_BYTES,
    verifySegment: opts.verifySegment,
    onOversized: opts.onOversized,
  };
  if (!Number.isInteger(o.stream) || o.stream < 0 || o.stream > 0xffff) {
    throw invalidOption(`stream ${o.stream} is not a u16`);
  }
  if (!isU32(o.initialSeq)) throw invalidOption(`initialSeq ${o.initialSeq} is not a u32`);
  if (!Number.isInteger(o.maxSegmentPayloadBytes) || o.maxSegmentPayloadBytes < 1) {
    throw invalidOption("maxSegmentPayloadBytes must be a positive integer");
  }
  if (o.maxSegmentPayloadBytes > 0xffff) throw invalidOption("maxSegmentPayloadBytes exceeds u16");
  for (const [name, value] of [
    ["sendWindowSegments", o.sendWindowSegments],
    ["receiveWindowSegments", o.receiveWindowSegments],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_WINDOW_SEGMENTS) {
      throw invalidOption(`${name} must be an integer in [1, ${MAX_WINDOW_SEGMENTS}]`);
    }
  }
  if (!(o.minRtoMs > 0 && o.minRtoMs <= o.maxRtoMs)) throw invalidOption("need 0 < minRtoMs <= maxRtoMs");
  if (!(o.initialRtoMs > 0)) throw invalidOption("initialRtoMs must be positive");
  if (!(o.ackDelayMs >= 0)) throw invalidOption("ackDelayMs must not be negative");
  if (!Number.isInteger(o.ackEverySegments) || o.ackEverySegments < 1) {
    throw invalidOption("ackEverySegments must be a positive integer");
  }
  if (!Number.isInteger(o.maxMessageBytes) || o.maxMessageBytes < 0) {
    throw invalidOption("maxMessageBytes must be a non-negative integer");
  }
  // A message that cannot fit the receive buffer could never complete: the window would
  // close on its own first half. Catch the misconfiguration here rather than deadlock later.
  // (The peer cuts segments by its own path, so this is checked at our largest size.)
  const needed = segmentsFor(o.maxMessageBytes, o.maxSegmentPayloadBytes);
  if (needed > o.receiveWindowSegments) {
    throw invalidOption(
      `a ${o.maxMessageBytes}-byte message needs ${needed} segments, ` +
        `more than receiveWindowSegments ${o.receiveWindowSegments}`,
    );
  }
  return o;
}
