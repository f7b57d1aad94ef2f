import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemRuntime } from "../../../src/net/system-runtime.js";
import { FifoDeadlines } from "../../../src/peer/fifo-deadlines.js";
import type { Runtime } from "../../../src/runtime.js";

/** The process's runtime on Vitest's fake timers, whose clock is the faked Date. */
const fakeTimed: Runtime = { ...systemRuntime, now: () => Date.now() };

describe("FifoDeadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("expires keys in the order they were set, with one timer for all", () => {
    const expired: string[] = [];
    const d = new FifoDeadlines<string>(1000, (k) => expired.push(k), fakeTimed);
    d.set("a");
    vi.advanceTimersByTime(300);
    d.set("b");
    d.set("c");
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(700);
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(300);
    expect(expired).toEqual(["a", "b", "c"]);
    expect(d.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("never expires a deleted key; a restarted key moves to the back", () => {
    const expired: string[] = [];
    const d = new FifoDeadlines<string>(1000, (k) => expired.push(k), fakeTimed);
    d.set("a");
    d.set("b");
    vi.advanceTimersByTime(500);
    expect(d.delete("a")).toBe(true);
    d.set("b"); // restarted: due at 1500
    vi.advanceTimersByTime(600);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(expired).toEqual(["b"]);
  });

  it("clear stops everything without calling back", () => {
    const expired: string[] = [];
    const d = new FifoDeadlines<string>(1000, (k) => expired.push(k), fakeTimed);
    d.set("a");
    d.clear();
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
