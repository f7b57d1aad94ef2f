/**
 * Building blocks for network labs: namespaces, veth pairs, bridges, addresses, routes,
 * sysctls, and processes run inside a namespace. Gate every lab test on `requireLab`
 * (lab-guard.ts) first. Nothing here imports the test runner, so benchmarks use it too.
 *
 * Nothing here touches the host's own interfaces. Links are created *inside* lab namespaces
 * (`ip -n NS link add … peer name … netns OTHER`), so not even a veth end appears in the
 * root namespace; lab traffic, multicast included, never leaves the lab. Addresses are
 * 10.203.x.y, used only inside the lab.
 *
 * Names: every namespace is `hwl-<pid>-<tag>-<name>`. The pid keeps parallel runs apart;
 * `NetLab.create` first deletes namespaces of this prefix (an earlier lab of this process
 * that never tore down) and any `hwl-<pid>-…` whose pid is dead (a crashed run).
 * `teardown()` kills the processes the lab started and deletes its namespaces, and a
 * process 'exit' hook does the same if teardown never ran.
 *
 *   const lab = await NetLab.create("nat");
 *   const router = await lab.namespace("router");
 *   const inside = await lab.namespace("in");
 *   await lab.link({ ns: inside, ifname: "eth0", cidr: "10.203.1.2/24" },
 *                  { ns: router, ifname: "lan0", cidr: "10.203.1.1/24" });
 *   await lab.ip(inside, "route", "add", "default", "via", "10.203.1.1");
 *   await lab.sysctl(router, "net/ipv4/ip_forward", "1");
 *   await lab.exec(router, ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE"]);
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";

/** Every lab namespace is named `hwl-<pid>-…`; stale ones are recognised by a dead pid. */
export const LAB_NAMESPACE_PREFIX = "hwl";

