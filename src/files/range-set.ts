/**
 * RangeSet: a set of byte offsets in [0, limit) as sorted, disjoint, non-adjacent
 * [start, end) ranges. A file transfer's "what the receiver holds" is one of these: its size is
 * the number of gaps, not the size of the file (a finished 100 GB file is one range), and it
 * merges as chunks of any size arrive.
 *
 * Operations are O(log n + merged) for `add` and `has` (binary search over the ranges), where
 * n is the number of ranges; a transfer that receives in order keeps n at 1 or 2.
 */

export class RangeSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private total = 0;

  constructor(
    /** One past the largest offset the set may hold (the file's size). */
    readonly limit: number,
    ranges: Iterable<readonly [number, number]> = [],
  ) {
    for (const [s, e] of ranges) this.add(s, e);
  }

  /** Bytes in the set. */
  get size(): number {
    return this.total;
  }

  /** Ranges in the set. */
  get count(): number {
    return this.starts.length;
  }

  /** Whether the set is all of [0, limit). */
  get complete(): boolean {
    return this.total === this.limit;
  }

  /** Adds [start, end) clamped to [0, limit); returns how many bytes were new. */
  add(start: number, end: number): number {
    const s = Math.max(0, start);
    const e = Math.min(this.limit, end);
    if (!(s < e)) return 0;
    // The first range that ends at or after s (it may touch or overlap [s, e)).
    const i = this.firstEndingAtOrAfter(s);
    let lo = s;
    let hi = e;
    let covered = 0;
    let j = i;
    while (j < this.starts.length && (this.starts[j] as number) <= e) {
      const rs = this.starts[j] as number;
      const re = this.ends[j] as number;
      covered += Math.max(0, Math.min(re, e) - Math.max(rs, s));
      lo = Math.min(lo, rs);
      hi = Math.max(hi, re);
      j++;
    }
    const merged = j - i;
    if (merged === 0) {
      this.starts.splice(i, 0, lo);
      this.ends.splice(i, 0, hi);
    } else {
      this.starts.splice(i, merged, lo);
      this.ends.splice(i, merged, hi);
    }
    const added = e - s - covered;
    this.total += added;
    return added;
  }

  /** Whether every byte of [start, end) is in the set (an empty range is). */
  has(start: number, end = start + 1): boolean {
    if (!(start < end)) return true;
    const i = this.firstEndingAtOrAfter(start + 1);
    return i < this.starts.length && (this.starts[i] as number) <= start && (this.ends[i] as number) >= end;
  }

  /** The range containing `offset`, if any. */
  rangeAt(offset: number): [number, number] | undefined {
    const i = this.firstEndingAtOrAfter(offset + 1);
    if (i < this.starts.length && (this.starts[i] as number) <= offset) {
      return [this.starts[i] as number, this.ends[i] as number];
    }
    return undefined;
  }

  /** The first gap at or after `from`: [start, end), or undefined if none before `limit`. */
  nextGap(from: number): [number, number] | undefined {
    let at = Math.max(0, from);
    const i = this.firstEndingAtOrAfter(at + 1);
    if (i < this.starts.length && (this.starts[i] as number) <= at) at = this.ends[i] as number;
    if (at >= this.limit) return undefined;
    const next = this.firstEndingAtOrAfter(at + 1);
    const end = next < this.starts.length ? Math.min(this.limit, this.starts[next] as number) : this.limit;
    return [at, end];
  }

  /**
   * The set as [start, end) ranges. With `maxRanges`, only the largest ranges are kept (a
   * subset of the set: what a resume may safely claim).
   */
  ranges(maxRanges = Number.POSITIVE_INFINITY): Array<[number, number]> {
    const out: Array<[number, number]> = this.starts.map((s, i) => [s, this.ends[i] as number]);
    if (out.length <= maxRanges) return out;
    return out
      .sort((a, b) => b[1] - b[0] - (a[1] - a[0]) || a[0] - b[0])
      .slice(0, Math.max(0, maxRanges))
      .sort((a, b) => a[0] - b[0]);
  }

  clone(): RangeSet {
    return new RangeSet(this.limit, this.ranges());
  }

  /** Index of the first range whose end is ≥ `offset` (binary search). */
  private firstEndingAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ends[mid] as number) < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
