/**
 * Token buckets per source host, for work an unauthenticated datagram can trigger (a
 * handshake, a STUN answer), or per user for bytes through the relay. Each key gets
 * `perSecond` tokens a second with a burst of `burst` (default: as large as `perSecond`);
 * only the `maxHosts` most recently seen hosts are remembered, so a flood of forged sources
 * costs bounded memory (a forgotten host starts again with a full bucket). Sans-IO: the
 * caller passes the time in milliseconds.
 */

const DEFAULT_MAX_HOSTS = 4096;

export class HostRateLimiter {
  /** In least-recently-used order: Map iteration order is insertion order. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly maxHosts = DEFAULT_MAX_HOSTS,
    private readonly burst = perSecond,
  ) {}

  /** Spends `cost` tokens of `host`'s bucket; false (and nothing spent) when it has fewer. */
  take(host: string, now: number, cost = 1): boolean {
    const burst = Math.max(1, cost, this.burst);
    let bucket = this.buckets.get(host);
    if (bucket === undefined) {
      bucket = { tokens: burst, at: now };
      if (this.buckets.size >= this.maxHosts) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      this.buckets.delete(host); // re-inserted below, as the most recent
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.perSecond) / 1000);
      bucket.at = now;
    }
    this.buckets.set(host, bucket);
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /** Forgets `host`'s bucket (a user who logged out). */
  forget(host: string): void {
    this.buckets.delete(host);
  }
}
