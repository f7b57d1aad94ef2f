/**
 * What the registry's parts share: a client's session as the registry keeps it, the answer of
 * a request that waits for a group commit, and the small formatting helpers of its messages.
 */

import type { HostedConnection } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import type { ChatMessage } from "../protocol/control.js";
import type { AuditEvent, StoredMessage } from "./store/store.js";

export type LogLevel = "info" | "warn" | "error";
export const LOG_LEVELS: readonly LogLevel[] = ["info", "warn", "error"];

/** A log line and how much it matters (info: comings and goings; warn: refusals, failures). */
export type Log = (line: string, level?: LogLevel) => void;

/** What the registry's abuse limits did, for logs and tests. */
export interface AbuseCounters {
  rateLimited: number;
  terminated: number;
  blocked: number;
  failedLogins: number;
  throttledLogins: number;
  replaced: number;
  anonymousReaped: number;
  anonymousRefused: number;
}

export interface ClientSession {
  conn: HostedConnection;
  user: string | undefined;
  heartbeatMs: number;
  lastHeardAt: number;
  addresses: Address[];
  queue: Promise<void>;
  timingOut?: boolean;
  /** The user said they stepped away; the session stays live and reachable. */
  away: boolean;
  /** Set when the registry ends the session itself: what goes to the audit log then. */
  ending?: { event: AuditEvent; detail: string };
  /** Registrations and logins of this session under way (waiting for scrypt, say). */
  accountWork: number;
  /** When its live entry in `heartbeats` comes up (undefined: none). */
  heartbeatCheckAt?: number;
  /** Settles when the session's appends so far have committed (or failed). */
  appended: Promise<void>;
}

/**
 * The answer of a request whose work waits for a group commit. The request has taken its
 * place in the batch; the session's next request need not wait for the commit.
 */
export class Later {
  constructor(readonly answer: Promise<unknown>) {}
}

export function fmt(a: Address): string {
  return `${a.host}:${a.port}`;
}

/** `1 s`, `90 s`: how long, for messages. */
export function seconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))} s`;
}

export function dedupe(addresses: Address[]): Address[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const k = fmt(a);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function toChat(m: StoredMessage): ChatMessage {
  return { id: m.id, from: m.from, to: m.to, text: m.body, sentAt: m.sentAt };
}
