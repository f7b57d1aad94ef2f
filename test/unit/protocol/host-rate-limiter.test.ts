import { describe, expect, it } from "vitest";
import { HostRateLimiter } from "../../../src/protocol/host-rate-limiter.js";

describe("HostRateLimiter", () => {
  it("allows a burst of `perSecond`, then refills at that rate", () => {
    const limiter = new HostRateLimiter(5);
    const taken = Array.from({ length: 7 }, () => limiter.take("10.0.0.1", 0));
    expect(taken).toEqual([true, true, true, true, true, false, false]);
    expect(limiter.take("10.0.0.1", 199)).toBe(false); // 0.995 of a token
    expect(limiter.take("10.0.0.1", 200)).toBe(true);
    expect(limiter.take("10.0.0.2", 200)).toBe(true); // hosts do not share a bucket
  });

  it("remembers only the most recently seen hosts", () => {
    const limiter = new HostRateLimiter(1, 2);
    expect(limiter.take("a", 0)).toBe(true);
    expect(limiter.take("b", 0)).toBe(true);
    expect(limiter.take("a", 0)).toBe(false); // a is now the most recent
    expect(limiter.take("c", 0)).toBe(true); // forgets b, the least recent
    expect(limiter.take("a", 0)).toBe(false);
    expect(limiter.take("b", 0)).toBe(true); // b starts over with a full bucket
  });
});

describe("HostRateLimiter with costs (the relay's byte budget)", () => {
  it("spends `cost` tokens from a burst of its own, and refuses without spending", () => {
    const limiter = new HostRateLimiter(1000, undefined, 3000);
    expect(limiter.take("alice", 0, 2000)).toBe(true);
    expect(limiter.take("alice", 0, 1500)).toBe(false); // 1000 left; nothing spent
    expect(limiter.take("alice", 0, 1000)).toBe(true);
    expect(limiter.take("alice", 500, 600)).toBe(false); // 500 refilled
    expect(limiter.take("alice", 600, 600)).toBe(true);
  });

  it("forgets a key: it starts over with a full burst", () => {
    const limiter = new HostRateLimiter(10, undefined, 100);
    expect(limiter.take("bob", 0, 100)).toBe(true);
    expect(limiter.take("bob", 0, 1)).toBe(false);
    limiter.forget("bob");
    expect(limiter.take("bob", 0, 100)).toBe(true);
  });
});
