/**
 * Composition root of the registry process (`hallway server`), and of the registry a peer
 * process hosts when none answers on the LAN (`hostRegistry`, which `main/peer.ts` gives the
 * presenters). `server/index.ts` (`startServer`) assembles the registry itself: data
 * directory, identity, store, `Registry` and mDNS advertisement. What this adds belongs to
 * the process: the log on stderr stamped with the wall clock, and stopping on signals.
 */

import { join } from "node:path";
import { defaultDataDir } from "../net/data-dir.js";
import { systemRuntime } from "../net/system-runtime.js";
import {
  DEFAULT_PORT,
  LOG_LEVELS,
  type LogLevel,
  type RunningServer,
  type ServerOptions,
  startServer,
} from "../server/index.js";
import type { LocalRegistry } from "../ui/presenter-ports.js";
import { onSignals } from "./process.js";

export interface RegistryProcessOptions extends Omit<ServerOptions, "dataDir" | "log"> {
  /** Default: the registry's data directory (`defaultDataDir("server")`). */
  dataDir?: string;
  /** Log lines on stderr from this level up, or none. */
  logLevel: LogLevel | "off";
}

/** The log on stderr: one line each, with the time and the level. */
function stderrLog(from: LogLevel | "off"): (line: string, level?: LogLevel) => void {
  const shown = from === "off" ? 0 : LOG_LEVELS.indexOf(from) + 1;
  return (line, level = "info") => {
    if (shown === 0 || LOG_LEVELS.indexOf(level) + 1 < shown) return;
    process.stderr.write(`${new Date(systemRuntime.wall()).toISOString()} ${level} ${line}\n`);
  };
}

/**
 * `hallway server`: the registry, running once this resolves. SIGINT and SIGTERM stop it;
 * the handlers go in before it resolves (the caller prints `listening` then: a supervisor
 * may stop the registry the moment it says so), and a signal while it starts waits for the
 * start to finish.
 */
export function runRegistry(opts: RegistryProcessOptions): Promise<RunningServer> {
  const { dataDir, logLevel, ...rest } = opts;
  const starting = startServer({
    ...rest,
    dataDir: dataDir ?? defaultDataDir("server"),
    log: stderrLog(logLevel),
  });
  onSignals(async () => {
    const started = await starting.catch(() => undefined);
    await started?.stop();
  });
  return starting;
}

/**
 * A registry inside a peer process, on the default port, announced over mDNS. Its data goes
 * to `registry/` in the client's `--data` folder when one was given, else to the registry's
 * default data folder (as `hallway server` would use).
 */
export function hostRegistry(clientDataDir?: string): Promise<LocalRegistry> {
  const dataDir = clientDataDir === undefined ? defaultDataDir("server") : join(clientDataDir, "registry");
  return startServer({ dataDir, mdns: true, port: DEFAULT_PORT });
}
