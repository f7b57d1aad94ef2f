/**
 * Token buckets by key, and a bounded table of them. Sans-IO: time is the caller's `now` in
 * milliseconds. A table remembers at most `maxKeys` keys, least recently used first out, so a
 * flood of fresh keys (forged sources, new sessions) costs bounded memory; a forgotten key
 * starts again with a full bucket, which only ever errs towards letting a request through.
 */

import type { BucketLimits } from "./limits.js";

/** A Map in least-recently-used order with a size bound: the oldest entry goes first. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The value, now the most recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Without touching its recency. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.maxKeys) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.map.delete(key);
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

export type Take = { ok: true } | { ok: false; retryAfterMs: number };

export class TokenBuckets {
  private readonly buckets: LruMap<string, Bucket>;

  constructor(
    private readonly limits: BucketLimits,
    maxKeys = 65_536,
  ) {
    this.buckets = new LruMap(maxKeys);
  }

  /** Spends `cost` tokens of `key`'s bucket, or says how long until it could. */
  take(key: string, now: number, cost = 1): Take {
    const { perSecond, burst } = this.limits;
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) * perSecond) / 1000);
      b.at = now;
    }
    const need = Math.min(cost, burst);
    if (b.tokens >= need) {
      b.tokens -= need;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((need - b.tokens) * 1000) / perSecond) };
  }
}

/**
 * A score per key that grows by a weight per event and decays linearly with time; `add`
 * returns the score after the event. Strikes against a session or user live here.
 */
export class DecayingScores {
  private readonly scores: LruMap<string, Bucket>;

  constructor(
    private readonly decayPerSecond: number,
    maxKeys = 65_536,
  ) {
    this.scores = new LruMap(maxKeys);
  }

  add(key: string, now: number, weight = 1): number {
    const s = this.scores.get(key) ?? { tokens: 0, at: now };
    s.tokens = Math.max(0, s.tokens - (Math.max(0, now - s.at) * this.decayPerSecond) / 1000) + weight;
    s.at = now;
    this.scores.set(key, s);
    return s.tokens;
  }

  clear(key: string): void {
    this.scores.delete(key);
  }
}
