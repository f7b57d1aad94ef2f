/**
 * Plain line-mode chat (`hallway client` in a terminal, and a bare `hallway` whose output
 * is not a terminal): find or host a registry, log in or register, then chat with /commands.
 *
 * The parts: `line-mode-chat.ts` (the prompt, its /commands and completion) and
 * `line-mode-render.ts` (the lines each event prints). This file finds or hosts the registry,
 * logs in and runs the loop until /quit.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { PeerClient, PeerEvent } from "../peer/index.js";
import type { Address } from "../protocol/address.js";
import { chatLoop, complete, ReceivedFiles } from "./line-mode-chat.js";
import { render, say } from "./line-mode-render.js";
import type { PresenterPorts } from "./presenter-ports.js";
import { LineInput } from "./prompt.js";
import { givenRegistry, type HostedRegistry, hostRegistry, searchRegistries } from "./registry-choice.js";
import { FolderLines, mediaLine, progressLine } from "./transfer-text.js";

export interface LineModeOptions {
  server?: string;
  user?: string;
  /** Where accepted files go (default: the user's download folder). */
  downloadDir?: string;
  /** Announce this peer on the LAN (default on; `--no-announce` turns it off). */
  announce?: boolean;
}

/** A registry to talk to (none: LAN mode), and the one this process hosts if it had to start one. */
interface Found {
  address?: Address;
  hosted?: HostedRegistry;
}

/** Undefined when input ended before the user answered. */
async function hostOrFind(
  server: string | undefined,
  term: LineInput,
  start: PresenterPorts["hostRegistry"],
): Promise<Found | undefined> {
  if (server) return { address: givenRegistry(server).address };
  const [first] = await searchRegistries({ firstOnly: true });
  if (first) return { address: first.address };
  term.print("* No registry found on this network. Answer l to chat without one (LAN mode).");
  const answer = await term.ask("No registry found on this network. Host one on this machine? [Y/n] ");
  if (answer === undefined) return undefined;
  if (/^\s*l/i.test(answer)) return {};
  if (/^\s*n/i.test(answer)) throw new HallwayError("REGISTRY_NOT_FOUND", "no registry to connect to");
  const hosted = await hostRegistry(start);
  term.print(
    `* hosting a registry on UDP port ${hosted.address.port}, key fingerprint ${hosted.fingerprint}`,
  );
  return { address: hosted.address, hosted };
}

/**
 * Runs until /quit, end of input, SIGTERM or SIGHUP. Whatever it started (the client, an
 * embedded registry) is stopped before it returns or throws, so the registry closes its
 * store and says goodbye over mDNS instead of vanishing with the process.
 */
export async function runLineMode(opts: LineModeOptions, ports: PresenterPorts): Promise<void> {
  const term = new LineInput(process.stdin, process.stdout, complete);
  const leave = (): void => term.close();
  process.on("SIGTERM", leave);
  process.on("SIGHUP", leave);
  let hosted: HostedRegistry | undefined;
  let client: PeerClient | undefined;
  try {
    const found = await hostOrFind(opts.server, term, ports.hostRegistry);
    if (!found) return;
    hosted = found.hosted;
    const user = (opts.user ?? (await term.ask("User name: ")))?.trim();
    if (user === undefined) return;
    const password = process.env.HALLWAY_PASSWORD || (await term.askSecret("Password: "));
    if (password === undefined) return;
    // Registering after a refused login connects a second time; say "connected" once
    // unless the registry was lost in between.
    let connectedShown = false;
    const folders = new FolderLines();
    const received = new ReceivedFiles();
    const onEvent = (e: PeerEvent, handedOver?: () => void) => {
      if (e.event === "registry") {
        if (e.status === "connected" && connectedShown) return handedOver?.();
        connectedShown = e.status === "connected";
      }
      if (e.event === "transfer") {
        const told = folders.line(e);
        if (told) term.print(`* ${told}`);
        const media = mediaLine(e);
        if (media) term.print(`* ${media}`);
        received.note(e);
        if (client) term.status(progressLine(client.fileTransfers()));
        return handedOver?.();
      }
      const line = render(e, user.toLowerCase());
      if (line) term.print(line);
      handedOver?.();
    };
    const setup = {
      ...(found.address === undefined ? {} : { server: found.address }),
      lan: { announce: opts.announce !== false },
      user,
      password,
      onEvent,
      ...(opts.downloadDir === undefined ? {} : { downloadDir: opts.downloadDir }),
    };
    client = ports.openClient(setup);
    try {
      await client.start();
    } catch (err) {
      const e = asHallwayError(err);
      await client.stop();
      if (e.code !== "AUTH_UNKNOWN_USER") throw e;
      const yes = await term.ask(`No account '${user}' yet. Register it? [Y/n] `);
      if (yes === undefined) return;
      if (/^\s*n/i.test(yes)) throw e;
      client = ports.openClient({ ...setup, register: true });
      await client.start();
    }
    await chatLoop(client, term, received);
  } finally {
    process.off("SIGTERM", leave);
    process.off("SIGHUP", leave);
    term.close();
    await client?.stop().catch(() => {});
    if (hosted) {
      await hosted.running.stop().catch(() => {});
      say("* stopped the registry");
    }
  }
  say("* bye");
}
