/**
 * ReliableChannel: one sliding window, both directions of one stream, sans-IO.
 *
 * Theory of operation
 * ===================
 *
 * Every reliable byte in Hallway (control requests, chat, bulk file data) goes through this one
 * window. Chat and control use it as a plain ordered message stream; a file transfer
 * (`file-sender.ts`, `file-receiver.ts`) runs one channel per transfer in which every message
 * is exactly one segment (a chunk), with a segment integrity check and a paced, model-based
 * congestion controller plugged in through the options below (see `file-transfer.ts` for why
 * ordered delivery suits the bulk path). It never touches a socket or a clock: inputs are
 * `send`, `handleSegment`, `handleAck` and `handleTimeout`, each with `now` in milliseconds;
 * outputs are `pollFrame` (what to transmit), `pollMessage` (what to deliver) and
 * `pollTimeout` (when to be woken).
 *
 * Sender
 * ------
 * `send` cuts a message into segments of at most `maxSegmentPayloadBytes` (the last one has
 * `end` set) and numbers them with consecutive u32 sequence numbers that wrap (all arithmetic
 * through `seq.ts`). The sender keeps one ordered scoreboard from `sndUna` (oldest
 * unacknowledged) onwards; its first `sentCount` entries have been transmitted, the rest wait.
 * Each transmitted entry is in exactly one state:
 *
 *      unsent ──pollFrame──► inflight ──SACK──► sacked
 *                              │  ▲               │
 *       3 later-sent SACKed or │  │ pollFrame     │ cumulative ACK passes it:
 *       RTO (RFC 6675, 6298)   ▼  │ (retransmit)  ▼ removed from the scoreboard
 *                               lost
 *
 * Invariants: `pipeBytes` = payload bytes of the `inflight` entries (RFC 6675 §4 "pipe", in
 * bytes as RFC 9002 §7 counts it: segments differ in size once a path carries larger
 * datagrams), `lostCount` = number of `lost` entries, each also in `lostQueue`; a transmission
 * is allowed only while `pipeBytes < cwnd` (lost segments first, then new data), except that
 * the first two ACKs reporting data above a hole may each release one new segment (Limited
 * Transmit, RFC 3042). New data also needs `seq < peer's right edge`
 * (flow control: cumulative + advertised window, which the receiver never shrinks, so the
 * sender keeps the largest edge it has seen and reordered ACKs are harmless; until the first
 * ACK it assumes the peer is configured like itself) and `sentCount < sendWindowSegments`
 * (bounds the scoreboard).
 *
 * Loss detection: an `inflight` transmission is lost once a transmission made at least 3 after
 * it has been acknowledged (RFC 9002 §6.1.1's packet threshold, kPacketThreshold = 3, counted
 * in transmission order as RFC 8985 does, so a lost retransmission is detected the same way;
 * for first transmissions this is RFC 6675's DupThresh = 3). Transmissions wait in `txQueue`
 * in the order they were made; an ACK pops the ones now old enough, so the work per ACK is
 * the number of segments it resolves, never a scan of the window. Each transmission is
 * fast-retransmitted at most once; the first loss in an episode calls `congestion.onLoss`,
 * later losses before the cumulative ACK passes the episode's `recoveryEnd` do not (RFC 6675
 * §5). Every segment declared lost by SACK is also counted to `congestion.onSegmentsLost`,
 * for controllers that respond to the loss *rate* rather than to loss events, and reported to
 * the path (`SegmentPath.onSegmentLost`), which uses the loss rate to choose datagram sizes.
 *
 * RTT samples (RFC 6298 §3, Karn): each ACK yields at most one sample, from the most recently
 * transmitted segment it newly acknowledges (the one whose arrival triggered it, so the peer's
 * `ackDelayMs` applies), and none if that segment was ever retransmitted.
 *
 * Congestion feedback: every ACK that newly acknowledges segments calls `congestion.onAck`
 * with an `AckSample`: whether a loss episode is being repaired (a Reno-style controller does
 * not grow then, RFC 6675 §5; a model-based one keeps measuring), the RTT sample, and a
 * delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation): each transmission
 * records how much had been delivered, and when, at the moment it was sent; when the newest
 * acknowledged transmission comes back, the rate over its flight is
 * `delivered now - delivered then` over the longer of its send and ACK intervals (the send
 * interval keeps ACK compression from inflating the rate). A sample taken while the sender
 * had nothing to send, or was held by the peer's window or the send window, is marked
 * app-limited: it measures the application, not the network.
 *
 * Pacing: when the controller reports `pacingRateBytesPerMs`, segments (new data and
 * retransmissions; ACKs are never paced) leave through a token bucket of bytes refilled at
 * that rate and holding at most `max(4 segments, 2 ms of the rate)`, so a 1 ms adapter timer
 * can still reach the rate. A segment leaves when the bucket holds its size and takes it out;
 * a segment the bucket holds back sets the pacing deadline, which `pollTimeout` reports: the
 * core says when the next datagram may go. Without a rate (the AIMD default) the window alone
 * clocks transmissions.
 *
 * Segment size and the path: segments are cut at most `maxSegmentPayloadBytes` long, and no
 * longer than the path carries when they are cut (`SegmentPath.segmentBudgetBytes`, which
 * path-MTU discovery raises and a black hole lowers). A segment that is larger than the path
 * carries when it must be (re)sent, because the path shrank after it was cut, goes out as
 * fragments (SEGMENT frames with `fragment` set) that the receiver reassembles before it
 * treats the segment as arrived. One transmission is all of its fragments: the window, the
 * pacer and the RTT sample see one segment, and a lost fragment loses the segment.
 *
 * Retransmission timer (RFC 6298 §5): armed when a segment is sent and none is running,
 * restarted when the cumulative ACK advances, stopped when nothing is outstanding. On expiry
 * every unSACKed outstanding segment is marked lost, the timeout doubles, and the congestion
 * window collapses (`onRto`). The doubled timeout stays until a valid sample (Karn), so a
 * timeout that is too short cannot keep firing. SACKed segments stay SACKed: our receiver
 * never discards out-of-order data it has buffered (no reneging, so RFC 2018 §8's caution
 * does not apply).
 *
 * Spurious timeouts (RFC 5682's conclusion, without F-RTO's probing): a segment the timer
 * declared lost that is acknowledged before it was sent again shows that the original
 * arrived and only the receiver or its ACKs were late (a busy peer process, a pause). The
 * window is then restored (`congestion.onRtoUndo`) instead of regrowing from one segment; the
 * timer keeps its back-off until a fresh RTT sample, as Karn's rule has it anyway.
 *
 * Zero window (RFC 9293 §3.8.6.1): when the peer's window is closed and nothing is in flight,
 * the same timer acts as the persist timer; on expiry one segment is sent past the window as
 * a probe and ordinary retransmission (with back-off, without `onRto`) repeats it. When an
 * ACK finally opens the window past the probe, the probe (dropped by the closed window) is
 * resent at once.
 *
 * Receiver
 * --------
 * Fragments of a segment are collected in `fragments` (at most MAX_PARTIAL_SEGMENTS
 * segments, each at most a u16 of bytes) and the whole segment then arrives as one. Segment
 * payloads are kept as the views they arrived in: the caller hands over buffers that nobody
 * reuses (the session opens each datagram into a fresh one).
 * `rcvNxt` is the next sequence number expected (the cumulative ACK). In-order segments are
 * appended to the message being reassembled; a segment with `end` completes a message, which
 * waits in `ready` until `pollMessage`. Out-of-order segments wait in `ooo`, summarised as
 * sorted SACK ranges. Memory is bounded by `receiveWindowSegments`:
 *
 *     held (reassembling + ready, undelivered)  +  ooo  <=  receiveWindowSegments
 *     advertised window = receiveWindowSegments - held (and, with receiveWindowBytes, no more
 *     than the free bytes hold at the largest segment size seen); right edge = rcvNxt + window
 *
 * Segments at or beyond the right edge are dropped. An in-order arrival moves `rcvNxt` and
 * `held` up together, so the segment count alone never moves the edge left; the byte bound
 * could (a segment larger than any before shrinks the estimate), so the edge advertised is
 * remembered (`promisedEdge`) and the window never ends short of it: the byte bound limits
 * what is promised next, not what was promised. Only `pollMessage` moves the edge right.
 * A receiver that stops calling `pollMessage` (a file receiver whose disk is behind) therefore
 * closes the window in bounded memory, and the sender waits on the persist timer.
 *
 * Integrity: an optional `verifySegment` check runs on every new in-window segment before it
 * is buffered. A segment that fails it is dropped *unacknowledged* and counted
 * (`integrityDropped`): to the sender that is exactly a loss, repaired by SACK or the timer.
 * File transfers use it for the CRC-32 of each chunk.
 *
 * ACK policy (RFC 5681 §4.2, RFC 1122 §4.2.3.2): ACK at once for an out-of-order or duplicate
 * segment, one that fills a gap, or every second in-order segment (`ackEverySegments`; bulk
 * transfers stretch it); otherwise after `ackDelayMs`. An ACK owed is piggybacked ahead of
 * any data we are about to send anyway. When the application drains enough to reopen a small
 * window, a window update is sent at once rather than waiting for the peer's probe (RFC 1122
 * §4.2.3.3 receiver-side SWS rule).
 *
 * Errors: `send` of an oversized message throws `MSG_TOO_LARGE` (local misuse). Remote
 * misbehaviour (impossible ACKs, out-of-window or oversized messages) is dropped and counted,
 * never thrown.
 */

