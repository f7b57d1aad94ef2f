/**
 * NAT lab: an external STUN client (the `stun` npm package, in `fixtures/stun-probe.mjs`)
 * behind each kind of NAT asks two registries (one registry namespace, ports 7743 and
 * 7744) for its mapped address from one socket. This checks both sides of the lab at once:
 * the registry reports the address the NAT really used, and the lab's NATs behave as their
 * names say (cone: the same mapping towards both; symmetric: a new one per destination).
 */

import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildNatLab, type NatKind, type NatLab, type NatLabSide } from "./nat-lab.js";
import { NetLab } from "./netns.js";

const lab = requireLab("STUN through real Linux NAT", { commands: ["iptables"] });
const probe = fileURLToPath(new URL("./fixtures/stun-probe.mjs", import.meta.url));
const PORTS = [7743, 7744];

interface ProbeResult {
  ok: boolean;
  local: { port: number };
  mapped: Array<{ address: string; port: number }>;
  message?: string;
}

describe.skipIf(!lab.canRun).each([
  { a: "cone", b: "symmetric" },
  { a: "none", b: "none" },
] as Array<{ a: NatKind; b: NatKind }>)("STUN mapped address behind $a and $b NAT (network lab)", (kinds) => {
  let net: NetLab | undefined;
  let nat: NatLab;
  const cli = new CliLab();

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create(`stun${kinds.a}`);
    nat = await buildNatLab(net, kinds);
    for (const port of PORTS) {
      await cli.server(nat.registry.ns, `registry-${port}`, ["--no-mdns", "--port", String(port)]);
    }
  });

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  async function ask(side: NatLabSide): Promise<ProbeResult> {
    const servers = PORTS.map((port) => ({ host: nat.registry.address, port }));
    const r = await net?.exec(side.peer.ns, [process.execPath, probe, JSON.stringify({ servers })], {
      timeoutMs: 15_000,
    });
    if (!r) throw new Error("no lab");
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as ProbeResult;
    if (!result.ok) throw new Error(`probe failed: ${result.message ?? r.stderr}`);
    return result;
  }

  for (const name of ["a", "b"] as const) {
    it(`peer ${name} (${kinds[name]}) learns the address its NAT gave it`, async () => {
      const side = nat[name];
      const { local, mapped } = await ask(side);
      const [first, second] = mapped;
      switch (side.router.kind) {
        case "none":
          expect(first).toEqual({ address: side.peer.address, port: local.port });
          expect(second).toEqual(first);
          break;
        case "cone":
          expect(first?.address).toBe(side.router.wan);
          expect(second).toEqual(first); // endpoint-independent mapping
          break;
        case "symmetric":
          expect(first?.address).toBe(side.router.wan);
          expect(second?.address).toBe(side.router.wan);
          expect(second?.port).not.toBe(first?.port); // a new mapping per destination
          break;
      }
    }, 30_000);
  }
});
