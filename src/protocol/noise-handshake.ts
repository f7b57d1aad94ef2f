/**
 * Noise §5.3 `HandshakeState` for the XX pattern (§7.5; The Noise Protocol Framework,
 * revision 34). `readMessage` and `writeMessage` are transactional: a message that fails leaves
 * the handshake as it was (noise.ts says why). noise.ts is the module to import.
 */

import type { KeyObject } from "node:crypto";
import { type Decoded, fail, MisuseError, ok } from "../errors.js";
import { AEAD_TAG_BYTES } from "./limits.js";
import { type CipherState, SymmetricState } from "./noise-cipher-state.js";
import {
  DH_BYTES,
  dh,
  EMPTY,
  type Identity,
  privateKeyObject,
  rawPublicKey,
  staticKeyPair,
} from "./noise-primitives.js";

export const PROTOCOL_NAME = "Noise_XX_25519_ChaChaPoly_SHA256";

/** Noise §3: no Noise message is longer than this. */
export const MAX_NOISE_MESSAGE_BYTES = 65535;

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
