/**
 * SendScoreboard: the sender's half of the reliable channel, its segments and their states,
 * sans-IO (the theory of operation is at the top of `reliable-channel.ts`).
 *
 * One ordered scoreboard from `sndUna` (oldest unacknowledged) onwards; its first `sentCount`
 * entries have been transmitted, the rest wait. Each transmitted entry is `inflight`, `lost`
 * or `sacked`, and the scoreboard keeps the invariants: `pipeBytes` = payload bytes of the
 * `inflight` entries, `lostCount` = number of `lost` entries, each also in `lostQueue`. It owns
 * what follows from those states alone: which segment goes next (RFC 6675 NextSeg: lost first,
 * then new data within the peer's window and the send window, Limited Transmit per RFC 3042),
 * what an ACK acknowledges, and loss detection by packet threshold in transmission order
 * (RFC 9002 §6.1.1, RFC 8985). Timers, congestion control and pacing are the channel's: the
 * scoreboard is told the congestion window and reports what changed.
 *
 * The segment record and what an ACK did are `outgoing-segment.ts`; the transmissions in the
 * order they were made, which loss detection walks, are `transmission-log.ts`; the peer's
 * window (flow control, zero-window probes) is `peer-window.ts`.
 */

import type { AckFrame } from "../protocol/frames.js";
import { seqAdd, seqDiff, seqGte, seqLt } from "../protocol/seq.js";
import type { SegmentPath } from "./channel-options.js";
import {
  type AckOutcome,
  type FragmentCursor,
  newSegment,
  type OutgoingSegment,
} from "./outgoing-segment.js";
import { PeerWindow } from "./peer-window.js";
import { TransmissionLog } from "./transmission-log.js";

export type { AckOutcome, FragmentCursor, OutgoingSegment } from "./outgoing-segment.js";

/** RFC 6675 §2: DupThresh. */
const DUP_THRESH = 3;

export class SendScoreboard {
  /** Scoreboard: entry `sendHead + i` holds sequence number `sndUna + i`. */
  private outgoing: OutgoingSegment[] = [];
  private sendHead = 0;
  private sndUna: number;
  private nextSeqToAssign: number;
  /** Entries [0, sentCount) past `sendHead` have been transmitted at least once. */
  private sentCount = 0;
  /** Payload bytes of the `inflight` entries. */
  private pipeBytes = 0;
  /** Transmissions in the order they were made (transmission-log.ts). */
  private readonly txLog = new TransmissionLog();
  /** Segments marked lost, oldest first; entries no longer `lost` are skipped. */
  private lostQueue: OutgoingSegment[] = [];
  private lostHead = 0;
  /** The largest transmission order acknowledged so far. */
  private largestAckedTx = 0;
  /** The segment being sent in fragments, if any. */
  private fragmenting: FragmentCursor | undefined;
  /** ACKs since the cumulative point last moved that reported new SACKed data (RFC 3042). */
  private dupAcks = 0;
  private limitedTransmitCredit = 0;
  private lostCount = 0;
  /** The peer's window, its probes and the persist timer's allowance (peer-window.ts). */
  private readonly peer: PeerWindow;
  private readonly resendProbe = (seg: OutgoingSegment): void => this.markLost(seg, false);
  private readonly outcome: AckOutcome = {
    cumulativeAdvance: 0,
    newlyAckedBytes: 0,
    newlyAckedSegments: 0,
    newest: undefined,
    spurious: false,
    lostSegments: 0,
    lostBytes: 0,
  };

  readonly counters = { segmentsSent: 0, retransmits: 0, fastRetransmits: 0, retransmittedBytes: 0 };

  /** `peerWindowGuess`: see `PeerWindow`. */
  constructor(
    initialSeq: number,
    private readonly sendWindowSegments: number,
    peerWindowGuess: number,
  ) {
    this.sndUna = initialSeq;
    this.nextSeqToAssign = initialSeq;
    this.peer = new PeerWindow(initialSeq, peerWindowGuess);
  }

  /** The persist timer expired: one new segment may go past the peer's closed window. */
  get probeAllowed(): boolean {
    return this.peer.probeAllowed;
  }

  set probeAllowed(allowed: boolean) {
    this.peer.probeAllowed = allowed;
  }

  /** The oldest sequence number not acknowledged cumulatively. */
  get unacknowledged(): number {
    return this.sndUna;
  }

  get inflightBytes(): number {
    return this.pipeBytes;
  }

  get sentSegments(): number {
    return this.sentCount;
  }

  get lostSegments(): number {
    return this.lostCount;
  }

