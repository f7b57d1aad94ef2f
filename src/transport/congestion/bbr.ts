/**
 * BBR congestion control (the interface and its units: `controller.ts`).
 *
 * `BbrCongestionController` — for bulk transfers. A loss-based controller reads every loss
 * as congestion: at a random loss rate p, AIMD settles where the window is cut as often as it
 * regrows, about 1.2/sqrt(p) segments per round trip whatever the link (Mathis et al., 1997):
 * at 2 % loss and a 10 ms RTT (Wi-Fi, a VPN hop) under 10 Mbit/s, on a gigabit link. A LAN
 * has exactly the losses that are not congestion (radio, a busy switch port, a NIC ring
 * overflow), so the bulk path uses a model-based controller after BBR v1
 * (draft-cardwell-iccrg-bbr-congestion-control-00, "BBR"):
 *
 *   - The model is two numbers: the bottleneck bandwidth `btlBw` (the maximum delivery rate
 *     over the last 10 round trips, from the channel's delivery-rate samples; app-limited
 *     samples only count if they raise it) and the propagation delay `minRtt` (the minimum
 *     RTT over 10 s, at least 1 ms: the adapter's timer granularity). Their product is the
 *     path's BDP.
 *   - The sender paces at `pacingGain * btlBw` and keeps at most `cwndGain * BDP` in flight.
 *     Startup doubles the rate each round (gain 2/ln 2) until `btlBw` stops growing by 25 %
 *     for 3 rounds; Drain empties the queue Startup built; ProbeBW then cycles the pacing gain
 *     through [1.25, 0.75, 1 × 6], one minRtt each, to find more bandwidth and give it back;
 *     ProbeRTT drops to 4 segments for 200 ms when `minRtt` is 10 s old, to re-measure it.
 *   - The window also holds the recent ACK aggregation (Linux tcp_bbr's `extra_acked`): data
 *     acknowledged beyond what `btlBw` predicts, as stretched ACKs or a peer process reading a
 *     batch of datagrams late deliver it. Without it a window of 2 × BDP at the 1 ms RTT floor
 *     empties between ACK bursts, the measured rate falls and the window with it.
 *   - A loss changes nothing in the model: the delivery rate it did not reduce is still the
 *     bandwidth, and the queue stays near empty because the rate, not the loss, is the
 *     signal. Random loss p costs about 2p of the link: the lost datagrams, and pacing at
 *     what was delivered between probes. A timeout (the path may have changed) restarts the
 *     window from one segment and regrows it by the ACKed count, keeping the model.
 *   - Beyond BBR v1, two loss rules, both from the loss rate measured over each 8 round trips
 *     of ProbeBW. (1) The up-probe is compensated: BBR v1 probes at 1.25 × btlBw, which
 *     *delivers* 1.25 (1 − p) and so can never raise the estimate once p ≥ 20 %; here it sends
 *     1.25 / (1 − p) (p capped at 30 %), so it finds the link under random loss. Only the
 *     probe is compensated, one round trip in eight, and the estimate is still what was
 *     delivered, so a loss that is congestion cannot inflate it. (2) A loss-rate guard (the
 *     circuit-breaker idea of RFC 8084): above `lossToleranceFraction` (default 30 %) the
 *     bandwidth estimate is scaled by 0.85. The 20 % of random loss the design tolerates
 *     stays below it; a path that drops a third of everything is broken or overloaded.
 *
 * Chosen over CUBIC with a gentle beta because any loss-driven controller still converts a
 * random loss rate into a rate ceiling (only the constant changes), while the delivery-rate
 * model needs no loss at all to find the link's rate and keeps it full under loss. On a LAN
 * the model is also cheap to keep right: RTTs are stable and queues shallow. Measured in the
 * seeded simulator (test/unit/files/file-congestion.test.ts): 10 MB/s, 10 ms RTT, 1–2 % loss,
 * BBR keeps ~8 MB/s where AIMD gets 1–1.7.
 *
 * The options and the constants, each with its source, are `bbr-parameters.ts`; the ACK
 * aggregation estimate is `ack-aggregation.ts`; the bandwidth and loss-rate filters are
 * `bbr-filters.ts`.
 */

import { AckAggregation } from "./ack-aggregation.js";
import { BandwidthFilter, LossRateWindow } from "./bbr-filters.js";
import {
  type BbrCongestionOptions,
  type BbrState,
  CWND_GAIN,
  CWND_QUANTA_SEGMENTS,
  EXTRA_ACKED_MAX_MS,
  FULL_BW_GROWTH,
  FULL_BW_ROUNDS,
  HIGH_GAIN,
  LOSS_BACKOFF,
  MAX_COMPENSATED_LOSS,
  MIN_RTT_FILTER_MS,
  MIN_RTT_FLOOR_MS,
  PACING_GAIN_CYCLE,
  PROBE_RTT_CWND_SEGMENTS,
  PROBE_RTT_DURATION_MS,
} from "./bbr-parameters.js";
import { type AckSample, type CongestionController, DEFAULT_MAX_SEGMENT_BYTES } from "./controller.js";

