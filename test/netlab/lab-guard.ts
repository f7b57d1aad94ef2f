/**
 * The gate in front of every network-lab test. A lab test needs Linux, root, iproute2 and
 * working network namespaces (veth pairs, bridges); some need more commands (iptables, tc).
 *
 * Call `requireLab` at collection time (top level of the test file, or inside a `describe`
 * callback), then gate the lab suite on the answer:
 *
 *   const lab = requireLab("mDNS discovery between two hosts", { commands: ["iptables"] });
 *   describe.skipIf(!lab.canRun)("…", () => { … });
 *
 * When the lab cannot run, `requireLab` registers one extra test that says why: with
 * CI=true it fails (a lab test that silently skips in CI tests nothing), elsewhere it is a
 * visible skip whose title carries the reason, and the reason is also printed.
 */

import { spawnSync } from "node:child_process";
import { it } from "vitest";
import { findCommand, LAB_NAMESPACE_PREFIX } from "./netns.js";

export interface LabNeeds {
  /** Commands the test runs besides `ip`, looked up on PATH (e.g. "iptables", "tc"). */
  commands?: readonly string[];
}

export interface LabStatus {
  canRun: boolean;
  /** Why the lab cannot run, or what was checked when it can. */
  why: string;
}

const PROBE_TIMEOUT_MS = 5000;
const cache = new Map<string, LabStatus>();

function ip(args: readonly string[]): { ok: boolean; detail: string } {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: PROBE_TIMEOUT_MS });
  if (r.error) return { ok: false, detail: r.error.message };
  if (r.status !== 0) return { ok: false, detail: (r.stderr || r.stdout || `exit ${r.status}`).trim() };
  return { ok: true, detail: "" };
}

/** Creates and deletes a throw-away namespace with a veth pair and a bridge in it. */
function probeNamespaces(): string | undefined {
  const ns = `${LAB_NAMESPACE_PREFIX}-${process.pid}-guard`;
  ip(["netns", "del", ns]);
  const steps: string[][] = [
    ["netns", "add", ns],
    ["-n", ns, "link", "set", "lo", "up"],
    ["-n", ns, "link", "add", "hwg0", "type", "veth", "peer", "name", "hwg1"],
    ["-n", ns, "link", "add", "hwgbr", "type", "bridge"],
    ["netns", "exec", ns, "ip", "link", "show", "lo"],
  ];
  try {
    for (const step of steps) {
      const r = ip(step);
      if (!r.ok) return `\`ip ${step.join(" ")}\` failed: ${r.detail}`;
    }
    return undefined;
  } finally {
    const r = ip(["netns", "del", ns]);
    if (!r.ok && !/No such file|not exist/i.test(r.detail)) {
      // A namespace we cannot delete would leak into later runs; treat as unusable.
      console.warn(`lab guard: could not delete probe namespace ${ns}: ${r.detail}`);
    }
  }
}

/** Whether network-lab tests can run here. Runs the probe once per process and needs. */
export function probeLab(needs: LabNeeds = {}): LabStatus {
  const commands = [...(needs.commands ?? [])].sort();
  const key = commands.join(",");
  const cached = cache.get(key);
  if (cached) return cached;

  let status: LabStatus;
  if (process.platform !== "linux") {
    status = { canRun: false, why: `network namespaces need Linux, this is ${process.platform}` };
  } else if (process.getuid?.() !== 0) {
    status = { canRun: false, why: `network namespaces need root, uid is ${process.getuid?.()}` };
  } else if (!findCommand("ip")) {
    status = { canRun: false, why: "`ip` (iproute2) is not on PATH" };
  } else {
    const missing = commands.filter((c) => !findCommand(c));
    const problem = missing.length > 0 ? `missing on PATH: ${missing.join(", ")}` : probeNamespaces();
    status = problem
      ? { canRun: false, why: problem }
      : { canRun: true, why: `root, iproute2, namespaces work${key ? `; found ${key}` : ""}` };
  }
  cache.set(key, status);
  return status;
}

/**
 * `probeLab` plus the loud part: when the lab cannot run, registers a test that fails
 * under CI=true and is a titled skip elsewhere. Must be called while tests are collected.
 */
export function requireLab(reason: string, needs: LabNeeds = {}): LabStatus {
  return requireCapability(`network lab "${reason}"`, probeLab(needs));
}

/**
 * The loud part for any test that needs something of the machine (root, a command, a
 * mount): when `status` says it cannot run, registers a test that fails under CI=true and
 * is a titled skip elsewhere. Must be called while tests are collected.
 */
export function requireCapability(what: string, status: LabStatus): LabStatus {
  if (status.canRun) return status;
  const message = `${what} cannot run: ${status.why}`;
  if (process.env.CI === "true") {
    it(`${what} is available`, () => {
      throw new Error(`${message}. CI=true, so this fails instead of skipping.`);
    });
  } else {
    console.warn(`SKIPPED ${message}`);
    it.skip(`SKIPPED ${what}: ${status.why}`, () => {});
  }
  return status;
}