/** The executable `name` on PATH, or undefined. */
export function findCommand(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const IP_TIMEOUT_MS = 10_000;
const KILL_GRACE_MS = 2000;
/** Linux IFNAMSIZ is 16 including the NUL. */
const MAX_IFNAME_CHARS = 15;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface Endpoint {
  /** Full namespace name, as returned by `NetLab.namespace`. */
  ns: string;
  ifname: string;
  /** Address with prefix length, e.g. "10.203.1.2/24". */
  cidr?: string;
}

function describeRun(argv: readonly string[], r: RunResult): string {
  const how = r.timedOut ? "timed out" : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  const err = r.stderr.trim() || r.stdout.trim();
  return `\`${argv.join(" ")}\` failed (${how})${err ? `: ${err}` : ""}`;
}

/** Runs a command to completion (killed after timeoutMs) and collects its output. */
export function run(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error("run: empty command"));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? IP_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Like `run`, but rejects unless the command exits 0. */
export async function runOk(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(describeRun(argv, r));
  return r;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function listNamespaces(): Promise<string[]> {
  const r = await runOk(["ip", "netns", "list"]);
  // Lines look like "name" or "name (id: 3)".
  return r.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => name.length > 0);
}

/** A process running inside a lab namespace, started by `NetLab.spawn`. */
export class LabProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = "";
  private err = "";
  private waiters: Array<() => void> = [];

  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      this.out += d;
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.err += d;
    });
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        for (const wake of this.waiters.splice(0)) wake();
        resolve({ code, signal });
      });
      child.on("error", () => resolve({ code: null, signal: null }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first complete stdout line that satisfies `match`; rejects after timeoutMs or on exit. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no matching line within ${timeoutMs} ms; stdout: ${this.out} stderr: ${this.err}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      const check = (): void => {
        const lines = this.out.split("\n").slice(0, -1);
        const line = lines.find(match);
        if (line !== undefined) {
          finish();
          resolve(line);
        } else if (!this.running) {
          finish();
          reject(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}); stderr: ${this.err}`));
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves with how it exited. */
  stop(graceMs = KILL_GRACE_MS): Promise<ProcessExit> {
    return stopChild(this.child, this.exited, graceMs);
  }
}

export type ProcessExit = { code: number | null; signal: NodeJS.Signals | null };

/** SIGTERM, then SIGKILL after graceMs; resolves with how the child exited. */
export async function stopChild(
  child: ChildProcess,
  exited: Promise<ProcessExit>,
  graceMs = KILL_GRACE_MS,
): Promise<ProcessExit> {
  const running = () => child.exitCode === null && child.signalCode === null;
  if (running()) child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (running()) child.kill("SIGKILL");
  }, graceMs);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

export class NetLab {
  /** `hwl-<pid>-<tag>`; every namespace of this lab starts with it. */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly processes = new Set<LabProcess>();
  private readonly onExit = (): void => this.teardownSync();
  private tornDown = false;

  private constructor(prefix: string) {
    this.prefix = prefix;
    process.once("exit", this.onExit);
  }

  /** A new lab; `tag` must be unique among labs of this process that exist at once. */
  static async create(tag: string): Promise<NetLab> {
    if (!/^[a-z0-9]{1,12}$/.test(tag)) throw new Error(`lab tag must be 1-12 of [a-z0-9]: ${tag}`);
    const lab = new NetLab(`${LAB_NAMESPACE_PREFIX}-${process.pid}-${tag}`);
    await NetLab.removeLeftovers(lab.prefix);
    return lab;
  }

  /** Deletes namespaces with this prefix and those of dead `hwl-<pid>-` owners. */
  static async removeLeftovers(prefix: string): Promise<string[]> {
    const stale = (await listNamespaces()).filter((ns) => {
      if (ns.startsWith(`${prefix}-`)) return true;
      const m = new RegExp(`^${LAB_NAMESPACE_PREFIX}-(\\d+)-`).exec(ns);
      return m?.[1] !== undefined && !pidAlive(Number(m[1]));
    });
    for (const ns of stale) await run(["ip", "netns", "del", ns]);
    return stale;
  }

  /** Creates `<prefix>-<name>` with loopback up; returns the full namespace name. */
  async namespace(name: string): Promise<string> {
    if (!/^[a-z0-9-]{1,16}$/.test(name)) throw new Error(`namespace name must be 1-16 of [a-z0-9-]: ${name}`);
    const ns = `${this.prefix}-${name}`;
    await runOk(["ip", "netns", "add", ns]);
    this.namespaces.push(ns);
    await this.ip(ns, "link", "set", "lo", "up");
    return ns;
  }

  /** `ip -n NS …` (netlink into the namespace; runs nothing inside it). */
  ip(ns: string, ...args: string[]): Promise<RunResult> {
    return runOk(["ip", "-n", ns, ...args]);
  }

  /** A bridge inside `ns`, up, without IGMP snooping so that multicast simply floods. */
  async bridge(ns: string, name: string): Promise<void> {
    checkIfname(name);
    await this.ip(ns, "link", "add", name, "type", "bridge", "mcast_snooping", "0");
    await this.ip(ns, "link", "set", name, "up");
  }

  /** A veth pair between two namespaces, both ends up, addresses assigned if given. */
  async link(a: Endpoint, b: Endpoint): Promise<void> {
    checkIfname(a.ifname);
    checkIfname(b.ifname);
    await this.ip(a.ns, "link", "add", a.ifname, "type", "veth", "peer", "name", b.ifname, "netns", b.ns);
    for (const end of [a, b]) {
      if (end.cidr) await this.ip(end.ns, "addr", "add", end.cidr, "dev", end.ifname);
      await this.ip(end.ns, "link", "set", end.ifname, "up");
    }
  }

  /** Enslaves an interface of `ns` to a bridge in the same namespace. */
  async attach(ns: string, ifname: string, bridge: string): Promise<void> {
    await this.ip(ns, "link", "set", ifname, "master", bridge);
  }

  /** Writes /proc/sys/<key> as seen from inside `ns` (net.* sysctls are per namespace). */
  async sysctl(ns: string, key: string, value: string): Promise<void> {
    if (!/^[a-z0-9_/.-]+$/i.test(key) || key.includes("..")) throw new Error(`bad sysctl key ${key}`);
    const file = `/proc/sys/${key.replaceAll(".", "/")}`;
    const r = await this.exec(ns, ["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", value, file]);
    if (r.code !== 0) throw new Error(`sysctl ${key}=${value} in ${ns} failed: ${r.stderr.trim()}`);
  }

  /** Runs `argv` inside `ns` to completion. */
  exec(ns: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** Starts `argv` inside `ns` in the background; teardown kills it if it still runs. */
  spawn(ns: string, argv: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): LabProcess {
    // `ip netns exec` execs the command in place, so the child's pid is the command's.
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: opts.env ?? process.env,
    });
    const proc = new LabProcess(child);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /** Kills what the lab started and deletes its namespaces. Idempotent; never throws. */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    process.off("exit", this.onExit);
    await Promise.all([...this.processes].map((p) => p.stop(KILL_GRACE_MS)));
    const failures: string[] = [];
    for (const ns of this.namespaces.splice(0).reverse()) {
      const r = await run(["ip", "netns", "del", ns]).catch((err: Error) => ({
        code: 1,
        stderr: err.message,
      }));
      if (r.code !== 0) failures.push(`${ns}: ${r.stderr.trim()}`);
    }
    if (failures.length > 0) console.warn(`lab teardown could not delete: ${failures.join("; ")}`);
  }

  /** Last resort from the 'exit' hook: synchronous, so it runs even as the process ends. */
  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const p of this.processes) {
      if (!p.running || !p.pid) continue;
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) spawnSync("ip", ["netns", "del", ns]);
  }
}

function checkIfname(name: string): void {
  if (name.length === 0 || name.length > MAX_IFNAME_CHARS || !/^[a-zA-Z0-9_-]+$/.test(name)) {
    throw new Error(`bad interface name ${JSON.stringify(name)} (1-${MAX_IFNAME_CHARS} of [a-zA-Z0-9_-])`);
  }
}

export interface LanHost {
  ns: string;
  ifname: string;
  /** Address without prefix length. */
  address: string;
}

export interface Lan {
  /** The namespace that holds the bridge (the "switch"). */
  switchNs: string;
  hosts: Record<string, LanHost>;
}

/**
 * One broadcast domain: a "switch" namespace with a bridge, and one namespace per host
 * with `eth0` at `<subnet>.<i+1>/24`. Each host gets a 224.0.0.0/4 route on eth0: without
 * a default route, a multicast send with no route fails with ENETUNREACH.
 */
export async function buildLan(
  lab: NetLab,
  opts: { name: string; subnet: string; hosts: readonly string[] },
): Promise<Lan> {
  if (!/^10\.203\.\d{1,3}$/.test(opts.subnet))
    throw new Error(`lab subnets are 10.203.x, not ${opts.subnet}`);
  const switchNs = await lab.namespace(`${opts.name}-sw`);
  await lab.bridge(switchNs, "br0");
  const hosts: Record<string, LanHost> = {};
  for (const [i, host] of opts.hosts.entries()) {
    const ns = await lab.namespace(`${opts.name}-${host}`);
    const address = `${opts.subnet}.${i + 1}`;
    const port = `p-${host}`;
    await lab.link({ ns: switchNs, ifname: port }, { ns, ifname: "eth0", cidr: `${address}/24` });
    await lab.attach(switchNs, port, "br0");
    await lab.ip(ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
    hosts[host] = { ns, ifname: "eth0", address };
  }
  return { switchNs, hosts };
}
