/**
 * Relay envelopes: how two peers that found no direct path exchange their datagrams through
 * the registry (docs/nat-traversal.md, "Relay"), in the manner of a TURN ChannelData message.
 *
 *   RELAY  0x96 | 16-byte channel token | one whole Hallway datagram (HS_* or DATA)
 *
 * The registry issues the channel token to both peers of one `connect`, over their
 * authenticated registry sessions, and forwards an envelope unchanged, byte for byte, from
 * one of the two peers' session addresses to the other's. The inner datagram is the peers'
 * own Noise traffic: the registry can neither read nor forge it, and since one envelope in
 * makes at most one envelope of the same size out, the relay amplifies nothing.
 */

import { type Decoded, fail, ok } from "../errors.js";
import { PROTOCOL_VERSION } from "./datagram.js";
import { DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from "./limits.js";

export const KIND_RELAY = 6;
export const RELAY_TOKEN_BYTES = 16;
export const RELAY_HEADER_BYTES = 1 + RELAY_TOKEN_BYTES;
const FIRST_BYTE = 0x80 | (PROTOCOL_VERSION << 4) | KIND_RELAY;

/** The largest inner datagram: Hallway's own datagrams are at most DEFAULT_DATAGRAM_BYTES. */
export const MAX_RELAYED_BYTES = Math.min(DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES - RELAY_HEADER_BYTES);

export interface RelayEnvelope {
  token: Uint8Array;
  inner: Uint8Array;
}

export function isRelay(buf: Uint8Array): boolean {
  return buf[0] === FIRST_BYTE;
}

export function encodeRelay(token: Uint8Array, inner: Uint8Array): Uint8Array {
  if (token.length !== RELAY_TOKEN_BYTES) throw new RangeError("relay token must be 16 bytes");
  if (inner.length === 0 || inner.length > MAX_RELAYED_BYTES) {
    throw new RangeError(`relayed datagram of ${inner.length} bytes`);
  }
  const out = new Uint8Array(RELAY_HEADER_BYTES + inner.length);
  out[0] = FIRST_BYTE;
  out.set(token, 1);
  out.set(inner, RELAY_HEADER_BYTES);
  return out;
}

/** Total decoder; the token and inner datagram are views into `buf`. */
export function decodeRelay(buf: Uint8Array): Decoded<RelayEnvelope> {
  if (buf[0] !== FIRST_BYTE) return fail("WIRE_BAD_KIND", "not a relay envelope");
  if (buf.length <= RELAY_HEADER_BYTES)
    return fail("WIRE_TRUNCATED", `relay envelope of ${buf.length} bytes`);
  if (buf.length > RELAY_HEADER_BYTES + MAX_RELAYED_BYTES) {
    return fail("WIRE_TOO_LARGE", `relay envelope of ${buf.length} bytes`);
  }
  return ok({
    token: buf.subarray(1, RELAY_HEADER_BYTES),
    inner: buf.subarray(RELAY_HEADER_BYTES),
  });
}
