/**
 * Noise §5.1 `CipherState` and §5.2 `SymmetricState` (The Noise Protocol Framework,
 * revision 34): the key and nonce of one direction, and the chaining key and handshake hash
 * that the handshake mixes into. Transport encryption over datagrams uses an explicit nonce
 * (§11.4): `sealWithNonce`/`openWithNonce` take the packet number. noise.ts is the module to
 * import.
 */

import { createSecretKey, type KeyObject } from "node:crypto";
import { MisuseError } from "../errors.js";
import {
  aeadOpen,
  aeadSeal,
  concatPieces,
  EMPTY,
  HASH_BYTES,
  hash,
  hkdf2,
  type TransportCipher,
} from "./noise-primitives.js";

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
