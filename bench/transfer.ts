/**
 * bench/transfer: file-transfer goodput between two network namespaces, side by side with
 * the link's capacity (iperf3), a plain Node TCP stream and udx-native, on shaped links
 * with random loss, plus unshaped loopback. Needs root, iproute2, iptables and iperf3.
 *
 *   ns snd 10.203.70.2 ── lan0 ─ ns rtr ─ wan0 ── 10.203.71.2 ns rcv
 *   alice, senders         registry        bob (--accept-files), receivers
 *                          tc htb on wan0 (snd→rcv rate)
 *                          iptables FORWARD -i lan0 -o wan0 -m statistic … -j DROP
 *
 * Shaping and loss apply to the data direction only (snd→rcv, forwarded by rtr); ACKs and
 * registry traffic are neither shaped nor dropped. Segmentation offload is capped at one
 * segment on the sender's interface, so every tool's packets are MTU-sized when the loss
 * rule draws: a dropped TCP "packet" is one segment, not a 64 KB super-packet.
 *
 * Per link rate and loss level, in this order: iperf3 (TCP, loss rule removed: the link's
 * capacity), Hallway (a real registry and two `hallway client --json` processes, timed at
 * the receiver from `accepted` to `done`), Node TCP, udx-native (bench/stream-peer.ts, timed
 * at the receiver from the first byte to the fsync). CPU seconds are those of the sending
 * and receiving processes over the transfer (/proc for Hallway, `process.cpuUsage()`
 * reported by the baseline peers, iperf3's own report). Retransmitted bytes: Hallway's
 * sender counter; TCP from the sending namespace's `RetransSegs` × MSS; udx from its
 * stream's retransmit count × its mean packet size.
 *
 * Prints a Markdown table on stderr and the JSON document on stdout, and writes it to
 * bench/results/transfer.json. BENCH_LINKS (e.g. "100,loopback"), BENCH_LOSSES (percent,
 * e.g. "0,2"), BENCH_TOOLS (e.g. "hallway,tcp") and BENCH_REPEAT (runs per tool, the median
 * is reported) narrow or widen it.
 */

import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CliLab, type JsonProc, REPO } from "../test/netlab/fixtures/lab-cli.js";
import { findCommand, NetLab, runOk } from "../test/netlab/netns.js";
import { machine, publish } from "./stats.js";

const MB = 1024 * 1024;
const STREAM_PEER = join(REPO, "dist-bench/bench/stream-peer.js");
const IPERF_SECONDS = 5;
/** 1500-byte MTU minus IPv4, TCP and timestamp option headers. */
const TCP_MSS_BYTES = 1448;
const TCP_PORT = 7301;
const UDX_RECEIVER_PORT = 7302;
const UDX_SENDER_PORT = 7303;
const IPERF_PORT = 5201;

interface LinkSpec {
  name: string;
  /** Shaped rate in Mbit/s; undefined for unshaped loopback. */
  rateMbit?: number;
  fileBytes: number;
}

const LINKS: LinkSpec[] = [
  { name: "100 Mbit/s", rateMbit: 100, fileBytes: 64 * MB },
  { name: "1 Gbit/s", rateMbit: 1000, fileBytes: 128 * MB },
  { name: "loopback", fileBytes: 128 * MB },
];
const LOSSES_PERCENT = (process.env.BENCH_LOSSES ?? "0,1,2,5").split(",").map(Number);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
const WANTED_LINKS = (process.env.BENCH_LINKS ?? "100,1000,loopback").split(",");
const WANTED_TOOLS = (process.env.BENCH_TOOLS ?? "hallway,tcp,udx").split(",");

interface Measurement {
  goodputMbps: number;
  seconds: number;
  bytes: number;
  retransmittedBytes: number | null;
  cpuSeconds: { sender: number; receiver: number };
  cpuSecondsPerGB: number;
  /** CPU seconds over wall seconds of each process: 1 is a whole core. */
  busy: { sender: number; receiver: number };
  /** Hallway: the largest datagram the path proved, and the datagrams that carried data by size. */
  pathMtuBytes?: number;
  datagramSizes?: Record<string, number>;
  note?: string;
}

