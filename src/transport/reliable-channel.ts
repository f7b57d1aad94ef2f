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
 * congestion controller plugged in through the options below (see `file-core.ts` for why
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
 * delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation, `delivery-rate.ts`): the
 * bytes delivered over the flight of the newest acknowledged transmission, marked
 * app-limited when the sender had nothing to send or was held by a window.
 *
 * Pacing: when the controller reports `pacingRateBytesPerMs`, segments (new data and
 * retransmissions; ACKs are never paced) leave through a token bucket (`pacer.ts`); a segment
 * the bucket holds back sets the pacing deadline, which `pollTimeout` reports: the core says
 * when the next datagram may go. Without a rate (the AIMD default) the window alone clocks
 * transmissions.
 *
 * Segment size and the path: segments are cut at most `maxSegmentPayloadBytes` long, and no
 * longer than the path carries when they are cut (`SegmentPath.segmentBudgetBytes`, which
 * path-MTU discovery raises and a black hole lowers). A segment that is larger than the path
 * carries when it must be (re)sent, because the path shrank after it was cut, goes out as
 * fragments that the receiver reassembles before it treats the segment as arrived
 * (`fragments.ts`). One transmission is all of its fragments: the window, the pacer and the
 * RTT sample see one segment, and a lost fragment loses the segment.
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
 * Receiver (`reassembly.ts`, where this part is told in full)
 * --------
 * Fragments are collected until their segment is whole. `rcvNxt` is the next sequence number
 * expected (the cumulative ACK); in-order segments are reassembled into messages that wait
 * for `pollMessage`, out-of-order ones are buffered and reported as SACK ranges. Memory is
 * bounded by the receive window (segments, and optionally bytes), which is advertised in
 * every ACK and never taken back once promised; only `pollMessage` opens it further, so a
 * receiver that stops reading (a file receiver whose disk is behind) closes the window in
 * bounded memory and the sender waits on the persist timer. An optional `verifySegment`
 * check drops a damaged segment unacknowledged: to the sender it is a loss (file transfers
 * check the CRC-32 of each chunk). ACK policy (RFC 5681 §4.2, RFC 1122 §4.2.3.2): ACK at once
 * for an out-of-order or duplicate segment, one that fills a gap, or every second in-order
 * segment (`ackEverySegments`; bulk transfers stretch it); otherwise after `ackDelayMs`. An
 * ACK owed is piggybacked ahead of any data we are about to send anyway; a reopened window is
 * announced at once (RFC 1122 §4.2.3.3).
 *
 * Parts
 * -----
 * This file composes them, keeps the RTT estimator and makes the congestion controller's
 * calls on the ACK path:
 *
 *     send-scoreboard.ts   the sender's segments, their states, NextSeg and loss detection
 *     peer-window.ts       the peer's window as the scoreboard sees it, zero-window probes
 *     loss-recovery.ts     the retransmission and persist timer, loss episodes, spurious undo
 *     reassembly.ts        the receiver: reordering, messages, window, ACKs
 *     fragments.ts         segments sent in fragments after their path shrank, and collected
 *     transmitter.ts       what goes out next: an ACK, a segment, a fragment, paced
 *     pacer.ts             the token bucket
 *     delivery-rate.ts     the delivery-rate sampler
 *     channel-options.ts   options, defaults, checks; stats and their publisher; `SegmentPath`
 *     congestion/          the controllers (AIMD, BBR)
 *
 * Errors: `send` of an oversized message throws `MSG_TOO_LARGE` (local: the caller's message
 * is too large, which a user can cause); options that could never work throw `MisuseError`.
 * Remote misbehaviour (impossible ACKs, out-of-window or oversized messages) is dropped and
 * counted, never thrown.
 */

import { HallwayError } from "../errors.js";
import { channelDiagnostics } from "../protocol/diagnostics.js";
import type { AckFrame, SegmentFrame } from "../protocol/frames.js";
import {
  ChannelPublisher,
  type ReliableChannelOptions,
  type ReliableChannelStats,
  type ResolvedChannelOptions,
  resolveChannelOptions,
  type SegmentPath,
  segmentsFor,
} from "./channel-options.js";
import { AimdCongestionController, type CongestionController } from "./congestion/index.js";
import { DeliveryRateSampler } from "./delivery-rate.js";
import { LossRecovery } from "./loss-recovery.js";
import { Reassembly } from "./reassembly.js";
import { RttEstimator } from "./rtt-estimator.js";
import { SendScoreboard } from "./send-scoreboard.js";
import { Transmitter } from "./transmitter.js";

