/**
 * PathFinder: runs connection attempts' Punchers (`traversal/puncher.ts`, sans-IO) on a live
 * socket (a `ProbeHost`: `UdpHost`). It owns their timers, routes incoming probes to the
 * attempt whose token they carry, and sends what the punchers ask for, low-TTL openers
 * included. Time, timers and the punchers' random bytes are the runtime's.
 *
 * Sends happen from its own callbacks (the runtime's timers and `soon`), never inside the
 * socket's message handling, because a low TTL applies to the whole socket for one tick
 * (see `UdpHost.sendRaw`).
 *
 * After an attempt has a result it lingers for `lingerMs`, still answering the far side's
 * requests: the far side may not have heard a response yet.
 */

import type { Address } from "../protocol/address.js";
import { decodeProbe, PROBE_TOKEN_BYTES } from "../protocol/probe.js";
import type { Runtime, Timer } from "../runtime.js";
import type { RemoteCandidate } from "../traversal/candidates.js";
import { Puncher, type PuncherOptions, type PunchResult } from "../traversal/puncher.js";

/**
 * What the path finder needs of the socket adapter (`net/udp-host.ts`'s `UdpHost` is one): a
 * send outside any session, with a TTL for the openers.
 */
export interface ProbeHost {
  sendRaw(bytes: Uint8Array, to: Address, ttl?: number): void;
}

export interface PathFinderOptions {
  runtime: Runtime;
  /** How long a decided attempt keeps answering probes, default 3000 ms. */
  lingerMs?: number;
  /** Puncher tuning (tests); the defaults are the documented ones. */
  puncher?: Pick<PuncherOptions, "paceMs" | "roundGapMs" | "lowTtl" | "openerLeadMs" | "deadlineMs">;
}

interface Attempt {
  puncher: Puncher;
  done: (r: PunchResult) => void;
  timer: Timer | undefined;
  decided: boolean;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export class PathFinder {
  private readonly attempts = new Map<string, Attempt>();
  /** Probes for no known attempt, or malformed. */
  dropped = 0;

  constructor(
    private readonly host: ProbeHost,
    private readonly opts: PathFinderOptions,
  ) {}

  /**
   * Starts an attempt; resolves with the first path that answered, or a timeout.
   * `unverifiedBudgetBytes` caps what goes to candidates nobody observed (puncher.ts).
   */
  start(
    token: Uint8Array,
    candidates: readonly RemoteCandidate[],
    limits: { unverifiedBudgetBytes?: number } = {},
  ): Promise<PunchResult> {
    if (token.length !== PROBE_TOKEN_BYTES) return Promise.resolve({ ok: false, reason: "timeout" });
    const id = hex(token);
    this.finish(id);
    return new Promise((resolve) => {
      const puncher = new Puncher({
        token,
        candidates,
        now: this.opts.runtime.now(),
        random: (n) => this.opts.runtime.random(n),
        ...this.opts.puncher,
        ...limits,
      });
      this.attempts.set(id, { puncher, done: resolve, timer: undefined, decided: false });
      this.opts.runtime.soon(() => this.drive(id));
    });
  }

  /** For `UdpHostHandlers.onProbe`. */
  handleProbe(bytes: Uint8Array, from: Address): boolean {
    const probe = decodeProbe(bytes);
    const attempt = probe.ok ? this.attempts.get(hex(probe.value.token)) : undefined;
    if (!probe.ok || !attempt) {
      this.dropped++;
      return true;
    }
    attempt.puncher.handleProbe(probe.value, from, this.opts.runtime.now());
    const id = hex(probe.value.token);
    this.opts.runtime.soon(() => this.drive(id));
    return true;
  }

  /** Forgets every attempt (on shutdown). */
  stop(): void {
    for (const id of [...this.attempts.keys()]) this.finish(id);
  }

  private drive(id: string): void {
    const attempt = this.attempts.get(id);
    if (!attempt) return;
    const { puncher } = attempt;
    const runtime = this.opts.runtime;
    const t = runtime.now();
    const due = puncher.pollTimeout();
    if (due !== undefined && due <= t) puncher.handleTimeout(t);
    for (let out = puncher.pollTransmit(); out; out = puncher.pollTransmit()) {
      this.host.sendRaw(out.bytes, out.to, out.ttl);
    }
    const result = puncher.result;
    if (result && !attempt.decided) {
      attempt.decided = true;
      attempt.done(result);
      attempt.timer?.cancel();
      attempt.timer = runtime.after(this.opts.lingerMs ?? 3000, () => this.finish(id), { weak: true });
      return;
    }
    if (attempt.decided) return;
    const next = puncher.pollTimeout();
    attempt.timer?.cancel();
    attempt.timer =
      next === undefined
        ? undefined
        : runtime.after(Math.max(0, next - runtime.now()), () => this.drive(id), { weak: true });
  }

  private finish(id: string): void {
    const attempt = this.attempts.get(id);
    if (!attempt) return;
    attempt.timer?.cancel();
    this.attempts.delete(id);
    if (!attempt.decided) attempt.done({ ok: false, reason: "timeout" });
  }
}
