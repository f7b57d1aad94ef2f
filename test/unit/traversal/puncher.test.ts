import { describe, expect, it } from "vitest";
import type { Address } from "../../../src/protocol/address.js";
import { decodeProbe, encodeProbe, PROBE_BYTES } from "../../../src/protocol/probe.js";
import { type Candidate, rankCandidates } from "../../../src/traversal/candidates.js";
import { Puncher, type PuncherOptions, type PunchResult } from "../../../src/traversal/puncher.js";
import { NatSim, type NatSimPeer, SIM_PEER, type SimNatKind } from "../../sim/nat-sim.js";
import { Prng } from "../../sim/prng.js";

const TOKEN = new Uint8Array(16).fill(7);
const seq = () => {
  let n = 0;
  return (k: number) => new Uint8Array(k).map(() => ++n & 0xff);
};

function drain(p: Puncher) {
  const out = [];
  for (let t = p.pollTransmit(); t; t = p.pollTransmit()) out.push(t);
  return out;
}

function puncher(extra: Partial<PuncherOptions> = {}): Puncher {
  return new Puncher({
    token: TOKEN,
    now: 0,
    random: seq(),
    candidates: [
      { address: { host: "10.0.0.5", port: 1 }, kind: "lan" },
      { address: { host: "198.51.100.1", port: 2 }, kind: "punched" },
    ],
    ...extra,
  });
}

describe("Puncher schedule", () => {
  it("opens mappings with low-TTL probes first, then probes best-first paced 50 ms apart", () => {
    const p = puncher();
    const first = drain(p);
    // Only the non-LAN candidate gets an opener.
    expect(first.map((t) => [t.to.host, t.ttl])).toEqual([["198.51.100.1", 2]]);
    expect(p.pollTimeout()).toBe(100);
    p.handleTimeout(100);
    expect(drain(p).map((t) => [t.to.host, t.ttl])).toEqual([["10.0.0.5", undefined]]);
    expect(p.pollTimeout()).toBe(150);
    p.handleTimeout(150);
    expect(drain(p).map((t) => t.to.host)).toEqual(["198.51.100.1"]);
    expect(p.pollTimeout()).toBe(400); // a round ended: 50 ms pace + 200 ms gap
  });

  it("gives up at the deadline", () => {
    const p = puncher({ deadlineMs: 1000 });
    for (let t = p.pollTimeout(); t !== undefined; t = p.pollTimeout()) {
      p.handleTimeout(t);
      drain(p);
    }
    expect(p.result).toEqual({ ok: false, reason: "timeout" });
  });
});

describe("Puncher answers", () => {
  it("a response to a request it sent decides the path, with the round-trip time", () => {
    const p = puncher();
    drain(p);
    p.handleTimeout(100);
    const [req] = drain(p);
    const probe = decodeProbe(req?.bytes ?? new Uint8Array());
    if (!probe.ok) throw new Error("bad probe");
    p.handleProbe({ ...probe.value, type: "response" }, { host: "10.0.0.5", port: 1 }, 103);
    expect(p.result).toEqual({ ok: true, address: { host: "10.0.0.5", port: 1 }, kind: "lan", rttMs: 3 });
    expect(p.pollTimeout()).toBeUndefined();
  });

  it("ignores other tokens, unknown nonces and responses from elsewhere", () => {
    const p = puncher();
    drain(p);
    p.handleProbe(
      { type: "response", token: new Uint8Array(16), nonce: 1 },
      { host: "10.0.0.5", port: 1 },
      1,
    );
    p.handleProbe({ type: "response", token: TOKEN, nonce: 12345 }, { host: "10.0.0.5", port: 1 }, 1);
    p.handleProbe({ type: "response", token: TOKEN, nonce: 1 }, { host: "10.9.9.9", port: 1 }, 1);
    expect(p.result).toBeUndefined();
    expect(p.ignored).toBe(3);
  });

  it("answers a request with an equally long echo, and checks an unknown source at once", () => {
    const p = puncher();
    drain(p);
    const from = { host: "203.0.113.9", port: 4444 };
    p.handleProbe({ type: "request", token: TOKEN, nonce: 99 }, from, 10);
    const [answer, triggered] = drain(p);
    expect(answer?.to).toEqual(from);
    expect(answer?.bytes.length).toBe(PROBE_BYTES);
    expect(decodeProbe(answer?.bytes ?? new Uint8Array())).toEqual({
      ok: true,
      value: { type: "response", token: TOKEN, nonce: 99 },
    });
    expect(triggered?.to).toEqual(from);
    const req = decodeProbe(triggered?.bytes ?? new Uint8Array());
    if (!req.ok) throw new Error("bad probe");
    p.handleProbe({ ...req.value, type: "response" }, from, 12);
    expect(p.result).toMatchObject({ ok: true, address: from, kind: "punched" });
  });

  it("probe codec is total", () => {
    expect(decodeProbe(new Uint8Array(3)).ok).toBe(false);
    const bytes = encodeProbe({ type: "request", token: TOKEN, nonce: 0xffffffff });
    const bad = bytes.slice();
    bad[1] = 9;
    expect(decodeProbe(bad).ok).toBe(false);
    expect(decodeProbe(bytes)).toEqual({
      ok: true,
      value: { type: "request", token: TOKEN, nonce: 0xffffffff },
    });
  });
});

