/**
 * PathMtu, the sans-IO path-MTU discovery and datagram-size policy (src/transport/path-mtu.ts):
 * the probe ladder, probe loss, the raise timer, the loss-based size choice with its evidence
 * rule, black-hole fallback, relayed paths and path changes. Explicit `now`, no network.
 */

import { describe, expect, it } from "vitest";
import { DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from "../../../src/protocol/limits.js";
import {
  BLACK_HOLE_TIMEOUTS,
  fragmentsOf,
  LADDER,
  MAX_PROBES,
  PathMtu,
  PMTU_RAISE_TIMER_MS,
} from "../../../src/transport/path-mtu.js";

/** Answers every probe at once, or only those up to `upTo` bytes; returns the sizes probed. */
function answerProbes(p: PathMtu, now: number, upTo = MAX_DATAGRAM_BYTES): number[] {
  const probed: number[] = [];
  for (let t = now; ; t += 1) {
    const probe = p.pollProbe(t);
    if (probe !== undefined) {
      probed.push(probe.datagramBytes);
      if (probe.datagramBytes <= upTo) p.handleProbeAck(probe.id, probe.datagramBytes, t);
      continue;
    }
    const due = p.pollTimeout();
    if (p.state !== "searching" || due === undefined) return probed;
    p.handleTimeout(due);
    t = due;
  }
}

/** Acknowledges `n` segments that filled datagrams of `datagramBytes`. */
function ackSegments(p: PathMtu, n: number, datagramBytes: number): void {
  for (let i = 0; i < n; i++) p.noteAcked(datagramBytes - 39);
}

describe("PathMtu: discovery", () => {
  it("starts at the base size and probes only once bulk data waits", () => {
    const p = new PathMtu();
    expect(p.datagramBytes).toBe(DEFAULT_DATAGRAM_BYTES);
    expect(p.pollProbe(0)).toBeUndefined();
    expect(p.pollTimeout()).toBeUndefined();
    p.startSearch(0);
    expect(p.state).toBe("searching");
    expect(p.pollProbe(0)).toMatchObject({ datagramBytes: 1472 });
  });

  it("climbs the ladder as probes are answered, to 64 KiB on a loopback", () => {
    const p = new PathMtu();
    p.linkMtuBytes = 65_536;
    p.startSearch(0);
    expect(answerProbes(p, 0)).toEqual(LADDER.slice(1));
    expect(p.state).toBe("complete");
    expect(p.stats.plpmtuBytes).toBe(MAX_DATAGRAM_BYTES);
    // Nothing fragments on a loopback: no evidence is needed to use the largest size.
    expect(p.datagramBytes).toBe(MAX_DATAGRAM_BYTES);
    expect(p.pollTimeout()).toBeUndefined(); // the top rung: nothing left to raise to
  });

  it("gives a size up after MAX_PROBES unanswered probes, and tries again after the raise timer", () => {
    const p = new PathMtu();
    p.linkMtuBytes = 65_536;
    p.startSearch(0);
    const probed = answerProbes(p, 0, 8192);
    expect(probed).toEqual([1472, 8192, ...Array(MAX_PROBES).fill(16_384)]);
    expect(p.state).toBe("complete");
    expect(p.stats.plpmtuBytes).toBe(8192);
    const raise = p.pollTimeout() as number;
    expect(raise).toBeGreaterThanOrEqual(PMTU_RAISE_TIMER_MS);
    p.handleTimeout(raise);
    expect(p.state).toBe("searching");
    expect(answerProbes(p, raise)).toEqual(LADDER.slice(3));
    expect(p.stats.plpmtuBytes).toBe(MAX_DATAGRAM_BYTES);
  });

  it("ignores an answer for another probe, or one that reports a datagram cut short", () => {
    const p = new PathMtu();
    p.startSearch(0);
    const probe = p.pollProbe(0) as { id: number; datagramBytes: number };
    p.handleProbeAck(probe.id + 1, probe.datagramBytes, 1);
    p.handleProbeAck(probe.id, probe.datagramBytes - 1, 1);
    expect(p.stats.plpmtuBytes).toBe(DEFAULT_DATAGRAM_BYTES);
    p.handleProbeAck(probe.id, probe.datagramBytes, 1);
    expect(p.stats.plpmtuBytes).toBe(1472);
  });

  it("never probes a relayed path, and a path change starts over from the base size", () => {
    const relayed = new PathMtu();
    relayed.disable(1183);
    relayed.startSearch(0);
    expect(relayed.pollProbe(0)).toBeUndefined();
    expect(relayed.datagramBytes).toBe(1183);
    relayed.noteTimeout(60_000, 1);
    relayed.noteTimeout(60_000, 2);
    expect(relayed.datagramBytes).toBe(1183);

    const moved = new PathMtu();
    moved.linkMtuBytes = 65_536;
    moved.startSearch(0);
    answerProbes(moved, 0);
    moved.reset(100, true);
    expect(moved.datagramBytes).toBe(DEFAULT_DATAGRAM_BYTES);
    expect(moved.pollProbe(100)).toMatchObject({ datagramBytes: 1472 });
  });
});

describe("PathMtu: which proven size to use", () => {
  it("counts fragments the way IPv4 cuts them", () => {
    expect(fragmentsOf(1472)).toBe(1);
    expect(fragmentsOf(1473)).toBe(2);
    expect(fragmentsOf(8192)).toBe(6);
    expect(fragmentsOf(MAX_DATAGRAM_BYTES)).toBe(45);
    expect(fragmentsOf(MAX_DATAGRAM_BYTES, 65_536)).toBe(1);
    expect(fragmentsOf(8192, 9000)).toBe(1);
  });

  it("on Ethernet, earns fragmented sizes with clean evidence, and gives them up as loss appears", () => {
    const p = new PathMtu();
    p.startSearch(0);
    answerProbes(p, 0);
    expect(p.stats.plpmtuBytes).toBe(MAX_DATAGRAM_BYTES);
    // No evidence yet: only what does not fragment.
    expect(p.datagramBytes).toBe(1472);
    ackSegments(p, 2_000, 1472);
    expect(p.datagramBytes).toBe(8192);
    ackSegments(p, 3_000, 8192);
    expect(p.datagramBytes).toBeGreaterThan(8192);
    for (let i = 0; i < 600; i++) ackSegments(p, 1, p.datagramBytes);
    expect(p.datagramBytes).toBe(MAX_DATAGRAM_BYTES);
    // 1 % of fragments lost (a datagram of k fragments is lost with probability 1 − 0.99^k):
    // fragmenting would waste several per cent of the link; back to 1,472.
    let debt = 0;
    for (let i = 0; i < 20_000; i++) {
      debt += 1 - 0.99 ** fragmentsOf(p.datagramBytes);
      if (debt >= 1) {
        debt -= 1;
        p.noteLost(p.datagramBytes - 39);
      } else {
        ackSegments(p, 1, p.datagramBytes);
      }
    }
    expect(p.datagramBytes).toBe(1472);
    expect(p.stats.fragmentLossRate).toBeGreaterThan(0.004);
  });

  it("drops to the base size after consecutive timeouts of large datagrams (a black hole), then searches again", () => {
    const p = new PathMtu();
    p.linkMtuBytes = 65_536;
    p.startSearch(0);
    answerProbes(p, 0);
    expect(p.datagramBytes).toBe(MAX_DATAGRAM_BYTES);
    // One timeout could be a stalled receiver; an ACK of a large datagram clears it.
    p.noteTimeout(60_000, 1000);
    p.noteAcked(60_000);
    for (let i = 1; i < BLACK_HOLE_TIMEOUTS; i++) p.noteTimeout(60_000, 1000 + i);
    expect(p.datagramBytes).toBe(MAX_DATAGRAM_BYTES);
    for (let i = 0; i < BLACK_HOLE_TIMEOUTS; i++) p.noteTimeout(60_000, 2000 + i);
    expect(p.datagramBytes).toBe(DEFAULT_DATAGRAM_BYTES);
    expect(p.stats.blackHoles).toBe(1);
    expect(p.state).toBe("searching");
    // Probes find what still works: here, nothing above 1,472 bytes.
    answerProbes(p, 3000, 1472);
    expect(p.stats.plpmtuBytes).toBe(1472);
    expect(p.datagramBytes).toBe(1472);
    // Timeouts of base-size datagrams are congestion or an outage, not a black hole.
    p.noteTimeout(1100, 9000);
    p.noteTimeout(1100, 9001);
    expect(p.stats.blackHoles).toBe(1);
  });
});

describe("PathMtu: a stall is not a black hole", () => {
  it("undoes the fall when a large segment sent before it is acknowledged after it", () => {
    const p = new PathMtu();
    p.linkMtuBytes = 65_536;
    p.startSearch(0);
    answerProbes(p, 0);
    for (let i = 0; i < BLACK_HOLE_TIMEOUTS; i++) p.noteTimeout(60_000, 1000 + i);
    expect(p.datagramBytes).toBe(DEFAULT_DATAGRAM_BYTES);
    // The receiver was only busy: its ACK for a 64 KiB segment comes in.
    p.noteAcked(60_000);
    expect(p.datagramBytes).toBe(MAX_DATAGRAM_BYTES);
    expect(p.stats).toMatchObject({ blackHoles: 0, undoneBlackHoles: 1, state: "complete" });
  });
});
