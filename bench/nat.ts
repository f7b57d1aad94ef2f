/**
 * bench/nat: how fast, and how often directly, two peers behind NATs connect. Needs root,
 * iproute2 and iptables.
 *
 * For each pair of NAT kinds (none, cone = MASQUERADE, symmetric = MASQUERADE
 * --random-fully), in the NAT lab of test/netlab/nat-lab.ts (a registry on the "internet"
 * router's far side, each peer behind its own NAT router): BENCH_NAT_ATTEMPTS (default 20)
 * attempts, each with two fresh `hallway client --json` processes (new sockets, so new NAT
 * mappings: every attempt is a cold connect). alice sends `{"cmd":"connect","to":bob}`;
 * the connect time is the `ms` of her `path` event: from asking the registry to the first
 * answering probe, or to taking the registry's relay (2 s into an attempt with no direct
 * answer). "direct" counts every path but the relay; an error (no path at all) counts as
 * neither.
 *
 * Prints a Markdown table on stderr and the JSON document on stdout, and writes it to
 * bench/results/nat.json.
 */

import { CliLab } from "../test/netlab/fixtures/lab-cli.js";
import { buildNatLab, NAT_PAIRS } from "../test/netlab/nat-lab.js";
import { findCommand, NetLab } from "../test/netlab/netns.js";
import { machine, percentile, publish } from "./stats.js";

const ATTEMPTS = Number(process.env.BENCH_NAT_ATTEMPTS ?? 20);
const STEP_MS = 20_000;

interface Attempt {
  connected: boolean;
  direct: boolean;
  kind?: string;
  connectMs?: number;
  code?: string;
}

function preflight(): string | undefined {
  if (process.platform !== "linux") return `needs Linux network namespaces, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return "needs root (network namespaces, iptables): run it as root";
  const missing = ["ip", "iptables"].filter((c) => !findCommand(c));
  if (missing.length > 0) return `${missing.join(", ")} not found: apt-get install -y iproute2 iptables`;
  return undefined;
}

async function attempt(
  cli: CliLab,
  lab: Awaited<ReturnType<typeof buildNatLab>>,
  server: string,
  i: number,
): Promise<Attempt> {
  const alice = cli.client(lab.a.peer.ns, `alice${i}`, ["--server", server, "--register"]);
  const bob = cli.client(lab.b.peer.ns, `bob${i}`, ["--server", server, "--register"]);
  try {
    await Promise.all([
      alice.waitFor((e) => e.event === "ready", "alice ready", STEP_MS),
      bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS),
    ]);
    await alice.waitFor((e) => e.event === "presence" && e.user === `bob${i}`, "bob online", STEP_MS);
    alice.send({ cmd: "connect", to: `bob${i}` });
    const e = await alice.waitFor(
      (x) => (x.event === "path" && x.peer === `bob${i}`) || (x.event === "error" && x.cmd === "connect"),
      "path or error",
      STEP_MS,
    );
    if (e.event === "path") {
      return {
        connected: true,
        direct: e.kind !== "relay",
        kind: e.kind as string,
        connectMs: e.ms as number,
      };
    }
    return { connected: false, direct: false, code: e.code as string };
  } finally {
    await Promise.all([alice.stop(), bob.stop()]);
  }
}

async function main(): Promise<void> {
  const problem = preflight();
  if (problem) {
    process.stderr.write(`bench:nat ${problem}\n`);
    process.exitCode = 1;
    return;
  }
  const rows = [];
  const startedAt = new Date().toISOString();
  for (const { a, b } of NAT_PAIRS) {
    const cli = new CliLab();
    const net = await NetLab.create(`n${a[0]}${b[0]}`);
    try {
      const lab = await buildNatLab(net, { a, b });
      const registry = await cli.server(lab.registry.ns, "registry", ["--no-mdns"]);
      const server = `${lab.registry.address}:${registry.port}`;
      const attempts: Attempt[] = [];
      for (let i = 0; i < ATTEMPTS; i++) {
        attempts.push(await attempt(cli, lab, server, i));
        process.stderr.write(".");
      }
      const times = attempts
        .filter((x) => x.connectMs !== undefined)
        .map((x) => x.connectMs as number)
        .sort((x, y) => x - y);
      const kinds: Record<string, number> = {};
      for (const x of attempts) kinds[x.kind ?? x.code ?? "?"] = (kinds[x.kind ?? x.code ?? "?"] ?? 0) + 1;
      rows.push({
        pair: `${a}↔${b}`,
        attempts: attempts.length,
        connectedShare: attempts.filter((x) => x.connected).length / attempts.length,
        directShare: attempts.filter((x) => x.direct).length / attempts.length,
        outcomes: kinds,
        connectMs: times.length
          ? { p50: percentile(times, 50), p95: percentile(times, 95), max: times.at(-1) }
          : null,
      });
      process.stderr.write(` ${a}↔${b}\n`);
    } finally {
      await cli.cleanup();
      await net.teardown();
    }
  }
  const result = {
    bench: "nat",
    at: startedAt,
    machine: machine(),
    setup: {
      lab: "peer ─ NAT router ─ internet router ─ NAT router ─ peer; registry behind the internet router (test/netlab/nat-lab.ts)",
      nat: "none: routing; cone: iptables MASQUERADE; symmetric: MASQUERADE --random-fully",
      attempt: "fresh client processes for both peers, alice sends connect; time = her path event's ms",
    },
    rows,
  };
  const table = [
    "| NAT pair | attempts | connected | direct | outcomes | connect p50 | connect p95 |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.pair} | ${r.attempts} | ${Math.round(r.connectedShare * 100)}% | ${Math.round(r.directShare * 100)}% | ${Object.entries(
          r.outcomes,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(
            ", ",
          )} | ${r.connectMs ? `${r.connectMs.p50} ms` : "—"} | ${r.connectMs ? `${r.connectMs.p95} ms` : "—"} |`,
    ),
  ].join("\n");
  process.stderr.write(`\n${table}\n\n`);
  publish("nat", result);
}

main().catch((err: Error) => {
  process.stderr.write(`bench:nat failed: ${err.message.split("\n")[0]}\n`);
  process.exitCode = 1;
});
