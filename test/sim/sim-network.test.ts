/**
 * The simulated network is test infrastructure that other suites rely on: check that its
 * faults happen at the configured rates, that time only moves through events, and that a run
 * is a pure function of its seed.
 */

import { describe, expect, it } from "vitest";
import { Prng } from "./prng.js";
import { type LinkOptions, type NodeId, SimNetwork, type SimNode, type Transmit } from "./sim-network.js";

/** Sends `count` numbered datagrams at start, one every `intervalMs`, and records arrivals. */
class Pinger implements SimNode {
  readonly arrivals: Array<{ n: number; at: number; bytes: Uint8Array }> = [];
  private sent = 0;
  private nextAt: number;

  constructor(
    private readonly to: NodeId,
    private readonly count: number,
    private readonly intervalMs: number,
    startAt = 0,
    private readonly size = 100,
  ) {
    this.nextAt = startAt;
  }

  handleDatagram(bytes: Uint8Array, _from: NodeId, now: number): void {
    this.arrivals.push({ n: new DataView(bytes.buffer, bytes.byteOffset).getUint32(0), at: now, bytes });
  }

  handleTimeout(_now: number): void {}

  pollTransmit(now: number): Transmit | undefined {
    if (this.sent >= this.count || now < this.nextAt) return undefined;
    const bytes = new Uint8Array(this.size);
    new DataView(bytes.buffer).setUint32(0, this.sent++);
    this.nextAt += this.intervalMs;
    return { to: this.to, bytes };
  }

  pollTimeout(): number | undefined {
    return this.sent < this.count ? this.nextAt : undefined;
  }
}

function world(seed: number, link: LinkOptions, count = 10_000, intervalMs = 1) {
  const net = new SimNetwork({ seed, link });
  const a = new Pinger("b", count, intervalMs);
  const b = new Pinger("a", 0, 1);
  net.addNode("a", a);
  net.addNode("b", b);
  return { net, a, b };
}

describe("Prng", () => {
  it("is deterministic per seed and stays in range", () => {
    const x = new Prng(1234);
    const y = new Prng(1234);
    const xs = Array.from({ length: 1000 }, () => x.next());
    expect(Array.from({ length: 1000 }, () => y.next())).toEqual(xs);
    expect(xs.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Prng(1235).next()).not.toBe(xs[0]);
    const ints = Array.from({ length: 1000 }, () => x.int(7));
    expect(new Set(ints)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6]));
    expect(x.chance(0)).toBe(false);
    expect(x.chance(1)).toBe(true);
  });
});

describe("SimNetwork", () => {
  it("delivers after the base delay, advancing virtual time only through events", () => {
    const { net, b } = world(1, { delayMs: 5 }, 3, 10);
    net.run(100);
    expect(b.arrivals.map((x) => [x.n, x.at])).toEqual([
      [0, 5],
      [1, 15],
      [2, 25],
    ]);
    expect(net.now).toBe(100);
  });

  for (const seed of [1, 2]) {
    it(`loses, duplicates, reorders and corrupts at about the configured rates seed=${seed}`, () => {
      const { net, b } = world(seed, {
        delayMs: 1,
        jitterMs: 0,
        lossRate: 0.3,
        duplicateRate: 0.1,
        reorderRate: 0.2,
        reorderDelayMs: 50,
        corruptRate: 0.05,
      });
      net.run(100_000);
      const s = net.stats;
      const msg = `seed=${seed} ${JSON.stringify(s)}`;
      expect(s.sent, msg).toBe(10_000);
      expect(s.lost / s.sent, msg).toBeGreaterThan(0.27);
      expect(s.lost / s.sent, msg).toBeLessThan(0.33);
      expect(s.duplicated / (s.sent - s.lost), msg).toBeCloseTo(0.1, 1);
      expect(b.arrivals.length, msg).toBe(s.sent - s.lost + s.duplicated);
      let outOfOrder = 0;
      for (let i = 1; i < b.arrivals.length; i++) {
        if ((b.arrivals[i]?.n as number) < (b.arrivals[i - 1]?.n as number)) outOfOrder++;
      }
      expect(outOfOrder, msg).toBeGreaterThan(500);
      const damaged = b.arrivals.filter((x) => x.bytes.slice(4).some((v) => v !== 0)).length;
      expect(damaged, msg).toBeGreaterThan(0);
      expect(damaged, msg).toBeLessThanOrEqual(s.corrupted);
    });
  }

  it("is a pure function of its seed", () => {
    const run = (seed: number) => {
      const { net, b } = world(seed, { lossRate: 0.2, jitterMs: 3, duplicateRate: 0.1 }, 2000);
      net.run(10_000);
      return b.arrivals.map((x) => `${x.n}@${x.at}`).join(",");
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });

  it("serialises at the link bandwidth and tail-drops beyond the queue limit", () => {
    // 100-byte datagrams at 100 kB/s take 1 ms each; 50 sent at once queue up behind each other.
    const net = new SimNetwork({
      seed: 1,
      link: { delayMs: 0, bandwidthBytesPerSecond: 100_000, queueLimitBytes: 1000 },
    });
    const a = new Pinger("b", 50, 0);
    const b = new Pinger("a", 0, 1);
    net.addNode("a", a);
    net.addNode("b", b);
    net.run(1000);
    expect(b.arrivals.map((x) => x.at).slice(0, 3)).toEqual([1, 2, 3]);
    expect(b.arrivals.length).toBe(11); // one on the wire plus 1000 bytes of queue
    expect(net.stats.queueDropped).toBe(39);
  });

  it("applies the deterministic drop hook per directional link", () => {
    const { net, b } = world(1, {}, 10, 1);
    net.setLink("a", "b", { drop: (d) => d.index % 2 === 1 });
    net.run(100);
    expect(b.arrivals.map((x) => x.n)).toEqual([0, 2, 4, 6, 8]);
    expect(net.stats.dropped).toBe(5);
  });

  it("counts datagrams to unknown nodes as unroutable", () => {
    const net = new SimNetwork({ seed: 1 });
    net.addNode("a", new Pinger("nowhere", 3, 1));
    net.run(10);
    expect(net.stats.unroutable).toBe(3);
  });

  it("runUntil stops as soon as the condition holds", () => {
    const { net, b } = world(1, { delayMs: 2 }, 100, 1);
    expect(net.runUntil(() => b.arrivals.length === 10, 1000)).toBe(true);
    expect(net.now).toBe(11);
    expect(net.runUntil(() => false, 2000)).toBe(false);
    expect(net.now).toBe(2000);
  });

  it("reports a livelocked node instead of hanging", () => {
    const stuck: SimNode = {
      handleDatagram() {},
      handleTimeout() {},
      pollTransmit: () => undefined,
      pollTimeout: () => 5,
    };
    const net = new SimNetwork({ seed: 99, maxStepsWithoutProgress: 100 });
    net.addNode("stuck", stuck);
    expect(() => net.run(10)).toThrow(/seed=99.*livelock/);
  });
});
