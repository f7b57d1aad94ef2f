/**
 * Anti-replay sliding window over packet numbers (RFC 6479, as WireGuard uses it).
 *
 * A ring of 32-bit blocks holds one bit per packet number; the highest accepted number sits in
 * the newest block. Moving the window forward clears whole blocks instead of shifting bits, so
 * accepting a packet is O(1) amortised however far it jumps (RFC 6479 §2.3). One block of the
 * ring is the "dirty" block being recycled, hence a usable window of (RING_BLOCKS - 1) * 32.
 *
 * Packet numbers are u64 on the wire but held as JS numbers, so anything above 2^53 - 1 is
 * refused (the datagram decoder already rejects those).
 *
 * Use: `check(n)` before decrypting (cheap early drop of replays), `accept(n)` only after the
 * AEAD verified the packet, so that a forged packet number can never advance the window.
 */

const BLOCK_BITS = 32;
const RING_BLOCKS = 65;

/** How far behind the highest accepted packet number a packet may still arrive. */
export const REPLAY_WINDOW_PACKETS = (RING_BLOCKS - 1) * BLOCK_BITS; // 2048

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_BLOCKS);
  private top = -1;

  /** The highest packet number accepted so far, or -1. */
  get highest(): number {
    return this.top;
  }

  /** Would `n` be accepted now? Does not change the window. */
  check(n: number): boolean {
    if (!Number.isSafeInteger(n) || n < 0) return false;
    if (n > this.top) return true;
    if (this.top - n >= REPLAY_WINDOW_PACKETS) return false;
    const block = Math.floor(n / BLOCK_BITS) % RING_BLOCKS;
    return (((this.ring[block] as number) >>> (n % BLOCK_BITS)) & 1) === 0;
  }

  /** Mark `n` as received. Returns false (and changes nothing) if `n` is a replay or too old. */
  accept(n: number): boolean {
    if (!this.check(n)) return false;
    const block = Math.floor(n / BLOCK_BITS);
    if (n > this.top) {
      const topBlock = this.top < 0 ? -1 : Math.floor(this.top / BLOCK_BITS);
      const advance = Math.min(block - topBlock, RING_BLOCKS);
      for (let i = 1; i <= advance; i++) this.ring[(topBlock + i) % RING_BLOCKS] = 0;
      this.top = n;
    }
    const slot = block % RING_BLOCKS;
    this.ring[slot] = (this.ring[slot] as number) | (1 << (n % BLOCK_BITS));
    return true;
  }
}