export type { BbrCongestionOptions, BbrState } from "./bbr-parameters.js";

export class BbrCongestionController implements CongestionController {
  private mode: BbrState = "startup";
  private cwnd: number;
  private pacingRate: number | undefined;
  private pacingGain = HIGH_GAIN;
  private cwndGain = HIGH_GAIN;
  private mss = DEFAULT_MAX_SEGMENT_BYTES;
  private readonly initialCwndSegments: number;
  private readonly minCwndSegments: number;
  private readonly maxCwnd: number;
  private readonly startPhase: number;
  private readonly lossTolerance: number;
  private readonly maxRate: number;

  private delivered = 0;
  private roundCount = 0;
  private nextRoundDelivered = 0;
  private roundStart = false;
  private readonly btlBw = new BandwidthFilter();
  private fullBw = 0;
  private fullBwCount = 0;
  private filledPipe = false;
  private minRtt: number | undefined;
  private minRttStamp = 0;
  private cycleIndex = 0;
  private cycleStamp = 0;
  private lostInPhase = 0;
  private probeRttDoneStamp: number | undefined;
  private probeRttRoundDone = false;
  private priorCwnd = 0;
  /** The loss rate over each 8 round trips of ProbeBW. */
  private readonly lossWindow = new LossRateWindow();
  /** ACK aggregation: the excess acknowledged beyond what `btlBw` predicts (ack-aggregation.ts). */
  private readonly ackAggregation = new AckAggregation();
  /** The window before the latest timeout, until it is undone or forgotten. */
  private cwndBeforeRto: number | undefined;

  constructor(opts: BbrCongestionOptions = {}) {
    this.minCwndSegments = opts.minCwndSegments ?? PROBE_RTT_CWND_SEGMENTS;
    this.maxCwnd = opts.maxCwndBytes ?? 64 * 1024 * 1024;
    this.initialCwndSegments = opts.initialCwndSegments ?? 10;
    this.cwnd = Math.min(this.initialCwndSegments * this.mss, this.maxCwnd);
    this.startPhase = (((opts.probeBwStartPhase ?? 2) % 8) + 8) % 8;
    this.lossTolerance = opts.lossToleranceFraction ?? 0.3;
    this.maxRate = opts.maxRateBytesPerMs ?? Number.POSITIVE_INFINITY;
  }

  get cwndBytes(): number {
    const cwnd = this.mode === "probe_rtt" ? Math.min(this.cwnd, this.probeRttCwnd) : this.cwnd;
    return Math.max(this.mss, Math.floor(cwnd));
  }

  get pacingRateBytesPerMs(): number {
    // BBR §4.2.1: before any sample, pace the initial window over one (assumed 1 ms) RTT.
    const rate =
      this.pacingRate ?? (HIGH_GAIN * this.initialCwnd) / Math.max(this.minRtt ?? 1, MIN_RTT_FLOOR_MS);
    return Math.min(rate, this.maxRate);
  }

  get state(): BbrState {
    return this.mode;
  }

  /** The model's bottleneck bandwidth, 0 before the first sample. */
  get bottleneckBandwidthBytesPerMs(): number {
    return this.btlBw.bytesPerMs;
  }

  get minRttMs(): number | undefined {
    return this.minRtt;
  }

  /** Loss fraction of the last 8 round trips of ProbeBW (what the up-probe compensates for). */
  get lossRateFraction(): number {
    return this.lossWindow.rate;
  }

  /** Whether Startup found the bottleneck. */
  get pipeFilled(): boolean {
    return this.filledPipe;
  }

  /** The segment size floors and quanta are counted in. The model itself is in bytes and stays. */
  setMaxSegmentBytes(bytes: number): void {
    if (!(bytes > 0) || bytes === this.mss) return;
    const wasInitial = this.delivered === 0;
    this.mss = bytes;
    // Before any data was acknowledged the window is still the initial one: keep it 10 segments.
    if (wasInitial) this.cwnd = Math.min(this.initialCwnd, this.maxCwnd);
    this.cwnd = Math.max(this.cwnd, this.minCwnd);
  }

