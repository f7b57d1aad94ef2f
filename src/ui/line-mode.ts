/**
 * Plain line-mode chat for `npm start` and a bare `hallway`, until the full terminal UI
 * lands: find or host a registry, log in or register, then chat with /commands.
 */

import { createInterface } from "node:readline";
import { asHallwayError, HallwayError } from "../errors.js";
import { defaultDataDir } from "../net/data-dir.js";
import { createClient, findRegistry, type PeerClient, type PeerEvent } from "../peer/index.js";
import type { Address } from "../protocol/endpoint.js";
import { DEFAULT_PORT, startServer } from "../server/index.js";
import { ask, askSecret } from "./prompt.js";

export interface LineModeOptions {
  server?: string;
  user?: string;
  dataDir?: string;
}

const HELP = [
  "  /msg NAME TEXT    send a message (or just type NAME: TEXT)",
  "  /users            who is registered and who is online",
  "  /history NAME     the last 20 messages with NAME",
  "  /help             this list",
  "  /quit             log out and leave",
].join("\n");

function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 5);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function render(e: PeerEvent, me: string): string | undefined {
  switch (e.event) {
    case "message":
      return `[${clock(e.sentAt)}] ${e.from}${e.via === "offline" ? " (while you were away)" : ""}: ${e.text}`;
    case "delivered":
      return undefined;
    case "sent":
      return e.via === "offline" ? `  (${e.to} is away; the registry will deliver it)` : undefined;
    case "presence":
      return e.user === me ? undefined : `* ${e.user} is ${e.status}`;
    case "registry":
      return e.status === "lost"
        ? "* lost the registry; reconnecting…"
        : `* connected to ${e.address} (${e.fingerprint})`;
    case "ready":
      return `* logged in as ${e.user}. Type /help for commands.`;
    case "users":
      return e.users.map((u) => `  ${u.status === "online" ? "●" : "○"} ${u.name}`).join("\n");
    case "history":
      return (
        e.messages.map((m) => `  [${clock(m.sentAt)}] ${m.from}: ${m.text}`).join("\n") ||
        "  (no messages yet)"
      );
    case "error":
      return `! ${e.message}`;
    case "bye":
      return "* bye";
  }
}

async function hostOrFind(server: string | undefined): Promise<Address> {
  try {
    return await findRegistry(server, 2500);
  } catch (err) {
    const e = asHallwayError(err);
    if (e.code !== "REGISTRY_NOT_FOUND") throw e;
  }
  const answer = (await ask("No registry found on this network. Host one on this machine? [Y/n] ")).trim();
  if (/^n/i.test(answer)) throw new HallwayError("REGISTRY_NOT_FOUND", "no registry to connect to");
  const running = await startServer({ dataDir: defaultDataDir("server"), mdns: true, port: DEFAULT_PORT });
  say(`* hosting a registry on UDP port ${running.port}, key fingerprint ${running.fingerprint}`);
  process.once("exit", () => void running.stop());
  return { host: "127.0.0.1", port: running.port };
}

export async function runLineMode(opts: LineModeOptions): Promise<void> {
  const server = await hostOrFind(opts.server);
  const user = opts.user ?? (await ask("User name: ")).trim();
  const password = process.env.HALLWAY_PASSWORD || (await askSecret("Password: "));
  const onEvent = (e: PeerEvent) => {
    const line = render(e, user.toLowerCase());
    if (line) say(line);
  };
  const dataDir = opts.dataDir ?? defaultDataDir("client");
  let client: PeerClient = createClient({ dataDir, server: server, user, password, onEvent });
  try {
    await client.start();
  } catch (err) {
    const e = asHallwayError(err);
    await client.stop();
    if (e.code !== "AUTH_UNKNOWN_USER") throw e;
    const yes = (await ask(`No account '${user}' yet. Register it? [Y/n] `)).trim();
    if (/^n/i.test(yes)) throw e;
    client = createClient({ dataDir, server: server, user, password, register: true, onEvent });
    await client.start();
  }
  await chatLoop(client);
}

async function chatLoop(client: PeerClient): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: "> " });
  rl.prompt();
  await new Promise<void>((resolve) => {
    const quit = () => {
      rl.close();
      client.stop().then(resolve, resolve);
    };
    rl.on("line", (raw) => {
      const line = raw.trim();
      const fail = (err: unknown) => say(`! ${asHallwayError(err).message}`);
      if (line === "") {
        rl.prompt();
        return;
      }
      const [word, ...rest] = line.split(/\s+/);
      if (word === "/quit" || word === "/exit") return quit();
      if (word === "/help") say(HELP);
      else if (word === "/users") client.users().then((e) => say(render(e, client.user) ?? ""), fail);
      else if (word === "/history" && rest[0])
        client.history(rest[0], 20).then((e) => say(render(e, client.user) ?? ""), fail);
      else if (word === "/msg" && rest.length >= 2)
        client.send(rest[0] as string, rest.slice(1).join(" ")).catch(fail);
      else if (/^[A-Za-z][\w.-]*:\s/.test(line)) {
        const i = line.indexOf(":");
        client.send(line.slice(0, i), line.slice(i + 1).trim()).catch(fail);
      } else say("! unknown command; /help lists them");
      rl.prompt();
    });
    rl.on("close", quit);
  });
}
