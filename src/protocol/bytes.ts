/**
 * Bounded big-endian reader and writer used by every codec. The reader never throws:
 * it records the first overrun, and the decoder checks `reader.failed` once at the end.
 */

export class ByteReader {
  private offset = 0;
  failed = false;

  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private take(n: number): number {
    if (this.failed || n < 0 || this.offset + n > this.buf.length) {
      this.failed = true;
      return -1;
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : (this.buf[at] as number);
  }

  u16(): number {
    const at = this.take(2);
    if (at < 0) return 0;
    return ((this.buf[at] as number) << 8) | (this.buf[at + 1] as number);
  }

  u32(): number {
    const at = this.take(4);
    if (at < 0) return 0;
    return (
      (this.buf[at] as number) * 0x1000000 +
      (((this.buf[at + 1] as number) << 16) |
        ((this.buf[at + 2] as number) << 8) |
        (this.buf[at + 3] as number))
    );
  }

  /** A u64 read as a JS number; values above 2^53 - 1 mark the reader failed. */
  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    if (hi > 0x1fffff) {
      this.failed = true;
      return 0;
    }
    return hi * 0x100000000 + lo;
  }

  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return at < 0 ? new Uint8Array(0) : this.buf.subarray(at, at + n);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Steps over `n` bytes without looking at them. */
  skip(n: number): void {
    this.take(n);
  }
}

export class ByteWriter {
  private buf: Uint8Array;
  private offset = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }

  private ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.offset + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.offset));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.offset++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.offset++] = (v >>> 8) & 0xff;
    this.buf[this.offset++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf[this.offset++] = (v >>> 24) & 0xff;
    this.buf[this.offset++] = (v >>> 16) & 0xff;
    this.buf[this.offset++] = (v >>> 8) & 0xff;
    this.buf[this.offset++] = v & 0xff;
    return this;
  }

  u64(v: number): this {
    this.u32(Math.floor(v / 0x100000000));
    return this.u32(v >>> 0);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** Leaves `n` bytes as they are: zero in a fresh writer, whose buffer starts zeroed. */
  skip(n: number): this {
    this.ensure(n);
    this.offset += n;
    return this;
  }

  get length(): number {
    return this.offset;
  }

  /**
   * The bytes written; the writer is done after this. A writer filled to exactly its capacity
   * hands over its buffer without a copy (the hot path: a frame sized in advance).
   */
  finish(): Uint8Array {
    return this.offset === this.buf.length ? this.buf : this.buf.slice(0, this.offset);
  }
}