  onAck(ackedBytes: number, _rttMs: number, now: number, sample?: AckSample): void {
    if (!(ackedBytes > 0)) return;
    if (sample === undefined) {
      // A channel that does not sample: no model, so grow like slow start up to the cap.
      this.cwnd = Math.min(this.cwnd + ackedBytes, this.maxCwnd);
      return;
    }
    this.delivered = sample.deliveredBytes;
    if (sample.rttSampleMs !== undefined) this.cwndBeforeRto = undefined; // a fresh sample: the episode is over
    this.lossWindow.onDelivered(Math.max(1, Math.round(ackedBytes / this.mss)));
    this.updateRound(sample);
    this.btlBw.update(sample, this.roundCount, this.minRtt);
    this.checkFullPipe(sample);
    this.checkLossRate();
    this.updateMinRtt(sample, now);
    this.updateMode(sample, now);
    this.ackAggregation.update(
      ackedBytes,
      now,
      this.roundStart,
      this.bottleneckBandwidthBytesPerMs,
      this.mss,
      this.cwnd,
    );
    this.updateCwnd(ackedBytes);
    this.updatePacingRate();
  }

  onLoss(_now: number): void {
    // Deliberately nothing: see the loss-rate guard and the file comment.
  }

  onSegmentsLost(count: number, _bytes: number, _now: number): void {
    if (!(count > 0)) return;
    this.lossWindow.onLost(count);
    this.lostInPhase += count;
  }

  onRto(_now: number): void {
    // BBR §4.2.3.4: the timeout emptied the pipe; restart from one segment (the ACKed count
    // regrows it to the model's window within a few round trips) and keep the model.
    this.cwndBeforeRto = Math.max(this.cwndBeforeRto ?? 0, this.cwnd);
    this.cwnd = this.mss;
  }

  onRtoUndo(_now: number): void {
    // The receiver only stalled (a busy process, a pause): the path is as it was.
    if (this.cwndBeforeRto !== undefined) this.cwnd = Math.max(this.cwnd, this.cwndBeforeRto);
    this.cwndBeforeRto = undefined;
  }

  private get initialCwnd(): number {
    return this.initialCwndSegments * this.mss;
  }

  private get minCwnd(): number {
    return this.minCwndSegments * this.mss;
  }

  private get probeRttCwnd(): number {
    return PROBE_RTT_CWND_SEGMENTS * this.mss;
  }

  private bdp(gain: number): number | undefined {
    const bw = this.bottleneckBandwidthBytesPerMs;
    if (bw === 0 || this.minRtt === undefined) return undefined;
    return gain * bw * Math.max(this.minRtt, MIN_RTT_FLOOR_MS);
  }

  private updateRound(sample: AckSample): void {
    this.roundStart = false;
    if (sample.priorDeliveredBytes >= this.nextRoundDelivered) {
      this.nextRoundDelivered = sample.deliveredBytes;
      this.roundCount++;
      this.roundStart = true;
    }
  }

  private checkFullPipe(sample: AckSample): void {
    if (this.filledPipe || !this.roundStart || sample.appLimited) return;
    const bw = this.bottleneckBandwidthBytesPerMs;
    if (bw >= this.fullBw * FULL_BW_GROWTH) {
      this.fullBw = bw;
      this.fullBwCount = 0;
      return;
    }
    if (++this.fullBwCount >= FULL_BW_ROUNDS) this.filledPipe = true;
  }

  /**
   * Every 8 round trips of ProbeBW: the loss rate, for the up-probe's compensation and for the
   * guard. Startup's and Drain's losses are the model's own overshoot and are not counted.
   */
  private checkLossRate(): void {
    if (this.mode !== "probe_bw" || !this.roundStart) return;
    if (this.lossWindow.close(this.roundCount) && this.lossWindow.rate > this.lossTolerance) {
      this.btlBw.scale(LOSS_BACKOFF);
      if (this.pacingRate !== undefined) this.pacingRate *= LOSS_BACKOFF;
    }
  }

  private updateMinRtt(sample: AckSample, now: number): void {
    const expired = this.minRtt !== undefined && now > this.minRttStamp + MIN_RTT_FILTER_MS;
    const rtt = sample.rttSampleMs;
    if (rtt !== undefined && rtt >= 0 && (this.minRtt === undefined || rtt <= this.minRtt || expired)) {
      this.minRtt = rtt;
      this.minRttStamp = now;
    }
    if (expired && this.mode !== "probe_rtt") {
      // BBR §4.3.5: drain the queue for a moment so the next samples see the bare path.
      this.mode = "probe_rtt";
      this.pacingGain = 1;
      this.cwndGain = 1;
      this.priorCwnd = Math.max(this.priorCwnd, this.cwnd);
      this.probeRttDoneStamp = undefined;
    }
  }

