/**
 * One error hierarchy for the whole project. Every user-visible failure has a stable
 * `code` (shown by `--json`) and a one-line human message (shown by the line UI).
 *
 * Local misuse (bad arguments, bad commands) and remote protocol violations are different
 * codes. Decoders never throw: they return a `Decoded` with a `WireError` that the caller
 * counts and drops.
 *
 * Every error also says where it comes from (`origin`): `local` when this process raised it
 * (its user, its environment, its own limits, or its code calling a component wrongly), or
 * `remote` when the other side did: a peer or the registry sent something that breaks the
 * protocol, or answered with the error. A component called against its contract (a bad
 * option, a method in the wrong state) throws `MisuseError` (`MISUSE`): a bug in the caller,
 * not a failure of the system, and never an `INTERNAL` error of the component.
 */

/**
 * Why a file transfer ended other than by success. These also travel on the wire, in
 * `file.cancel` (src/protocol/file-control.ts), so the list is closed: a new one is a protocol change.
 */
export const FILE_END_CODES = [
  "FILE_DECLINED",
  "FILE_CANCELLED",
  "FILE_HASH_MISMATCH",
  "FILE_PROTOCOL_ERROR",
  "FILE_READ_FAILED",
  "FILE_WRITE_FAILED",
  "FILE_DISK_FULL",
  "FILE_OFFER_EXPIRED",
  // The receiver refuses an offer: not enough free space (with a margin), or over its limit.
  "FILE_NO_SPACE",
  "FILE_TOO_LARGE",
  // The registry's drop box refuses or stops an upload: over the sender's or the total quota.
  "FILE_QUOTA",
] as const;

