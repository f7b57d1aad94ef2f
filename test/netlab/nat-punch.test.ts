/**
 * NAT lab: the connectivity-check core on real sockets through real Linux NAT, for every
 * pair of NAT kinds. Each peer runs `fixtures/punch.mjs` (a UdpHost and a PathFinder from
 * dist/) on port 5000. The test plays the registry's part in the exchange: it takes each
 * side's host address and the server-reflexive address the registry reported by STUN, and
 * hands both sides the other's candidates and one token at the same moment.
 *
 * Also checked on the way: a STUN request sent at TTL 2 dies in the internet router (so
 * low-TTL openers open only the sender's own NAT), and one at full TTL gets its answer.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, onJsonLines } from "../integration/harness.js";
import { assertDistFresh, CliLab } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildNatLab, NAT_PAIRS, type NatKind, type NatLab } from "./nat-lab.js";
import { NetLab, stopChild } from "./netns.js";

const lab = requireLab("hole punching through real Linux NAT", { commands: ["iptables"] });
const fixture = fileURLToPath(new URL("./fixtures/punch.mjs", import.meta.url));
const STEP_MS = 15_000;

class PunchProc {
  readonly lines: Json[] = [];
  private waiters: Array<() => void> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = "";
  constructor(readonly child: ChildProcess) {
    onJsonLines(child.stdout as NodeJS.ReadableStream, (e) => {
      this.lines.push(e);
      for (const w of this.waiters.splice(0)) w();
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  }
  next(match: (e: Json) => boolean): Promise<Json> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line in time; stderr: ${this.stderr}`)), STEP_MS);
      const check = () => {
        const hit = this.lines.find(match);
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

type Outcome = "direct" | "punched" | "relay";
/** What each pair must give (docs/nat-traversal.md). */
function expected(a: NatKind, b: NatKind): Outcome {
  if (a === "none" || b === "none") return "direct";
  if (a === "cone" && b === "cone") return "punched";
  return "relay";
}

describe.skipIf(!lab.canRun).each([...NAT_PAIRS])(
  "connectivity checks, $a NAT <-> $b NAT (network lab)",
  (kinds) => {
    let net: NetLab | undefined;
    let nat: NatLab;
    const cli = new CliLab();
    const procs: PunchProc[] = [];

    beforeAll(async () => {
      assertDistFresh();
      net = await NetLab.create(`p${kinds.a[0]}${kinds.b[0]}`);
      nat = await buildNatLab(net, kinds);
      await cli.server(nat.registry.ns, "registry", ["--no-mdns"]);
    }, 60_000);

    afterAll(async () => {
      await Promise.all(procs.map((p) => stopChild(p.child, p.exited)));
      await cli.cleanup();
      await net?.teardown();
    });

    const want = expected(kinds.a, kinds.b);
    const title =
      want === "relay"
        ? "finds no direct path and gives up by the 5 s deadline (relay)"
        : `finds the ${want} path`;
    it(title, async () => {
      const registry = { host: nat.registry.address, port: 7743 };
      const start = (ns: string) => {
        const child = spawn(
          "ip",
          ["netns", "exec", ns, process.execPath, fixture, JSON.stringify({ registry })],
          {
            stdio: ["pipe", "pipe", "pipe"],
          },
        );
        const p = new PunchProc(child);
        procs.push(p);
        return p;
      };
      const a = start(nat.a.peer.ns);
      const b = start(nat.b.peer.ns);
      const [ra, rb] = await Promise.all([a.next((e) => e.ready === true), b.next((e) => e.ready === true)]);

      for (const [side, ready] of [
        [nat.a, ra],
        [nat.b, rb],
      ] as const) {
        expect(ready?.srflxLowTtl).toBeNull(); // TTL 2 expired in the internet router
        const wan = side.router.kind === "none" ? side.peer.address : side.router.wan;
        expect((ready?.srflx as { host: string } | null)?.host).toBe(wan);
      }

      const candidates = (side: "a" | "b", ready: Json) => [
        { type: "host", address: { host: nat[side].peer.address, port: 5000 } },
        { type: "srflx", address: ready.srflx },
      ];
      const token = randomBytes(16).toString("hex");
      a.child.stdin?.write(`${JSON.stringify({ token, candidates: candidates("b", rb) })}\n`);
      b.child.stdin?.write(`${JSON.stringify({ token, candidates: candidates("a", ra) })}\n`);
      const [resA, resB] = await Promise.all([a.next((e) => "result" in e), b.next((e) => "result" in e)]);
      const results = [resA.result, resB.result] as Array<{ ok: boolean; kind?: string; rttMs?: number }>;

      if (want === "relay") {
        expect(results).toEqual([
          { ok: false, reason: "timeout" },
          { ok: false, reason: "timeout" },
        ]);
      } else {
        expect(results.map((r) => r.ok)).toEqual([true, true]);
        // The side behind NAT reaches a public peer's host address directly.
        if (want === "direct") {
          const natted = kinds.a === "none" ? results[1] : results[0];
          expect(natted?.kind).toBe("direct");
        } else {
          expect(results.map((r) => r.kind)).toEqual(["punched", "punched"]);
        }
      }
    }, 60_000);
  },
);
