/**
 * Starts and stops the test Neo4j (`test/neo4j-server/`: Neo4j Community, embedded, Bolt on
 * 127.0.0.1) as a child process. The Vitest global setup starts one for the whole run; the
 * outage test starts one of its own so that it can stop and restart it; `bench/store.ts` starts
 * one too.
 *
 * The password goes to the server in its environment, never on its command line. The server
 * prints its Bolt URI on stdout once it accepts transactions; that line is what `start` waits
 * for. With `exitWithParent` the server also stops when this process's end of its stdin closes,
 * so a test run that dies does not leave a server behind.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

/** `test/neo4j-server/run`, found upwards from here (this file also runs compiled, from `dist-bench/`). */
export const TEST_NEO4J_RUN = findUp("test/neo4j-server/run");
export const TEST_NEO4J_USER = "neo4j";

/** Exit status of `run` when Java 17+ or Maven is missing (see `test/neo4j-server/run`). */
const EXIT_MISSING_TOOL = 3;
/** A first start on a fresh machine downloads Neo4j (~120 MB) before it builds and starts. */
const DEFAULT_START_TIMEOUT_MS = 300_000;
const STOP_TIMEOUT_MS = 30_000;
const KEPT_STDERR_LINES = 30;

/** Java or Maven is missing: the one case in which the Neo4j tests may skip (outside CI). */
export class TestNeo4jUnavailable extends Error {
  override readonly name = "TestNeo4jUnavailable";
}

export interface TestNeo4jOptions {
  /** Bolt port; 0 or absent takes a free one. A restart passes the port it had. */
  port?: number;
  /** Store directory, kept at exit (a restart passes the same one); absent: a temporary one. */
  dir?: string;
  /** Absent: a new random one. */
  password?: string;
  /** Stop the server when this process goes away. Default true. */
  exitWithParent?: boolean;
  startTimeoutMs?: number;
}

export interface TestNeo4j {
  /** `bolt://127.0.0.1:PORT`. */
  readonly uri: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** SIGTERM: Neo4j shuts down cleanly. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: the server is gone at once, as after a crash. */
  kill(): Promise<void>;
}

/** A password for one run: 24 characters, letters and digits. */
export function newTestPassword(): string {
  return randomBytes(18).toString("base64url").replaceAll(/[-_]/g, "x");
}

/** Builds the module if it is missing or stale; rejects with `TestNeo4jUnavailable` without Java or Maven. */
export async function buildTestNeo4j(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
  const child = spawn("bash", [TEST_NEO4J_RUN, "--build"], { stdio: ["ignore", "ignore", "pipe"] });
  const stderr = keepLines(child);
  const code = await exitOf(child, timeoutMs, "building the test Neo4j");
  if (code === EXIT_MISSING_TOOL) throw new TestNeo4jUnavailable(lastLine(stderr));
  if (code !== 0) throw new Error(`building the test Neo4j failed (exit ${code}):\n${stderr.join("\n")}`);
}

/** Starts a server and resolves once it accepts Bolt connections. */
export async function startTestNeo4j(options: TestNeo4jOptions = {}): Promise<TestNeo4j> {
  const password = options.password ?? newTestPassword();
  const args = [TEST_NEO4J_RUN, "--port", String(options.port ?? 0)];
  if (options.dir !== undefined) args.push("--dir", options.dir);
  if (options.exitWithParent ?? true) args.push("--exit-with-stdin");
  // `run` execs java, so this child is the server itself and signals reach it.
  const child = spawn("bash", args, {
    env: { ...process.env, HALLWAY_NEO4J_PASSWORD: password },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stderr = keepLines(child);
  const exited = exitOf(child, undefined, "");

  const uri = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`the test Neo4j did not start within ${timeoutOf(options)} ms:\n${stderr.join("\n")}`),
      );
    }, timeoutOf(options));
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
    exited.then(
      (code) => {
        clearTimeout(timer);
        if (code === EXIT_MISSING_TOOL) reject(new TestNeo4jUnavailable(lastLine(stderr)));
        else reject(new Error(`the test Neo4j exited (${code}) before it started:\n${stderr.join("\n")}`));
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
  const port = Number(new URL(uri).port);

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited.catch(() => {});
      clearTimeout(timer);
    }
  };
  return {
    uri,
    port,
    user: TEST_NEO4J_USER,
    password,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

function timeoutOf(options: TestNeo4jOptions): number {
  return options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
}

/** The last lines the child wrote to stderr, for failure messages. */
function keepLines(child: ChildProcess): string[] {
  const kept: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    kept.push(line);
    if (kept.length > KEPT_STDERR_LINES) kept.shift();
  });
  return kept;
}

function lastLine(lines: readonly string[]): string {
  return (lines[lines.length - 1] ?? "unknown reason").replace(/^test-neo4j: /, "");
}

/** The exit status (a signal counts as null); rejects after `timeoutMs` if one is given. */
function exitOf(child: ChildProcess, timeoutMs: number | undefined, what: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`${what} took longer than ${timeoutMs} ms`));
          }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function findUp(relative: string): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(import.meta.dirname, "../..", relative);
  }
}
