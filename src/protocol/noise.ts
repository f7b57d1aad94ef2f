/**
 * Noise_XX_25519_ChaChaPoly_SHA256 (The Noise Protocol Framework, revision 34), built only from
 * node:crypto primitives: X25519, ChaCha20-Poly1305, SHA-256 and HMAC-SHA256.
 *
 * The object names follow the spec's §5: `CipherState` (§5.1), `SymmetricState` (§5.2) and
 * `HandshakeState` (§5.3). The handshake is sans-IO like the rest of the protocol core: it reads
 * no clock and draws its ephemeral key from an injected `random`, or from an injected private key
 * (which is how the test vectors pin it).
 *
 * Two deliberate choices beyond the spec:
 *  - `readMessage` and `writeMessage` are transactional. A message that fails (forged, truncated,
 *    a low-order public key) leaves the handshake exactly as it was, so a spoofed datagram cannot
 *    abort a handshake in progress; the caller just drops it. Both return `Decoded` and never throw
 *    for remote input; they throw only on local misuse (writing out of turn).
 *  - Transport encryption over datagrams uses an explicit nonce (§11.4, out-of-order transport
 *    messages): `CipherState.sealWithNonce`/`openWithNonce` take the packet number as the nonce.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  type KeyObject,
} from "node:crypto";
import { type Decoded, fail, MisuseError, ok } from "../errors.js";
import { AEAD_TAG_BYTES } from "./limits.js";

export const PROTOCOL_NAME = "Noise_XX_25519_ChaChaPoly_SHA256";

/** X25519 key and shared-secret size (Noise §12.1). */
export const DH_BYTES = 32;
/** SHA-256 output size (Noise §12.5). */
export const HASH_BYTES = 32;
/** ChaCha20-Poly1305 key size (Noise §12.3). */
export const KEY_BYTES = 32;
/** Noise §3: no Noise message is longer than this. */
export const MAX_NOISE_MESSAGE_BYTES = 65535;

/** A long-term (or ephemeral) X25519 key pair, both raw 32-byte strings. */
export interface Identity {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const EMPTY = new Uint8Array(0);

// X25519 keys in DER (RFC 8410 §7 and §10): a fixed prefix followed by the raw 32 bytes.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== DH_BYTES) throw new MisuseError(`X25519 private key of ${raw.length} bytes`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: "der", type: "pkcs8" });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, raw]), format: "der", type: "spki" });
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const der = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return Uint8Array.from(der.subarray(der.length - DH_BYTES));
}

/**
 * The static key pair as KeyObjects, made once per identity: a registry answers every login
 * with a handshake, and rebuilding the KeyObjects each time was a third of its key work.
 */
const staticPairs = new WeakMap<Uint8Array, { publicKey: Uint8Array; privateKey: KeyObject }>();