  private updateMode(sample: AckSample, now: number): void {
    if (this.mode === "startup" && this.filledPipe) {
      this.mode = "drain";
      this.pacingGain = 1 / HIGH_GAIN;
      this.cwndGain = HIGH_GAIN;
    }
    if (this.mode === "drain" && sample.inflightBytes <= (this.bdp(1) ?? 0)) this.enterProbeBw(now);
    if (this.mode === "probe_bw" && this.cycleDone(sample, now)) {
      this.cycleIndex = (this.cycleIndex + 1) % PACING_GAIN_CYCLE.length;
      this.beginPhase(now);
    }
    if (this.mode === "probe_rtt") this.handleProbeRtt(sample, now);
  }

  private enterProbeBw(now: number): void {
    if (this.mode !== "probe_bw" && this.mode !== "probe_rtt") this.lossWindow.reset(this.roundCount);
    this.mode = "probe_bw";
    this.cwndGain = CWND_GAIN;
    this.cycleIndex = this.startPhase;
    this.beginPhase(now);
  }

  private beginPhase(now: number): void {
    this.cycleStamp = now;
    this.lostInPhase = 0;
    const gain = PACING_GAIN_CYCLE[this.cycleIndex] as number;
    // The model is a delivery rate: with random loss p, probing at 1.25 delivers only
    // 1.25 (1 − p), which cannot raise the estimate once p ≥ 20 %. The up-probe therefore
    // sends 1/(1 − p) more, so it *delivers* 25 % more when the path has room. Only the probe
    // (one round trip in eight) is compensated: the estimate stays what was delivered, so a
    // loss that is congestion cannot inflate it.
    this.pacingGain = gain > 1 ? gain / (1 - Math.min(this.lossWindow.rate, MAX_COMPENSATED_LOSS)) : gain;
  }

  /** BBR §4.3.4.4: a phase lasts one minRtt; probing also until the probe filled the pipe. */
  private cycleDone(sample: AckSample, now: number): boolean {
    const fullLength = now - this.cycleStamp > Math.max(this.minRtt ?? 0, MIN_RTT_FLOOR_MS);
    const inflight = sample.inflightBytes;
    if (this.pacingGain > 1) {
      return fullLength && (this.lostInPhase > 0 || inflight >= (this.bdp(this.pacingGain) ?? 0));
    }
    if (this.pacingGain < 1) return fullLength || inflight <= (this.bdp(1) ?? 0);
    return fullLength;
  }

  private handleProbeRtt(sample: AckSample, now: number): void {
    if (this.probeRttDoneStamp === undefined) {
      if (sample.inflightBytes <= this.probeRttCwnd) {
        this.probeRttDoneStamp = now + PROBE_RTT_DURATION_MS;
        this.probeRttRoundDone = false;
        this.nextRoundDelivered = this.delivered;
      }
      return;
    }
    if (this.roundStart) this.probeRttRoundDone = true;
    if (this.probeRttRoundDone && now >= this.probeRttDoneStamp) {
      this.minRttStamp = now;
      this.cwnd = Math.max(this.cwnd, this.priorCwnd);
      this.priorCwnd = 0;
      if (this.filledPipe) {
        this.enterProbeBw(now);
      } else {
        this.mode = "startup";
        this.pacingGain = HIGH_GAIN;
        this.cwndGain = HIGH_GAIN;
      }
    }
  }

  /** The most bytes recently acknowledged beyond what the bandwidth estimate predicts. */
  get extraAckedBytes(): number {
    return this.ackAggregation.extraAckedBytes;
  }

  private updateCwnd(acked: number): void {
    const bdp = this.bdp(this.cwndGain);
    let target = bdp === undefined ? this.initialCwnd : bdp + CWND_QUANTA_SEGMENTS * this.mss;
    if (this.filledPipe && bdp !== undefined) {
      const bw = this.bottleneckBandwidthBytesPerMs;
      target += Math.min(this.extraAckedBytes, bw * EXTRA_ACKED_MAX_MS);
    }
    // BBR §4.2.3.5: once the pipe is full, grow toward the target; before, grow freely (the
    // pacing rate, not the window, is what limits Startup).
    if (this.filledPipe) this.cwnd = Math.min(this.cwnd + acked, target);
    else if (this.cwnd < target || this.delivered < this.initialCwnd) this.cwnd += acked;
    this.cwnd = Math.min(Math.max(this.cwnd, this.minCwnd), this.maxCwnd);
  }

  private updatePacingRate(): void {
    const bw = this.bottleneckBandwidthBytesPerMs;
    if (bw === 0) return;
    const rate = this.pacingGain * bw;
    // BBR §4.2.1: during Startup the rate only rises.
    if (this.filledPipe || this.pacingRate === undefined || rate > this.pacingRate) this.pacingRate = rate;
  }
}
