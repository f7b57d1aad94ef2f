/**
 * u32 sequence-number arithmetic with wraparound (serial number arithmetic, RFC 1982).
 * Every comparison of sequence numbers goes through these helpers.
 */

export const SEQ_MODULO = 0x100000000;

export function seqAdd(a: number, n: number): number {
  return (((a + n) % SEQ_MODULO) + SEQ_MODULO) % SEQ_MODULO;
}

/** Signed distance b - a in (-2^31, 2^31]. */
export function seqDiff(b: number, a: number): number {
  const d = (b - a + SEQ_MODULO) % SEQ_MODULO;
  return d > 0x7fffffff ? d - SEQ_MODULO : d;
}

export function seqLt(a: number, b: number): boolean {
  return seqDiff(b, a) > 0;
}

export function seqLte(a: number, b: number): boolean {
  return seqDiff(b, a) >= 0;
}

export function seqGt(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

export function seqGte(a: number, b: number): boolean {
  return seqDiff(a, b) >= 0;
}
