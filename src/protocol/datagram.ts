/**
 * Datagram framing: the outer header of every Hallway datagram.
 *
 * Byte 0 is `0x80 | version << 4 | kind`. The top bit is always set, so a Hallway datagram
 * can never be mistaken for STUN (RFC 8489 §6: the first two bits of a STUN message are 0),
 * and both can share the registry's one UDP port.
 *
 *   HS_INIT   0x91 | u32 senderIndex | u16 len | Noise message 1 | [0x01 | 16-byte cookie]
 *                  | zero padding to 1200 bytes
 *   HS_RESP   0x92 | u32 senderIndex | u32 receiverIndex | Noise message 2
 *   HS_FINAL  0x93 | u32 senderIndex | u32 receiverIndex | Noise message 3
 *   DATA      0x94 | u32 receiverIndex | u64 packetNumber | AEAD(frames), header as AAD
 *   COOKIE    0x97 | u32 receiverIndex (the initiator's sender index) | 16-byte cookie
 *
 * COOKIE is a busy responder's stateless answer to an HS_INIT (WireGuard's cookie reply,
 * §5.4.7 of its paper): the initiator sends the same HS_INIT again carrying the cookie, which
 * proves it receives datagrams at its source address (endpoint.ts). Kinds 5 and 6 are PROBE
 * and RELAY (probe.ts, relay.ts), which the socket adapter routes before this decoder.
 *
 * HS_INIT is padded so that no handshake answer is larger than the datagram that asked for
 * it (anti-amplification, as in RFC 9000 §8.1).
 */

import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { AEAD_TAG_BYTES, DATA_HEADER_BYTES, DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from "./limits.js";

export const PROTOCOL_VERSION = 1;

export const KIND_HS_INIT = 1;
export const KIND_HS_RESP = 2;
export const KIND_HS_FINAL = 3;
export const KIND_DATA = 4;
export const KIND_COOKIE = 7;

/** A cookie: a MAC of the initiator's address under the responder's rotating secret. */
export const COOKIE_BYTES = 16;
/** The whole COOKIE datagram: far smaller than the padded HS_INIT it answers. */
export const COOKIE_DATAGRAM_BYTES = 1 + 4 + COOKIE_BYTES;
/** The byte before a cookie carried in HS_INIT (padding is zeros, so no cookie reads as none). */
const COOKIE_MARK = 0x01;

/** Every HS_INIT is padded to this size. */
export const HS_INIT_BYTES = DEFAULT_DATAGRAM_BYTES;

const MAX_NOISE_MESSAGE_BYTES = 1024;

export type Datagram =
  | { kind: "hs-init"; senderIndex: number; noise: Uint8Array; cookie?: Uint8Array }
  | { kind: "cookie"; receiverIndex: number; cookie: Uint8Array }
  | { kind: "hs-resp"; senderIndex: number; receiverIndex: number; noise: Uint8Array }
  | { kind: "hs-final"; senderIndex: number; receiverIndex: number; noise: Uint8Array }
  | {
      kind: "data";
      receiverIndex: number;
      packetNumber: number;
      /** The 13 header bytes, authenticated as AEAD associated data. */
      header: Uint8Array;
      sealed: Uint8Array;
    };

function firstByte(kind: number): number {
  return 0x80 | (PROTOCOL_VERSION << 4) | kind;
}

export function encodeHsInit(senderIndex: number, noise: Uint8Array, cookie?: Uint8Array): Uint8Array {
  const w = new ByteWriter(HS_INIT_BYTES);
  w.u8(firstByte(KIND_HS_INIT)).u32(senderIndex).u16(noise.length).bytes(noise);
  if (cookie !== undefined) w.u8(COOKIE_MARK).bytes(cookie.subarray(0, COOKIE_BYTES));
  const out = new Uint8Array(Math.max(HS_INIT_BYTES, w.length));
  out.set(w.finish());
  return out;
}

export function encodeCookieReply(receiverIndex: number, cookie: Uint8Array): Uint8Array {
  return new ByteWriter(COOKIE_DATAGRAM_BYTES)
    .u8(firstByte(KIND_COOKIE))
    .u32(receiverIndex)
    .bytes(cookie.subarray(0, COOKIE_BYTES))
    .finish();
}

export function encodeHsReply(
  kind: "hs-resp" | "hs-final",
  senderIndex: number,
  receiverIndex: number,
  noise: Uint8Array,
): Uint8Array {
  return new ByteWriter(9 + noise.length)
    .u8(firstByte(kind === "hs-resp" ? KIND_HS_RESP : KIND_HS_FINAL))
    .u32(senderIndex)
    .u32(receiverIndex)
    .bytes(noise)
    .finish();
}

export function encodeDataHeader(receiverIndex: number, packetNumber: number): Uint8Array {
  return new ByteWriter(DATA_HEADER_BYTES)
    .u8(firstByte(KIND_DATA))
    .u32(receiverIndex)
    .u64(packetNumber)
    .finish();
}

export function encodeData(header: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + sealed.length);
  out.set(header);
  out.set(sealed, header.length);
  return out;
}

