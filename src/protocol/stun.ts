/**
 * The STUN server side the registry needs (RFC 8489): answer a Binding request with the
 * transport address it came from, as XOR-MAPPED-ADDRESS. That lets any STUN client (and a
 * peer behind NAT) learn its server-reflexive address from the registry's own port.
 *
 * Sans-IO and total: `answerStun` takes the request bytes and the observed source address
 * and returns the response bytes, or a `WireError` the caller counts and drops. It never
 * throws on input.
 *
 * What is answered:
 * - Binding requests (class request, method 0x001) with the RFC 5389/8489 magic cookie.
 *   Classic RFC 3489 requests (no cookie) never get here: `looksLikeStun` wants the cookie.
 * - A FINGERPRINT attribute, when present, must be last and correct; otherwise dropped.
 * - Unknown comprehension-required attributes (type < 0x8000) get a 420 error response
 *   listing them in UNKNOWN-ATTRIBUTES, as §6.3.1 requires.
 * - Everything else (indications, responses, other methods) is dropped: a registry has no
 *   business answering them, and silence cannot be used to reflect traffic.
 *
 * A success carries XOR-MAPPED-ADDRESS, and FINGERPRINT when the request had one: 32 bytes
 * for IPv4 (40 with FINGERPRINT), 44 (52) for IPv6. SOFTWARE (a SHOULD in §14.14) is left out
 * of every answer. The registry sends an answer only if it is no larger than the request
 * (src/server/stun-responder.ts), so a client pads a bare request (SOFTWARE, or RFC 5780's
 * PADDING) to get one: an unauthenticated source never gets more bytes back than it sent.
 */

import { isIPv4, isIPv6 } from "node:net";
import { type Decoded, fail, ok } from "../errors.js";
import { crc32 } from "./crc32.js";

export const STUN_MAGIC_COOKIE = 0x2112a442;
const HEADER_BYTES = 20;
const FINGERPRINT_XOR = 0x5354554e;

export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_BINDING_SUCCESS = 0x0101;
export const STUN_BINDING_ERROR = 0x0111;

export const STUN_ATTR = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  /** RFC 5780 §7.6: bytes that make a request larger, here so that the answer may be sent. */
  PADDING: 0x0026,
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
} as const;

/**
 * Comprehension-required attributes we understand in a request. Credentials attributes are
 * listed because ignoring them is allowed for a server that does no authentication: RFC 8489
 * §9 makes Binding authentication optional, and we answer anyone with their own address.
 */
const KNOWN_REQUIRED = new Set<number>([
  STUN_ATTR.MAPPED_ADDRESS,
  STUN_ATTR.USERNAME,
  STUN_ATTR.MESSAGE_INTEGRITY,
  STUN_ATTR.ERROR_CODE,
  STUN_ATTR.UNKNOWN_ATTRIBUTES,
  STUN_ATTR.REALM,
  STUN_ATTR.NONCE,
  STUN_ATTR.MESSAGE_INTEGRITY_SHA256,
  STUN_ATTR.PASSWORD_ALGORITHM,
  STUN_ATTR.USERHASH,
  STUN_ATTR.XOR_MAPPED_ADDRESS,
  STUN_ATTR.PADDING,
]);

export interface StunAddress {
  host: string;
  port: number;
}

interface Attribute {
  type: number;
  value: Uint8Array;
}

export interface StunMessage {
  type: number;
  transactionId: Uint8Array;
  attributes: Attribute[];
}

function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function u32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | (u16(b, at + 2) & 0xffff)) >>> 0;
}

