/**
 * PathMtu: how large a datagram one session's current path carries, and how large the
 * datagrams it sends should be. Sans-IO: `now` is an argument, probes go out through
 * `pollProbe`, answers and segment fates come in through `handle*` and `note*`.
 *
 * Theory of operation
 * ===================
 *
 * Per-datagram CPU, not bandwidth, limits a Node process: sealing, sending, receiving and
 * opening a datagram cost about as much at 1,200 bytes as at 8 KiB. So a session that moves
 * bulk data wants the largest datagrams its path delivers, and the IP layer will carry UDP
 * datagrams up to 64 KiB, fragmenting them where a link's MTU is smaller (1,500 on Ethernet:
 * 8 KiB is 6 fragments) and reassembling them at the far end. Whether a path does (a firewall
 * may drop fragments; a VPN may not carry them), and how large, only a probe can tell.
 *
 * Discovery (DPLPMTUD, RFC 8899, for datagram transports): the session starts at the base
 * size (1,200 bytes, RFC 8899's BASE_PLPMTU as QUIC uses it) and, once it has bulk data to
 * move (`startSearch`), probes the rungs of LADDER in turn with padded PMTU_PROBE datagrams
 * that the peer answers with PMTU_ACK. A probe carries no data, so its loss costs nothing but
 * the probe. An answered probe raises the confirmed size (`plpmtuBytes`) and the next rung is
 * probed; MAX_PROBES unanswered probes of one size end the search (SEARCH_COMPLETE). The search
 * runs again after PMTU_RAISE_TIMER_MS, and at once after the path changes (`reset`).
 *
 *   base ──startSearch──► searching ──probe acked──► searching (next rung) ──top rung──► complete
 *                            │ MAX_PROBES timeouts at one size                              │
 *                            └──────────────────────────────► complete ◄────────────────────┘
 *   complete ──PMTU_RAISE_TIMER_MS──► searching       any ──black hole──► base, then searching
 *
 * Which proven size to use (`datagramBytes`): a datagram of k fragments is lost when any one
 * of them is, and its other k − 1 fragments then crossed the network for nothing. The cost of
 * fragmenting is therefore (k − 1) · p of the link, p being the fragment loss rate. The path
 * estimates p from the segments its channels report acknowledged and lost (`noteAcked`,
 * `noteLost`): lost datagrams over the fragments sent, over roughly the last
 * LOSS_WINDOW_FRAGMENTS fragments, with LOSS_PRIOR pseudo-losses added (the "rule of three":
 * having seen no loss in n trials only bounds the rate by about 3/n). So a path earns larger
 * datagrams with evidence: 8 KiB after ~1,500 clean fragments (about 2 MB), 64 KiB after
 * ~13,000 (about 19 MB); a size that does not fragment (1,472 bytes on Ethernet, anything on a
 * loopback) needs none. It uses the largest proven rung whose waste (k − 1) · p stays under
 * MAX_FRAGMENT_WASTE (1 %). On a clean LAN or a loopback p is 0 and
 * the largest rung wins; at 1 % fragment loss only unfragmented 1,472-byte datagrams qualify
 * (8 KiB would waste 5 %: on the benchmark's 100 Mbit/s link that alone would cost the 95 %
 * target); at 0.1 %, 8 KiB (16 KiB would waste 1.1 %). Fragment counts use the MTU of the
 * local link toward the peer when the adapter knows it (`linkMtuBytes`: a loopback carries
 * 64 KiB in one packet, so loss there never argues for smaller datagrams), else Ethernet's
 * 1,500 bytes: where a link's MTU is larger the estimate is pessimistic, never optimistic.
 *
 * Black holes: a path that stops delivering large datagrams (a firewall that starts dropping
 * fragments, a route change onto a smaller MTU without ICMP) acknowledges none of them, so
 * no SACK ever reports the loss: the retransmission timer does. BLACK_HOLE_TIMEOUTS timeouts in
 * a row with large segments in flight and none of them acknowledged in between drop the size
 * to the base at once (RFC 8899 §4.3) and the search starts over: probes, which carry no data,
 * find what still works. Segments already cut too large are resent in fragments by the
 * reliable channel, so nothing in flight is stranded. A receiver that merely stalled long
 * enough for the timeouts (a busy machine) shows itself when a large segment sent before the
 * fall is acknowledged after it: that undoes the fall (as F-RTO undoes a spurious timeout).
 * Timeouts are not counted as loss in the estimate above (they say nothing of the rate).
 *
 * A relayed path never probes: the registry forwards at most 1,200-byte envelopes
 * (`disable`).
 */

import { DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from "../protocol/limits.js";

/** Probe sizes: base, Ethernet (1500 − IPv4 − UDP), then fragmented sizes up to the UDP limit. */
export const LADDER = [DEFAULT_DATAGRAM_BYTES, 1472, 8192, 16_384, 32_768, MAX_DATAGRAM_BYTES] as const;
/** RFC 8899 §5.1.2: MAX_PROBES. */
export const MAX_PROBES = 3;
/** RFC 8899 §5.1.1: PMTU_RAISE_TIMER, 600 s. */
export const PMTU_RAISE_TIMER_MS = 600_000;
/** A probe unanswered after this long (or 4 smoothed RTTs, if longer) is lost. */
const MIN_PROBE_TIMEOUT_MS = 200;
/** Fragment waste allowed for a size to be used: (k − 1) · p ≤ 1 % (see the top). */
export const MAX_FRAGMENT_WASTE = 0.01;
/** The loss estimate forgets by halving once this many fragments were counted. */
const LOSS_WINDOW_FRAGMENTS = 65_536;
/** Pseudo-losses added to the estimate: no evidence means no fragmenting (see the top). */
const LOSS_PRIOR = 3;
/**
 * Retransmission timeouts in a row with large segments in flight that mean a black hole: with
 * the timer's back-off, about 200 ms of silence at LAN round trips.
 */
export const BLACK_HOLE_TIMEOUTS = 3;
/** The IPv4 payload of one Ethernet fragment, and the UDP header the first one also carries. */
const FRAGMENT_PAYLOAD_BYTES = 1480;
const UDP_HEADER_BYTES = 8;
const IPV4_HEADER_BYTES = 20;
/** Bytes a datagram carries around a segment payload: DATA header, AEAD tag, frame headers. */
const DATAGRAM_OVERHEAD_BYTES = 13 + 16 + 10;

export type PathMtuState = "base" | "searching" | "complete" | "disabled";

/** IP fragments a UDP payload of `bytes` makes on a link of `linkMtuBytes` (IPv4). */
export function fragmentsOf(bytes: number, linkMtuBytes = 1500): number {
  const ipPayload = bytes + UDP_HEADER_BYTES;
  const room = Math.max(FRAGMENT_PAYLOAD_BYTES, linkMtuBytes - IPV4_HEADER_BYTES);
  if (ipPayload <= room) return 1;
  // Every fragment but the last carries a multiple of 8 bytes (RFC 791).
  return Math.ceil(ipPayload / (room & ~7));
}

export interface PathMtuStats {
  state: PathMtuState;
  /** The largest datagram the path has proved it delivers. */
  plpmtuBytes: number;
  /** The size in use: at most `plpmtuBytes`, smaller while loss makes fragments costly. */
  datagramBytes: number;
  probesSent: number;
  probesAcked: number;
  blackHoles: number;
  /** Falls undone: a large segment arrived after the fall (the peer had only stalled). */
  undoneBlackHoles: number;
  /** The current fragment-loss estimate. */
  fragmentLossRate: number;
}

export class PathMtu {
  /** MTU of the local link toward the peer, for the fragment count (see the top). */
  linkMtuBytes = 1500;
  private mode: PathMtuState = "base";
  private plpmtu = DEFAULT_DATAGRAM_BYTES;
  private inUse = DEFAULT_DATAGRAM_BYTES;
  /** The LADDER index being probed, its probe id, attempts so far and the current deadline. */
  private probeRung = 0;
  private probeId = 0;
  private probeAttempts = 0;
  private probeDeadline: number | undefined;
  private probeDue = false;
  private raiseAt: number | undefined;
  private sentFragments = 0;
  private lostDatagrams = 0;
  private largeTimeoutsInARow = 0;
  /** What a black hole replaced, until a large segment proves it was only a stall. */
  private beforeBlackHole:
    | { mode: PathMtuState; plpmtu: number; inUse: number; probeRung: number; raiseAt: number | undefined }
    | undefined;
  private counters = { probesSent: 0, probesAcked: 0, blackHoles: 0, undoneBlackHoles: 0 };

  /** The largest datagram to send now. */
  get datagramBytes(): number {
    return this.inUse;
  }

  get state(): PathMtuState {
    return this.mode;
  }

  get stats(): PathMtuStats {
    return {
      state: this.mode,
      plpmtuBytes: this.plpmtu,
      datagramBytes: this.inUse,
      ...this.counters,
      fragmentLossRate: this.lossRate(),
    };
  }

  /** Bulk data is waiting: search for a larger size, unless done, searching or disabled. */
  startSearch(now: number): void {
    if (this.mode !== "base") return;
    this.beginSearch(now);
  }

  /**
   * The session moved to another path: everything learnt is void. Back to the base size; a
   * search starts again at once if `search` (bulk data is still moving), else on demand.
   */
  reset(now: number, search: boolean): void {
    this.mode = "base";
    this.plpmtu = DEFAULT_DATAGRAM_BYTES;
    this.inUse = DEFAULT_DATAGRAM_BYTES;
    this.probeDeadline = undefined;
    this.probeDue = false;
    this.raiseAt = undefined;
    this.sentFragments = 0;
    this.lostDatagrams = 0;
    this.largeTimeoutsInARow = 0;
    this.beforeBlackHole = undefined;
    if (search) this.beginSearch(now);
  }

  /** A relayed path: fixed at `datagramBytes`, never probed, until `reset`. */
  disable(datagramBytes: number): void {
    this.mode = "disabled";
    this.plpmtu = datagramBytes;
    this.inUse = datagramBytes;
    this.probeDeadline = undefined;
    this.probeDue = false;
    this.raiseAt = undefined;
  }

  /** A probe to send now: its id and the datagram size it must fill. */
  pollProbe(now: number): { id: number; datagramBytes: number } | undefined {
    if (!this.probeDue || this.mode !== "searching") return undefined;
    this.probeDue = false;
    this.probeId = (this.probeId + 1) >>> 0;
    this.probeAttempts++;
    this.probeDeadline = now + this.probeTimeoutMs;
    this.counters.probesSent++;
    return { id: this.probeId, datagramBytes: LADDER[this.probeRung] as number };
  }

  /** The peer received probe `id` in a datagram of `datagramBytes`. */
  handleProbeAck(id: number, datagramBytes: number, now: number): void {
    if (this.mode !== "searching" || id !== this.probeId || this.probeDeadline === undefined) return;
    const size = LADDER[this.probeRung] as number;
    // The peer reports what it received: a datagram cut short on the way is not a success.
    if (datagramBytes < size) return;
    this.counters.probesAcked++;
    this.plpmtu = size;
    this.largeTimeoutsInARow = 0;
    this.chooseSize();
    this.nextRung(now);
  }

  /** Smoothed RTT of the session, if known: probe timeouts scale with it. */
  srttMs: number | undefined;

  pollTimeout(): number | undefined {
    if (this.mode === "searching") return this.probeDeadline;
    return this.raiseAt;
  }

  handleTimeout(now: number): void {
    if (this.mode === "searching" && this.probeDeadline !== undefined && now >= this.probeDeadline) {
      this.probeDeadline = undefined;
      if (this.probeAttempts >= MAX_PROBES) this.complete(now);
      else this.probeDue = true;
      return;
    }
    if (this.mode === "complete" && this.raiseAt !== undefined && now >= this.raiseAt) {
      // RFC 8899 §5.1.1: try for a larger size again, from the next rung up.
      this.raiseAt = undefined;
      if (this.probeRung < LADDER.length) {
        this.mode = "searching";
        this.probeAttempts = 0;
        this.probeDue = true;
      }
    }
  }

  /** A segment of `payloadBytes` was acknowledged. */
  noteAcked(payloadBytes: number): void {
    const datagram = payloadBytes + DATAGRAM_OVERHEAD_BYTES;
    this.countFragments(fragmentsOf(datagram, this.linkMtuBytes));
    if (datagram > DEFAULT_DATAGRAM_BYTES) {
      this.largeTimeoutsInARow = 0;
      if (this.beforeBlackHole !== undefined && datagram > this.plpmtu) this.undoBlackHole();
    }
    this.chooseSize();
  }

  /** A segment of `payloadBytes` was declared lost by SACK (later data arrived). */
  noteLost(payloadBytes: number): void {
    this.countFragments(fragmentsOf(payloadBytes + DATAGRAM_OVERHEAD_BYTES, this.linkMtuBytes));
    this.lostDatagrams++;
    this.chooseSize();
  }

  /** A retransmission timer expired with segments of up to `largestPayloadBytes` in flight. */
  noteTimeout(largestPayloadBytes: number, now: number): void {
    if (this.mode === "disabled" || largestPayloadBytes + DATAGRAM_OVERHEAD_BYTES <= DEFAULT_DATAGRAM_BYTES)
      return;
    if (++this.largeTimeoutsInARow >= BLACK_HOLE_TIMEOUTS) this.blackHole(now);
  }

  // ---------------------------------------------------------------------------------------

  private get probeTimeoutMs(): number {
    return Math.max(MIN_PROBE_TIMEOUT_MS, 4 * (this.srttMs ?? 0));
  }

  private beginSearch(_now: number): void {
    this.mode = "searching";
    this.probeRung = LADDER.indexOf(this.plpmtu as (typeof LADDER)[number]) + 1;
    if (this.probeRung <= 0) this.probeRung = 1;
    this.probeAttempts = 0;
    this.probeDeadline = undefined;
    this.probeDue = this.probeRung < LADDER.length;
    if (!this.probeDue) this.mode = "complete";
  }

  private nextRung(now: number): void {
    this.probeRung++;
    this.probeAttempts = 0;
    this.probeDeadline = undefined;
    if (this.probeRung >= LADDER.length) {
      this.complete(now);
      return;
    }
    this.probeDue = true;
  }

  private complete(now: number): void {
    this.mode = "complete";
    this.probeDue = false;
    this.probeDeadline = undefined;
    this.raiseAt = this.probeRung < LADDER.length ? now + PMTU_RAISE_TIMER_MS : undefined;
  }

  private blackHole(now: number): void {
    this.counters.blackHoles++;
    const before = {
      mode: this.mode,
      plpmtu: this.plpmtu,
      inUse: this.inUse,
      probeRung: this.probeRung,
      raiseAt: this.raiseAt,
    };
    this.reset(now, true);
    this.beforeBlackHole = before;
  }

  /** A segment larger than the fallen size arrived after all: the path was fine, the peer slow. */
  private undoBlackHole(): void {
    const before = this.beforeBlackHole;
    if (before === undefined) return;
    this.beforeBlackHole = undefined;
    this.counters.blackHoles--;
    this.counters.undoneBlackHoles++;
    this.plpmtu = before.plpmtu;
    this.inUse = before.inUse;
    this.probeRung = before.probeRung;
    this.raiseAt = before.raiseAt;
    this.mode = before.mode === "searching" ? "searching" : before.mode;
    this.probeDeadline = undefined;
    this.probeDue = this.mode === "searching";
    this.probeAttempts = 0;
  }

  private countFragments(k: number): void {
    this.sentFragments += k;
    if (this.sentFragments > LOSS_WINDOW_FRAGMENTS) {
      this.sentFragments /= 2;
      this.lostDatagrams /= 2;
    }
  }

  private lossRate(): number {
    return (this.lostDatagrams + LOSS_PRIOR) / (this.sentFragments + LOSS_PRIOR);
  }

  /** The largest proven rung whose fragment waste is within MAX_FRAGMENT_WASTE. */
  private chooseSize(): void {
    if (this.mode === "disabled") return;
    const p = this.lossRate();
    let best: number = DEFAULT_DATAGRAM_BYTES;
    for (const rung of LADDER) {
      if (rung > this.plpmtu) break;
      if ((fragmentsOf(rung, this.linkMtuBytes) - 1) * p <= MAX_FRAGMENT_WASTE) best = rung;
    }
    this.inUse = best;
  }
}