import { HallwayError } from "../errors.js";
import {
  type AckFrame,
  FRAGMENT_HEADER_BYTES,
  frameBytes,
  SEGMENT_HEADER_BYTES,
  type SegmentFrame,
} from "../protocol/frames.js";
import { MAX_MESSAGE_BYTES, MAX_SACK_RANGES } from "../protocol/limits.js";
import { SEQ_MODULO, seqAdd, seqDiff, seqGt, seqGte, seqLt } from "../protocol/seq.js";
import { type AckSample, AimdCongestionController, type CongestionController } from "./congestion.js";
import { RttEstimator } from "./rtt-estimator.js";

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
   * or 60× too large). A window once advertised is never taken back.
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
  /** Segments received at or beyond the advertised right edge and dropped. */
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
const MAX_WINDOW_SEGMENTS = 0x1000000;
/** RFC 6675 §2: DupThresh. */
const DUP_THRESH = 3;
/** Smallest pacing burst, in segments (Linux fq and quinn's pacer allow a few segments too). */
const PACER_MIN_BURST_SEGMENTS = 4;
/** The bucket holds this much time at the pacing rate, so a 1 ms timer can reach the rate. */
const PACER_BURST_MS = 2;
/** Float slack: a bucket this close to the size it needs is full enough. */
const PACER_EPSILON = 1e-9;
/** Segments whose fragments are being collected at once, at most (each ≤ 64 KiB). */
const MAX_PARTIAL_SEGMENTS = 64;
/** A fragment smaller than this is not worth a frame: wait for a datagram with more room. */
const MIN_FRAGMENT_BYTES = 256;

type SegmentState = "unsent" | "inflight" | "lost" | "sacked";

interface OutgoingSegment {
  readonly seq: number;
  readonly end: boolean;
  /** Sent before `payload` (`sendSegment`'s header); EMPTY for `send`'s segments. */
  readonly head: Uint8Array;
  readonly payload: Uint8Array;
  /** `head` and `payload` bytes. */
  readonly size: number;
  state: SegmentState;
  transmissions: number;
  /** `now` of the latest transmission. */
  sentAtMs: number;
  /** Position of the latest transmission in send order (for "sent after" comparisons). */
  txOrder: number;
  /** Marked lost by SACK (so its retransmission counts as a fast retransmit). */
  fastLost: boolean;
  /** First sent past the peer's window, as a zero-window probe. */
  probe: boolean;
  /**
   * Payload bytes per datagram of the latest transmission: the whole segment, or, when it went
   * in fragments, the largest fragment. What the path learns from its fate is about that size.
   */
  wireBytes: number;
  /** Delivery-rate snapshot at the latest transmission (draft-cheng-iccrg-delivery-rate-estimation §3.2). */
  rsDelivered: number;
  rsDeliveredTimeMs: number;
  rsFirstSentTimeMs: number;
  rsAppLimited: boolean;
}

interface ReadyMessage {
  bytes: Uint8Array;
  segments: number;
}

/** A segment arriving in fragments: its bytes so far, and which byte ranges arrived. */
interface PartialSegment {
  bytes: Uint8Array;
  end: boolean;
  /** Sorted, disjoint [start, end) ranges received. */
  ranges: Array<[number, number]>;
  received: number;
}

/** The segment being sent in fragments, and the offset of its next fragment. */
interface FragmentCursor {
  seg: OutgoingSegment;
  offset: number;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < SEQ_MODULO;
}

