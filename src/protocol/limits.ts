/** Hard limits of the wire. Every decoder enforces them before it allocates. */

/** Default datagram size: safe under any LAN or VPN MTU (QUIC's RFC 9000 §14 minimum). */
export const DEFAULT_DATAGRAM_BYTES = 1200;

/** Largest datagram we accept at all; anything bigger is dropped as WIRE_TOO_LARGE. */
export const MAX_DATAGRAM_BYTES = 1500;

/** Bytes of a DATA datagram before the sealed payload: kind, receiver index, packet number. */
export const DATA_HEADER_BYTES = 1 + 4 + 8;

/** ChaCha20-Poly1305 tag. */
export const AEAD_TAG_BYTES = 16;

/** Largest plaintext frame area of a default-sized DATA datagram. */
export const MAX_FRAMES_BYTES = DEFAULT_DATAGRAM_BYTES - DATA_HEADER_BYTES - AEAD_TAG_BYTES;

/** Largest reliable message (a control request, a chat message) after reassembly. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** Largest chat text, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 16 * 1024;

/** SACK ranges carried by one ACK frame. */
export const MAX_SACK_RANGES = 32;
