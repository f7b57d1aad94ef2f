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
 * Invariants: `pipe` = number of `inflight` entries (RFC 6675 §4 "pipe"), `lostCount` = number
 * of `lost` entries; a transmission is allowed only while `pipe < cwnd` (lost segments first,
 * then new data), except that the first two ACKs reporting data above a hole may each release
 * one new segment (Limited Transmit, RFC 3042). New data also needs `seq < peer's right edge`
 * (flow control: cumulative + advertised window, which the receiver never shrinks, so the
 * sender keeps the largest edge it has seen and reordered ACKs are harmless; until the first
 * ACK it assumes the peer is configured like itself) and `sentCount < sendWindowSegments`
 * (bounds the scoreboard).
 *
 * Loss detection: an `inflight` segment is lost when at least 3 segments transmitted after it
 * have been SACKed (RFC 6675 §4 IsLost with DupThresh = 3; "after" is in transmission order,
 * which equals sequence order for first transmissions and lets a lost retransmission be
 * detected the same way, as RFC 8985 does). Each transmission is fast-retransmitted at most
 * once; the first loss in an episode calls `congestion.onLoss`, later losses before the
 * cumulative ACK passes the episode's `recoveryEnd` do not (RFC 6675 §5). Every segment
 * declared lost by SACK is also counted to `congestion.onSegmentsLost`, for controllers that
 * respond to the loss *rate* rather than to loss events.
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
 * Pacing: when the controller reports `pacingRateSegmentsPerMs`, segments (new data and
 * retransmissions; ACKs are never paced) leave through a token bucket refilled at that rate
 * and holding at most `max(4, 2 ms of the rate)` segments, so a 1 ms adapter timer can still
 * reach the rate. A segment the bucket holds back sets the pacing deadline, which
 * `pollTimeout` reports: the core says when the next datagram may go. Without a rate
 * (the AIMD default) the window alone clocks transmissions, as before.
 *
 * Retransmission timer (RFC 6298 §5): armed when a segment is sent and none is running,
 * restarted when the cumulative ACK advances, stopped when nothing is outstanding. On expiry
 * every unSACKed outstanding segment is marked lost, the timeout doubles, and the congestion
 * window collapses (`onRto`). The doubled timeout stays until a valid sample (Karn), so a
 * timeout that is too short cannot keep firing. SACKed segments stay SACKed: our receiver
 * never discards out-of-order data it has buffered (no reneging, so RFC 2018 §8's caution
 * does not apply).
 *
 * Zero window (RFC 9293 §3.8.6.1): when the peer's window is closed and nothing is in flight,
 * the same timer acts as the persist timer; on expiry one segment is sent past the window as
 * a probe and ordinary retransmission (with back-off, without `onRto`) repeats it. When an
 * ACK finally opens the window past the probe, the probe (dropped by the closed window) is
 * resent at once.
 *
 * Receiver
 * --------
 * `rcvNxt` is the next sequence number expected (the cumulative ACK). In-order segments are
 * appended to the message being reassembled; a segment with `end` completes a message, which
 * waits in `ready` until `pollMessage`. Out-of-order segments wait in `ooo`, summarised as
 * sorted SACK ranges. Memory is bounded by `receiveWindowSegments`:
 *
 *     held (reassembling + ready, undelivered)  +  ooo  <=  receiveWindowSegments
 *     advertised window = receiveWindowSegments - held; right edge = rcvNxt + window
 *
 * Segments at or beyond the right edge are dropped. An in-order arrival moves `rcvNxt` and
 * `held` up together, so the right edge never moves left; only `pollMessage` moves it right.
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
import { type AckFrame, frameBytes, type SegmentFrame } from "../protocol/frames.js";
import { MAX_MESSAGE_BYTES, MAX_SACK_RANGES } from "../protocol/limits.js";
import { SEQ_MODULO, seqAdd, seqDiff, seqGt, seqGte, seqLt } from "../protocol/seq.js";
import { type AckSample, AimdCongestionController, type CongestionController } from "./congestion.js";
import { RttEstimator } from "./rtt-estimator.js";