  /** Segments queued or in flight that the peer has not acknowledged cumulatively. */
  get pendingSegments(): number {
    return this.outgoing.length - this.sendHead;
  }

  /** Segments queued and not yet transmitted once. */
  get unsentSegments(): number {
    return this.outgoing.length - this.sendHead - this.sentCount;
  }

  /** One past the highest sequence number transmitted so far. */
  sendEdge(): number {
    return seqAdd(this.sndUna, this.sentCount);
  }

  /** Everything sent is acknowledged, and the next segment waits for the peer's closed window. */
  get blockedByPeerWindow(): boolean {
    const next = this.outgoing[this.sendHead];
    return this.sentCount === 0 && next !== undefined && !seqLt(next.seq, this.peer.rightEdge);
  }

  /** The oldest unacknowledged segment lies past the peer's window: only a probe is out. */
  get onlyProbeOutstanding(): boolean {
    return seqGte(this.sndUna, this.peer.rightEdge);
  }

  /** See `ReliableChannel.canSendNew`. */
  canSendNew(cwndBytes: number): boolean {
    if (this.unsentSegments > 0 || this.lostCount > 0 || this.fragmenting !== undefined) return false;
    if (this.sentCount >= this.sendWindowSegments) return false;
    return this.pipeBytes < cwndBytes;
  }

  /** Appends one segment; returns its sequence number. */
  queue(head: Uint8Array, payload: Uint8Array, end: boolean): number {
    const seq = this.nextSeqToAssign;
    this.outgoing.push(newSegment(seq, head, payload, end));
    this.nextSeqToAssign = seqAdd(this.nextSeqToAssign, 1);
    return seq;
  }

  /** RFC 6675 §5 NextSeg(), simplified: lost segments first, then new data. */
  nextSegmentToSend(cwndBytes: number): { seg: OutgoingSegment; retransmit: boolean } | undefined {
    const cwndAllows = this.pipeBytes < cwndBytes;
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
    if (!seqLt(seg.seq, this.peer.rightEdge) && !this.peer.probeAllowed) return undefined;
    return { seg, retransmit: false };
  }

  /** `seg` goes out now (its first fragment, if in pieces), with `cwndBytes` the window. */
  transmit(seg: OutgoingSegment, retransmit: boolean, cwndBytes: number, now: number): void {
    const size = seg.size;
    if (retransmit) {
      this.lostCount--;
      this.lostHead++;
      this.counters.retransmits++;
      this.counters.retransmittedBytes += size;
      if (seg.fastLost) this.counters.fastRetransmits++;
    } else {
      this.sentCount++;
      this.peer.onTransmitNew(seg);
      if (this.pipeBytes >= cwndBytes && this.limitedTransmitCredit > 0) this.limitedTransmitCredit--;
    }
    seg.state = "inflight";
    seg.fastLost = false;
    seg.wireBytes = size;
    seg.transmissions++;
    seg.sentAtMs = now;
    this.txLog.record(seg);
    this.pipeBytes += size;
    this.counters.segmentsSent++;
  }

  get fragmentCursor(): FragmentCursor | undefined {
    return this.fragmenting;
  }

  /** `seg`, just transmitted, goes out in fragments from now on. */
  startFragments(seg: OutgoingSegment): FragmentCursor {
    this.fragmenting = { seg, offset: 0 };
    return this.fragmenting;
  }

  /** The last fragment left, or a timeout abandoned the rest. */
  stopFragments(): void {
    this.fragmenting = undefined;
  }

