/**
 * Connectivity probes: the small datagrams two peers exchange to find a path between them
 * before the Noise handshake (see src/traversal/puncher.ts and docs/nat-traversal.md).
 *
 *   PROBE  0x95 | u8 type (1 request, 2 response) | 16-byte token | u32 nonce
 *
 * The token is a secret the registry gives both peers for one connection attempt, over
 * their authenticated registry sessions; a probe with an unknown token is dropped, so
 * nobody else can make a peer answer. A response echoes the request's nonce and is exactly
 * as long as the request (no amplification). Probes prove reachability only; the Noise
 * handshake that follows authenticates the peer.
 */

import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { PROTOCOL_VERSION } from "./datagram.js";

export const KIND_PROBE = 5;
export const PROBE_TOKEN_BYTES = 16;
export const PROBE_BYTES = 1 + 1 + PROBE_TOKEN_BYTES + 4;
const FIRST_BYTE = 0x80 | (PROTOCOL_VERSION << 4) | KIND_PROBE;

export interface Probe {
  type: "request" | "response";
  token: Uint8Array;
  nonce: number;
}

export function isProbe(buf: Uint8Array): boolean {
  return buf[0] === FIRST_BYTE;
}

export function encodeProbe(p: Probe): Uint8Array {
  if (p.token.length !== PROBE_TOKEN_BYTES) throw new RangeError("probe token must be 16 bytes");
  return new ByteWriter(PROBE_BYTES)
    .u8(FIRST_BYTE)
    .u8(p.type === "request" ? 1 : 2)
    .bytes(p.token)
    .u32(p.nonce >>> 0)
    .finish();
}

/** Total decoder. */
export function decodeProbe(buf: Uint8Array): Decoded<Probe> {
  if (buf.length !== PROBE_BYTES) return fail("WIRE_TRUNCATED", `probe of ${buf.length} bytes`);
  const r = new ByteReader(buf);
  if (r.u8() !== FIRST_BYTE) return fail("WIRE_BAD_KIND", "not a probe");
  const type = r.u8();
  if (type !== 1 && type !== 2) return fail("WIRE_BAD_VALUE", `probe type ${type}`);
  const token = r.bytes(PROBE_TOKEN_BYTES).slice();
  return ok({ type: type === 1 ? "request" : "response", token, nonce: r.u32() });
}