describe("rankCandidates", () => {
  it("orders lan, direct, punched; a srflx equal to a host address is a host path, loopback is lan", () => {
    const remote: Candidate[] = [
      { type: "srflx", address: { host: "198.51.100.1", port: 9 } },
      { type: "host", address: { host: "172.16.5.5", port: 9 } },
      { type: "host", address: { host: "10.0.0.5", port: 9 } },
      { type: "srflx", address: { host: "10.0.0.5", port: 9 } },
      { type: "srflx", address: { host: "127.0.0.1", port: 9 } },
    ];
    const ranked = rankCandidates(remote, [{ address: "10.0.0.1", netmask: "255.255.255.0" }]);
    // `observed`: the registry saw datagrams from it (a srflx), so probes to it are not budgeted.
    expect(ranked).toEqual([
      { address: { host: "10.0.0.5", port: 9 }, kind: "lan", observed: true },
      { address: { host: "127.0.0.1", port: 9 }, kind: "lan", observed: true },
      { address: { host: "172.16.5.5", port: 9 }, kind: "direct" },
      { address: { host: "198.51.100.1", port: 9 }, kind: "punched", observed: true },
    ]);
  });
});

/** Both peers' punchers on the NAT simulation, started `skewMs` apart as the registry's signals may be. */
function simulate(
  kinds: { a: SimNatKind; b: SimNatKind },
  seed: number,
  opts: { skewMs: number; lowTtl?: number },
) {
  const sim = new NatSim(kinds, seed);
  const prng = new Prng(seed ^ 0x5a5a);
  // What the registry would hand each side: the other's host and server-reflexive candidates.
  const candidatesOf = (side: "a" | "b"): Candidate[] => [
    { type: "host", address: sim.publicHost(side) },
    { type: "srflx", address: sim.reflexive(side) },
  ];
  const local = {
    a: [{ address: SIM_PEER.a.host, netmask: "255.255.255.0" }],
    b: [{ address: SIM_PEER.b.host, netmask: "255.255.255.0" }],
  };
  const make = (side: "a" | "b", start: number): { peer: NatSimPeer; puncher: () => Puncher | undefined } => {
    let p: Puncher | undefined;
    const other = side === "a" ? "b" : "a";
    const ensure = (now: number) => {
      if (!p && now >= start) {
        p = new Puncher({
          token: TOKEN,
          now,
          random: (n) => prng.bytes(n),
          candidates: rankCandidates(candidatesOf(other), local[side]),
          ...(opts.lowTtl !== undefined ? { lowTtl: opts.lowTtl } : {}),
        });
      }
      return p;
    };
    return {
      puncher: () => p,
      peer: {
        handle(bytes: Uint8Array, from: Address, now: number) {
          const probe = decodeProbe(bytes);
          if (probe.ok) ensure(now)?.handleProbe(probe.value, from, now);
        },
        poll(now: number) {
          const q = ensure(now);
          const out = [];
          for (let t = q?.pollTransmit(); t; t = q?.pollTransmit()) out.push(t);
          return out;
        },
        timeout: () => (p ? p.pollTimeout() : start),
        tick: (now: number) => ensure(now)?.handleTimeout(now),
      },
    };
  };
  const a = make("a", 0);
  const b = make("b", opts.skewMs);
  sim.run({ a: a.peer, b: b.peer }, 10_000, () => Boolean(a.puncher()?.result && b.puncher()?.result));
  return { a: a.puncher()?.result, b: b.puncher()?.result, sim };
}

const ok = (r: PunchResult | undefined) => r?.ok === true;