type Tool = "iperf3" | "hallway" | "tcp" | "udx";

interface Row {
  link: string;
  lossPercent: number;
  fileBytes: number;
  capacity: Measurement | { error: string };
  tools: Record<Exclude<Tool, "iperf3">, Summary>;
}

interface Summary {
  /** Median run by goodput. */
  median?: Measurement;
  ratioToCapacity?: number;
  ratioToTcp?: number;
  runs: Array<Measurement | { error: string }>;
}

class BenchError extends Error {}

/** Chat round trips while a transfer runs (loopback). */
interface ChatDuringTransfer {
  idle: { samples: number; p50Ms: number; p99Ms: number };
  duringTransfer: { samples: number; p50Ms: number; p99Ms: number };
  /** p99 during the transfer over the idle p99 (target: at most 3). */
  ratioP99: number;
  transferMbps: number;
}

const CHAT_SAMPLES = 200;
const CHAT_GAP_MS = 10;
/**
 * The file sent while chat round trips are timed: large enough that the transfer outlasts a
 * few hundred round trips at loopback speed (128 MB lasts under a second, too few samples for
 * a p99).
 */
const CHAT_FILE_BYTES = 1024 * MB;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function measurement(
  bytes: number,
  seconds: number,
  cpu: { sender: number; receiver: number },
  retransmittedBytes: number | null,
  extra: Partial<Pick<Measurement, "pathMtuBytes" | "datagramSizes" | "note">> = {},
): Measurement {
  return {
    goodputMbps: round((bytes * 8) / seconds / 1e6),
    seconds: round(seconds),
    bytes,
    retransmittedBytes: retransmittedBytes === null ? null : Math.round(retransmittedBytes),
    cpuSeconds: { sender: round(cpu.sender), receiver: round(cpu.receiver) },
    cpuSecondsPerGB: round((cpu.sender + cpu.receiver) / (bytes / 1e9)),
    busy: { sender: round(cpu.sender / seconds), receiver: round(cpu.receiver / seconds) },
    ...extra,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** One line saying what is missing, or undefined when the bench can run. */
function preflight(): string | undefined {
  if (process.platform !== "linux") return `needs Linux network namespaces, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return "needs root (network namespaces, tc, iptables): run it as root";
  const packages: Record<string, string> = {
    ip: "iproute2",
    tc: "iproute2",
    iptables: "iptables",
    iperf3: "iperf3",
  };
  const missing = Object.keys(packages).filter((c) => !findCommand(c));
  if (missing.length > 0) {
    const install = [...new Set(missing.map((c) => packages[c]))].join(" ");
    return `${missing.join(", ")} not found: apt-get install -y ${install}`;
  }
  try {
    createRequire(import.meta.url)("udx-native");
  } catch (err) {
    return `udx-native does not load (${(err as Error).message.split("\n")[0]}): run npm install`;
  }
  return undefined;
}

/** utime + stime of a live process, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

interface Place {
  lab: NetLab;
  snd: string;
  rcv: string;
  /** Where rtr applies shaping and loss; undefined on loopback. */
  rtr?: string;
  sndAddress: string;
  rcvAddress: string;
}

async function exec(ns: string, argv: readonly string[], timeoutMs = 10_000): Promise<string> {
  return (await runOk(["ip", "netns", "exec", ns, ...argv], { timeoutMs })).stdout;
}

async function buildPath(lab: NetLab): Promise<Place> {
  const snd = await lab.namespace("snd");
  const rtr = await lab.namespace("rtr");
  const rcv = await lab.namespace("rcv");
  await lab.link(
    { ns: snd, ifname: "eth0", cidr: "10.203.70.2/24" },
    { ns: rtr, ifname: "lan0", cidr: "10.203.70.1/24" },
  );
  await lab.link(
    { ns: rtr, ifname: "wan0", cidr: "10.203.71.1/24" },
    { ns: rcv, ifname: "eth0", cidr: "10.203.71.2/24" },
  );
  await lab.ip(snd, "route", "add", "default", "via", "10.203.70.1");
  await lab.ip(rcv, "route", "add", "default", "via", "10.203.71.1");
  await lab.sysctl(rtr, "net/ipv4/ip_forward", "1");
  // One segment per packet on the data path (see the top of the file).
  for (const [ns, dev] of [
    [snd, "eth0"],
    [rtr, "wan0"],
  ] as const) {
    await lab.ip(ns, "link", "set", "dev", dev, "gso_max_segs", "1");
  }
  return { lab, snd, rtr, rcv, sndAddress: "10.203.70.2", rcvAddress: "10.203.71.2" };
}

async function shape(place: Place, rateMbit: number): Promise<void> {
  const rtr = place.rtr as string;
  // Burst: 1 ms at the rate, so that htb's token bucket does not cap the rate itself.
  const burst = `${Math.max(2, Math.round((rateMbit * 1e6) / 8 / 1000 / 1024))}k`;
  await runOk(["ip", "netns", "exec", rtr, "tc", "qdisc", "del", "dev", "wan0", "root"]).catch(() => {});
  await exec(rtr, ["tc", "qdisc", "add", "dev", "wan0", "root", "handle", "1:", "htb", "default", "1"]);
  await exec(rtr, [
    "tc",
    "class",
    "add",
    "dev",
    "wan0",
    "parent",
    "1:",
    "classid",
    "1:1",
    "htb",
    "rate",
    `${rateMbit}mbit`,
    "ceil",
    `${rateMbit}mbit`,
    "burst",
    burst,
    "cburst",
    burst,
  ]);
}

const LOSS_RULE = (percent: number) => [
  "FORWARD",
  "-i",
  "lan0",
  "-o",
  "wan0",
  "-m",
  "statistic",
  "--mode",
  "random",
  "--probability",
  String(percent / 100),
  "-j",
  "DROP",
];

async function setLoss(place: Place, percent: number): Promise<void> {
  const rtr = place.rtr as string;
  await exec(rtr, ["iptables", "-F", "FORWARD"]);
  if (percent > 0) await exec(rtr, ["iptables", "-A", ...LOSS_RULE(percent)]);
}

async function tcpRetransSegs(ns: string): Promise<number> {
  const snmp = await exec(ns, ["cat", "/proc/net/snmp"]);
  const lines = snmp.split("\n").filter((l) => l.startsWith("Tcp:"));
  const names = (lines[0] ?? "").split(/\s+/);
  const values = (lines[1] ?? "").split(/\s+/);
  return Number(values[names.indexOf("RetransSegs")]);
}

async function iperf3(place: Place): Promise<Measurement> {
  const server = place.lab.spawn(place.rcv, [
    "iperf3",
    "-s",
    "-1",
    "--forceflush",
    "-B",
    place.rcvAddress,
    "-p",
    String(IPERF_PORT),
  ]);
  let out: string;
  try {
    await server.waitForLine((l) => l.includes("Server listening"), 10_000);
    out = await exec(
      place.snd,
      [
        "iperf3",
        "-c",
        place.rcvAddress,
        "-p",
        String(IPERF_PORT),
        "-t",
        String(IPERF_SECONDS),
        "-O",
        "1",
        "-J",
      ],
      (IPERF_SECONDS + 15) * 1000,
    );
  } finally {
    await server.stop();
  }
  const r = JSON.parse(out) as {
    end: {
      sum_sent: { retransmits?: number; seconds: number };
      sum_received: { bytes: number; seconds: number };
      cpu_utilization_percent: { host_total: number; remote_total: number };
    };
  };
  const { sum_received: rx, sum_sent: tx, cpu_utilization_percent: cpu } = r.end;
  return measurement(
    rx.bytes,
    rx.seconds,
    { sender: (cpu.host_total / 100) * tx.seconds, receiver: (cpu.remote_total / 100) * rx.seconds },
    (tx.retransmits ?? 0) * TCP_MSS_BYTES,
    { note: "iperf3 TCP, 1 s omitted for slow start; CPU from iperf3's own report" },
  );
}

async function baseline(
  place: Place,
  transport: "tcp" | "udx",
  file: string,
  outDir: string,
  timeoutMs: number,
): Promise<Measurement> {
  const out = join(outDir, `${transport}.bin`);
  const common = {
    transport,
    host: place.rcvAddress,
    port: transport === "tcp" ? TCP_PORT : UDX_RECEIVER_PORT,
    peerHost: place.sndAddress,
    peerPort: UDX_SENDER_PORT,
  };
  const receiver = place.lab.spawn(place.rcv, [
    process.execPath,
    STREAM_PEER,
    JSON.stringify({ ...common, role: "receive", out }),
  ]);
  try {
    await receiver.waitForLine((l) => l.includes('"listening"'), 10_000);
    const retrans0 = await tcpRetransSegs(place.snd);
    const sender = place.lab.spawn(place.snd, [
      process.execPath,
      STREAM_PEER,
      JSON.stringify({ ...common, role: "send", file }),
    ]);
    const doneOf = async (p: typeof sender) =>
      JSON.parse(await p.waitForLine((l) => l.includes('"done"'), timeoutMs)) as Record<string, number>;
    const [rx, tx] = await Promise.all([doneOf(receiver), doneOf(sender)]);
    await sender.exited;
    const retrans =
      transport === "tcp"
        ? ((await tcpRetransSegs(place.snd)) - retrans0) * TCP_MSS_BYTES
        : (tx.retransmits ?? 0) * ((tx.bytesTransmitted ?? 0) / Math.max(1, tx.packetsTransmitted ?? 1));
    return measurement(
      rx.bytes ?? 0,
      rx.seconds ?? Number.NaN,
      { sender: tx.cpuSeconds ?? 0, receiver: rx.cpuSeconds ?? 0 },
      retrans,
    );
  } finally {
    await receiver.stop();
    rmSync(out, { force: true });
  }
}

/** A registry and two clients that stay up for every Hallway run in one place. */
class HallwayPair {
  private runs = 0;
  private constructor(
    private readonly alice: JsonProc,
    private readonly bob: JsonProc,
    private readonly inbox: string,
  ) {}

  static async start(
    cli: CliLab,
    place: Place,
    registryNs: string,
    registryAddress: string,
  ): Promise<HallwayPair> {
    const reg = await cli.server(registryNs, "registry", [
      "--host",
      registryAddress === "127.0.0.1" ? "127.0.0.1" : "0.0.0.0",
      "--no-mdns",
    ]);
    const inbox = cli.tempDir("inbox");
    const bobServer = place.rtr ? "10.203.71.1" : registryAddress;
    const aliceServer = place.rtr ? "10.203.70.1" : registryAddress;
    const bob = cli.client(place.rcv, "bob", [
      "--server",
      `${bobServer}:${reg.port}`,
      "--register",
      "--accept-files",
      inbox,
    ]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", 20_000);
    const alice = cli.client(place.snd, "alice", ["--server", `${aliceServer}:${reg.port}`, "--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready", 20_000);
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "online",
      "bob online",
      20_000,
    );
    return new HallwayPair(alice, bob, inbox);
  }

  async transfer(file: string, timeoutMs: number): Promise<Measurement> {
    const name = `run-${++this.runs}.bin`;
    const mine = (state: string) => (e: Record<string, unknown>) =>
      e.event === "transfer" &&
      e.name === name &&
      (e.state === state || e.state === "failed" || e.state === "cancelled");
    this.alice.send({ cmd: "sendFile", to: "bob", path: file, as: name });
    const accepted = await this.bob.waitFor(mine("accepted"), "accepted", 30_000);
    if (accepted.state !== "accepted") throw new BenchError(`hallway: ${accepted.state} ${accepted.code}`);
    const t0 = performance.now();
    const aliceCpu0 = cpuSecondsOf(this.alice.child.pid);
    const bobCpu0 = cpuSecondsOf(this.bob.child.pid);
    try {
      const done = await this.bob.waitFor(mine("done"), "done", timeoutMs);
      const seconds = (performance.now() - t0) / 1000;
      const bobCpu = cpuSecondsOf(this.bob.child.pid) - bobCpu0;
      const sent = await this.alice.waitFor(mine("done"), "done at sender", 30_000);
      const aliceCpu = cpuSecondsOf(this.alice.child.pid) - aliceCpu0;
      if (done.state !== "done" || sent.state !== "done")
        throw new BenchError(`hallway: ${done.state} ${done.code ?? ""}`);
      return measurement(
        done.size as number,
        seconds,
        { sender: aliceCpu, receiver: bobCpu },
        (sent.retransmittedBytes as number) ?? null,
        {
          ...(typeof sent.pathMtuBytes === "number" ? { pathMtuBytes: sent.pathMtuBytes } : {}),
          ...(sent.datagramSizes ? { datagramSizes: sent.datagramSizes as Record<string, number> } : {}),
        },
      );
    } catch (err) {
      this.alice.send({ cmd: "cancelFile", id: accepted.id });
      throw err;
    } finally {
      rmSync(join(this.inbox, name), { force: true });
      rmSync(join(this.inbox, `${name}.part`), { force: true });
    }
  }

  /** One direct message alice → bob, from `send` to the receipt (`delivered`), in ms. */
  private async roundTrip(n: number): Promise<number> {
    const t0 = performance.now();
    const mark = this.alice.events.length;
    this.alice.send({ cmd: "send", to: "bob", text: `rtt ${n}` });
    const sent = await this.alice.waitFor(
      (e) => e.event === "sent" && this.alice.events.indexOf(e) >= mark,
      "sent",
      10_000,
    );
    await this.alice.waitFor((e) => e.event === "delivered" && e.id === sent.id, "delivered", 10_000);
    return performance.now() - t0;
  }

  /**
   * Chat round trips while idle, then while a file transfer runs on the same session: one
   * message every CHAT_GAP_MS, one at a time. The target is a p99 during the transfer within
   * 3× the idle p99.
   */
  async chatDuringTransfer(file: string, timeoutMs: number): Promise<ChatDuringTransfer> {
    const idle: number[] = [];
    for (let i = 0; i < CHAT_SAMPLES; i++) {
      idle.push(await this.roundTrip(i));
      await sleep(CHAT_GAP_MS);
    }
    const busy: number[] = [];
    let running = true;
    const transfer = this.transfer(file, timeoutMs).finally(() => {
      running = false;
    });
    // Let the transfer reach full speed first.
    await sleep(300);
    for (let i = 0; running; i++) {
      busy.push(await this.roundTrip(CHAT_SAMPLES + i));
      await sleep(CHAT_GAP_MS);
    }
    const m = await transfer;
    const idleP99 = percentile(idle, 0.99);
    const busyP99 = percentile(busy, 0.99);
    return {
      idle: { samples: idle.length, p50Ms: round(percentile(idle, 0.5)), p99Ms: round(idleP99) },
      duringTransfer: { samples: busy.length, p50Ms: round(percentile(busy, 0.5)), p99Ms: round(busyP99) },
      ratioP99: round(busyP99 / idleP99),
      transferMbps: m.goodputMbps,
    };
  }
}

function median(runs: Array<Measurement | { error: string }>): Measurement | undefined {
  const ok = runs
    .filter((r): r is Measurement => "goodputMbps" in r)
    .sort((a, b) => a.goodputMbps - b.goodputMbps);
  return ok[Math.floor((ok.length - 1) / 2)];
}

async function attempt(
  what: string,
  f: () => Promise<Measurement>,
): Promise<Measurement | { error: string }> {
  try {
    const m = await f();
    process.stderr.write(`  ${what}: ${m.goodputMbps} Mbit/s\n`);
    return m;
  } catch (err) {
    const error = (err as Error).message.split("\n")[0] ?? "failed";
    process.stderr.write(`  ${what}: ${error}\n`);
    return { error };
  }
}

async function measureRow(
  place: Place,
  pair: HallwayPair,
  link: LinkSpec,
  lossPercent: number,
  file: string,
  outDir: string,
): Promise<Row> {
  process.stderr.write(`${link.name}, ${lossPercent}% loss\n`);
  if (place.rtr) await setLoss(place, 0);
  const capacity = await attempt("iperf3", () => iperf3(place));
  if (place.rtr) await setLoss(place, lossPercent);
  // Generous: the time at 8 Mbit/s, at least a minute; a run past it is reported as failed.
  const timeoutMs = Math.max(60_000, ((link.fileBytes * 8) / 8e6) * 1000);
  const runs: Record<"hallway" | "tcp" | "udx", Array<Measurement | { error: string }>> = {
    hallway: [],
    tcp: [],
    udx: [],
  };
  for (let i = 0; i < REPEAT; i++) {
    if (WANTED_TOOLS.includes("hallway"))
      runs.hallway.push(await attempt("hallway", () => pair.transfer(file, timeoutMs)));
    if (WANTED_TOOLS.includes("tcp"))
      runs.tcp.push(await attempt("node tcp", () => baseline(place, "tcp", file, outDir, timeoutMs)));
    if (WANTED_TOOLS.includes("udx"))
      runs.udx.push(await attempt("udx-native", () => baseline(place, "udx", file, outDir, timeoutMs)));
  }
  if (place.rtr) await setLoss(place, 0);
  const cap = "goodputMbps" in capacity ? capacity.goodputMbps : undefined;
  const tcp = median(runs.tcp)?.goodputMbps;
  const summary = (r: Array<Measurement | { error: string }>): Summary => {
    const m = median(r);
    return {
      ...(m ? { median: m } : {}),
      ...(m && cap ? { ratioToCapacity: round(m.goodputMbps / cap) } : {}),
      ...(m && tcp ? { ratioToTcp: round(m.goodputMbps / tcp) } : {}),
      runs: r,
    };
  };
  return {
    link: link.name,
    lossPercent,
    fileBytes: link.fileBytes,
    capacity,
    tools: { hallway: summary(runs.hallway), tcp: summary(runs.tcp), udx: summary(runs.udx) },
  };
}

/** Hallway's datagrams: the proven path MTU and the share of data datagrams at each size. */
function datagramNote(m: Measurement): string {
  if (m.datagramSizes === undefined) return "";
  const total = Object.values(m.datagramSizes).reduce((a, b) => a + b, 0);
  const shares = Object.entries(m.datagramSizes)
    .filter(([, n]) => n / total >= 0.01)
    .map(([size, n]) => `${size}: ${Math.round((100 * n) / total)}%`)
    .join(", ");
  return `PMTU ${m.pathMtuBytes ?? "?"}; ${shares}`;
}

function table(rows: Row[]): string {
  const lines = [
    "| link | loss | tool | goodput (Mbit/s) | of capacity | of TCP | retransmitted | CPU s/GB | busy (snd/rcv) | datagrams |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const mb = (b: number | null) => (b === null ? "n/a" : `${(b / MB).toFixed(1)} MB`);
  for (const r of rows) {
    const cells: Array<
      [string, Measurement | { error: string } | undefined, number | undefined, number | undefined]
    > = [
      ["iperf3 (capacity)", r.capacity, undefined, undefined],
      [
        "Hallway",
        r.tools.hallway.median ?? r.tools.hallway.runs[0],
        r.tools.hallway.ratioToCapacity,
        r.tools.hallway.ratioToTcp,
      ],
      ["Node TCP", r.tools.tcp.median ?? r.tools.tcp.runs[0], r.tools.tcp.ratioToCapacity, undefined],
      [
        "udx-native",
        r.tools.udx.median ?? r.tools.udx.runs[0],
        r.tools.udx.ratioToCapacity,
        r.tools.udx.ratioToTcp,
      ],
    ];
    for (const [tool, m, ofCap, ofTcp] of cells) {
      const pct = (x: number | undefined) => (x === undefined ? "" : `${Math.round(x * 100)}%`);
      if (!m || !("goodputMbps" in m)) {
        lines.push(`| ${r.link} | ${r.lossPercent}% | ${tool} | failed: ${m?.error ?? "?"} | | | | | | |`);
        continue;
      }
      const busy = m.busy ? `${m.busy.sender.toFixed(2)} / ${m.busy.receiver.toFixed(2)}` : "";
      lines.push(
        `| ${r.link} | ${r.lossPercent}% | ${tool} | ${m.goodputMbps.toFixed(1)} | ${pct(ofCap)} | ${pct(ofTcp)} | ${mb(m.retransmittedBytes)} | ${m.cpuSecondsPerGB.toFixed(1)} | ${busy} | ${datagramNote(m)} |`,
      );
    }
  }
  return lines.join("\n");
}

async function loadAverage(): Promise<number[]> {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
}

async function main(): Promise<void> {
  const problem = preflight();
  if (problem) {
    process.stderr.write(`bench:transfer ${problem}\n`);
    process.exitCode = 1;
    return;
  }
  const cli = new CliLab();
  const lab = await NetLab.create("bench");
  const work = cli.tempDir("bench-files");
  const rows: Row[] = [];
  let chat: ChatDuringTransfer | { error: string } | undefined;
  const startedAt = new Date().toISOString();
  const loadBefore = await loadAverage();
  try {
    const files = new Map<number, string>();
    const fileOf = (bytes: number) => {
      let f = files.get(bytes);
      if (!f) {
        f = join(work, `random-${bytes}.bin`);
        writeFileSync(f, randomBytes(bytes));
        files.set(bytes, f);
      }
      return f;
    };
    const shaped = LINKS.filter((l) => l.rateMbit !== undefined && WANTED_LINKS.includes(String(l.rateMbit)));
    if (shaped.length > 0) {
      const place = await buildPath(lab);
      const pair = await HallwayPair.start(cli, place, place.rtr as string, "10.203.70.1");
      for (const link of shaped) {
        await shape(place, link.rateMbit as number);
        for (const loss of LOSSES_PERCENT)
          rows.push(await measureRow(place, pair, link, loss, fileOf(link.fileBytes), work));
      }
    }
    const loop = LINKS.find((l) => l.rateMbit === undefined);
    if (loop && WANTED_LINKS.includes("loopback")) {
      const ns = await lab.namespace("loop");
      const place: Place = { lab, snd: ns, rcv: ns, sndAddress: "127.0.0.1", rcvAddress: "127.0.0.1" };
      const pair = await HallwayPair.start(cli, place, ns, "127.0.0.1");
      rows.push(await measureRow(place, pair, loop, 0, fileOf(loop.fileBytes), work));
      if (WANTED_TOOLS.includes("hallway") && process.env.BENCH_CHAT !== "0") {
        process.stderr.write("loopback: chat round trips, idle and during a transfer\n");
        chat = await pair.chatDuringTransfer(fileOf(CHAT_FILE_BYTES), 120_000).catch((err: Error) => ({
          error: err.message.split("\n")[0] ?? "failed",
        }));
        process.stderr.write(`  ${JSON.stringify(chat)}\n`);
      }
    }
  } finally {
    await cli.cleanup();
    await lab.teardown();
  }
  const result = {
    bench: "transfer",
    at: startedAt,
    machine: machine(),
    loadAverage: { before: loadBefore, after: await loadAverage() },
    setup: {
      path: "ns snd → veth → ns rtr (htb on wan0, loss on FORWARD lan0→wan0) → veth → ns rcv",
      shaping: "tc htb, rate = ceil, burst 1 ms at the rate, on the router's egress toward the receiver",
      loss: "iptables -A FORWARD -i lan0 -o wan0 -m statistic --mode random --probability P -j DROP (data direction only)",
      segmentation: "gso_max_segs 1 on the data path: every packet the loss rule sees is one segment",
      timing:
        "receiver side: Hallway from `accepted` to `done` (SHA-256 verified, fsynced); baselines from first byte to fsync",
      repeat: REPEAT,
    },
    rows,
    ...(chat === undefined ? {} : { chatDuringTransfer: chat }),
  };
  process.stderr.write(`\n${table(rows)}\n\n`);
  publish("transfer", result);
}

main().catch((err: Error) => {
  process.stderr.write(`bench:transfer failed: ${err.message.split("\n")[0]}\n`);
  process.exitCode = 1;
});