export interface ReliableChannelOptions {
  /** u16 stream id written into every frame. */
  stream: number;
  /** u32, default 0; both ends are configured with the same value. */
  initialSeq?: number;
  /** Payload bytes per segment (the caller computes it from its datagram budget). */
  maxSegmentPayloadBytes: number;
  /** Max segments in flight, default 256. */
  sendWindowSegments?: number;
  /** Receive buffer for out-of-order segments and undelivered messages, default 1024; advertised in ACKs. */
  receiveWindowSegments?: number;
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
/** Float slack: a bucket this close to one token is full enough. */
const PACER_EPSILON = 1e-9;

type SegmentState = "unsent" | "inflight" | "lost" | "sacked";

interface OutgoingSegment {
  readonly seq: number;
  readonly end: boolean;
  readonly payload: Uint8Array;
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
  private readonly sendWindowSegments: number;
  private readonly receiveWindowSegments: number;
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
  private pipe = 0;
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
  // Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation §3.1).
  private delivered = 0;
  private deliveredTimeMs = 0;
  private firstSentTimeMs = 0;
  /** Non-zero while app-limited: the `delivered` count at which that episode ends. */
  private appLimitedUntil = 0;
  // Pacing.
  private pacerTokens = 0;
  private pacerRefillAtMs: number | undefined;
  private pacingDeadline: number | undefined;

  // --- receiver ---
  private rcvNxt: number;
  private readonly ooo = new Map<number, SegmentFrame>();
  /** Sorted, disjoint [start, end) ranges of `ooo`, all above `rcvNxt`. */
  private oooRanges: Array<[number, number]> = [];
  private lastOooSeq: number | undefined;
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private discardingMessage = false;
  private readonly ready: ReadyMessage[] = [];
  private readyHead = 0;
  /** Segments accepted in order and not yet handed to the application. */
  private heldSegments = 0;
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
    duplicatesDropped: 0,
    messagesDelivered: 0,
    outOfWindowDropped: 0,
    oversizedDropped: 0,
    integrityDropped: 0,
  };

  private readonly onOversized: ((head: Uint8Array) => void) | undefined;

