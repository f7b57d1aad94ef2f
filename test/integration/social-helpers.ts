/**
 * Helpers for the social integration tests: a client that logs in and waits until ready, and
 * `ask`, which sends one JSON command and waits for its answer (the result event or the
 * `error` event naming that command) among the events that arrive after it was sent.
 */

import { type Json, type Proc, startClient, tempDir } from "./harness.js";

/** The result event each command answers with (`ok` for the plain actions). */
const ANSWERS: Record<string, string> = {
  send: "sent",
  users: "users",
  history: "history",
  friends: "friends",
  search: "search",
  groups: "groups",
  "group.send": "group.sent",
  "group.history": "group.history",
  "profile.get": "profile",
  suggest: "suggest",
  drops: "drops",
};

export interface Person {
  name: string;
  dir: string;
  proc: Proc;
}

/** Start `name`'s client (registering the first time) and wait until it is ready. */
export async function login(name: string, port: number, dir?: string): Promise<Person> {
  const dataDir = dir ?? tempDir(name);
  const proc = startClient(name, port, dataDir, dir ? [] : ["--register"]);
  // Registration hashes with scrypt (32 MiB): slow on a busy machine, so wait generously.
  await proc.waitFor((e) => e.event === "ready", `${name} ready`, 45_000);
  return { name, dir: dataDir, proc };
}

/** Quit cleanly (log out) and wait for the exit. */
export async function logout(p: Person): Promise<void> {
  p.proc.send({ cmd: "quit" });
  await p.proc.waitExit(`${p.name} quits`);
}

/** Send `cmd` and resolve with its answer: the result event, or the error event for it. */
export function ask(p: Person, cmd: Json & { cmd: string }, timeoutMs = 30_000): Promise<Json> {
  const from = p.proc.events.length;
  const answer = ANSWERS[cmd.cmd] ?? "ok";
  const promise = p.proc.waitFor(
    (e) =>
      p.proc.events.indexOf(e) >= from &&
      ((e.event === "error" && e.cmd === cmd.cmd) ||
        (e.event === answer && (answer !== "ok" || e.cmd === cmd.cmd))),
    `answer to ${JSON.stringify(cmd)}`,
    timeoutMs,
  );
  p.proc.send(cmd);
  return promise;
}

/** Like `ask`, but the answer must not be an error. */
export async function must(p: Person, cmd: Json & { cmd: string }, timeoutMs?: number): Promise<Json> {
  const e = await ask(p, cmd, timeoutMs);
  if (e.event === "error") throw new Error(`${p.name}: ${JSON.stringify(cmd)} failed: ${JSON.stringify(e)}`);
  return e;
}

/** The events of `p` matching `pred` that arrived at or after index `from`. */
export function eventsSince(p: Person, from: number, pred: (e: Json) => boolean): Json[] {
  return p.proc.events.slice(from).filter(pred);
}
