/**
 * BBR's options and constants (bbr.ts holds the controller and its theory of operation;
 * "BBR" is draft-cardwell-iccrg-bbr-congestion-control-00). Each constant cites its source.
 */

export interface BbrCongestionOptions {
  /** RFC 6928 §2: an initial window of 10 segments. */
  initialCwndSegments?: number;
  /** BBR's floor of 4 segments (BBR §4.2.3.3, "MinPipeCwnd"). */
  minCwndSegments?: number;
  /** Growth stops here, in bytes; the channel's send window caps it as well. Default 64 MiB. */
  maxCwndBytes?: number;
  /**
   * ProbeBW phase to start in, 0–7 (default 2, a gain-1 phase). BBR picks it at random to
   * desynchronise flows; a core has no Math.random, so an adapter may pass a seeded one.
   */
  probeBwStartPhase?: number;
  /** Loss fraction over 8 round trips above which the bandwidth estimate shrinks, default 0.3. */
  lossToleranceFraction?: number;
  /**
   * A ceiling on the pacing rate (bytes per ms): the user's cap on what one transfer may take
   * of the link. The model still measures the path; the sender just never paces faster.
   */
  maxRateBytesPerMs?: number;
}

export type BbrState = "startup" | "drain" | "probe_bw" | "probe_rtt";

/** BBR §4.2.1: 2/ln(2), the smallest gain that doubles the delivery rate each round. */
export const HIGH_GAIN = 2 / Math.LN2;
/** BBR §4.2.3: a cwnd of twice the BDP absorbs delayed and stretched ACKs. */
export const CWND_GAIN = 2;
/** BBR §4.3.4.3: probe up, drain the probe's queue, then cruise for six round trips. */
export const PACING_GAIN_CYCLE = [1.25, 0.75, 1, 1, 1, 1, 1, 1] as const;
/** BBR §4.1.1.1: BtlBwFilterLen, in round trips. */
export const BTLBW_FILTER_ROUNDS = 10;
/** BBR §4.1.2.1: MinRTTFilterLen. */
export const MIN_RTT_FILTER_MS = 10_000;
/** BBR §4.3.5: ProbeRTTDuration and the window held during it. */
export const PROBE_RTT_DURATION_MS = 200;
export const PROBE_RTT_CWND_SEGMENTS = 4;
/** BBR §4.3.2.2: Startup ends when btlBw grew less than 25 % in 3 rounds. */
export const FULL_BW_GROWTH = 1.25;
export const FULL_BW_ROUNDS = 3;
/**
 * The RTT used for the BDP is at least the adapter's timer granularity: with a sub-millisecond
 * loopback RTT, a window smaller than one timer tick of data would idle between wakeups.
 */
export const MIN_RTT_FLOOR_MS = 1;
/** Segments added to cwnd for send and ACK quantisation (BBR §4.2.3.2, 3 × quantum). */
export const CWND_QUANTA_SEGMENTS = 3;
/** Loss is measured over this many round trips of ProbeBW, and only over this many segments or more. */
export const LOSS_WINDOW_ROUNDS = 8;
export const LOSS_WINDOW_MIN_SEGMENTS = 64;
/** The aggregation allowance is at most this much time at `btlBw` (Linux: 100 ms). */
export const EXTRA_ACKED_MAX_MS = 100;
/** Bandwidth kept when the guard trips (BBR v2 uses 0.7 for its loss response; gentler here). */
export const LOSS_BACKOFF = 0.85;
/** The up-probe compensates for at most this loss rate (gain ≤ 1.25 / 0.7 ≈ 1.8). */
export const MAX_COMPENSATED_LOSS = 0.3;
