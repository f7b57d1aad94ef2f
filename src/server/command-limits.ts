/**
 * Per-user and per-session command limits (docs/security.md, "Command limits").
 *
 * Every request is charged to a token bucket of its class (`commandClass`), keyed by the
 * logged-in user, or by the session before login. Over the limit, the request is answered
 * `RATE_LIMITED` with the time until a token is back. Refused and malformed requests are
 * strikes; strikes decay with time, and a key whose strikes reach `abuse.strikes` is to be
 * terminated: a client that honours the retry-after collects a handful of strikes (the
 * requests it had in flight), one that keeps pushing collects one per request.
 *
 * Sans-IO: the caller passes `now` (milliseconds, monotonic). Memory is bounded per table.
 */

import { COMMAND_CLASSES, type CommandClass, type Limits } from "./limits.js";
import { DecayingScores, type Take, TokenBuckets } from "./token-buckets.js";

export class CommandLimits {
  private readonly buckets: Record<CommandClass, TokenBuckets>;
  private readonly strikes: DecayingScores;
  private readonly threshold: number;

  constructor(limits: Pick<Limits, "commands" | "abuse">) {
    this.buckets = Object.fromEntries(
      COMMAND_CLASSES.map((c) => [c, new TokenBuckets(limits.commands[c])]),
    ) as Record<CommandClass, TokenBuckets>;
    this.strikes = new DecayingScores(limits.abuse.strikeDecayPerSecond);
    this.threshold = limits.abuse.strikes;
  }

  /** Charges one request of `cls` to `key`. */
  charge(key: string, cls: CommandClass, now: number, cost = 1): Take {
    return this.buckets[cls].take(key, now, cost);
  }

  /** One strike against `key`; true when it has now earned termination. */
  strike(key: string, now: number, weight = 1): boolean {
    return this.strikes.add(key, now, weight) >= this.threshold;
  }

  /** Forgets the strikes of `key` (a terminated session's). */
  forgive(key: string): void {
    this.strikes.clear(key);
  }
}