  /**
   * Applies an ACK: the peer's window, then what the cumulative point and the SACK ranges
   * newly acknowledge. Undefined when it tells nothing new about the data (an ACK for data
   * never sent, or an older, reordered one).
   */
  applyAck(
    frame: AckFrame,
    now: number,
    minRttMs: number,
    path: SegmentPath | undefined,
  ): AckOutcome | undefined {
    const cumOffset = seqDiff(frame.cumulative, this.sndUna);
    // An ACK for data we never sent is a peer bug or forgery: ignore all of it.
    if (cumOffset > this.sentCount) return undefined;
    this.peer.update(frame.cumulative, frame.windowSegments, this.resendProbe);
    if (cumOffset < 0) return undefined; // reordered, older ACK: nothing else in it is news

    const out = this.outcome;
    out.cumulativeAdvance = cumOffset;
    out.newlyAckedBytes = 0;
    out.newlyAckedSegments = 0;
    out.newest = undefined;
    out.spurious = false;
    out.lostSegments = 0;
    out.lostBytes = 0;
    // Which transmission of a resent segment arrived is ambiguous (ACKs name sequence numbers,
    // not transmissions). Taking the latest would declare everything sent between the two
    // transmissions lost when it was the original that arrived; so a resent segment only
    // counts for loss detection when its ACK came too long after the resend to be for the
    // original (RFC 8985 §6.1's test, with the minimum RTT).
    let largestUnambiguousTx = 0;
    const noteAcked = (seg: OutgoingSegment): void => {
      if ((seg.transmissions === 1 || now - seg.sentAtMs >= minRttMs) && seg.txOrder > largestUnambiguousTx) {
        largestUnambiguousTx = seg.txOrder;
      }
      // Declared lost by the timer, never resent, and yet acknowledged: the original arrived.
      if (seg.state === "lost" && seg.transmissions === 1 && !seg.fastLost) out.spurious = true;
      out.newlyAckedBytes += seg.size;
      out.newlyAckedSegments++;
      path?.onSegmentAcked(seg.wireBytes);
      if (out.newest === undefined || seg.txOrder > out.newest.txOrder) out.newest = seg;
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
    if (out.newest !== undefined && largestUnambiguousTx > this.largestAckedTx) {
      this.largestAckedTx = largestUnambiguousTx;
    }
    return out;
  }

  /**
   * After an ACK: the cumulative point moved (`advanced`), or, if not, whether this duplicate
   * ACK earns a Limited Transmit credit (RFC 3042: the first two that SACK new data outside a
   * loss episode).
   */
  noteAckProgress(advanced: boolean, earnsCredit: boolean): void {
    if (advanced) {
      this.dupAcks = 0;
      this.limitedTransmitCredit = 0;
    } else if (earnsCredit && this.dupAcks < 2) {
      this.dupAcks++;
      this.limitedTransmitCredit++;
    }
  }

  markLost(seg: OutgoingSegment, fast: boolean): void {
    if (seg.state === "inflight") this.pipeBytes -= seg.size;
    if (seg.state !== "lost") {
      this.lostCount++;
      this.lostQueue.push(seg);
    }
    seg.state = "lost";
    seg.fastLost = fast;
    if (this.fragmenting?.seg === seg) this.fragmenting = undefined;
  }

  /** The persist timer expired with only a window probe out: it is sent again. */
  markProbeLost(): void {
    this.markLost(this.outgoing[this.sendHead] as OutgoingSegment, false);
  }

  /**
   * RFC 6298 §5.4–5.6, RFC 6675 §5.1: on a timeout every unSACKed segment is presumed lost.
   * Returns the largest `wireBytes` among them.
   */
  markInflightLost(): number {
    let largest = 0;
    for (let i = 0; i < this.sentCount; i++) {
      const seg = this.outgoing[this.sendHead + i] as OutgoingSegment;
      if (seg.state === "inflight") {
        this.markLost(seg, false);
        if (seg.wireBytes > largest) largest = seg.wireBytes;
      }
    }
    return largest;
  }

  /**
   * The last timeout was spurious: the segments it declared lost that were not resent yet are
   * in flight again, as they were, instead of being sent twice.
   */
  restoreTimedOut(): void {
    for (let i = this.lostHead; i < this.lostQueue.length; i++) {
      const seg = this.lostQueue[i] as OutgoingSegment;
      if (seg.state !== "lost" || seg.fastLost || seg.transmissions !== 1) continue;
      seg.state = "inflight";
      this.lostCount--;
      this.pipeBytes += seg.size;
    }
  }

  /**
   * RFC 9002 §6.1.1 packet threshold in transmission order: a transmission still in flight
   * when one made DUP_THRESH or more after it was acknowledged is lost. The transmission log
   * holds the transmissions oldest first, so only its head is examined, and each entry once.
   * Counts what it declared lost in the last ACK's outcome.
   */
  detectLosses(path: SegmentPath | undefined): AckOutcome {
    const out = this.outcome;
    const threshold = this.largestAckedTx - DUP_THRESH;
    for (let seg = this.txLog.nextLost(threshold); seg !== undefined; seg = this.txLog.nextLost(threshold)) {
      this.markLost(seg, true);
      path?.onSegmentLost(seg.wireBytes);
      out.lostSegments++;
      out.lostBytes += seg.size;
    }
    this.txLog.compact();
    return out;
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

  private compactOutgoing(): void {
    if (this.sendHead > 1024 && this.sendHead * 2 > this.outgoing.length) {
      this.outgoing.splice(0, this.sendHead);
      this.sendHead = 0;
    }
  }
}
