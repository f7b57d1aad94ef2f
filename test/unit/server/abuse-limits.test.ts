/**
 * The registry's abuse-limit cores, sans-IO: every one takes the time as an argument, so
 * these tests drive them with a fake clock and check exact decisions.
 */

import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { AnonymousSessions } from "../../../src/server/anonymous-sessions.js";
import { Blocklist } from "../../../src/server/blocklist.js";
import { judgeCandidate, screenCandidates } from "../../../src/server/candidate-policy.js";
import { CommandLimits } from "../../../src/server/command-limits.js";
import { commandClass, DEFAULT_LIMITS, resolveLimits } from "../../../src/server/limits.js";
import { LoginThrottle } from "../../../src/server/login-throttle.js";
import { PasswordChecks } from "../../../src/server/password-checks.js";
import { TokenBuckets } from "../../../src/server/token-buckets.js";

describe("token buckets", () => {
  it("spend the burst, then refill at the rate, and say when the next token comes", () => {
    const b = new TokenBuckets({ perSecond: 10, burst: 3 });
    for (let i = 0; i < 3; i++) expect(b.take("k", 0)).toEqual({ ok: true });
    expect(b.take("k", 0)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(b.take("k", 50)).toEqual({ ok: false, retryAfterMs: 50 });
    expect(b.take("k", 100)).toEqual({ ok: true });
    // Another key has its own bucket.
    expect(b.take("other", 100)).toEqual({ ok: true });
  });

  it("forget the least recently used key beyond the bound (it starts full again)", () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 1 }, 2);
    expect(b.take("a", 0).ok).toBe(true);
    expect(b.take("a", 0).ok).toBe(false);
    b.take("b", 0);
    b.take("c", 0);
    expect(b.take("a", 0).ok).toBe(true);
  });
});

describe("command limits", () => {
  it("charge per class and key, and terminate only after strikes pile up", () => {
    const limits = new CommandLimits({
      commands: { ...DEFAULT_LIMITS.commands, read: { perSecond: 1, burst: 2 } },
      abuse: { ...DEFAULT_LIMITS.abuse, strikes: 5, strikeDecayPerSecond: 1 },
    });
    expect(limits.charge("u:alice", "read", 0).ok).toBe(true);
    expect(limits.charge("u:alice", "read", 0).ok).toBe(true);
    expect(limits.charge("u:alice", "read", 0)).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(limits.charge("u:alice", "write", 0).ok).toBe(true);
    expect(limits.charge("u:bob", "read", 0).ok).toBe(true);
    // A client that honours the retry-after: a strike or two now and then never terminates.
    for (let t = 0; t < 60_000; t += 1000) expect(limits.strike("u:alice", t)).toBe(false);
    // One that keeps pushing gets there.
    const verdicts = [0, 1, 2, 3, 4].map(() => limits.strike("u:mallory", 100_000));
    expect(verdicts).toEqual([false, false, false, false, true]);
    limits.forgive("u:mallory");
    expect(limits.strike("u:mallory", 100_010)).toBe(false);
  });

  it("class every request type", () => {
    expect(commandClass("login")).toBe("account");
    expect(commandClass("register")).toBe("account");
    expect(commandClass("offline.send")).toBe("message");
    expect(commandClass("group.send")).toBe("message");
    expect(commandClass("history.batch")).toBe("history");
    expect(commandClass("search")).toBe("search");
    expect(commandClass("users")).toBe("read");
    expect(commandClass("heartbeat")).toBe("read");
    expect(commandClass("friend.request")).toBe("write");
    expect(commandClass("connect")).toBe("write");
    expect(commandClass("no.such.thing")).toBe("write");
    expect(commandClass("logout")).toBeUndefined();
  });
});

describe("blocklist", () => {
  const abuse = { ...DEFAULT_LIMITS.abuse, blockMs: 1000, maxBlockMs: 5000, forgetOffencesAfterMs: 60_000 };

  it("blocks the address and port only, for a time that doubles with repeats", () => {
    const b = new Blocklist(abuse);
    const a = { host: "10.0.0.5", port: 4000 };
    expect(b.block(a, "mallory", 0)).toBe(1000);
    expect(b.isBlocked("10.0.0.5", 4000, 999)).toBe(true);
    expect(b.isBlocked("10.0.0.5", 4001, 10)).toBe(false);
    expect(b.isBlocked("10.0.0.6", 4000, 10)).toBe(false);
    expect(b.isBlocked("10.0.0.5", 4000, 1000)).toBe(false);
    // The user may not log in again meanwhile, from anywhere.
    expect(b.userBlockedFor("mallory", 400)).toBe(600);
    expect(b.userBlockedFor("mallory", 1000)).toBe(0);
    expect(b.userBlockedFor("alice", 400)).toBe(0);
    // The same user from another port of another host: a repeat.
    expect(b.block({ host: "10.0.0.7", port: 1 }, "mallory", 2000)).toBe(2000);
    // The same host, other (anonymous) sessions: repeats of the host.
    expect(b.block({ host: "10.0.0.7", port: 2 }, undefined, 3000)).toBe(2000);
    expect(b.block({ host: "10.0.0.7", port: 3 }, undefined, 4000)).toBe(4000);
    expect(b.block({ host: "10.0.0.7", port: 5 }, undefined, 5000)).toBe(5000); // capped
    // Offences are forgotten after a quiet day (here a minute).
    expect(b.block({ host: "10.0.0.7", port: 4 }, undefined, 100_000)).toBe(1000);
  });
});

