/**
 * Real processes for integration tests: spawns the built `hallway` CLI, reads its JSON
 * lines, and waits for events. Every process is killed in `killAll()`. `sendDatagrams`
 * throws raw UDP at a port, for the malformed-input tests.
 */

import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const CLI = join(import.meta.dirname, "../../dist/cli.js");

export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it first)`);
}

export type Json = Record<string, unknown>;

/** Each stdout line as a JSON object; a line that is not JSON becomes `{event:"non-json"}`. */
export function onJsonLines(stream: NodeJS.ReadableStream, onEvent: (e: Json) => void): void {
  createInterface({ input: stream }).on("line", (line) => {
    let e: Json;
    try {
      e = JSON.parse(line) as Json;
    } catch {
      e = { event: "non-json", line };
    }
    onEvent(e);
  });
}

export class Proc {
  readonly events: Json[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  /** Resolves once stdout has ended and every line on it was read (after the exit, too). */
  readonly outputDone: Promise<void>;
  private waiters: Array<{ pred: (e: Json) => boolean; resolve: (e: Json) => void }> = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.outputDone = new Promise((resolve) => (child.stdout as NodeJS.ReadableStream).on("end", resolve));
    onJsonLines(child.stdout as NodeJS.ReadableStream, (e) => {
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(e)) return true;
        w.resolve(e);
        return false;
      });
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) =>
      this.stderr.push(line),
    );
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  /** The first event (past or future) matching `pred`. */
  waitFor(pred: (e: Json) => boolean, what: string, timeoutMs = 15_000): Promise<Json> {
    const past = this.events.find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.name}: timed out waiting for ${what}\nevents: ${JSON.stringify(this.events.slice(-10))}\nstderr: ${this.stderr.slice(-10).join("\n")}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Wait until `count` events match. */
  async waitForCount(
    pred: (e: Json) => boolean,
    count: number,
    what: string,
    timeoutMs = 30_000,
  ): Promise<Json[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.events.filter(pred);
      if (got.length >= count) return got;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name}: ${got.length}/${count} ${what}\nstderr: ${this.stderr.slice(-10).join("\n")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  send(cmd: Json): void {
    this.sendLine(JSON.stringify(cmd));
  }

  /** One raw input line, for malformed commands. */
  sendLine(line: string): void {
    (this.child.stdin as NodeJS.WritableStream).write(`${line}\n`);
  }

  /** The exit status, or a rejection with the last output if it does not exit in time. */
  waitExit(what: string, timeoutMs = 15_000): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.name}: did not exit (${what})\nevents: ${JSON.stringify(this.events.slice(-10))}\nstderr: ${this.stderr.slice(-10).join("\n")}`,
          ),
        );
      }, timeoutMs);
      this.exited.then((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}

const procs: Proc[] = [];
const dirs: string[] = [];

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `hallway-${prefix}-`));
  dirs.push(d);
  return d;
}

let downloads: string | undefined;

/**
 * Spawn the CLI; an `undefined` value in `env` removes that variable. Files accepted without a
 * folder go to a scratch download folder (XDG_DOWNLOAD_DIR), never the real ~/Downloads.
 */
export function hallway(name: string, args: string[], env: Record<string, string | undefined> = {}): Proc {
  downloads ??= tempDir("downloads");
  const merged: Record<string, string | undefined> = {
    ...process.env,
    XDG_DOWNLOAD_DIR: downloads,
    ...env,
  };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const child = spawn(process.execPath, [CLI, ...args], {
    env: merged,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const p = new Proc(name, child);
  procs.push(p);
  return p;
}

/** Runs a test fixture script (`test/integration/fixtures/NAME`) with node, JSON lines on stdout. */
export function fixture(name: string, script: string, args: string[]): Proc {
  const child = spawn(process.execPath, [join(import.meta.dirname, "fixtures", script), ...args], {
    env: process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const p = new Proc(name, child);
  procs.push(p);
  return p;
}

/** `extra`: more `hallway server` options, such as `--policy friends`. */
export async function startRegistry(
  dataDir: string,
  port = 0,
  extra: string[] = [],
): Promise<{ proc: Proc; port: number; listening: Json }> {
  const proc = hallway("registry", [
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--data",
    dataDir,
    "--no-mdns",
    "--json",
    ...extra,
  ]);
  const ev = await proc.waitFor((e) => e.event === "listening", "listening");
  return { proc, port: ev.port as number, listening: ev };
}

export function startClient(
  user: string,
  port: number,
  dataDir: string,
  extra: string[] = [],
  password = "correct horse battery staple",
): Proc {
  return hallway(
    user,
    [
      "client",
      "--json",
      "--server",
      `127.0.0.1:${port}`,
      "--user",
      user,
      "--data",
      dataDir,
      "--heartbeat-ms",
      "1000",
      ...extra,
    ],
    { HALLWAY_PASSWORD: password },
  );
}

/** Send each datagram from a fresh loopback socket, in order, then close it. */
export async function sendDatagrams(port: number, datagrams: readonly Uint8Array[]): Promise<void> {
  const socket = dgram.createSocket("udp4");
  // ICMP errors (nobody listening) and EMSGSIZE are the point of some tests, not failures.
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  try {
    for (const d of datagrams) {
      await new Promise<void>((resolve) => socket.send(d, port, "127.0.0.1", () => resolve()));
    }
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** A loopback UDP port that was free a moment ago (bound, read, released). */
export async function unusedPort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function killAll(): Promise<void> {
  await Promise.all(procs.splice(0).map((p) => (p.child.exitCode === null ? p.kill() : p.exited)));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