function invalidOption(what: string): HallwayError {
  return new HallwayError("INTERNAL", `ReliableChannel: ${what}`);
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class ReliableChannel {
  private readonly stream: number;
  private readonly maxSegmentPayloadBytes: number;
  private path: SegmentPath | undefined;
  private readonly sendWindowSegments: number;
  private readonly receiveWindowSegments: number;
  private readonly receiveWindowBytes: number | undefined;
  private readonly ackDelayMs: number;
  private readonly ackEverySegments: number;
  private readonly maxMessageBytes: number;
  private readonly congestion: CongestionController;
  private readonly verifySegment: ((frame: SegmentFrame) => boolean) | undefined;
  private readonly rtt: RttEstimator;
  /** Latest `now` seen by any input; lets `pollMessage` (which has no `now`) schedule an ACK. */
  private lastNowMs = Number.NEGATIVE_INFINITY;

  // --- sender ---
  /** Scoreboard: entry `sendHead + i` holds sequence number `sndUna + i`. */
  private outgoing: OutgoingSegment[] = [];
  private sendHead = 0;
  private sndUna: number;
  private nextSeqToAssign: number;
  /** Entries [0, sentCount) past `sendHead` have been transmitted at least once. */
  private sentCount = 0;
  /** Payload bytes of the `inflight` entries. */
  private pipeBytes = 0;
  /** Transmissions in the order they were made (`txOrders[i]` is the order of `txSegs[i]`). */
  private txSegs: OutgoingSegment[] = [];
  private txOrders: number[] = [];
  private txHead = 0;
  /** Segments marked lost, oldest first; entries no longer `lost` are skipped. */
  private lostQueue: OutgoingSegment[] = [];
  private lostHead = 0;
  /** Zero-window probes in flight (a handful at most). */
  private probes: OutgoingSegment[] = [];
  /** The largest transmission order acknowledged so far. */
  private largestAckedTx = 0;
  /** The segment being sent in fragments, if any. */
  private fragmenting: FragmentCursor | undefined;
  /** The largest segment sent so far (the congestion controller's unit). */
  private largestSegmentBytes = 0;
  /** ACKs since the cumulative point last moved that reported new SACKed data (RFC 3042). */
  private dupAcks = 0;
  private limitedTransmitCredit = 0;
  private lostCount = 0;
  private txCounter = 0;
  /** Peer's right edge: first sequence number it has no room for. */
  private peerRightEdge: number;
  /** False until the first ACK replaces our guess of the peer's window. */
  private peerWindowKnown = false;
  private rtoDeadline: number | undefined;
  private probeAllowed = false;
  private inFastRecovery = false;
  /** Losses of segments sent before this belong to the episode already reacted to. */
  private recoveryEnd: number | undefined;
  /** A timeout fired and no segment it declared lost has been resent and acknowledged yet. */
  private rtoMayBeSpurious = false;
  // Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation §3.1), in bytes.
  private delivered = 0;
  private deliveredSegments = 0;
  private deliveredTimeMs = 0;
  private firstSentTimeMs = 0;
  /** Non-zero while app-limited: the `delivered` count at which that episode ends. */
  private appLimitedUntil = 0;
  // Pacing, in bytes.
  private pacerTokens = 0;
  private pacerRefillAtMs: number | undefined;
  private pacingDeadline: number | undefined;

  // --- receiver ---
  private rcvNxt: number;
  private readonly ooo = new Map<number, SegmentFrame>();
  /** Sorted, disjoint [start, end) ranges of `ooo`, all above `rcvNxt`. */
  private oooRanges: Array<[number, number]> = [];
  private lastOooSeq: number | undefined;
  private readonly fragments = new Map<number, PartialSegment>();
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private discardingMessage = false;
  private readonly ready: ReadyMessage[] = [];
  private readyHead = 0;
  /** Segments accepted in order and not yet handed to the application, and their bytes. */
  private heldSegments = 0;
  private heldBytes = 0;
  /** Payload bytes of `ooo`. */
  private oooBytes = 0;
  /** The largest segment received: the unit of the byte-bounded window. */
  private largestReceivedBytes = 0;
  /** The right edge advertised so far (absolute sequence number): never moved left. */
  private promisedEdge: number;
  private ackDeadline: number | undefined;
  /** Arrival time of the newest segment not yet acknowledged (for the ACK-delay field). */
  private ackDelayBase: number | undefined;
  private segmentsSinceAck = 0;
  private lastAdvertisedWindow: number;

  private counters = {
    segmentsSent: 0,
    retransmits: 0,
    fastRetransmits: 0,
    retransmittedBytes: 0,
    fragmentsSent: 0,
    duplicatesDropped: 0,
    messagesDelivered: 0,
    outOfWindowDropped: 0,
    oversizedDropped: 0,
    integrityDropped: 0,
    fragmentsDropped: 0,
    spuriousTimeouts: 0,
  };

  private readonly onOversized: ((head: Uint8Array) => void) | undefined;

  constructor(opts: ReliableChannelOptions) {
    const initialSeq = opts.initialSeq ?? DEFAULTS.initialSeq;
    this.stream = opts.stream;
    this.maxSegmentPayloadBytes = opts.maxSegmentPayloadBytes;
    this.path = opts.path;
    this.sendWindowSegments = opts.sendWindowSegments ?? DEFAULTS.sendWindowSegments;
    this.receiveWindowSegments = opts.receiveWindowSegments ?? DEFAULTS.receiveWindowSegments;
    this.receiveWindowBytes = opts.receiveWindowBytes;
    this.ackDelayMs = opts.ackDelayMs ?? DEFAULTS.ackDelayMs;
    this.ackEverySegments = opts.ackEverySegments ?? DEFAULTS.ackEverySegments;
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.congestion = opts.congestion ?? new AimdCongestionController();
    this.verifySegment = opts.verifySegment;
    this.onOversized = opts.onOversized;
    const minRtoMs = opts.minRtoMs ?? DEFAULTS.minRtoMs;
    const maxRtoMs = opts.maxRtoMs ?? DEFAULTS.maxRtoMs;
    const initialRtoMs = opts.initialRtoMs ?? DEFAULTS.initialRtoMs;

    if (!Number.isInteger(this.stream) || this.stream < 0 || this.stream > 0xffff) {
      throw invalidOption(`stream ${this.stream} is not a u16`);
    }
    if (!isU32(initialSeq)) throw invalidOption(`initialSeq ${initialSeq} is not a u32`);
    if (!Number.isInteger(this.maxSegmentPayloadBytes) || this.maxSegmentPayloadBytes < 1) {
      throw invalidOption("maxSegmentPayloadBytes must be a positive integer");
    }
    if (this.maxSegmentPayloadBytes > 0xffff) throw invalidOption("maxSegmentPayloadBytes exceeds u16");
    for (const [name, value] of [
      ["sendWindowSegments", this.sendWindowSegments],
      ["receiveWindowSegments", this.receiveWindowSegments],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > MAX_WINDOW_SEGMENTS) {
        throw invalidOption(`${name} must be an integer in [1, ${MAX_WINDOW_SEGMENTS}]`);
      }
    }
    if (!(minRtoMs > 0 && minRtoMs <= maxRtoMs)) throw invalidOption("need 0 < minRtoMs <= maxRtoMs");
    if (!(initialRtoMs > 0)) throw invalidOption("initialRtoMs must be positive");
    if (!(this.ackDelayMs >= 0)) throw invalidOption("ackDelayMs must not be negative");
    if (!Number.isInteger(this.ackEverySegments) || this.ackEverySegments < 1) {
      throw invalidOption("ackEverySegments must be a positive integer");
    }
    if (!Number.isInteger(this.maxMessageBytes) || this.maxMessageBytes < 0) {
      throw invalidOption("maxMessageBytes must be a non-negative integer");
    }
    // A message that cannot fit the receive buffer could never complete: the window would
    // close on its own first half. Catch the misconfiguration here rather than deadlock later.
    // (The peer cuts segments by its own path, so this is checked at our largest size.)
    if (this.segmentsFor(this.maxMessageBytes, this.maxSegmentPayloadBytes) > this.receiveWindowSegments) {
      throw invalidOption(
        `a ${this.maxMessageBytes}-byte message needs ${this.segmentsFor(this.maxMessageBytes, this.maxSegmentPayloadBytes)} segments, ` +
          `more than receiveWindowSegments ${this.receiveWindowSegments}`,
      );
    }

    this.rtt = new RttEstimator({ initialRtoMs, minRtoMs, maxRtoMs });
    this.sndUna = initialSeq;
    this.nextSeqToAssign = initialSeq;
    this.rcvNxt = initialSeq;
    // Until the first ACK we assume the peer was configured like us (the usual case). If its
    // buffer is smaller, the excess is dropped there and retransmitted: slower, never wrong.
    this.peerRightEdge = seqAdd(initialSeq, this.receiveWindowSegments);
    this.lastAdvertisedWindow = this.receiveWindowSegments;
    // Nothing is promised before the first ACK (the sender's guess of our window is its own).
    this.promisedEdge = initialSeq;
  }

  // ===================================================================== public surface

  get idle(): boolean {
    return this.outgoing.length === this.sendHead && this.ackDeadline === undefined;
  }

  get stats(): ReliableChannelStats {
    return {
      ...this.counters,
      srttMs: this.rtt.srttMs,
      rtoMs: this.rtt.rtoMs,
      bufferedSegments: this.heldSegments + this.ooo.size,
      deliveredSegments: this.deliveredSegments,
      deliveredBytes: this.delivered,
      cwndBytes: this.congestion.cwndBytes,
      inflightBytes: this.pipeBytes,
      pacingRateBytesPerMs: this.congestion.pacingRateBytesPerMs,
    };
  }

  /** Segments queued by `send` and not yet transmitted once. */
  get unsentSegments(): number {
    return this.outgoing.length - this.sendHead - this.sentCount;
  }

  /** Segments queued or in flight that the peer has not acknowledged cumulatively. */
  get pendingSegments(): number {
    return this.outgoing.length - this.sendHead;
  }

  /** The session's path, for a channel created before it was attached to one (a transfer core's). */
  attachPath(path: SegmentPath): void {
    this.path = path;
  }

  /** The largest segment payload `send` cuts now: the option, or less if the path says so. */
  get segmentBudgetBytes(): number {
    const path = this.path?.segmentBudgetBytes;
    return path === undefined
      ? this.maxSegmentPayloadBytes
      : Math.max(1, Math.min(path, this.maxSegmentPayloadBytes));
  }

  /**
   * Whether a new segment queued now would be the next to go (the congestion window has room;
   * the pacer or the peer's window may still hold it). A sender that cuts its data just in
   * time asks this first, so what it cuts has the path's size of the moment.
   */
  canSendNew(): boolean {
    if (this.unsentSegments > 0 || this.lostCount > 0 || this.fragmenting !== undefined) return false;
    if (this.sentCount >= this.sendWindowSegments) return false;
    // Neither the pacer nor the peer's window: a segment they hold back is cut already, so
    // the channel sees it waiting (it is not an application with nothing to send) and, at a
    // closed window, has the one segment its persist timer probes with.
    return this.pipeBytes < this.congestion.cwndBytes;
  }

  /**
   * Queue one message. `owned`: the caller hands `message` over and never changes it again, so
   * its segments are views into it instead of copies (the file sender's chunk buffers).
   */
  send(message: Uint8Array, now: number, owned = false): void {
    if (message.length > this.maxMessageBytes) {
      throw new HallwayError(
        "MSG_TOO_LARGE",
        `message of ${message.length} bytes exceeds the ${this.maxMessageBytes}-byte limit`,
      );
    }
    this.observe(now);
    const size = this.segmentBudgetBytes;
    const count = this.segmentsFor(message.length, size);
    for (let i = 0; i < count; i++) {
      const start = i * size;
      // Unless handed over, a copy: the caller may reuse its buffer after `send` returns.
      const payload = owned
        ? message.subarray(start, Math.min(start + size, message.length))
        : message.slice(start, Math.min(start + size, message.length));
      this.queueSegment(EMPTY, payload, i === count - 1);
    }
    this.updateRtoTimer(now);
  }

  /**
   * Queue a message of one segment: `head` then `body`, both handed over (never changed again
   * until acknowledged). The file sender's chunks go this way, a small header and a view into
   * the block read from disk, so no buffer is allocated or copied to join them. The segment is
   * at most the channel's `maxSegmentPayloadBytes`; if the path now carries less, it goes in
   * fragments. Returns its sequence number (see `sendUnacknowledged`).
   */
  sendSegment(head: Uint8Array, body: Uint8Array, now: number): number {
    const size = head.length + body.length;
    if (size > this.maxSegmentPayloadBytes || size > this.maxMessageBytes) {
      throw new HallwayError(
        "MSG_TOO_LARGE",
        `segment of ${size} bytes exceeds the ${Math.min(this.maxSegmentPayloadBytes, this.maxMessageBytes)}-byte limit`,
      );
    }
    this.observe(now);
    const seq = this.nextSeqToAssign;
    this.queueSegment(head, body, true);
    this.updateRtoTimer(now);
    return seq;
  }

  /**
   * The oldest sequence number not yet acknowledged cumulatively (the next one `send` assigns
   * when none is pending). Every segment before it is acknowledged and dropped: buffers it
   * referenced are the caller's again.
   */
  get sendUnacknowledged(): number {
    return this.sndUna;
  }

  private queueSegment(head: Uint8Array, payload: Uint8Array, end: boolean): void {
    this.outgoing.push({
      seq: this.nextSeqToAssign,
      end,
      head,
      payload,
      size: head.length + payload.length,
      state: "unsent",
      transmissions: 0,
      sentAtMs: 0,
      txOrder: 0,
      fastLost: false,
      probe: false,
      wireBytes: 0,
      rsDelivered: 0,
      rsDeliveredTimeMs: 0,
      rsFirstSentTimeMs: 0,
      rsAppLimited: false,
    });
    this.nextSeqToAssign = seqAdd(this.nextSeqToAssign, 1);
  }

  handleSegment(frame: SegmentFrame, now: number): void {
    if (frame.stream !== this.stream) return;
    this.observe(now);
    const offset = seqDiff(frame.seq, this.rcvNxt);
    if (offset < 0 || this.ooo.has(frame.seq)) {
      // Already acknowledged or buffered: our ACK was probably lost, so repeat it now.
      this.counters.duplicatesDropped++;
      this.ackNow(now);
      return;
    }
    if (offset >= this.advertisedWindow()) {
      // Beyond the buffer (or a zero-window probe): drop, and tell the peer where the edge is.
      this.counters.outOfWindowDropped++;
      this.ackNow(now);
      return;
    }
    let whole = frame;
    if (frame.fragment !== undefined) {
      const assembled = this.collectFragment(frame);
      if (assembled === undefined) return;
      whole = assembled;
    }
    if (this.verifySegment !== undefined && !this.verifySegment(whole)) {
      // Damaged: never acknowledged, so the sender repairs it like any other loss.
      this.counters.integrityDropped++;
      return;
    }
    this.ackDelayBase = now;
    if (whole.payload.length > this.largestReceivedBytes) this.largestReceivedBytes = whole.payload.length;
    if (offset > 0) {
      this.ooo.set(whole.seq, whole);
      this.oooBytes += whole.payload.length;
      this.insertOooRange(whole.seq);
      this.lastOooSeq = whole.seq;
      this.ackNow(now);
      return;
    }
    this.acceptInOrder(whole.end, whole.payload);
    const filledGap = this.drainOoo();
    if (filledGap || this.oooRanges.length > 0) {
      this.ackNow(now);
      return;
    }
    this.segmentsSinceAck++;
    if (this.segmentsSinceAck >= this.ackEverySegments) {
      this.ackNow(now);
    } else if (this.ackDeadline === undefined) {
      this.ackDeadline = now + this.ackDelayMs;
    }
  }

  handleAck(frame: AckFrame, now: number): void {
    if (frame.stream !== this.stream) return;
    this.observe(now);
    const cumOffset = seqDiff(frame.cumulative, this.sndUna);
    // An ACK for data we never sent is a peer bug or forgery: ignore all of it.
    if (cumOffset > this.sentCount) return;
    // The receiver never shrinks its edge, so the largest one seen is current. No honest
    // receiver advertises more than MAX_WINDOW_SEGMENTS; the clamp keeps a bogus window from
    // wrapping sequence comparisons.
    const edge = seqAdd(frame.cumulative, Math.min(frame.windowSegments, MAX_WINDOW_SEGMENTS));
    if (!this.peerWindowKnown || seqGt(edge, this.peerRightEdge)) {
      this.peerWindowKnown = true;
      this.peerRightEdge = edge;
      this.resendDroppedProbes();
    }
    if (cumOffset < 0) return; // reordered, older ACK: nothing else in it is news

    // The RTT sample comes from the most recently transmitted segment this ACK newly covers:
    // its arrival is what triggered the ACK, so the peer's ackDelayMs applies to it (QUIC's
    // "largest acknowledged", RFC 9002 §5.1, in transmission order). An older segment whose
    // first ACK was lost would inflate the estimate. Karn's algorithm (RFC 6298 §3): if that
    // segment was retransmitted, the ACK is ambiguous and gives no sample at all.
    let newlyAckedBytes = 0;
    let newest: OutgoingSegment | undefined;
    let spurious = false;
    // Which transmission of a resent segment arrived is ambiguous (ACKs name sequence numbers,
    // not transmissions). Taking the latest would declare everything sent between the two
    // transmissions lost when it was the original that arrived; so a resent segment only
    // counts for loss detection when its ACK came too long after the resend to be for the
    // original (RFC 8985 §6.1's test, with the minimum RTT).
    const minRtt = this.rtt.minRttMs ?? 0;
    let largestUnambiguousTx = 0;
    const noteAcked = (seg: OutgoingSegment): void => {
      if ((seg.transmissions === 1 || now - seg.sentAtMs >= minRtt) && seg.txOrder > largestUnambiguousTx) {
        largestUnambiguousTx = seg.txOrder;
      }
      // Declared lost by the timer, never resent, and yet acknowledged: the original arrived.
      if (seg.state === "lost" && seg.transmissions === 1 && !seg.fastLost) spurious = true;
      newlyAckedBytes += seg.size;
      this.delivered += seg.size;
      this.deliveredSegments++;
      this.deliveredTimeMs = now;
      this.path?.onSegmentAcked(seg.wireBytes);
      if (newest === undefined || seg.txOrder > newest.txOrder) newest = seg;
    };

    for (let i = 0; i < cumOffset; i++) {
      const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
      if (seg.state === "inflight") this.pipeBytes -= seg.size;
      else if (seg.state === "lost") this.lostCount--;
      if (seg.state !== "sacked") noteAcked(seg);
      seg.state = "sacked";
    }
    this.sendHead += cumOffset;
    this.sentCount -= cumOffset;
    this.sndUna = frame.cumulative;
    if (this.fragmenting !== undefined && this.fragmenting.seg.state === "sacked")
      this.fragmenting = undefined;
    this.compactOutgoing();

    for (const [start, end] of frame.ranges) {
      const from = Math.max(0, seqDiff(start, this.sndUna));
      const to = Math.min(this.sentCount, seqDiff(end, this.sndUna));
      if (!seqLt(start, end)) continue;
      for (let i = from; i < to; i++) {
        const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
        if (seg.state === "sacked") continue;
        if (seg.state === "inflight") this.pipeBytes -= seg.size;
        else if (seg.state === "lost") this.lostCount--;
        seg.state = "sacked";
        noteAcked(seg);
      }
    }

    if (spurious && this.rtoMayBeSpurious) this.undoTimeout(now);
    let rttSampleMs: number | undefined;
    if (newest !== undefined) {
      if (largestUnambiguousTx > this.largestAckedTx) this.largestAckedTx = largestUnambiguousTx;
      if (newest.transmissions === 1) {
        this.rtt.sample(now - newest.sentAtMs, frame.ackDelayMs);
        rttSampleMs = this.rtt.latestRttMs;
      }
    }
    if (this.recoveryEnd !== undefined && seqGte(this.sndUna, this.recoveryEnd)) {
      // The episode is over once everything sent before it is acknowledged.
      this.recoveryEnd = undefined;
      this.inFastRecovery = false;
    }
    if (newest !== undefined) {
      this.congestion.onAck(
        newlyAckedBytes,
        this.rtt.latestRttMs ?? this.rtt.rtoMs,
        now,
        this.rateSample(newest, rttSampleMs),
      );
    }
    this.detectLosses(now);

    if (cumOffset > 0) {
      this.dupAcks = 0;
      this.limitedTransmitCredit = 0;
      // RFC 6298 §5.2, §5.3: stop the timer when all is acknowledged, else restart it.
      this.rtoDeadline = undefined;
      this.probeAllowed = false;
    } else if (newlyAckedBytes > 0 && this.recoveryEnd === undefined && this.dupAcks < 2) {
      this.dupAcks++;
      this.limitedTransmitCredit++;
    }
    this.updateRtoTimer(now);
  }

  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined {
    this.observe(now);
    const ackOwed = this.ackDeadline !== undefined;
    if (this.fragmenting !== undefined) {
      // The rest of a fragmented transmission goes first, each fragment paced like a segment
      // (a burst of them would overflow the very queues that made the path shrink).
      if (ackOwed && (this.ackDeadline as number) <= now) return this.buildAck(now, maxBytes);
      const cursor = this.fragmenting;
      if (!this.pacerAllows(now, Math.min(this.fragmentRoom(maxBytes), cursor.seg.size - cursor.offset))) {
        return undefined;
      }
      return this.nextFragment(maxBytes);
    }
    let next = this.nextSegmentToSend();
    if (next === undefined) {
      this.pacingDeadline = undefined;
      this.noteAppLimited();
    } else if (
      !this.pacerAllows(
        now,
        next.seg.size > this.segmentBudgetBytes ? this.fragmentRoom(maxBytes) : next.seg.size,
      )
    ) {
      next = undefined;
    }
    if (ackOwed && (next !== undefined || (this.ackDeadline as number) <= now)) {
      // Due, or piggybacked ahead of data that goes out anyway.
      return this.buildAck(now, maxBytes);
    }
    if (next === undefined) return undefined;
    const seg = next.seg;
    if (seg.size > this.segmentBudgetBytes) {
      // Cut when the path carried more than it does now: send it in fragments.
      if (maxBytes < SEGMENT_HEADER_BYTES + FRAGMENT_HEADER_BYTES + MIN_FRAGMENT_BYTES) return undefined;
      this.transmit(seg, next.retransmit, now);
      // The pacer is charged fragment by fragment (`nextFragment`), not for the whole segment.
      if (this.pacerRefillAtMs !== undefined) this.pacerTokens += seg.size;
      seg.wireBytes = Math.min(seg.size, this.fragmentRoom(maxBytes));
      this.fragmenting = { seg, offset: 0 };
      return this.nextFragment(maxBytes);
    }
    const frame: SegmentFrame = {
      type: "segment",
      stream: this.stream,
      seq: seg.seq,
      end: seg.end,
      payload: seg.payload,
    };
    if (seg.head.length > 0) frame.head = seg.head;
    if (frameBytes(frame) > maxBytes) return undefined;
    this.transmit(seg, next.retransmit, now);
    return frame;
  }

  pollMessage(): Uint8Array | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const msg = this.ready[this.readyHead] as ReadyMessage;
    this.ready[this.readyHead] = EMPTY_READY;
    this.readyHead++;
    if (this.readyHead > 64 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
    this.heldSegments -= msg.segments;
    this.heldBytes -= msg.bytes.length;
    this.counters.messagesDelivered++;
    this.maybeSendWindowUpdate();
    return msg.bytes;
  }

  pollTimeout(): number | undefined {
    let t = this.rtoDeadline;
    if (this.ackDeadline !== undefined && (t === undefined || this.ackDeadline < t)) t = this.ackDeadline;
    if (this.pacingDeadline !== undefined && (t === undefined || this.pacingDeadline < t))
      t = this.pacingDeadline;
    return t;
  }

  handleTimeout(now: number): void {
    this.observe(now);
    // The pacer's release time: the next pollFrame refills the bucket and sends.
    if (this.pacingDeadline !== undefined && now >= this.pacingDeadline) this.pacingDeadline = undefined;
    // A due ACK needs nothing here: pollFrame emits it.
    if (this.rtoDeadline === undefined || now < this.rtoDeadline) return;
    if (this.sentCount === 0) {
      // Persist timer (RFC 9293 §3.8.6.1): allow one segment past a closed window.
      this.probeAllowed = true;
    } else if (seqGte(this.sndUna, this.peerRightEdge)) {
      // Only a window probe is outstanding: repeat it; a closed window is not congestion.
      this.markLost(this.outgoing[this.sendHead] as OutgoingSegment, false);
    } else {
      // RFC 6298 §5.4–5.6, RFC 6675 §5.1: every unSACKed segment is presumed lost.
      let largest = 0;
      for (let i = 0; i < this.sentCount; i++) {
        const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
        if (seg.state === "inflight") {
          this.markLost(seg, false);
          if (seg.wireBytes > largest) largest = seg.wireBytes;
        }
      }
      this.path?.onTimeout(largest, now);
      this.congestion.onRto(now);
      this.rtoMayBeSpurious = true;
      this.inFastRecovery = false;
      this.recoveryEnd = this.sendEdge();
    }
    this.fragmenting = undefined;
    this.rtt.backOff(); // RFC 6298 §5.5
    this.rtoDeadline = now + this.rtt.rtoMs; // RFC 6298 §5.6
  }

  // ===================================================================== sender internals

  private segmentsFor(messageBytes: number, segmentBytes: number): number {
    return Math.max(1, Math.ceil(messageBytes / segmentBytes));
  }

  /** One past the highest sequence number transmitted so far. */
  private sendEdge(): number {
    return seqAdd(this.sndUna, this.sentCount);
  }

  /** RFC 6675 §5 NextSeg(), simplified: lost segments first, then new data. */
  private nextSegmentToSend(): { seg: OutgoingSegment; retransmit: boolean } | undefined {
    const cwndAllows = this.pipeBytes < this.congestion.cwndBytes;
    if (cwndAllows && this.lostCount > 0) {
      while (this.lostHead < this.lostQueue.length) {
        const seg = this.lostQueue[this.lostHead] as OutgoingSegment;
        if (seg.state === "lost") return { seg, retransmit: true };
        this.lostHead++; // acknowledged (or already resent) since it was marked
      }
      this.compactLostQueue();
    }
    // Limited Transmit (RFC 3042 §2): the first two ACKs that report new data above a hole
    // may each release one new segment beyond cwnd, so a small window still produces the
    // three SACKed segments that fast retransmit needs instead of waiting for the timer.
    if (!cwndAllows && (this.limitedTransmitCredit === 0 || this.lostCount > 0)) return undefined;
    const seg = this.outgoing[this.sendHead + this.sentCount];
    if (seg === undefined || this.sentCount >= this.sendWindowSegments) return undefined;
    if (!seqLt(seg.seq, this.peerRightEdge) && !this.probeAllowed) return undefined;
    return { seg, retransmit: false };
  }

  private transmit(seg: OutgoingSegment, retransmit: boolean, now: number): void {
    const size = seg.size;
    if (this.pipeBytes === 0) {
      // Nothing in flight: a rate interval starts now (delivery-rate draft §3.2).
      this.firstSentTimeMs = now;
      this.deliveredTimeMs = now;
    }
    if (size > this.largestSegmentBytes) {
      this.largestSegmentBytes = size;
      this.congestion.setMaxSegmentBytes(size);
    }
    seg.rsDelivered = this.delivered;
    seg.rsDeliveredTimeMs = this.deliveredTimeMs;
    seg.rsFirstSentTimeMs = this.firstSentTimeMs;
    seg.rsAppLimited = this.appLimitedUntil !== 0;
    if (this.pacerRefillAtMs !== undefined) this.pacerTokens -= size;
    if (retransmit) {
      this.lostCount--;
      this.lostHead++;
      this.counters.retransmits++;
      this.counters.retransmittedBytes += size;
      if (seg.fastLost) this.counters.fastRetransmits++;
    } else {
      this.sentCount++;
      seg.probe = !seqLt(seg.seq, this.peerRightEdge);
      if (seg.probe) this.probes.push(seg);
      this.probeAllowed = false; // a probe is exactly one segment
      if (this.pipeBytes >= this.congestion.cwndBytes && this.limitedTransmitCredit > 0) {
        this.limitedTransmitCredit--;
      }
    }
    seg.state = "inflight";
    seg.fastLost = false;
    seg.wireBytes = size;
    seg.transmissions++;
    seg.sentAtMs = now;
    seg.txOrder = ++this.txCounter;
    this.txSegs.push(seg);
    this.txOrders.push(seg.txOrder);
    this.pipeBytes += size;
    this.counters.segmentsSent++;
    if (this.rtoDeadline === undefined) this.rtoDeadline = now + this.rtt.rtoMs; // RFC 6298 §5.1
  }

  /**
   * The last timeout was spurious (see the top): the window comes back, and the segments it
   * declared lost that were not resent yet are in flight again, as they were, instead of
   * being sent twice.
   */
  private undoTimeout(now: number): void {
    this.rtoMayBeSpurious = false;
    this.counters.spuriousTimeouts++;
    this.congestion.onRtoUndo?.(now);
    this.inFastRecovery = false;
    this.recoveryEnd = undefined;
    for (let i = this.lostHead; i < this.lostQueue.length; i++) {
      const seg = this.lostQueue[i] as OutgoingSegment;
      if (seg.state !== "lost" || seg.fastLost || seg.transmissions !== 1) continue;
      seg.state = "inflight";
      this.lostCount--;
      this.pipeBytes += seg.size;
    }
  }

  /** The payload bytes of a fragment that fits `maxBytes` and the path. */
  private fragmentRoom(maxBytes: number): number {
    return Math.min(
      maxBytes - SEGMENT_HEADER_BYTES - FRAGMENT_HEADER_BYTES,
      this.segmentBudgetBytes - FRAGMENT_HEADER_BYTES,
    );
  }

  /** The next fragment of the segment being sent in pieces, sized to the path and `maxBytes`. */
  private nextFragment(maxBytes: number): SegmentFrame | undefined {
    const cursor = this.fragmenting as FragmentCursor;
    const { seg } = cursor;
    const room = this.fragmentRoom(maxBytes);
    if (room < Math.min(MIN_FRAGMENT_BYTES, seg.size - cursor.offset)) return undefined;
    const start = cursor.offset;
    const end = Math.min(seg.size, start + room);
    cursor.offset = end;
    if (this.pacerRefillAtMs !== undefined) this.pacerTokens -= end - start;
    if (end >= seg.size) this.fragmenting = undefined;
    this.counters.fragmentsSent++;
    // Offsets count `head` then `payload`; a fragment may hold the tail of one and the start
    // of the other.
    const h = seg.head.length;
    const frame: SegmentFrame = {
      type: "segment",
      stream: this.stream,
      seq: seg.seq,
      end: seg.end,
      payload: seg.payload.subarray(Math.max(0, start - h), Math.max(0, end - h)),
      fragment: { offset: start, total: seg.size },
    };
    if (start < h) frame.head = seg.head.subarray(start, Math.min(end, h));
    return frame;
  }

  /**
   * A zero-window probe that reached a closed window was dropped there. Once the window opens
   * past it, resend it now rather than on the backed-off timer.
   */
  private resendDroppedProbes(): void {
    if (this.probes.length === 0) return;
    const still: OutgoingSegment[] = [];
    for (const seg of this.probes) {
      if (seg.state !== "inflight" || !seg.probe) continue;
      if (seqLt(seg.seq, this.peerRightEdge)) this.markLost(seg, false);
      else still.push(seg);
    }
    this.probes = still;
  }

  /**
   * The delivery-rate sample of one ACK, from its newest acknowledged transmission
   * (delivery-rate draft §3.3, GenerateRateSample).
   */
  private rateSample(newest: OutgoingSegment, rttSampleMs: number | undefined): AckSample {
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const sendElapsed = newest.sentAtMs - newest.rsFirstSentTimeMs;
    const ackElapsed = this.deliveredTimeMs - newest.rsDeliveredTimeMs;
    this.firstSentTimeMs = newest.sentAtMs;
    return {
      inRecovery: this.inFastRecovery,
      rttSampleMs,
      deliveredBytes: this.delivered,
      priorDeliveredBytes: newest.rsDelivered,
      intervalBytes: this.delivered - newest.rsDelivered,
      intervalMs: Math.max(sendElapsed, ackElapsed),
      appLimited: newest.rsAppLimited,
      inflightBytes: this.pipeBytes,
    };
  }

  /**
   * Nothing could be sent, though the congestion window had room: the application (or the
   * peer's window, or our send window) is the limit, so samples until this flight is
   * delivered do not measure the network (delivery-rate draft §3.4).
   */
  private noteAppLimited(): void {
    if (this.pipeBytes < this.congestion.cwndBytes && this.lostCount === 0) {
      this.appLimitedUntil = Math.max(this.delivered + this.pipeBytes, 1);
    }
  }

  /**
   * Token-bucket pacer, in bytes: may a segment (or fragment) of `bytes` go now? If not, the
   * pacing deadline says when it may. A segment larger than the bucket goes when it is full.
   */
  private pacerAllows(now: number, bytes: number): boolean {
    const rate = this.congestion.pacingRateBytesPerMs;
    if (rate === undefined || !(rate > 0) || !Number.isFinite(rate)) {
      this.pacerRefillAtMs = undefined;
      this.pacingDeadline = undefined;
      return true;
    }
    const burst = Math.max(
      PACER_MIN_BURST_SEGMENTS * Math.max(this.largestSegmentBytes, bytes),
      rate * PACER_BURST_MS,
    );
    this.pacerTokens =
      this.pacerRefillAtMs === undefined
        ? burst
        : Math.min(burst, this.pacerTokens + Math.max(0, now - this.pacerRefillAtMs) * rate);
    this.pacerRefillAtMs = now;
    const need = Math.min(bytes, burst);
    const wait = (need - this.pacerTokens) / rate;
    if (this.pacerTokens >= need - PACER_EPSILON || now + wait <= now) {
      this.pacingDeadline = undefined;
      return true;
    }
    this.pacingDeadline = now + wait;
    return false;
  }

  private markLost(seg: OutgoingSegment, fast: boolean): void {
    if (seg.state === "inflight") this.pipeBytes -= seg.size;
    if (seg.state !== "lost") {
      this.lostCount++;
      this.lostQueue.push(seg);
    }
    seg.state = "lost";
    seg.fastLost = fast;
    if (this.fragmenting?.seg === seg) this.fragmenting = undefined;
  }

  /**
   * RFC 9002 §6.1.1 packet threshold in transmission order: a transmission still in flight
   * when one made DUP_THRESH or more after it was acknowledged is lost. `txQueue` holds the
   * transmissions oldest first, so only its head is examined, and each entry once.
   */
  private detectLosses(now: number): void {
    const threshold = this.largestAckedTx - DUP_THRESH;
    let lost = 0;
    let lostBytes = 0;
    while (this.txHead < this.txSegs.length) {
      const seg = this.txSegs[this.txHead] as OutgoingSegment;
      const order = this.txOrders[this.txHead] as number;
      // A later transmission of this segment, or its acknowledgement, made the entry stale.
      if (seg.txOrder !== order || seg.state !== "inflight") {
        this.txHead++;
        continue;
      }
      if (order > threshold) break;
      this.txHead++;
      this.markLost(seg, true);
      this.path?.onSegmentLost(seg.wireBytes);
      lost++;
      lostBytes += seg.size;
    }
    this.compactTxQueue();
    if (lost === 0) return;
    this.congestion.onSegmentsLost?.(lost, lostBytes, now);
    // One congestion response per episode (RFC 6675 §5): losses of data sent before the
    // episode began are part of it.
    if (this.recoveryEnd === undefined) {
      this.congestion.onLoss(now);
      this.inFastRecovery = true;
      this.recoveryEnd = this.sendEdge();
    }
  }

  private compactTxQueue(): void {
    if (this.txHead > 1024 && this.txHead * 2 > this.txSegs.length) {
      this.txSegs.splice(0, this.txHead);
      this.txOrders.splice(0, this.txHead);
      this.txHead = 0;
    }
  }

  private compactLostQueue(): void {
    if (this.lostHead >= this.lostQueue.length) {
      this.lostQueue = [];
      this.lostHead = 0;
    } else if (this.lostHead > 1024 && this.lostHead * 2 > this.lostQueue.length) {
      this.lostQueue.splice(0, this.lostHead);
      this.lostHead = 0;
    }
  }

  private updateRtoTimer(now: number): void {
    if (this.sentCount > 0) {
      if (this.rtoDeadline === undefined) this.rtoDeadline = now + this.rtt.rtoMs;
      return;
    }
    const next = this.outgoing[this.sendHead];
    if (next !== undefined && !seqLt(next.seq, this.peerRightEdge)) {
      // Closed window with data waiting: the persist timer runs.
      if (this.rtoDeadline === undefined) this.rtoDeadline = now + this.rtt.rtoMs;
    } else {
      this.rtoDeadline = undefined;
      this.probeAllowed = false;
    }
  }

  private compactOutgoing(): void {
    if (this.sendHead > 1024 && this.sendHead * 2 > this.outgoing.length) {
      this.outgoing.splice(0, this.sendHead);
      this.sendHead = 0;
    }
  }

  // ===================================================================== receiver internals

  /**
   * The window: free segments of the buffer, also bounded by its free bytes at the largest
   * segment size seen, but never short of an edge already promised.
   */
  private advertisedWindow(): number {
    let window = Math.max(0, this.receiveWindowSegments - this.heldSegments);
    if (this.receiveWindowBytes !== undefined && this.largestReceivedBytes > 0) {
      const free = this.receiveWindowBytes - this.heldBytes - this.oooBytes;
      window = Math.min(window, Math.max(0, Math.floor(free / this.largestReceivedBytes)));
    }
    return Math.max(window, seqDiff(this.promisedEdge, this.rcvNxt));
  }

  private ackNow(now: number): void {
    this.ackDeadline = this.ackDeadline === undefined ? now : Math.min(this.ackDeadline, now);
  }

  /**
   * Adds one fragment to its segment's partial copy; returns the whole segment once every
   * byte has arrived. Fragments that contradict what arrived before (another total or `end`),
   * and segments beyond MAX_PARTIAL_SEGMENTS, are dropped: the sender's timer repairs them.
   */
  private collectFragment(frame: SegmentFrame): SegmentFrame | undefined {
    const { offset, total } = frame.fragment as { offset: number; total: number };
    let partial = this.fragments.get(frame.seq);
    if (partial === undefined) {
      if (this.fragments.size >= MAX_PARTIAL_SEGMENTS) {
        this.counters.fragmentsDropped++;
        return undefined;
      }
      partial = { bytes: new Uint8Array(total), end: frame.end, ranges: [], received: 0 };
      this.fragments.set(frame.seq, partial);
    } else if (partial.bytes.length !== total || partial.end !== frame.end) {
      this.counters.fragmentsDropped++;
      return undefined;
    }
    const added = addRange(partial.ranges, offset, offset + frame.payload.length);
    if (added === 0) {
      this.counters.duplicatesDropped++;
      return undefined;
    }
    partial.bytes.set(frame.payload, offset);
    partial.received += added;
    if (partial.received < total) return undefined;
    this.fragments.delete(frame.seq);
    return {
      type: "segment",
      stream: frame.stream,
      seq: frame.seq,
      end: partial.end,
      payload: partial.bytes,
    };
  }

  private acceptInOrder(end: boolean, payload: Uint8Array): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    if (this.fragments.size > 0) this.forgetStaleFragments();
    if (this.discardingMessage) {
      if (end) this.discardingMessage = false;
      return;
    }
    this.partial.push(payload);
    this.partialBytes += payload.length;
    this.heldSegments++;
    this.heldBytes += payload.length;
    if (
      this.partialBytes > this.maxMessageBytes ||
      (!end && this.partial.length >= this.receiveWindowSegments)
    ) {
      // The peer sends a message larger than we accept or can ever buffer: drop it whole.
      this.counters.oversizedDropped++;
      const head = this.partial[0];
      if (head !== undefined) this.onOversized?.(head);
      this.heldSegments -= this.partial.length;
      this.heldBytes -= this.partialBytes;
      this.partial = [];
      this.partialBytes = 0;
      this.discardingMessage = !end;
      return;
    }
    if (end) {
      this.ready.push({ bytes: concat(this.partial, this.partialBytes), segments: this.partial.length });
      this.partial = [];
      this.partialBytes = 0;
    }
  }

  /** Fragments of segments that have since arrived whole are of no more use. */
  private forgetStaleFragments(): void {
    for (const seq of this.fragments.keys()) {
      if (seqLt(seq, this.rcvNxt) || this.ooo.has(seq)) this.fragments.delete(seq);
    }
  }

  /** Moves buffered segments that now continue the in-order stream; true if any moved. */
  private drainOoo(): boolean {
    const head = this.oooRanges[0];
    if (head === undefined || head[0] !== this.rcvNxt) return false;
    this.oooRanges.shift();
    for (let seq = head[0]; seq !== head[1]; seq = seqAdd(seq, 1)) {
      const seg = this.ooo.get(seq) as SegmentFrame;
      this.ooo.delete(seq);
      this.oooBytes -= seg.payload.length;
      this.acceptInOrder(seg.end, seg.payload);
    }
    return true;
  }

  private insertOooRange(seq: number): void {
    const ranges = this.oooRanges;
    const next = seqAdd(seq, 1);
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i] as [number, number];
      if (seqLt(seq, r[0])) {
        if (next === r[0]) r[0] = seq;
        else ranges.splice(i, 0, [seq, next]);
        return;
      }
      if (seq === r[1]) {
        r[1] = next;
        const after = ranges[i + 1];
        if (after !== undefined && after[0] === next) {
          r[1] = after[1];
          ranges.splice(i + 1, 1);
        }
        return;
      }
    }
    ranges.push([seq, next]);
  }

  private buildAck(now: number, maxBytes: number): AckFrame | undefined {
    const window = this.advertisedWindow();
    const ack: AckFrame = {
      type: "ack",
      stream: this.stream,
      cumulative: this.rcvNxt,
      windowSegments: window,
      ackDelayMs: this.ackDelayBase === undefined ? 0 : Math.max(0, now - this.ackDelayBase),
      ranges: [],
    };
    const base = frameBytes(ack);
    if (base > maxBytes) return undefined;
    const room = Math.min(MAX_SACK_RANGES, Math.floor((maxBytes - base) / 8));
    if (room > 0 && this.oooRanges.length > 0) {
      // RFC 2018 §4: the first block reports the most recently received segment.
      const recent = this.oooRanges.find(
        ([s, e]) => this.lastOooSeq !== undefined && seqGte(this.lastOooSeq, s) && seqLt(this.lastOooSeq, e),
      );
      if (recent !== undefined) ack.ranges.push([recent[0], recent[1]]);
      for (const r of this.oooRanges) {
        if (ack.ranges.length >= room) break;
        if (r !== recent) ack.ranges.push([r[0], r[1]]);
      }
    }
    this.ackDeadline = undefined;
    this.ackDelayBase = undefined;
    this.segmentsSinceAck = 0;
    this.lastAdvertisedWindow = window;
    const edge = seqAdd(this.rcvNxt, window);
    if (seqGt(edge, this.promisedEdge)) this.promisedEdge = edge;
    return ack;
  }

  /**
   * RFC 1122 §4.2.3.3 (receiver SWS avoidance): announce a reopened window once it has grown
   * by a quarter of the buffer, so a stalled sender resumes without waiting for its probe.
   */
  private maybeSendWindowUpdate(): void {
    const threshold = Math.max(1, Math.floor(this.receiveWindowSegments / 4));
    const window = this.advertisedWindow();
    if (this.lastAdvertisedWindow < threshold && window - this.lastAdvertisedWindow >= threshold) {
      this.ackNow(this.lastNowMs);
    }
  }

  private observe(now: number): void {
    if (now > this.lastNowMs) this.lastNowMs = now;
  }
}

const EMPTY_READY: ReadyMessage = { bytes: new Uint8Array(0), segments: 0 };
/** `send`'s segments have no `head`. */
const EMPTY = new Uint8Array(0);

/**
 * Adds [start, end) to sorted, disjoint ranges, merging neighbours; returns how many of its
 * bytes were new.
 */
function addRange(ranges: Array<[number, number]>, start: number, end: number): number {
  let covered = 0;
  let i = 0;
  while (i < ranges.length && (ranges[i] as [number, number])[1] < start) i++;
  let lo = start;
  let hi = end;
  let j = i;
  while (j < ranges.length && (ranges[j] as [number, number])[0] <= end) {
    const r = ranges[j] as [number, number];
    covered += Math.max(0, Math.min(r[1], end) - Math.max(r[0], start));
    lo = Math.min(lo, r[0]);
    hi = Math.max(hi, r[1]);
    j++;
  }
  ranges.splice(i, j - i, [lo, hi]);
  return end - start - covered;
}