describe("login throttle", () => {
  const limits = {
    ...DEFAULT_LIMITS.logins,
    freeFailures: 3,
    freeFailuresPerHost: 10,
    freeFailuresPerAccount: 6,
    firstDelayMs: 1000,
    maxDelayMs: 8000,
    forgetAfterMs: 60_000,
  };

  it("makes guesses wait, growing, from the guessing host only", () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 3; i++) {
      expect(t.waitMs("alice", "10.0.0.9", false, i)).toBe(0);
      t.failed("alice", "10.0.0.9", i);
    }
    expect(t.waitMs("alice", "10.0.0.9", false, 2)).toBe(1000);
    expect(t.waitMs("alice", "10.0.0.9", false, 1002)).toBe(0);
    t.failed("alice", "10.0.0.9", 1002);
    expect(t.waitMs("alice", "10.0.0.9", false, 1002)).toBe(2000);
    t.failed("alice", "10.0.0.9", 3002);
    t.failed("alice", "10.0.0.9", 3003);
    expect(t.waitMs("alice", "10.0.0.9", false, 3003)).toBe(8000); // capped at maxDelayMs
    // The owner on another host: not slowed (the account count is 6 only now).
    expect(t.waitMs("alice", "10.0.0.1", false, 3003)).toBeGreaterThan(0);
    // A known device is never made to wait.
    expect(t.waitMs("alice", "10.0.0.9", true, 3003)).toBe(0);
    // Another account from the guessing host: the host's allowance (10) is not used up.
    expect(t.waitMs("bob", "10.0.0.9", false, 3003)).toBe(0);
  });

  it("lets the owner's host in while another host guesses, until the account count is spent", () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) t.failed("alice", "10.0.0.9", i);
    expect(t.waitMs("alice", "10.0.0.1", false, 10)).toBe(0);
    t.failed("alice", "10.0.0.9", 11);
    // Six failures on the account: unknown devices wait everywhere, known ones never.
    expect(t.waitMs("alice", "10.0.0.1", false, 12)).toBeGreaterThan(0);
    expect(t.waitMs("alice", "10.0.0.1", true, 12)).toBe(0);
    // A known device's success clears the account's count.
    t.succeeded("alice", "10.0.0.1", true);
    expect(t.waitMs("alice", "10.0.0.1", false, 13)).toBe(0);
  });

  it("forgets failures after a quiet period", () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) t.failed("alice", "10.0.0.9", i);
    expect(t.waitMs("alice", "10.0.0.9", false, 5)).toBeGreaterThan(0);
    expect(t.waitMs("alice", "10.0.0.9", false, 60_010)).toBe(0);
    expect(t.failuresOf("alice", "10.0.0.9", 60_010)).toBe(0);
  });
});

