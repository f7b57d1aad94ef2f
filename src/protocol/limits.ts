/** Hard limits of the wire. Every decoder enforces them before it allocates. */

/** The registry's UDP port when none is given (peers find it there too). */
export const DEFAULT_PORT = 7743;

/**
 * The size every path starts at, and the size a session falls back to when a larger one stops
 * working: safe under any LAN or VPN MTU (QUIC's RFC 9000 §14 minimum; RFC 8899's BASE_PLPMTU).
 */
export const DEFAULT_DATAGRAM_BYTES = 1200;

/**
 * The largest datagram we send or accept: the largest UDP payload of an IPv4 packet. Only a
 * path that proved it carries them gets datagrams this large (`transport/path-mtu.ts`): a
 * loopback, or a LAN whose IP layer fragments and reassembles them. Anything bigger is
 * dropped as WIRE_TOO_LARGE.
 */
export const MAX_DATAGRAM_BYTES = 65_507;

/** Bytes of a DATA datagram before the sealed payload: kind, receiver index, packet number. */
export const DATA_HEADER_BYTES = 1 + 4 + 8;

/** The AEAD tag (ChaCha20-Poly1305 and AES-256-GCM alike). */
export const AEAD_TAG_BYTES = 16;

/** Plaintext frame area of a default-sized DATA datagram: what every session can send. */
export const BASE_FRAMES_BYTES = DEFAULT_DATAGRAM_BYTES - DATA_HEADER_BYTES - AEAD_TAG_BYTES;

/** Plaintext frame area of the largest DATA datagram. */
export const MAX_FRAMES_BYTES = MAX_DATAGRAM_BYTES - DATA_HEADER_BYTES - AEAD_TAG_BYTES;

/** Largest reliable message (a control request, a chat message) after reassembly. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** Largest chat text, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 16 * 1024;

/** SACK ranges carried by one ACK frame. */
export const MAX_SACK_RANGES = 32;