export type {
  ChannelDiagnostic,
  ReliableChannelOptions,
  ReliableChannelStats,
  SegmentPath,
} from "./channel-options.js";

/** `send`'s segments have no `head`. */
const EMPTY = new Uint8Array(0);

export class ReliableChannel {
  private readonly opts: ResolvedChannelOptions;
  private readonly stream: number;
  private path: SegmentPath | undefined;
  private readonly congestion: CongestionController;
  private readonly rtt: RttEstimator;
  private readonly sb: SendScoreboard;
  private readonly rx: Reassembly;
  private readonly rate = new DeliveryRateSampler();
  /** Latest `now` seen by any input; lets `pollMessage` (which has no `now`) schedule an ACK. */
  private lastNowMs = Number.NEGATIVE_INFINITY;
  private readonly recovery: LossRecovery;
  private readonly tx: Transmitter;
  private readonly publisher = new ChannelPublisher();

  constructor(options: ReliableChannelOptions) {
    const opts = resolveChannelOptions(options);
    this.opts = opts;
    this.stream = opts.stream;
    this.path = options.path;
    this.congestion = options.congestion ?? new AimdCongestionController();
    this.rtt = new RttEstimator({
      initialRtoMs: opts.initialRtoMs,
      minRtoMs: opts.minRtoMs,
      maxRtoMs: opts.maxRtoMs,
    });
    this.sb = new SendScoreboard(opts.initialSeq, opts.sendWindowSegments, opts.receiveWindowSegments);
    this.rx = new Reassembly(opts.stream, opts.initialSeq, opts);
    this.recovery = new LossRecovery(this.sb, this.congestion, this.rtt);
    this.tx = new Transmitter(opts.stream, this.sb, this.rx, this.rate, this.recovery, this.congestion);
  }

  // ===================================================================== public surface

  get idle(): boolean {
    return this.sb.pendingSegments === 0 && this.rx.ackDeadline === undefined;
  }

  get stats(): ReliableChannelStats {
    return {
      ...this.sb.counters,
      ...this.rx.counters,
      fragmentsSent: this.tx.fragmentsSent,
      spuriousTimeouts: this.recovery.spuriousTimeouts,
      srttMs: this.rtt.srttMs,
      rtoMs: this.rtt.rtoMs,
      bufferedSegments: this.rx.bufferedSegments,
      deliveredSegments: this.rate.deliveredSegments,
      deliveredBytes: this.rate.deliveredBytes,
      cwndBytes: this.congestion.cwndBytes,
      inflightBytes: this.sb.inflightBytes,
      pacingRateBytesPerMs: this.congestion.pacingRateBytesPerMs,
    };
  }

  /** Segments queued by `send` and not yet transmitted once. */
  get unsentSegments(): number {
    return this.sb.unsentSegments;
  }

  /** Segments queued or in flight that the peer has not acknowledged cumulatively. */
  get pendingSegments(): number {
    return this.sb.pendingSegments;
  }

  /** The session's path, for a channel created before it was attached to one (a transfer core's). */
  attachPath(path: SegmentPath): void {
    this.path = path;
  }

  /** The largest segment payload `send` cuts now: the option, or less if the path says so. */
  get segmentBudgetBytes(): number {
    const path = this.path?.segmentBudgetBytes;
    const max = this.opts.maxSegmentPayloadBytes;
    return path === undefined ? max : Math.max(1, Math.min(path, max));
  }

  /**
   * Whether a new segment queued now would be the next to go (the congestion window has room;
   * the pacer or the peer's window may still hold it). A sender that cuts its data just in
   * time asks this first, so what it cuts has the path's size of the moment. Neither the pacer
   * nor the peer's window counts: a segment they hold back is cut already, so the channel sees
   * it waiting (it is not an application with nothing to send) and, at a closed window, has
   * the one segment its persist timer probes with.
   */
  canSendNew(): boolean {
    return this.sb.canSendNew(this.congestion.cwndBytes);
  }

  /**
   * Queue one message. `owned`: the caller hands `message` over and never changes it again, so
   * its segments are views into it instead of copies (the file sender's chunk buffers).
   */
  send(message: Uint8Array, now: number, owned = false): void {
    const max = this.opts.maxMessageBytes;
    if (message.length > max) {
      throw new HallwayError(
        "MSG_TOO_LARGE",
        `message of ${message.length} bytes exceeds the ${max}-byte limit`,
      );
    }
    this.observe(now);
    const size = this.segmentBudgetBytes;
    const count = segmentsFor(message.length, size);
    for (let i = 0; i < count; i++) {
      const start = i * size;
      // Unless handed over, a copy: the caller may reuse its buffer after `send` returns.
      const payload = owned
        ? message.subarray(start, Math.min(start + size, message.length))
        : message.slice(start, Math.min(start + size, message.length));
      this.sb.queue(EMPTY, payload, i === count - 1);
    }
    this.recovery.update(now);
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
    const max = Math.min(this.opts.maxSegmentPayloadBytes, this.opts.maxMessageBytes);
    if (size > max) {
      throw new HallwayError("MSG_TOO_LARGE", `segment of ${size} bytes exceeds the ${max}-byte limit`);
    }
    this.observe(now);
    const seq = this.sb.queue(head, body, true);
    this.recovery.update(now);
    return seq;
  }