function staticKeyPair(raw: Uint8Array): { publicKey: Uint8Array; privateKey: KeyObject } {
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
function dh(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array | undefined {
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

function hash(...parts: Uint8Array[]): Uint8Array {
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
function aeadSeal(
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
function aeadOpen(
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

function concatPieces(pieces: readonly Uint8Array[]): Uint8Array {
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

/**
 * Noise §5.1. Nonces are JS numbers; 2^53 messages under one key is far beyond any session's
 * life, and the spec's reserved nonce 2^64 - 1 can never be reached.
 */
export class CipherState {
  private n = 0;
  private key: KeyObject | undefined;
  private aead: TransportCipher = "chacha20-poly1305";

  constructor(private k: Uint8Array | undefined = undefined) {
    this.key = k === undefined ? undefined : createSecretKey(k);
  }

  hasKey(): boolean {
    return this.k !== undefined;
  }

  initializeKey(k: Uint8Array): void {
    this.k = k;
    this.key = createSecretKey(k);
    this.n = 0;
  }

  /** The AEAD the key is used with (a transport state's may change after the handshake). */
  get cipher(): TransportCipher {
    return this.aead;
  }

  useCipher(cipher: TransportCipher): void {
    this.aead = cipher;
  }

  /** The next implicit nonce. */
  get nonce(): number {
    return this.n;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.k === undefined) return Uint8Array.from(plaintext);
    const out = this.sealWithNonce(this.n, ad, plaintext);
    this.n += 1;
    return out;
  }

  /** Undefined if authentication fails; the nonce then does not advance (Noise §5.1). */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
    if (this.k === undefined) return Uint8Array.from(ciphertext);
    const out = this.openWithNonce(this.n, ad, ciphertext);
    if (out !== undefined) this.n += 1;
    return out;
  }

  /** Transport encryption with an explicit nonce, for datagrams that may arrive out of order. */
  sealWithNonce(nonce: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return concatPieces(this.sealPiecesWithNonce(nonce, ad, [plaintext]));
  }

  /** The same for a plaintext given in pieces; returns the ciphertext in pieces, then the tag. */
  sealPiecesWithNonce(nonce: number, ad: Uint8Array, pieces: readonly Uint8Array[]): Uint8Array[] {
    if (this.key === undefined) throw new MisuseError("cipher state has no key");
    if (!Number.isSafeInteger(nonce) || nonce < 0) throw new MisuseError("nonce out of range");
    return aeadSeal(this.aead, this.key, nonce, ad, pieces);
  }

  openWithNonce(nonce: number, ad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (this.key === undefined || !Number.isSafeInteger(nonce) || nonce < 0) return undefined;
    return aeadOpen(this.aead, this.key, nonce, ad, sealed);
  }

  clone(): CipherState {
    const c = new CipherState(this.k);
    c.n = this.n;
    c.aead = this.aead;
    return c;
  }
}

/** Noise §5.2. */
export class SymmetricState {
  private cs = new CipherState();
  private ck: Uint8Array;
  private h: Uint8Array;

  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= HASH_BYTES) {
      this.h = new Uint8Array(HASH_BYTES);
      this.h.set(name);
    } else {
      this.h = hash(name);
    }
    this.ck = this.h;
  }

  get handshakeHash(): Uint8Array {
    return Uint8Array.from(this.h);
  }

  hasKey(): boolean {
    return this.cs.hasKey();
  }

  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = hkdf2(this.ck, inputKeyMaterial);
    this.ck = ck;
    this.cs.initializeKey(tempK); // HASHLEN is 32: no truncation needed
  }

  mixHash(data: Uint8Array): void {
    this.h = hash(this.h, data);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cs.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array | undefined {
    const plaintext = this.cs.decryptWithAd(this.h, ciphertext);
    if (plaintext !== undefined) this.mixHash(ciphertext);
    return plaintext;
  }

  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf2(this.ck, EMPTY);
    return [new CipherState(k1), new CipherState(k2)];
  }

  clone(): SymmetricState {
    const s = Object.create(SymmetricState.prototype) as SymmetricState;
    s.cs = this.cs.clone();
    s.ck = this.ck;
    s.h = this.h;
    return s;
  }
}

type Token = "e" | "s" | "ee" | "es" | "se" | "ss";

/** Noise §7.5: XX. No pre-messages. */
const XX: readonly (readonly Token[])[] = [["e"], ["e", "ee", "s", "es"], ["s", "se"]];

export interface HandshakeOptions {
  initiator: boolean;
  staticKeys: Identity;
  /** Mixed into the handshake hash; both sides must agree (Noise §6). Default empty. */
  prologue?: Uint8Array;
  /** Source of the ephemeral private key. */
  random: (n: number) => Uint8Array;
  /** Use this ephemeral private key instead of drawing one (test vectors). */
  ephemeralPrivateKey?: Uint8Array;
}

interface KeyPair {
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

/** Noise §5.3, for the XX pattern. */
export class HandshakeState {
  readonly initiator: boolean;
  private ss: SymmetricState;
  private readonly s: KeyPair;
  private e: KeyPair | undefined;
  private re: Uint8Array | undefined;
  private rs: Uint8Array | undefined;
  private messageIndex = 0;
  private readonly random: (n: number) => Uint8Array;
  private injectedEphemeral: Uint8Array | undefined;

  constructor(opts: HandshakeOptions) {
    this.initiator = opts.initiator;
    this.random = opts.random;
    this.injectedEphemeral = opts.ephemeralPrivateKey;
    this.s = staticKeyPair(opts.staticKeys.privateKey);
    this.ss = new SymmetricState(PROTOCOL_NAME);
    this.ss.mixHash(opts.prologue ?? EMPTY);
  }

  get isComplete(): boolean {
    return this.messageIndex === XX.length;
  }

  /** True when the next message is ours to write. */
  get isMyTurn(): boolean {
    return !this.isComplete && this.messageIndex % 2 === (this.initiator ? 0 : 1);
  }

  get remoteStaticKey(): Uint8Array | undefined {
    return this.rs === undefined ? undefined : Uint8Array.from(this.rs);
  }

  /** `h` after the last message: a unique, both-sides-agree name of this handshake (Noise §11.2). */
  get handshakeHash(): Uint8Array {
    return this.ss.handshakeHash;
  }

  writeMessage(payload: Uint8Array): Decoded<Uint8Array> {
    const pattern = XX[this.messageIndex];
    if (pattern === undefined || !this.isMyTurn) throw new MisuseError("not our turn to write");
    const saved = this.save();
    const parts: Uint8Array[] = [];
    for (const token of pattern) {
      if (token === "e") {
        const privateKey = privateKeyObject(this.injectedEphemeral ?? this.random(DH_BYTES));
        this.injectedEphemeral = undefined;
        this.e = { publicKey: rawPublicKey(privateKey), privateKey };
        parts.push(this.e.publicKey);
        this.ss.mixHash(this.e.publicKey);
      } else if (token === "s") {
        parts.push(this.ss.encryptAndHash(this.s.publicKey));
      } else if (!this.mixDh(token)) {
        this.restore(saved);
        return fail("CRYPTO_HANDSHAKE_FAILED", `handshake ${token} failed: bad remote key`);
      }
    }
    parts.push(this.ss.encryptAndHash(payload));
    const message = Buffer.concat(parts);
    if (message.length > MAX_NOISE_MESSAGE_BYTES) {
      this.restore(saved);
      throw new MisuseError("handshake payload too large");
    }
    this.messageIndex += 1;
    return ok(Uint8Array.from(message));
  }

  readMessage(message: Uint8Array): Decoded<Uint8Array> {
    const pattern = XX[this.messageIndex];
    if (pattern === undefined || this.isMyTurn)
      return fail("CRYPTO_HANDSHAKE_FAILED", "unexpected handshake message");
    if (message.length > MAX_NOISE_MESSAGE_BYTES)
      return fail("CRYPTO_HANDSHAKE_FAILED", "handshake message too long");
    const saved = this.save();
    const failWith = (detail: string): Decoded<Uint8Array> => {
      this.restore(saved);
      return fail("CRYPTO_HANDSHAKE_FAILED", detail);
    };
    let at = 0;
    for (const token of pattern) {
      if (token === "e") {
        if (message.length - at < DH_BYTES) return failWith("handshake message truncated");
        this.re = Uint8Array.from(message.subarray(at, at + DH_BYTES));
        at += DH_BYTES;
        this.ss.mixHash(this.re);
      } else if (token === "s") {
        const len = DH_BYTES + (this.ss.hasKey() ? AEAD_TAG_BYTES : 0);
        if (message.length - at < len) return failWith("handshake message truncated");
        const rs = this.ss.decryptAndHash(message.subarray(at, at + len));
        if (rs === undefined) return failWith("cannot decrypt the remote static key");
        this.rs = rs;
        at += len;
      } else if (!this.mixDh(token)) {
        return failWith(`handshake ${token} failed: bad remote key`);
      }
    }
    const payload = this.ss.decryptAndHash(message.subarray(at));
    if (payload === undefined) return failWith("cannot decrypt the handshake payload");
    this.messageIndex += 1;
    return ok(payload);
  }

  /** Transport ciphers, oriented for this side (Noise §5.2 Split: the initiator sends with the first). */
  split(): { send: CipherState; receive: CipherState } {
    if (!this.isComplete) throw new MisuseError("handshake not complete");
    const [c1, c2] = this.ss.split();
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  private mixDh(token: "ee" | "es" | "se" | "ss"): boolean {
    // Noise §5.3: "es" is DH(initiator's e, responder's s), "se" the other way round.
    let local: KeyPair | undefined;
    let remote: Uint8Array | undefined;
    if (token === "ee") [local, remote] = [this.e, this.re];
    else if (token === "ss") [local, remote] = [this.s, this.rs];
    else if ((token === "es") === this.initiator) [local, remote] = [this.e, this.rs];
    else [local, remote] = [this.s, this.re];
    if (local === undefined || remote === undefined) return false;
    const shared = dh(local.privateKey, remote);
    if (shared === undefined) return false;
    this.ss.mixKey(shared);
    return true;
  }

  private save() {
    return { ss: this.ss.clone(), e: this.e, re: this.re, rs: this.rs, messageIndex: this.messageIndex };
  }

  private restore(saved: ReturnType<HandshakeState["save"]>): void {
    this.ss = saved.ss;
    this.e = saved.e;
    this.re = saved.re;
    this.rs = saved.rs;
    this.messageIndex = saved.messageIndex;
  }
}
