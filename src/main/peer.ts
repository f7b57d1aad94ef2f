/**
 * Composition root of the peer process (`hallway`, `hallway tui`, `hallway client`): the data
 * directory (default or `--data`), clients over it (`peer/index.ts` `createClient` loads the
 * identity, the pinned keys and the message log there), the registry hosted here when none
 * answers (`main/registry.ts`), the process's runtime (`systemRuntime`), and the presenter
 * the command chose: the terminal UI, line mode or JSON lines. The presenters get these as
 * `PresenterPorts` and reach for nothing themselves.
 */

import { asHallwayError } from "../errors.js";
import { defaultDataDir, ensureDataDir, PinStore } from "../net/data-dir.js";
import { systemRuntime } from "../net/system-runtime.js";
import { type ClientSetup, createClient, findRegistry, type PeerClient } from "../peer/index.js";
import { runJsonMode } from "../ui/json-mode.js";
import { type LineModeOptions, runLineMode } from "../ui/line-mode.js";
import type { PresenterPorts } from "../ui/presenter-ports.js";
import { addressText } from "../ui/registry-choice.js";
import { runTui, type TuiOptions } from "../ui/tui/index.js";
import { onSignals, stdoutLines } from "./process.js";
import { hostRegistry } from "./registry.js";

/** Where the peer keeps its identity, pins and logs: `--data`, else the user's default. */
export interface DataDirOption {
  dataDir?: string;
}

function presenterPorts(dataDir: string | undefined): PresenterPorts {
  return {
    runtime: systemRuntime,
    openClient: (setup) => createClient({ ...setup, dataDir: dataDir ?? defaultDataDir("client") }),
    hostRegistry: () => hostRegistry(dataDir),
  };
}

/** The terminal UI until it quits; resolves with the exit code. */
export function runTuiPeer(opts: TuiOptions & DataDirOption): Promise<number> {
  const { dataDir, ...tui } = opts;
  return runTui(tui, presenterPorts(dataDir));
}

/**
 * Line mode until /quit. `want` (`--registry`) picks among the registries mDNS finds, up
 * front, instead of the first one found.
 */
export async function runLinePeer(opts: LineModeOptions & DataDirOption & { want?: string }): Promise<void> {
  const { dataDir, want, server: given, ...line } = opts;
  // Line mode asks which registry when it finds several; --registry answers that up front.
  const chosen = want === undefined || given ? given : await findRegistry(undefined, { want });
  const server = typeof chosen === "object" ? addressText(chosen) : chosen;
  await runLineMode({ ...line, ...(server === undefined ? {} : { server }) }, presenterPorts(dataDir));
}

export interface JsonPeerOptions
  extends Omit<ClientSetup, "dataDir" | "server" | "onEvent" | "onHandOverAgain" | "register">,
    DataDirOption {
  /** `--server`, else the registry mDNS finds (`want` names it), else LAN mode. */
  server?: string;
  want?: string;
  register: boolean;
  /** `--register-if-missing`: a login that finds no such user registers it. */
  registerIfMissing: boolean;
}

/**
 * `hallway client --json`: the client with its events as JSON lines on stdout, commands from
 * stdin, until `quit`; resolves with the exit code. SIGINT and SIGTERM during the start log
 * out and say `bye`; after it, the JSON mode handles them like `quit`.
 */
export async function runJsonPeer(opts: JsonPeerOptions): Promise<number> {
  const { dataDir, server: given, want, register, registerIfMissing, lan, ...setup } = opts;
  // No registry on the LAN (and none asked for by name): LAN mode (docs/discovery.md).
  const server = await findRegistry(given, want === undefined ? {} : { want }).catch((err) => {
    if (want === undefined && asHallwayError(err).code === "REGISTRY_NOT_FOUND") return undefined;
    throw err;
  });
  const make = (reg: boolean): PeerClient =>
    createClient({
      dataDir: dataDir ?? defaultDataDir("client"),
      ...(server === undefined ? {} : { server }),
      ...(lan === undefined ? {} : { lan }),
      ...setup,
      register: reg,
      onEvent: (e, handedOver) => stdoutLines.write(e, handedOver),
      onHandOverAgain: () => stdoutLines.writeRaw("\n"),
    });
  let client = make(register);
  // Lines still buffered go out first (a reader that stopped reading gets a second).
  const flushed = () =>
    Promise.race([stdoutLines.flushed(), new Promise<void>((r) => systemRuntime.after(1000, r))]);
  const bye = async () => {
    await flushed();
    await client.stop();
    stdoutLines.write({ event: "bye" });
    await flushed();
  };
  const unhook = onSignals(bye);
  try {
    await client.start();
  } catch (err) {
    await client.stop().catch(() => {});
    if (!registerIfMissing || asHallwayError(err).code !== "AUTH_UNKNOWN_USER") throw err;
    client = make(true);
    try {
      await client.start();
    } catch (again) {
      await client.stop().catch(() => {});
      throw again;
    }
  }
  unhook();
  return runJsonMode(client, stdoutLines, { signals: true });
}

/** `--forget-registry`: forgets the key pinned for `registry`; whether there was one. */
export function forgetRegistry(registry: string, dataDir?: string): boolean {
  return new PinStore(ensureDataDir(dataDir ?? defaultDataDir("client"))).forget(registry);
}