describe("password checks", () => {
  interface Gate {
    promise: Promise<void>;
    open: () => void;
  }
  const gate = (): Gate => {
    let open = () => {};
    const promise = new Promise<void>((r) => {
      open = r;
    });
    return { promise, open };
  };

  it("run at most `concurrent` at once, one host at a time in turn", async () => {
    const checks = new PasswordChecks(1, 10);
    const order: string[] = [];
    const gates: Gate[] = [];
    const job = (name: string) => () => {
      order.push(name);
      const g = gate();
      gates.push(g);
      return g.promise;
    };
    const all = [
      checks.run("guesser", () => true, job("g1")),
      checks.run("guesser", () => true, job("g2")),
      checks.run("guesser", () => true, job("g3")),
      checks.run("owner", () => true, job("o1")),
    ];
    for (let i = 0; i < 4; i++) {
      await Promise.resolve();
      expect(order).toHaveLength(i + 1);
      gates[i]?.open();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    // g1 ran at once and g2 was queued first; then the owner comes before the guesser's third.
    expect(order).toEqual(["g1", "g2", "o1", "g3"]);
  });

  it("drop a check whose session went away before its turn, and refuse a long queue", async () => {
    const checks = new PasswordChecks(1, 1);
    const first = gate();
    let ran = 0;
    const running = checks.run(
      "h",
      () => true,
      () => first.promise,
    );
    let alive = true;
    const queued = checks.run(
      "h",
      () => alive,
      async () => {
        ran++;
      },
    );
    const refused = checks.run(
      "h",
      () => true,
      async () => {},
    );
    await expect(refused).rejects.toMatchObject({ code: "RATE_LIMITED" });
    alive = false;
    first.open();
    await running;
    await expect(queued).rejects.toBeInstanceOf(HallwayError);
    expect(ran).toBe(0);
    expect(checks.dropped).toBe(1);
  });
});

describe("anonymous sessions", () => {
  it("are due at their deadline unless they logged in, and capped per host", () => {
    const anon = new AnonymousSessions<number>({ loginWithinMs: 1000, perHost: 2 });
    expect(anon.add(1, "10.0.0.1", 0)).toBe(true);
    expect(anon.add(2, "10.0.0.1", 100)).toBe(true);
    expect(anon.add(3, "10.0.0.1", 200)).toBe(false);
    expect(anon.add(4, "10.0.0.2", 200)).toBe(true);
    anon.remove(2); // logged in
    expect(anon.add(5, "10.0.0.1", 300)).toBe(true);
    expect(anon.due(999)).toEqual([]);
    expect(anon.due(1000)).toEqual([1]);
    expect(anon.due(1300)).toEqual([4, 5]);
    expect(anon.size).toBe(0);
    // Another round for a session still logging in, even at the cap.
    expect(anon.add(6, "10.0.0.3", 2000)).toBe(true);
    expect(anon.add(7, "10.0.0.3", 2000)).toBe(true);
    expect(anon.add(8, "10.0.0.3", 2000)).toBe(false);
    expect(anon.due(3000)).toEqual([6, 7]);
    expect(anon.add(6, "10.0.0.3", 3000, true)).toBe(true);
    expect(anon.add(7, "10.0.0.3", 3000, true)).toBe(true);
    expect(anon.add(9, "10.0.0.3", 3000, true)).toBe(true);
    expect(anon.due(4000)).toEqual([6, 7, 9]);
  });
});

describe("candidate policy", () => {
  const natted = { host: "198.51.100.7", port: 40000 };
  it("keeps observed, same-prefix, private and (on loopback) loopback addresses", () => {
    expect(judgeCandidate({ host: "198.51.100.7", port: 5000 }, natted)).toBe("observed");
    expect(judgeCandidate({ host: "198.51.100.9", port: 5000 }, natted)).toBe("same-prefix");
    expect(judgeCandidate({ host: "192.168.1.20", port: 5000 }, natted)).toBe("private");
    expect(judgeCandidate({ host: "10.203.11.2", port: 5000 }, natted)).toBe("private");
    expect(judgeCandidate({ host: "fd03:11::2", port: 5000 }, natted)).toBe("private");
    expect(judgeCandidate({ host: "127.0.0.5", port: 5000 }, { host: "127.0.0.1", port: 1 })).toBe(
      "loopback",
    );
    expect(judgeCandidate({ host: "::ffff:198.51.100.7", port: 1 }, natted)).toBe("observed");
  });

  it("refuses public addresses the registry never saw, and nonsense", () => {
    for (const host of [
      "203.0.113.5",
      "8.8.8.8",
      "2001:db8::5",
      "127.0.0.1",
      "::1",
      "224.0.0.251",
      "0.0.0.0",
      "fe80::1",
      "255.255.255.255",
    ]) {
      expect(judgeCandidate({ host, port: 5000 }, natted), host).toBe("refused");
    }
    const { accepted, refused } = screenCandidates(
      [
        { host: "192.168.1.20", port: 1 },
        { host: "203.0.113.5", port: 1 },
      ],
      natted,
    );
    expect(accepted).toEqual([{ host: "192.168.1.20", port: 1 }]);
    expect(refused).toEqual([{ host: "203.0.113.5", port: 1 }]);
  });
});

describe("limits file", () => {
  it("overrides fields and keeps the rest", () => {
    const l = resolveLimits({ commands: { read: { perSecond: 5 } }, quotas: { offlinePerRecipient: 10 } });
    expect(l.commands.read).toEqual({ perSecond: 5, burst: 200 });
    expect(l.commands.write).toEqual(DEFAULT_LIMITS.commands.write);
    expect(l.quotas.offlinePerRecipient).toBe(10);
  });

  it("names the field of a bad value", () => {
    expect(() => resolveLimits({ commands: { read: { perSecond: -1 } } })).toThrow(
      /commands\.read\.perSecond/,
    );
    expect(() => resolveLimits({ nope: 1 })).toThrow(/limits/);
    try {
      resolveLimits({ abuse: { blockMs: 10, maxBlockMs: 5 } });
    } catch (err) {
      expect((err as HallwayError).code).toBe("CLI_BAD_ARGS");
    }
  });
});
