/**
 * The registry's abuse limits (docs/security.md): what each kind of request may cost, when a
 * session is ended and its address blocked, how failed logins are throttled, how many stored
 * messages and requests one recipient may be sent, how long a session may stay anonymous.
 *
 * Every number has a default an office never reaches in normal use; `hallway server --limits
 * FILE` overrides any of them with a JSON file of the same shape (each field optional). The
 * file is checked field by field: a bad value is `CLI_BAD_ARGS` naming the field.
 */

import { z } from "zod";
import { HallwayError } from "../errors.js";

/** Request classes, each with a token bucket per user (per session before login). */
export const COMMAND_CLASSES = ["read", "write", "search", "message", "history", "account"] as const;
export type CommandClass = (typeof COMMAND_CLASSES)[number];

const rate = z.number().positive().max(1_000_000);
const count = z.number().int().min(1).max(100_000_000);
const ms = z
  .number()
  .int()
  .min(1)
  .max(7 * 24 * 3_600_000);

const bucket = z.object({ perSecond: rate, burst: count }).strict();
export type BucketLimits = z.infer<typeof bucket>;

const limitsSchema = z
  .object({
    /** Token buckets per request class; see `commandClass` for which request is which. */
    commands: z.object(
      Object.fromEntries(COMMAND_CLASSES.map((c) => [c, bucket])) as Record<CommandClass, typeof bucket>,
    ),
    /** Persistent abuse: rejected or malformed requests are strikes. */
    abuse: z
      .object({
        /** Strikes (decaying) at which the session is terminated and its address blocked. */
        strikes: count,
        /** How fast strikes are forgiven, per second. */
        strikeDecayPerSecond: rate,
        /** The first block of an address; each repeat (same user or host) doubles it. */
        blockMs: ms,
        maxBlockMs: ms,
        /** A host or user without an offence for this long starts again at `blockMs`. */
        forgetOffencesAfterMs: ms,
      })
      .strict(),
    /** Stored things waiting for one recipient, at most. */
    quotas: z
      .object({
        offlinePerRecipient: count,
        friendRequestsPerRecipient: count,
        joinRequestsPerGroup: count,
      })
      .strict(),
    logins: z
      .object({
        /** Failures per account and source host before each try waits. */
        freeFailures: count,
        /** Failures per source host (any account) before logins from there wait. */
        freeFailuresPerHost: count,
        /** Failures per account (any host) before logins from unknown devices wait. */
        freeFailuresPerAccount: count,
        /** The first wait; each further failure doubles it. */
        firstDelayMs: ms,
        maxDelayMs: ms,
        /** Failures are forgotten after this long without one. */
        forgetAfterMs: ms,
        /** Password checks (scrypt) running at once. */
        concurrentChecks: z.number().int().min(1).max(64),
        /** Password checks waiting per source host; beyond, `RATE_LIMITED`. */
        queuedChecksPerHost: count,
      })
      .strict(),
    anonymous: z
      .object({
        /** A session that has not logged in (or registered) by then is closed. */
        loginWithinMs: ms,
        /** Sessions not logged in, per source host. */
        perHost: count,
      })
      .strict(),
  })
  .strict();

export type Limits = z.infer<typeof limitsSchema>;

export const DEFAULT_LIMITS: Limits = {
  commands: {
    // users, lookup, friends, groups, history pages, profiles, heartbeats, acknowledgements
    read: { perSecond: 20, burst: 200 },
    // friend and group changes, profile.set, presence.set, connect
    write: { perSecond: 10, burst: 100 },
    // search, suggest
    search: { perSecond: 5, burst: 30 },
    // offline.send, group.send: messages the registry stores
    message: { perSecond: 20, burst: 200 },
    // history.append and history.batch (up to 100 entries each)
    history: { perSecond: 10, burst: 100 },
    // register, login: per session
    account: { perSecond: 1, burst: 5 },
  },
  abuse: {
    strikes: 100,
    strikeDecayPerSecond: 2,
    blockMs: 60_000,
    maxBlockMs: 3_600_000,
    forgetOffencesAfterMs: 86_400_000,
  },
  quotas: { offlinePerRecipient: 2000, friendRequestsPerRecipient: 500, joinRequestsPerGroup: 500 },
  logins: {
    freeFailures: 5,
    freeFailuresPerHost: 20,
    freeFailuresPerAccount: 20,
    firstDelayMs: 1000,
    maxDelayMs: 900_000,
    forgetAfterMs: 900_000,
    concurrentChecks: 2,
    queuedChecksPerHost: 4,
  },
  anonymous: { loginWithinMs: 10_000, perHost: 16 },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type LimitsOverrides = DeepPartial<Limits>;

function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (typeof base !== "object" || base === null || typeof over !== "object" || over === null) {
    return over as T;
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out as T;
}

/**
 * The defaults with `overrides` applied, checked. Unknown fields and bad values are
 * `CLI_BAD_ARGS` with the field's path.
 */
export function resolveLimits(overrides: unknown = {}): Limits {
  const parsed = limitsSchema.safeParse(merge(DEFAULT_LIMITS, overrides));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "limits";
    throw new HallwayError("CLI_BAD_ARGS", `limits: ${where}: ${issue?.message ?? "invalid"}`);
  }
  const l = parsed.data;
  if (l.abuse.maxBlockMs < l.abuse.blockMs) {
    throw new HallwayError("CLI_BAD_ARGS", "limits: abuse.maxBlockMs is below abuse.blockMs");
  }
  if (l.logins.maxDelayMs < l.logins.firstDelayMs) {
    throw new HallwayError("CLI_BAD_ARGS", "limits: logins.maxDelayMs is below logins.firstDelayMs");
  }
  return l;
}

/** Which class a request is charged to; undefined: not limited (logout). */
export function commandClass(t: string): CommandClass | undefined {
  switch (t) {
    case "logout":
      return undefined;
    case "register":
    case "login":
      return "account";
    case "search":
    case "suggest":
    case "history.search":
      return "search";
    case "offline.send":
    case "group.send":
      return "message";
    case "history.append":
    case "history.batch":
      return "history";
    case "heartbeat":
    case "users":
    case "lookup":
    case "history":
    case "friends":
    case "groups":
    case "group.history":
    case "profile.get":
    case "offline.ack":
    case "group.ack":
    case "notice.ack":
      return "read";
    default:
      // Every other request changes something: friends, groups, profile, presence, connect.
      // Unknown types land here too, so a stream of them is limited like writes.
      return "write";
  }
}