  constructor(opts: ReliableChannelOptions) {
    const initialSeq = opts.initialSeq ?? DEFAULTS.initialSeq;
    this.stream = opts.stream;
    this.maxSegmentPayloadBytes = opts.maxSegmentPayloadBytes;
    this.sendWindowSegments = opts.sendWindowSegments ?? DEFAULTS.sendWindowSegments;
    this.receiveWindowSegments = opts.receiveWindowSegments ?? DEFAULTS.receiveWindowSegments;
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
    if (this.segmentsFor(this.maxMessageBytes) > this.receiveWindowSegments) {
      throw invalidOption(
        `a ${this.maxMessageBytes}-byte message needs ${this.segmentsFor(this.maxMessageBytes)} segments, ` +
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
      deliveredSegments: this.delivered,
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

  /**
   * Queue one message. `owned`: the caller hands `message` over and never changes it again, so
   * its segments are views into it instead of copies (the file sender's fresh chunk buffers).
   */
  send(message: Uint8Array, now: number, owned = false): void {
    if (message.length > this.maxMessageBytes) {
      throw new HallwayError(
        "MSG_TOO_LARGE",
        `message of ${message.length} bytes exceeds the ${this.maxMessageBytes}-byte limit`,
      );
    }
    this.observe(now);
    const count = this.segmentsFor(message.length);
    for (let i = 0; i < count; i++) {
      const start = i * this.maxSegmentPayloadBytes;
      this.outgoing.push({
        seq: this.nextSeqToAssign,
        end: i === count - 1,
        // Unless handed over, a copy: the caller may reuse its buffer after `send` returns.
        payload: owned
          ? message.subarray(start, Math.min(start + this.maxSegmentPayloadBytes, message.length))
          : message.slice(start, Math.min(start + this.maxSegmentPayloadBytes, message.length)),
        state: "unsent",
        transmissions: 0,
        sentAtMs: 0,
        txOrder: 0,
        fastLost: false,
        probe: false,
        rsDelivered: 0,
        rsDeliveredTimeMs: 0,
        rsFirstSentTimeMs: 0,
        rsAppLimited: false,
      });
      this.nextSeqToAssign = seqAdd(this.nextSeqToAssign, 1);
    }
    this.updateRtoTimer(now);
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
    if (this.verifySegment !== undefined && !this.verifySegment(frame)) {
      // Damaged: never acknowledged, so the sender repairs it like any other loss.
      this.counters.integrityDropped++;
      return;
    }
    this.ackDelayBase = now;
    if (offset > 0) {
      this.ooo.set(frame.seq, { ...frame, payload: frame.payload.slice() });
      this.insertOooRange(frame.seq);
      this.lastOooSeq = frame.seq;
      this.ackNow(now);
      return;
    }
    this.acceptInOrder(frame.end, frame.payload.slice());
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
    let newlyAcked = 0;
    let newest: OutgoingSegment | undefined;
    const noteAcked = (seg: OutgoingSegment): void => {
      newlyAcked++;
      this.delivered++;
      this.deliveredTimeMs = now;
      if (newest === undefined || seg.txOrder > newest.txOrder) newest = seg;
    };

    for (let i = 0; i < cumOffset; i++) {
      const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
      if (seg.state === "inflight") this.pipe--;
      else if (seg.state === "lost") this.lostCount--;
      if (seg.state !== "sacked") noteAcked(seg);
    }
    this.sendHead += cumOffset;
    this.sentCount -= cumOffset;
    this.sndUna = frame.cumulative;
    this.compactOutgoing();

    for (const [start, end] of frame.ranges) {
      const from = Math.max(0, seqDiff(start, this.sndUna));
      const to = Math.min(this.sentCount, seqDiff(end, this.sndUna));
      if (!seqLt(start, end)) continue;
      for (let i = from; i < to; i++) {
        const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
        if (seg.state === "sacked") continue;
        if (seg.state === "inflight") this.pipe--;
        else if (seg.state === "lost") this.lostCount--;
        seg.state = "sacked";
        noteAcked(seg);
      }
    }

    let rttSampleMs: number | undefined;
    if (newest !== undefined && newest.transmissions === 1) {
      this.rtt.sample(now - newest.sentAtMs, frame.ackDelayMs);
      rttSampleMs = this.rtt.latestRttMs;
    }
    if (this.recoveryEnd !== undefined && seqGte(this.sndUna, this.recoveryEnd)) {
      // The episode is over once everything sent before it is acknowledged.
      this.recoveryEnd = undefined;
      this.inFastRecovery = false;
    }
    if (newest !== undefined) {
      this.congestion.onAck(
        newlyAcked,
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
    } else if (newlyAcked > 0 && this.recoveryEnd === undefined && this.dupAcks < 2) {
      this.dupAcks++;
      this.limitedTransmitCredit++;
    }
    this.updateRtoTimer(now);
  }

  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined {
    this.observe(now);
    let next = this.nextSegmentToSend();
    if (next === undefined) {
      this.pacingDeadline = undefined;
      this.noteAppLimited();
    } else if (!this.pacerAllows(now)) {
      next = undefined;
    }
    const ackOwed = this.ackDeadline !== undefined;
    if (ackOwed && (next !== undefined || (this.ackDeadline as number) <= now)) {
      // Due, or piggybacked ahead of data that goes out anyway.
      return this.buildAck(now, maxBytes);
    }
    if (next === undefined) return undefined;
    const payload = next.seg.payload;
    const frame: SegmentFrame = {
      type: "segment",
      stream: this.stream,
      seq: next.seg.seq,
      end: next.seg.end,
      payload,
    };
    if (frameBytes(frame) > maxBytes) return undefined;
    this.transmit(next.seg, next.retransmit, now);
    return frame;
  }

  pollMessage(): Uint8Array | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const msg = this.ready[this.readyHead] as ReadyMessage;
    this.ready[this.readyHead] = { bytes: new Uint8Array(0), segments: 0 };
    this.readyHead++;
    if (this.readyHead > 64 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
    this.heldSegments -= msg.segments;
    this.counters.messagesDelivered++;
    this.maybeSendWindowUpdate();
    return msg.bytes;
  }

  pollTimeout(): number | undefined {
    let t = this.rtoDeadline;
    for (const d of [this.ackDeadline, this.pacingDeadline]) {
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
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
      for (let i = 0; i < this.sentCount; i++) {
        const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
        if (seg.state === "inflight") this.markLost(seg, false);
      }
      this.congestion.onRto(now);
      this.inFastRecovery = false;
      this.recoveryEnd = this.sendEdge();
    }
    this.rtt.backOff(); // RFC 6298 §5.5
    this.rtoDeadline = now + this.rtt.rtoMs; // RFC 6298 §5.6
  }

  // ===================================================================== sender internals

  private segmentsFor(messageBytes: number): number {
    return Math.max(1, Math.ceil(messageBytes / this.maxSegmentPayloadBytes));
  }

  /** One past the highest sequence number transmitted so far. */
  private sendEdge(): number {
    return seqAdd(this.sndUna, this.sentCount);
  }

  /** RFC 6675 §5 NextSeg(), simplified: lost segments first, then new data. */
  private nextSegmentToSend(): { seg: OutgoingSegment; retransmit: boolean } | undefined {
    const cwnd = Math.max(1, Math.floor(this.congestion.cwndSegments));
    const cwndAllows = this.pipe < cwnd;
    if (cwndAllows && this.lostCount > 0) {
      for (let i = 0; i < this.sentCount; i++) {
        const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
        if (seg.state === "lost") return { seg, retransmit: true };
      }
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
    if (this.pipe === 0) {
      // Nothing in flight: a rate interval starts now (delivery-rate draft §3.2).
      this.firstSentTimeMs = now;
      this.deliveredTimeMs = now;
    }
    seg.rsDelivered = this.delivered;
    seg.rsDeliveredTimeMs = this.deliveredTimeMs;
    seg.rsFirstSentTimeMs = this.firstSentTimeMs;
    seg.rsAppLimited = this.appLimitedUntil !== 0;
    if (this.pacerRefillAtMs !== undefined) this.pacerTokens -= 1;
    if (retransmit) {
      this.lostCount--;
      this.counters.retransmits++;
      this.counters.retransmittedBytes += seg.payload.length;
      if (seg.fastLost) this.counters.fastRetransmits++;
    } else {
      this.sentCount++;
      seg.probe = !seqLt(seg.seq, this.peerRightEdge);
      this.probeAllowed = false; // a probe is exactly one segment
      const cwnd = Math.max(1, Math.floor(this.congestion.cwndSegments));
      if (this.pipe >= cwnd && this.limitedTransmitCredit > 0) this.limitedTransmitCredit--;
    }
    seg.state = "inflight";
    seg.fastLost = false;
    seg.transmissions++;
    seg.sentAtMs = now;
    seg.txOrder = ++this.txCounter;
    this.pipe++;
    this.counters.segmentsSent++;
    if (this.rtoDeadline === undefined) this.rtoDeadline = now + this.rtt.rtoMs; // RFC 6298 §5.1
  }

  /**
   * A zero-window probe that reached a closed window was dropped there. Once the window opens
   * past it, resend it now rather than on the backed-off timer.
   */
  private resendDroppedProbes(): void {
    for (let i = 0; i < this.sentCount; i++) {
      const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
      if (!seqLt(seg.seq, this.peerRightEdge)) break;
      if (seg.probe && seg.state === "inflight") this.markLost(seg, false);
    }
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
      deliveredSegments: this.delivered,
      priorDeliveredSegments: newest.rsDelivered,
      intervalSegments: this.delivered - newest.rsDelivered,
      intervalMs: Math.max(sendElapsed, ackElapsed),
      appLimited: newest.rsAppLimited,
      inflightSegments: this.pipe,
    };
  }

  /**
   * Nothing could be sent, though the congestion window had room: the application (or the
   * peer's window, or our send window) is the limit, so samples until this flight is
   * delivered do not measure the network (delivery-rate draft §3.4).
   */
  private noteAppLimited(): void {
    const cwnd = Math.max(1, Math.floor(this.congestion.cwndSegments));
    if (this.pipe < cwnd && this.lostCount === 0) {
      this.appLimitedUntil = Math.max(this.delivered + this.pipe, 1);
    }
  }

  /** Token-bucket pacer; false (with `pacingDeadline` set) when the next segment must wait. */
  private pacerAllows(now: number): boolean {
    const rate = this.congestion.pacingRateSegmentsPerMs;
    if (rate === undefined || !(rate > 0) || !Number.isFinite(rate)) {
      this.pacerRefillAtMs = undefined;
      this.pacingDeadline = undefined;
      return true;
    }
    const burst = Math.max(PACER_MIN_BURST_SEGMENTS, rate * PACER_BURST_MS);
    this.pacerTokens =
      this.pacerRefillAtMs === undefined
        ? burst
        : Math.min(burst, this.pacerTokens + Math.max(0, now - this.pacerRefillAtMs) * rate);
    this.pacerRefillAtMs = now;
    const wait = (1 - this.pacerTokens) / rate;
    if (this.pacerTokens >= 1 - PACER_EPSILON || now + wait <= now) {
      this.pacingDeadline = undefined;
      return true;
    }
    this.pacingDeadline = now + wait;
    return false;
  }

  private markLost(seg: OutgoingSegment, fast: boolean): void {
    if (seg.state === "inflight") this.pipe--;
    if (seg.state !== "lost") this.lostCount++;
    seg.state = "lost";
    seg.fastLost = fast;
  }

  /**
   * RFC 6675 §4 IsLost with DupThresh = 3, in transmission order: an inflight segment is lost
   * once three segments transmitted after it are SACKed. That is: its transmission precedes
   * the third most recent transmission among SACKed segments.
   */
  private detectLosses(now: number): void {
    // The DUP_THRESH most recent transmissions among SACKed segments, newest first.
    const recent: number[] = [];
    for (let i = 0; i < this.sentCount; i++) {
      const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
      if (seg.state !== "sacked") continue;
      let at = recent.length;
      while (at > 0 && (recent[at - 1] as number) < seg.txOrder) at--;
      if (at < DUP_THRESH) {
        recent.splice(at, 0, seg.txOrder);
        if (recent.length > DUP_THRESH) recent.pop();
      }
    }
    if (recent.length < DUP_THRESH) return;
    const threshold = recent[DUP_THRESH - 1] as number;
    let lost = 0;
    for (let i = 0; i < this.sentCount; i++) {
      const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
      if (seg.state === "inflight" && seg.txOrder < threshold) {
        this.markLost(seg, true);
        lost++;
      }
    }
    if (lost === 0) return;
    this.congestion.onSegmentsLost?.(lost, now);
    // One congestion response per episode (RFC 6675 §5): losses of data sent before the
    // episode began are part of it.
    if (this.recoveryEnd === undefined) {
      this.congestion.onLoss(now);
      this.inFastRecovery = true;
      this.recoveryEnd = this.sendEdge();
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

  private advertisedWindow(): number {
    return Math.max(0, this.receiveWindowSegments - this.heldSegments);
  }

  private ackNow(now: number): void {
    this.ackDeadline = this.ackDeadline === undefined ? now : Math.min(this.ackDeadline, now);
  }

  private acceptInOrder(end: boolean, payload: Uint8Array): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    if (this.discardingMessage) {
      if (end) this.discardingMessage = false;
      return;
    }
    this.partial.push(payload);
    this.partialBytes += payload.length;
    this.heldSegments++;
    if (
      this.partialBytes > this.maxMessageBytes ||
      (!end && this.partial.length >= this.receiveWindowSegments)
    ) {
      // The peer sends a message larger than we accept or can ever buffer: drop it whole.
      this.counters.oversizedDropped++;
      const head = this.partial[0];
      if (head !== undefined) this.onOversized?.(head);
      this.heldSegments -= this.partial.length;
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

  /** Moves buffered segments that now continue the in-order stream; true if any moved. */
  private drainOoo(): boolean {
    const head = this.oooRanges[0];
    if (head === undefined || head[0] !== this.rcvNxt) return false;
    this.oooRanges.shift();
    for (let seq = head[0]; seq !== head[1]; seq = seqAdd(seq, 1)) {
      const seg = this.ooo.get(seq) as SegmentFrame;
      this.ooo.delete(seq);
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