describe("Puncher through simulated NATs", () => {
  const seeds = [1, 2, 3, 4, 5];
  for (const seed of seeds) {
    it(`cone <-> cone punches through, with the registry's signals 40 ms apart (seed ${seed})`, () => {
      const r = simulate({ a: "cone", b: "cone" }, seed, { skewMs: 40 });
      expect(ok(r.a) && ok(r.b)).toBe(true);
      expect(r.a).toMatchObject({ kind: "punched" });
    });
  }

  it("without low-TTL openers the late side's mapping is stolen and cone <-> cone fails", () => {
    const r = simulate({ a: "cone", b: "cone" }, 1, { skewMs: 40, lowTtl: 0 });
    expect(ok(r.a) || ok(r.b)).toBe(false);
    expect(r.sim.droppedNat).toBeGreaterThan(0);
  });

  for (const other of ["none", "cone", "symmetric"] as const) {
    it(`none <-> ${other} connects (the NATed side reaches the public host directly)`, () => {
      const r = simulate({ a: "none", b: other }, 7, { skewMs: 20 });
      expect(ok(r.a) && ok(r.b)).toBe(true);
      expect(r.b).toMatchObject({ kind: "direct" });
    });
  }

  it("symmetric <-> symmetric finds no path and times out, leaving the relay", () => {
    const r = simulate({ a: "symmetric", b: "symmetric" }, 3, { skewMs: 10 });
    expect(r.a).toEqual({ ok: false, reason: "timeout" });
    expect(r.b).toEqual({ ok: false, reason: "timeout" });
  });
});

describe("Puncher probe budget (no reflection)", () => {
  const claimed = Array.from({ length: 16 }, (_, i) => ({
    address: { host: `192.168.7.${i + 10}`, port: 9 },
    kind: "direct" as const,
  }));
  const observed = {
    address: { host: "198.51.100.7", port: 4000 },
    kind: "punched" as const,
    observed: true,
  };

  function run(p: Puncher, answerFrom?: Address): Map<string, number> {
    const bytes = new Map<string, number>();
    for (let t: number | undefined = 0; t !== undefined; t = p.pollTimeout()) {
      p.handleTimeout(t);
      for (const out of drain(p)) {
        const k = `${out.to.host}:${out.to.port}`;
        bytes.set(k, (bytes.get(k) ?? 0) + out.bytes.length);
        const probe = decodeProbe(out.bytes);
        if (answerFrom && probe.ok && out.to.host === answerFrom.host && out.to.port === answerFrom.port) {
          // The candidate answers, but late: it stays in the schedule as a verified one.
          p.handleProbe({ ...probe.value, type: "response" }, out.to, t + 10_000);
        }
      }
    }
    return bytes;
  }

  it("spends at most the budget on candidates nobody observed, and keeps probing the observed one", () => {
    const p = new Puncher({
      token: TOKEN,
      now: 0,
      random: seq(),
      candidates: [...claimed, observed],
      unverifiedBudgetBytes: 100,
    });
    const bytes = run(p);
    const toClaimed = claimed.reduce((sum, c) => sum + (bytes.get(`${c.address.host}:9`) ?? 0), 0);
    expect(toClaimed).toBeLessThanOrEqual(100);
    expect(p.unverifiedBytes).toBe(toClaimed);
    expect(p.withheld).toBeGreaterThan(0);
    // Several rounds went to the observed address: the budget does not stop punching.
    expect(bytes.get("198.51.100.7:4000") ?? 0).toBeGreaterThan(4 * PROBE_BYTES);
  });

  it("counts triggered checks toward an unknown source against the budget", () => {
    const p = new Puncher({
      token: TOKEN,
      now: 0,
      random: seq(),
      candidates: [observed],
      unverifiedBudgetBytes: 0,
    });
    drain(p);
    const request = decodeProbe(encodeProbe({ type: "request", token: TOKEN, nonce: 1 }));
    if (!request.ok) throw new Error("probe");
    p.handleProbe(request.value, { host: "192.168.7.99", port: 5 }, 1);
    const out = drain(p);
    // The answer to the request (exactly as long) goes out; the triggered check does not.
    expect(out.map((t) => [t.to.host, decodeProbe(t.bytes).ok && decodeProbe(t.bytes)]).length).toBe(1);
    expect(out[0]?.bytes.length).toBe(PROBE_BYTES);
    expect(p.withheld).toBe(1);
  });

  it("without a budget, probes every candidate every round as before", () => {
    const p = new Puncher({ token: TOKEN, now: 0, random: seq(), candidates: [...claimed, observed] });
    const bytes = run(p);
    expect(bytes.get("192.168.7.10:9")).toBeGreaterThan(2 * PROBE_BYTES);
    expect(p.withheld).toBe(0);
  });

  it("ranks a srflx candidate as observed", () => {
    const ranked = rankCandidates(
      [
        { type: "host", address: { host: "192.168.7.10", port: 9 } },
        { type: "srflx", address: { host: "198.51.100.7", port: 4000 } },
      ],
      [],
    );
    expect(ranked.map((c) => c.observed === true)).toEqual([false, true]);
  });
});
