/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib, PNG and STUN's FINGERPRINT), from Node's zlib
 * (native, table-free SIMD code where the CPU has it; Node ≥ 20.15).
 */

import { crc32 as zlibCrc32 } from "node:zlib";

/** CRC-32 of the bytes, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}
