/**
 * `hallway server audit`: the admin reads the registry's audit log (logins, logouts,
 * timeouts, failed logins, replaced sessions, terminations, blocks), filtered by user, time
 * and event, as text lines or JSON lines. It opens the store like `export` does; with SQLite
 * it may run beside a live registry (WAL lets a reader in while the registry writes).
 */

import { HallwayError } from "../errors.js";
import { ensureDataDir } from "../net/data-dir.js";
import { openServerStore, type ServerStore } from "./index.js";
import { AUDIT_EVENTS, type AuditEntry, type AuditEvent } from "./store/index.js";

export interface AuditOptions {
  store: ServerStore;
  dataDir: string;
  user?: string;
  /** Milliseconds since the epoch; inclusive. */
  since?: number;
  /** Milliseconds since the epoch; exclusive. */
  until?: number;
  events?: readonly AuditEvent[];
  /** The newest this many entries that pass the filters (printed oldest first). */
  limit: number;
}

/** The entries, oldest first. */
export async function readAudit(opts: AuditOptions): Promise<AuditEntry[]> {
  const dir = ensureDataDir(opts.dataDir);
  const store = await openServerStore(opts.store, dir);
  await store.init();
  try {
    const newestFirst = await store.listAudit({
      limit: opts.limit,
      ...(opts.user === undefined ? {} : { user: opts.user.trim().toLowerCase() }),
      ...(opts.since === undefined ? {} : { since: opts.since }),
      ...(opts.until === undefined ? {} : { until: opts.until }),
      ...(opts.events === undefined ? {} : { events: opts.events }),
    });
    return newestFirst.reverse();
  } finally {
    await store.close();
  }
}

/** One line for people: time, event, user, address, detail. */
export function formatAuditLine(e: AuditEntry): string {
  const user = e.user === "" ? "-" : e.user;
  return [new Date(e.at).toISOString(), e.event.padEnd(12), user, e.address, e.detail ?? ""]
    .join("  ")
    .trimEnd();
}

/** One JSON line, the `--json` form: `action` is the audit event (`login_failed`, …). */
export function auditEvent(e: AuditEntry): Record<string, unknown> {
  const { event, ...rest } = e;
  return { event: "audit", action: event, ...rest };
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time for `--since`/`--until`: a duration ago (`90s`, `30m`, `12h`, `7d`), or a date or
 * date and time that `Date.parse` reads (`2025-03-01`, `2025-03-01T09:00:00Z`).
 */
export function parseAuditTime(text: string, now: number, flag: string): number {
  const t = text.trim();
  const rel = /^(\d+)\s*([smhd])$/.exec(t);
  if (rel) return now - Number(rel[1]) * (UNITS[rel[2] as string] as number);
  const abs = Date.parse(t);
  if (Number.isFinite(abs)) return abs;
  throw new HallwayError(
    "CLI_BAD_ARGS",
    `${flag} takes a duration ago (30m, 12h, 7d) or a date (2025-03-01, 2025-03-01T09:00:00Z), not '${text}'`,
  );
}

/** `--event login_failed,blocked`. */
export function parseAuditEvents(text: string): AuditEvent[] {
  const events = text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const unknown = events.filter((e) => !(AUDIT_EVENTS as readonly string[]).includes(e));
  if (events.length === 0 || unknown.length > 0) {
    throw new HallwayError(
      "CLI_BAD_ARGS",
      `--event takes a comma-separated list of ${AUDIT_EVENTS.join(", ")}${unknown.length > 0 ? `, not ${unknown.join(", ")}` : ""}`,
    );
  }
  return events as AuditEvent[];
}
