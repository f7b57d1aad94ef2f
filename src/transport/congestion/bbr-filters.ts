/**
 * The windowed filters of BBR's path model (`bbr.ts` holds the controller and its theory of
 * operation): the bottleneck bandwidth, the maximum delivery rate over the last
 * `BTLBW_FILTER_ROUNDS` round trips, and the loss rate over each `LOSS_WINDOW_ROUNDS` round
 * trips of ProbeBW, which the up-probe's compensation and the loss-rate guard read.
 */

import { BTLBW_FILTER_ROUNDS, LOSS_WINDOW_MIN_SEGMENTS, LOSS_WINDOW_ROUNDS } from "./bbr-parameters.js";
import type { AckSample } from "./controller.js";

/** `btlBw`: the max of each recent round trip's delivery rate. */
export class BandwidthFilter {
  /** Max delivery rate of each recent round trip, oldest first. */
  private readonly rounds: Array<{ round: number; bw: number }> = [];

  /** The estimate, 0 before the first sample. */
  get bytesPerMs(): number {
    let max = 0;
    for (const r of this.rounds) if (r.bw > max) max = r.bw;
    return max;
  }

  /** A delivery-rate sample in round `round`; app-limited samples only count if they raise it. */
  update(sample: AckSample, round: number, minRttMs: number | undefined): void {
    // Delivery-rate draft §3.3: an interval shorter than minRtt is ACK compression.
    if (!(sample.intervalMs > 0) || !(sample.intervalBytes > 0)) return;
    if (minRttMs !== undefined && sample.intervalMs < minRttMs) return;
    const bw = sample.intervalBytes / sample.intervalMs;
    if (sample.appLimited && bw < this.bytesPerMs) return;
    const oldest = round - BTLBW_FILTER_ROUNDS;
    while (this.rounds.length > 0 && (this.rounds[0] as { round: number }).round <= oldest) {
      this.rounds.shift();
    }
    const last = this.rounds[this.rounds.length - 1];
    if (last !== undefined && last.round === round) last.bw = Math.max(last.bw, bw);
    else this.rounds.push({ round, bw });
  }

  /** Scales every round's rate (the loss-rate guard backs off). */
  scale(factor: number): void {
    for (const r of this.rounds) r.bw *= factor;
  }
}

/** Segments lost and delivered per window of round trips (a rate of datagrams, whatever their size). */
export class LossRateWindow {
  private startRound = 0;
  private lost = 0;
  private delivered = 0;
  private lastRate = 0;

  /** Loss fraction of the last complete window that saw enough segments. */
  get rate(): number {
    return this.lastRate;
  }

  onDelivered(segments: number): void {
    this.delivered += segments;
  }

  onLost(segments: number): void {
    this.lost += segments;
  }

  /**
   * At the start of round `round`: once the window is `LOSS_WINDOW_ROUNDS` old it closes (its
   * rate counts if it saw enough segments) and a new one starts. True when a rate was measured.
   */
  close(round: number): boolean {
    if (round - this.startRound < LOSS_WINDOW_ROUNDS) return false;
    const total = this.lost + this.delivered;
    const measured = total >= LOSS_WINDOW_MIN_SEGMENTS;
    if (measured) this.lastRate = this.lost / total;
    this.reset(round);
    return measured;
  }

  /** A new window from round `round` (entering ProbeBW: earlier losses were Startup's). */
  reset(round: number): void {
    this.startRound = round;
    this.lost = 0;
    this.delivered = 0;
  }
}
