/**
 * Round-trip time estimator and retransmission timeout, RFC 6298.
 *
 * Pure state: no clock and no I/O. The caller measures a sample (ACK arrival time minus the
 * send time of a segment that was transmitted exactly once — Karn's algorithm, RFC 6298 §3)
 * and hands it in together with the delay the peer says it held the ACK.
 *
 * The timeout is `SRTT + max(G, K * RTTVAR)` (§2.2, §2.3), doubled once per expiry (§5.5),
 * clamped to [minRtoMs, maxRtoMs]. A valid sample collapses the back-off again (§5.7 note:
 * Karn keeps the backed-off value until a segment that was not retransmitted is acknowledged).
 */

/** RFC 6298 §2.3: alpha = 1/8. */
const ALPHA = 1 / 8;
/** RFC 6298 §2.3: beta = 1/4. */
const BETA = 1 / 4;
/** RFC 6298 §2.2: K = 4. */
const K = 4;
/** Back-off stops doubling well before overflow; the result is clamped to maxRtoMs anyway. */
const MAX_BACKOFF_EXPONENT = 16;

export interface RttEstimatorOptions {
  /** RFC 6298 §2.1 uses 1 s; the caller picks a LAN-appropriate value. */
  initialRtoMs: number;
  /** RFC 6298 §2.4 floor (1 s on the Internet; a LAN wants far less). */
  minRtoMs: number;
  /** RFC 6298 §2.5 ceiling. */
  maxRtoMs: number;
  /** Clock granularity G of RFC 6298 §2.2, default 1 ms. */
  granularityMs?: number;
}

export class RttEstimator {
  private srtt: number | undefined;
  private rttvar: number | undefined;
  private minRtt: number | undefined;
  private latest: number | undefined;
  private backoffExponent = 0;
  private readonly initialRtoMs: number;
  private readonly minRtoMs: number;
  private readonly maxRtoMs: number;
  private readonly granularityMs: number;

  constructor(opts: RttEstimatorOptions) {
    this.initialRtoMs = opts.initialRtoMs;
    this.minRtoMs = opts.minRtoMs;
    this.maxRtoMs = opts.maxRtoMs;
    this.granularityMs = opts.granularityMs ?? 1;
  }

  /** Smoothed RTT, undefined until the first sample. */
  get srttMs(): number | undefined {
    return this.srtt;
  }

  get rttvarMs(): number | undefined {
    return this.rttvar;
  }

  /** Smallest raw sample seen, used to sanity-check the peer's ACK delay. */
  get minRttMs(): number | undefined {
    return this.minRtt;
  }

  /** The most recent sample after ACK-delay adjustment. */
  get latestRttMs(): number | undefined {
    return this.latest;
  }

  /** Times the timer has expired since the last valid sample. */
  get backoffCount(): number {
    return this.backoffExponent;
  }

  /** The current retransmission timeout, including back-off. */
  get rtoMs(): number {
    const base =
      this.srtt === undefined || this.rttvar === undefined
        ? this.initialRtoMs // RFC 6298 §2.1
        : this.srtt + Math.max(this.granularityMs, K * this.rttvar); // RFC 6298 §2.2, §2.3
    const clamped = Math.min(Math.max(base, this.minRtoMs), this.maxRtoMs); // §2.4, §2.5
    return Math.min(clamped * 2 ** this.backoffExponent, this.maxRtoMs); // §5.5
  }

  /**
   * Feed one RTT measurement. `ackDelayMs` is subtracted only when the result stays at or
   * above the smallest RTT seen, so a lying or confused peer cannot drive the estimate below
   * what the path has shown (the same guard as QUIC, RFC 9002 §5.3).
   */
  sample(rttMs: number, ackDelayMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    this.minRtt = this.minRtt === undefined ? rttMs : Math.min(this.minRtt, rttMs);
    const delay = Number.isFinite(ackDelayMs) && ackDelayMs > 0 ? ackDelayMs : 0;
    const adjusted = rttMs - delay >= this.minRtt ? rttMs - delay : rttMs;
    this.latest = adjusted;
    if (this.srtt === undefined || this.rttvar === undefined) {
      // RFC 6298 §2.2: first measurement.
      this.srtt = adjusted;
      this.rttvar = adjusted / 2;
    } else {
      // RFC 6298 §2.3: RTTVAR first, using the old SRTT.
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - adjusted);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * adjusted;
    }
    this.backoffExponent = 0;
  }

  /** The retransmission timer expired: double the timeout (RFC 6298 §5.5). */
  backOff(): void {
    if (this.backoffExponent < MAX_BACKOFF_EXPONENT) this.backoffExponent++;
  }
}