  /**
   * The oldest sequence number not yet acknowledged cumulatively (the next one `send` assigns
   * when none is pending). Every segment before it is acknowledged and dropped: buffers it
   * referenced are the caller's again.
   */
  get sendUnacknowledged(): number {
    return this.sb.unacknowledged;
  }

  handleSegment(frame: SegmentFrame, now: number): void {
    if (frame.stream !== this.stream) return;
    this.observe(now);
    this.rx.handleSegment(frame, now);
    if (channelDiagnostics.hasSubscribers) this.publishChanges();
  }

  handleAck(frame: AckFrame, now: number): void {
    if (frame.stream !== this.stream) return;
    this.observe(now);
    const acked = this.sb.applyAck(frame, now, this.rtt.minRttMs ?? 0, this.path);
    if (acked === undefined) return;
    const { cumulativeAdvance, newlyAckedBytes, newest } = acked;
    if (acked.newlyAckedSegments > 0) this.rate.onDelivered(newlyAckedBytes, acked.newlyAckedSegments, now);
    this.recovery.onAcked(acked.spurious, now);
    // The RTT sample comes from the most recently transmitted segment this ACK newly covers:
    // its arrival is what triggered the ACK, so the peer's ackDelayMs applies to it (QUIC's
    // "largest acknowledged", RFC 9002 §5.1, in transmission order). An older segment whose
    // first ACK was lost would inflate the estimate. Karn's algorithm (RFC 6298 §3): if that
    // segment was retransmitted, the ACK is ambiguous and gives no sample at all.
    let rttSampleMs: number | undefined;
    if (newest !== undefined && newest.transmissions === 1) {
      this.rtt.sample(now - newest.sentAtMs, frame.ackDelayMs);
      rttSampleMs = this.rtt.latestRttMs;
    }
    this.recovery.onCumulative(this.sb.unacknowledged);
    if (newest !== undefined) {
      const sample = this.rate.sample(newest, rttSampleMs, this.recovery.inRecovery, this.sb.inflightBytes);
      this.congestion.onAck(newlyAckedBytes, this.rtt.latestRttMs ?? this.rtt.rtoMs, now, sample);
    }
    const lost = this.sb.detectLosses(this.path);
    this.recovery.onLosses(lost.lostSegments, lost.lostBytes, now);
    this.recovery.afterAck(cumulativeAdvance > 0, newlyAckedBytes, now);
    if (channelDiagnostics.hasSubscribers) this.publishChanges();
  }

  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined {
    this.observe(now);
    const frame = this.tx.nextFrame(now, maxBytes, this.segmentBudgetBytes);
    if (channelDiagnostics.hasSubscribers) this.publishChanges();
    return frame;
  }

  pollMessage(): Uint8Array | undefined {
    const message = this.rx.pollMessage(this.lastNowMs);
    if (channelDiagnostics.hasSubscribers) this.publishChanges();
    return message;
  }

  pollTimeout(): number | undefined {
    let t = this.recovery.deadline;
    const ack = this.rx.ackDeadline;
    if (ack !== undefined && (t === undefined || ack < t)) t = ack;
    const pace = this.tx.deadline;
    if (pace !== undefined && (t === undefined || pace < t)) t = pace;
    return t;
  }

  handleTimeout(now: number): void {
    this.observe(now);
    // The pacer's release time: the next pollFrame refills the bucket and sends.
    this.tx.handleTimeout(now);
    // A due ACK needs nothing here: pollFrame emits it.
    if (!this.recovery.handleTimeout(now, this.path)) return;
    if (channelDiagnostics.hasSubscribers) this.publishChanges();
  }

  // ===================================================================== internals

  /** `hallway:channel`: what changed in the counters since this channel last published. */
  private publishChanges(): void {
    this.publisher.publish(this, this.stream, this.stats);
  }

  private observe(now: number): void {
    if (now > this.lastNowMs) this.lastNowMs = now;
  }
}