export const ERROR_CODES = [
  // Wire: malformed or unwanted datagrams. Counted and dropped, never thrown at a socket.
  "WIRE_TRUNCATED",
  "WIRE_TOO_LARGE",
  "WIRE_BAD_VERSION",
  "WIRE_BAD_KIND",
  "WIRE_BAD_FRAME",
  "WIRE_BAD_VALUE",
  "WIRE_UNKNOWN_SESSION",
  // Crypto: handshakes and sealed payloads.
  "CRYPTO_DECRYPT_FAILED",
  "CRYPTO_REPLAY",
  "CRYPTO_HANDSHAKE_FAILED",
  "CRYPTO_HANDSHAKE_TIMEOUT",
  "CRYPTO_UNEXPECTED_KEY",
  // Control messages between client and registry or between peers.
  "PROTO_BAD_MESSAGE",
  "PROTO_UNKNOWN_REQUEST",
  "PROTO_RATE_LIMITED",
  // Abuse limits (docs/security.md): over a command limit (with a retry-after), a full quota,
  // a session ended by the registry.
  "RATE_LIMITED",
  "QUOTA_FULL",
  "SESSION_TERMINATED",
  "SESSION_REPLACED",
  // Accounts.
  "AUTH_BAD_USERNAME",
  "AUTH_WEAK_PASSWORD",
  "AUTH_USER_EXISTS",
  "AUTH_UNKNOWN_USER",
  "AUTH_BAD_PASSWORD",
  "AUTH_NOT_LOGGED_IN",
  "AUTH_NO_PASSWORD",
  "AUTH_KEY_MISMATCH",
  // Messaging.
  "MSG_TOO_LARGE",
  "MSG_EMPTY",
  "MSG_UNKNOWN_RECIPIENT",
  "MSG_NOT_DELIVERED",
  // Paths between peers (hole punching, relay).
  "PEER_OFFLINE",
  "PEER_UNREACHABLE",
  // LAN discovery and trust without the registry (docs/discovery.md).
  "PEER_KEY_CHANGED",
  "PEER_KEY_CONFLICT",
  "PEER_PINS_UNREADABLE",
  "PEER_QUEUED",
  // Friends, groups, profiles and the registry's messaging policy.
  "FRIEND_SELF",
  "FRIEND_ALREADY",
  "FRIEND_NO_REQUEST",
  "FRIEND_NOT_FRIENDS",
  "GROUP_BAD_NAME",
  "GROUP_EXISTS",
  "GROUP_UNKNOWN",
  "GROUP_NOT_MEMBER",
  "GROUP_ALREADY_MEMBER",
  "GROUP_NOT_ADMIN",
  "GROUP_NO_REQUEST",
  "GROUP_READ_ONLY",
  "GROUP_OFFICE_ROOM",
  "GROUP_BAD_DESCRIPTION",
  "PROFILE_BAD_FIELD",
  "POLICY_NOT_FRIENDS",
  // Registry reachability and identity.
  "REGISTRY_UNREACHABLE",
  "REGISTRY_NOT_FOUND",
  "REGISTRY_KEY_CHANGED",
  "REGISTRY_LOST",
  "REGISTRY_PINS_UNREADABLE",
  // File transfer: why a transfer ended, and local failures of the file commands.
  ...FILE_END_CODES,
  "FILE_NOT_FOUND",
  "FILE_TOO_MANY_FILES",
  "FILE_UNKNOWN_TRANSFER",
  "FILE_PEER_UNREACHABLE",
  "FILE_PEER_LOST",
  // `/open N`: no desktop opener (xdg-open) on this machine.
  "FILE_NO_OPENER",
  // The drop box has no file by that id for you (sent, or waiting for you).
  "FILE_DROP_UNKNOWN",
  // Local environment.
  "PORT_IN_USE",
  "DATA_DIR_UNWRITABLE",
  "DATA_DIR_UNUSABLE",
  "LOCAL_LOG_FAILED",
  "STORE_FAILED",
  "STORE_CORRUPT",
  // Moving an office between stores (`hallway server export` / `import`).
  "STORE_NOT_EMPTY",
  "IMPORT_BAD_LINE",
  "IMPORT_BAD_VERSION",
  "CLI_BAD_ARGS",
  "CLI_BAD_COMMAND",
  // Bugs: a component called against its contract (MisuseError), or a broken invariant.
  "MISUSE",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Who raised an error: this process, or the other side (see the top of this file). */
export type ErrorOrigin = "local" | "remote";

/**
 * Codes that only describe what the other side sent: a datagram or message that breaks the
 * protocol, or a key it should not have. Every other code is local unless it is raised with
 * `origin: "remote"` (an error the registry answered with, a session it ended).
 */
const REMOTE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ...ERROR_CODES.filter((code) => code.startsWith("WIRE_")),
  "CRYPTO_DECRYPT_FAILED",
  "CRYPTO_REPLAY",
  "CRYPTO_HANDSHAKE_FAILED",
  "CRYPTO_UNEXPECTED_KEY",
  "PROTO_BAD_MESSAGE",
  "PROTO_UNKNOWN_REQUEST",
]);
export interface HallwayErrorOptions {
  cause?: unknown;
  retryAfterMs?: number;
  /** Default: `remote` for the codes that describe what the other side sent, else `local`. */
  origin?: ErrorOrigin;
}

export class HallwayError extends Error {
  readonly code: ErrorCode;
  /** With `RATE_LIMITED`: how long to wait before asking again. */
  readonly retryAfterMs: number | undefined;
  readonly origin: ErrorOrigin;

  constructor(code: ErrorCode, message: string, options?: HallwayErrorOptions) {
    super(message, options);
    this.name = "HallwayError";
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
    this.origin = options?.origin ?? (REMOTE_CODES.has(code) ? "remote" : "local");
  }

  toJSON(): { code: ErrorCode; message: string; retryAfterMs?: number } {
    return {
      code: this.code,
      message: this.message,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/**
 * A component called against its contract: an option out of range, a method in a state that
 * does not allow it, a value the caller should have checked. Always local, always a bug in
 * the caller (the message names the component and what was wrong).
 */
export class MisuseError extends HallwayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MISUSE", message, { ...options, origin: "local" });
    this.name = "MisuseError";
  }
}

/** Any thrown value as a HallwayError; unknown errors become INTERNAL with a one-line message. */
export function asHallwayError(err: unknown): HallwayError {
  if (err instanceof HallwayError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HallwayError("INTERNAL", (message.split("\n")[0] ?? "internal error").slice(0, 300), {
    cause: err,
  });
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** The result of a total decoder: a value, or a typed error to count and drop. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: WireError };

export interface WireError {
  code: ErrorCode;
  detail: string;
}

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ErrorCode, detail: string): Decoded<T> {
  return { ok: false, error: { code, detail } };
}