/** STUN messages (RFC 8489 §5): top two bits zero and the magic cookie at bytes 4..7. */
export function looksLikeStun(buf: Uint8Array): boolean {
  return (
    buf.length >= 20 &&
    ((buf[0] as number) & 0xc0) === 0 &&
    buf[4] === 0x21 &&
    buf[5] === 0x12 &&
    buf[6] === 0xa4 &&
    buf[7] === 0x42
  );
}

/** Total decoder for the outer header. The sealed payload is opened by the session. */
export function decodeDatagram(buf: Uint8Array): Decoded<Datagram> {
  if (buf.length > MAX_DATAGRAM_BYTES) return fail("WIRE_TOO_LARGE", `datagram of ${buf.length} bytes`);
  if (buf.length < 1) return fail("WIRE_TRUNCATED", "empty datagram");
  const b0 = buf[0] as number;
  if ((b0 & 0x80) === 0) return fail("WIRE_BAD_VERSION", "not a Hallway datagram");
  const version = (b0 >> 4) & 0x07;
  if (version !== PROTOCOL_VERSION) return fail("WIRE_BAD_VERSION", `protocol version ${version}`);
  const kind = b0 & 0x0f;
  const r = new ByteReader(buf);
  r.u8();
  switch (kind) {
    case KIND_HS_INIT: {
      if (buf.length < HS_INIT_BYTES) return fail("WIRE_TRUNCATED", "handshake init is not padded");
      const senderIndex = r.u32();
      const len = r.u16();
      if (len > MAX_NOISE_MESSAGE_BYTES) return fail("WIRE_BAD_VALUE", "handshake message too long");
      const noise = r.bytes(len);
      if (r.failed) return fail("WIRE_TRUNCATED", "handshake init");
      const at = 1 + 4 + 2 + len;
      if (buf[at] === COOKIE_MARK && at + 1 + COOKIE_BYTES <= buf.length) {
        const cookie = buf.subarray(at + 1, at + 1 + COOKIE_BYTES);
        return ok({ kind: "hs-init", senderIndex, noise, cookie });
      }
      return ok({ kind: "hs-init", senderIndex, noise });
    }
    case KIND_COOKIE: {
      if (buf.length !== COOKIE_DATAGRAM_BYTES) return fail("WIRE_TRUNCATED", "cookie reply");
      const receiverIndex = r.u32();
      return ok({ kind: "cookie", receiverIndex, cookie: buf.subarray(5, COOKIE_DATAGRAM_BYTES) });
    }
    case KIND_HS_RESP:
    case KIND_HS_FINAL: {
      const senderIndex = r.u32();
      const receiverIndex = r.u32();
      const noise = r.rest();
      if (r.failed) return fail("WIRE_TRUNCATED", "handshake reply");
      if (noise.length > MAX_NOISE_MESSAGE_BYTES) return fail("WIRE_BAD_VALUE", "handshake message too long");
      return ok({ kind: kind === KIND_HS_RESP ? "hs-resp" : "hs-final", senderIndex, receiverIndex, noise });
    }
    case KIND_DATA: {
      if (buf.length < DATA_HEADER_BYTES + AEAD_TAG_BYTES) return fail("WIRE_TRUNCATED", "data datagram");
      const receiverIndex = r.u32();
      const packetNumber = r.u64();
      if (r.failed) return fail("WIRE_BAD_VALUE", "packet number out of range");
      return ok({
        kind: "data",
        receiverIndex,
        packetNumber,
        header: buf.subarray(0, DATA_HEADER_BYTES),
        sealed: buf.subarray(DATA_HEADER_BYTES),
      });
    }
    default:
      return fail("WIRE_BAD_KIND", `datagram kind ${kind}`);
  }
}