/** Total decoder for a STUN message with the magic cookie (RFC 8489 §5, §14). */
export function decodeStun(buf: Uint8Array): Decoded<StunMessage> {
  if (buf.length < HEADER_BYTES) return fail("WIRE_TRUNCATED", "STUN header is 20 bytes");
  if (((buf[0] as number) & 0xc0) !== 0) return fail("WIRE_BAD_KIND", "not a STUN message");
  if (u32(buf, 4) !== STUN_MAGIC_COOKIE) return fail("WIRE_BAD_KIND", "STUN without the magic cookie");
  const length = u16(buf, 2);
  if (length % 4 !== 0) return fail("WIRE_BAD_VALUE", "STUN length is not a multiple of 4");
  if (HEADER_BYTES + length !== buf.length) return fail("WIRE_TRUNCATED", "STUN length does not match");
  const attributes: Attribute[] = [];
  let at = HEADER_BYTES;
  while (at < buf.length) {
    if (at + 4 > buf.length) return fail("WIRE_TRUNCATED", "STUN attribute header cut short");
    const type = u16(buf, at);
    const len = u16(buf, at + 2);
    const end = at + 4 + len;
    if (end > buf.length) return fail("WIRE_TRUNCATED", "STUN attribute value cut short");
    if (attributes.some((a) => a.type === STUN_ATTR.FINGERPRINT)) {
      return fail("WIRE_BAD_VALUE", "STUN attribute after FINGERPRINT");
    }
    if (type === STUN_ATTR.FINGERPRINT) {
      if (len !== 4) return fail("WIRE_BAD_VALUE", "STUN FINGERPRINT is 4 bytes");
      const expected = (crc32(buf.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0;
      if (u32(buf, at + 4) !== expected) return fail("WIRE_BAD_VALUE", "STUN FINGERPRINT mismatch");
    }
    attributes.push({ type, value: buf.subarray(at + 4, end) });
    at = end + ((4 - (len % 4)) % 4);
  }
  if (at !== buf.length) return fail("WIRE_TRUNCATED", "STUN attribute padding cut short");
  return ok({ type: u16(buf, 0), transactionId: buf.slice(8, 20), attributes });
}

/**
 * Encodes a message; the length field covers every attribute, and FINGERPRINT, when asked
 * for, is computed over everything before it with the length already including it.
 */
export function encodeStun(
  type: number,
  transactionId: Uint8Array,
  attributes: Attribute[],
  opts: { fingerprint?: boolean } = {},
): Uint8Array {
  const padded = (n: number) => n + ((4 - (n % 4)) % 4);
  const bodyBytes = attributes.reduce((sum, a) => sum + 4 + padded(a.value.length), 0);
  const total = HEADER_BYTES + bodyBytes + (opts.fingerprint ? 8 : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint16(0, type);
  view.setUint16(2, total - HEADER_BYTES);
  view.setUint32(4, STUN_MAGIC_COOKIE);
  out.set(transactionId.subarray(0, 12), 8);
  let at = HEADER_BYTES;
  for (const a of attributes) {
    view.setUint16(at, a.type);
    view.setUint16(at + 2, a.value.length);
    out.set(a.value, at + 4);
    at += 4 + padded(a.value.length);
  }
  if (opts.fingerprint) {
    view.setUint16(at, STUN_ATTR.FINGERPRINT);
    view.setUint16(at + 2, 4);
    view.setUint32(at + 4, (crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0);
  }
  return out;
}

function ipv4Bytes(host: string): Uint8Array {
  return new Uint8Array(host.split(".").map(Number));
}

function ipv6Bytes(address: string): Uint8Array {
  let host = address;
  // A dotted IPv4 tail ("::ffff:10.0.0.1") becomes two hex groups.
  const lastColon = host.lastIndexOf(":");
  const tail = host.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = ipv4Bytes(tail);
    const hi = (((v4[0] as number) << 8) | (v4[1] as number)).toString(16);
    const lo = (((v4[2] as number) << 8) | (v4[3] as number)).toString(16);
    host = `${host.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const [head = "", rest] = host.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...Array(8 - headGroups.length - restGroups.length).fill("0"), ...restGroups];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** XOR-MAPPED-ADDRESS value (RFC 8489 §14.2) for an IPv4 or IPv6 address. */
export function xorMappedAddress(address: StunAddress, transactionId: Uint8Array): Uint8Array {
  // An IPv4-mapped IPv6 source (dual-stack socket) is reported as the IPv4 address it is.
  const host =
    address.host.startsWith("::ffff:") && isIPv4(address.host.slice(7))
      ? address.host.slice(7)
      : address.host;
  const v4 = isIPv4(host);
  if (!v4 && !isIPv6(host)) throw new RangeError(`not an IP address: ${host}`);
  const raw = v4 ? ipv4Bytes(host) : ipv6Bytes(host.split("%")[0] as string);
  const key = new Uint8Array(16);
  new DataView(key.buffer).setUint32(0, STUN_MAGIC_COOKIE);
  key.set(transactionId.subarray(0, 12), 4);
  const out = new Uint8Array(4 + raw.length);
  const view = new DataView(out.buffer);
  out[1] = v4 ? 0x01 : 0x02;
  view.setUint16(2, address.port ^ (STUN_MAGIC_COOKIE >>> 16));
  raw.forEach((b, i) => {
    out[4 + i] = b ^ (key[i] as number);
  });
  return out;
}

/** Reads an XOR-MAPPED-ADDRESS value back (used by tests and by peers learning their mapping). */
export function readXorMappedAddress(value: Uint8Array, transactionId: Uint8Array): Decoded<StunAddress> {
  const family = value[1];
  const expected = family === 0x01 ? 8 : family === 0x02 ? 20 : -1;
  if (value.length !== expected) return fail("WIRE_BAD_VALUE", "bad XOR-MAPPED-ADDRESS");
  const key = new Uint8Array(16);
  new DataView(key.buffer).setUint32(0, STUN_MAGIC_COOKIE);
  key.set(transactionId.subarray(0, 12), 4);
  const port = u16(value, 2) ^ (STUN_MAGIC_COOKIE >>> 16);
  const raw = value.subarray(4).map((b, i) => b ^ (key[i] as number));
  const host =
    family === 0x01
      ? Array.from(raw).join(".")
      : Array.from({ length: 8 }, (_, i) => u16(raw, i * 2).toString(16)).join(":");
  return ok({ host, port });
}

function errorCode(code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const out = new Uint8Array(4 + text.length);
  out[2] = Math.floor(code / 100);
  out[3] = code % 100;
  out.set(text, 4);
  return out;
}

/** The response to a Binding request from `from`, or why the datagram gets none. */
export function answerStun(buf: Uint8Array, from: StunAddress): Decoded<Uint8Array> {
  const decoded = decodeStun(buf);
  if (!decoded.ok) return decoded;
  const msg = decoded.value;
  if (msg.type !== STUN_BINDING_REQUEST) return fail("WIRE_BAD_KIND", "only Binding requests are answered");
  const fingerprint = msg.attributes.some((a) => a.type === STUN_ATTR.FINGERPRINT);
  const unknown = msg.attributes.filter((a) => a.type < 0x8000 && !KNOWN_REQUIRED.has(a.type));
  if (unknown.length > 0) {
    const list = new Uint8Array(unknown.length * 2);
    unknown.forEach((a, i) => {
      list[i * 2] = a.type >> 8;
      list[i * 2 + 1] = a.type & 0xff;
    });
    return ok(
      encodeStun(
        STUN_BINDING_ERROR,
        msg.transactionId,
        [
          { type: STUN_ATTR.ERROR_CODE, value: errorCode(420, "Unknown Attribute") },
          { type: STUN_ATTR.UNKNOWN_ATTRIBUTES, value: list },
        ],
        { fingerprint },
      ),
    );
  }
  let mapped: Uint8Array;
  try {
    mapped = xorMappedAddress(from, msg.transactionId);
  } catch {
    return fail("WIRE_BAD_VALUE", "source is not an IP address");
  }
  return ok(
    encodeStun(
      STUN_BINDING_SUCCESS,
      msg.transactionId,
      [{ type: STUN_ATTR.XOR_MAPPED_ADDRESS, value: mapped }],
      { fingerprint },
    ),
  );
}
