/**
 * The Noise primitives (The Noise Protocol Framework, revision 34, §4 and §12) for
 * Noise_XX_25519_ChaChaPoly_SHA256 from node:crypto: DH (X25519), HASH (SHA-256), HKDF
 * (HMAC-SHA256), and the AEAD (ChaChaPoly, or AES-256-GCM for transport keys), sealing and
 * opening with an explicit nonce and in pieces. Also the identity helpers built on X25519
 * (key pairs, fingerprints). noise.ts is the module to import.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
} from "node:crypto";
import { MisuseError } from "../errors.js";
import { AEAD_TAG_BYTES } from "./limits.js";

/** X25519 key and shared-secret size (Noise §12.1). */
export const DH_BYTES = 32;
/** SHA-256 output size (Noise §12.5). */
export const HASH_BYTES = 32;
/** ChaCha20-Poly1305 key size (Noise §12.3). */
export const KEY_BYTES = 32;

/** A long-term (or ephemeral) X25519 key pair, both raw 32-byte strings. */
export interface Identity {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export const EMPTY = new Uint8Array(0);

// X25519 keys in DER (RFC 8410 §7 and §10): a fixed prefix followed by the raw 32 bytes.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

export function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== DH_BYTES) throw new MisuseError(`X25519 private key of ${raw.length} bytes`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: "der", type: "pkcs8" });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, raw]), format: "der", type: "spki" });
}

export function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const der = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return Uint8Array.from(der.subarray(der.length - DH_BYTES));
}

/**
 * The static key pair as KeyObjects, made once per identity: a registry answers every login
 * with a handshake, and rebuilding the KeyObjects each time was a third of its key work.
 */
const staticPairs = new WeakMap<Uint8Array, { publicKey: Uint8Array; privateKey: KeyObject }>();

export function staticKeyPair(raw: Uint8Array): { publicKey: Uint8Array; privateKey: KeyObject } {
  let pair = staticPairs.get(raw);
  if (pair === undefined) {
    const privateKey = privateKeyObject(raw);
    pair = { publicKey: rawPublicKey(privateKey), privateKey };
    staticPairs.set(raw, pair);
  }
  return pair;
}

/** The X25519 public key of a raw private key (RFC 7748 §6.1). */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return rawPublicKey(privateKeyObject(privateKey));
}

/**
 * DH(key_pair, public_key) of Noise §4.1. Undefined when the peer's key is a low-order point
 * (the shared secret would be all zeros, which OpenSSL refuses; Noise §12.1 allows aborting).
 */
export function dh(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array | undefined {
  try {
    const shared = diffieHellman({ privateKey, publicKey: publicKeyObject(publicKey) });
    return shared.every((b) => b === 0) ? undefined : Uint8Array.from(shared);
  } catch {
    return undefined;
  }
}

/** A fresh X25519 key pair from injected randomness; the public key is derived from the private. */
export function generateIdentity(random: (n: number) => Uint8Array): Identity {
  const privateKey = Uint8Array.from(random(DH_BYTES));
  if (privateKey.length !== DH_BYTES) throw new MisuseError("random() returned too few bytes");
  return { publicKey: x25519PublicKey(privateKey), privateKey };
}

/**
 * A human-comparable fingerprint of a public key: the first 16 bytes of SHA-256(publicKey) as
 * lowercase hex in eight dash-separated groups of four, e.g. "3f2a-91c0-7d4e-0b18-c5a2-66f9-e013-8b7d".
 * 128 bits: short enough to read aloud, far too long to collide by search.
 */
export function fingerprint(publicKey: Uint8Array): string {
  const hex = createHash("sha256").update(publicKey).digest().subarray(0, 16).toString("hex");
  return (hex.match(/.{4}/g) ?? []).join("-");
}

export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return Uint8Array.from(h.digest());
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return Uint8Array.from(h.digest());
}

/** HKDF of Noise §4.3 (RFC 5869 with the chaining key as salt), two outputs. */
export function hkdf2(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array): [Uint8Array, Uint8Array] {
  const tempKey = hmac(chainingKey, inputKeyMaterial);
  const out1 = hmac(tempKey, Uint8Array.of(1));
  const out2 = hmac(tempKey, out1, Uint8Array.of(2));
  return [out1, out2];
}

/**
 * The AEAD of a cipher state. The handshake is ChaChaPoly, as the protocol name says; a
 * session's transport keys may instead be used with AES-256-GCM when both ends said so in the
 * handshake (endpoint.ts: where AES instructions make it the faster of the two, a 64 KiB
 * datagram seals in about half the time). Both are Noise ciphers (§12.3, §12.4) with the same
 * key, nonce and tag sizes.
 */
export type TransportCipher = "chacha20-poly1305" | "aes-256-gcm";

/**
 * Noise §12.3 (ChaChaPoly): 32 bits of zeros, then the little-endian 64-bit counter.
 * Noise §12.4 (AESGCM): 32 bits of zeros, then the big-endian 64-bit counter.
 */
function nonceBytes(cipher: TransportCipher, n: number): Buffer {
  const b = Buffer.alloc(12);
  const lo = n % 0x100000000;
  const hi = Math.floor(n / 0x100000000);
  if (cipher === "chacha20-poly1305") {
    b.writeUInt32LE(lo, 4);
    b.writeUInt32LE(hi, 8);
  } else {
    b.writeUInt32BE(hi, 4);
    b.writeUInt32BE(lo, 8);
  }
  return b;
}

/**
 * Seals the concatenation of `pieces` without concatenating them: the ciphertext comes out
 * in pieces too, then the tag. A caller that sends them with one gathered write copies the
 * plaintext exactly once (into the cipher's output).
 */
export function aeadSeal(
  cipher: TransportCipher,
  key: KeyObject,
  n: number,
  ad: Uint8Array,
  pieces: readonly Uint8Array[],
): Uint8Array[] {
  let total = 0;
  for (const p of pieces) total += p.length;
  const iv = nonceBytes(cipher, n);
  const c =
    cipher === "chacha20-poly1305"
      ? createCipheriv(cipher, key, iv, { authTagLength: AEAD_TAG_BYTES })
      : createCipheriv(cipher, key, iv, { authTagLength: AEAD_TAG_BYTES });
  c.setAAD(ad, { plaintextLength: total });
  const out: Uint8Array[] = [];
  for (const p of pieces) {
    const body = c.update(p);
    if (body.length > 0) out.push(body);
  }
  const rest = c.final();
  if (rest.length > 0) out.push(rest);
  out.push(c.getAuthTag());
  return out;
}

/** The plaintext, in a buffer of its own (the cipher's output: nothing else holds it), or undefined. */
export function aeadOpen(
  cipher: TransportCipher,
  key: KeyObject,
  n: number,
  ad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < AEAD_TAG_BYTES) return undefined;
  const bodyLength = sealed.length - AEAD_TAG_BYTES;
  try {
    const iv = nonceBytes(cipher, n);
    const d =
      cipher === "chacha20-poly1305"
        ? createDecipheriv(cipher, key, iv, { authTagLength: AEAD_TAG_BYTES })
        : createDecipheriv(cipher, key, iv, { authTagLength: AEAD_TAG_BYTES });
    d.setAAD(ad, { plaintextLength: bodyLength });
    d.setAuthTag(sealed.subarray(bodyLength));
    const body = d.update(sealed.subarray(0, bodyLength));
    d.final();
    // A plain view of the cipher's output buffer: no copy.
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  } catch {
    return undefined;
  }
}

export function concatPieces(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0] as Uint8Array;
  let total = 0;
  for (const p of pieces) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
