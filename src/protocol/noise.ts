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
 *
 * The parts, one per section of the spec: `noise-primitives.ts` (§4, §12: DH, hash, HKDF, the
 * AEADs, key pairs and fingerprints), `noise-cipher-state.ts` (§5.1, §5.2) and
 * `noise-handshake.ts` (§5.3, §7.5). This module is the one others import.
 */

export {
  CipherState,
  SymmetricState,
} from "./noise-cipher-state.js";
export {
  type HandshakeOptions,
  HandshakeState,
  MAX_NOISE_MESSAGE_BYTES,
  PROTOCOL_NAME,
} from "./noise-handshake.js";
export {
  DH_BYTES,
  fingerprint,
  generateIdentity,
  HASH_BYTES,
  hkdf2,
  type Identity,
  KEY_BYTES,
  type TransportCipher,
  x25519PublicKey,
} from "./noise-primitives.js";
