/**
 * Which registry to talk to, for both interactive front ends (line mode and the terminal UI):
 * the one given with --server, the ones mDNS finds on the LAN, or one hosted in this very
 * process when nobody answers (started by the composition root: `PresenterPorts`). The front
 * ends only differ in how they ask.
 */

import { discoverRegistries, parseServerAddress, registryAddress } from "../peer/index.js";
import type { Address } from "../protocol/address.js";
import type { LocalRegistry } from "./presenter-ports.js";

/** How long to listen for mDNS answers before offering to host a registry. */
export const SEARCH_MS = 2500;

export interface RegistryChoice {
  /** Display name from mDNS, or what the user typed. */
  name: string;
  address: Address;
  /** The key fingerprint mDNS announced; "" when it is learnt (and pinned) on connecting. */
  fingerprint: string;
}

/** The choice of no registry at all: LAN mode (docs/discovery.md). */
export const NO_REGISTRY: RegistryChoice = {
  name: "no registry (LAN mode)",
  address: { host: "", port: 0 },
  fingerprint: "",
};

export function isNoRegistry(choice: RegistryChoice): boolean {
  return choice.address.port === 0;
}

export function addressText(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The registry given with --server, before anything is known of it but its address. */
export function givenRegistry(server: string): RegistryChoice {
  const address = parseServerAddress(server);
  return { name: addressText(address), address, fingerprint: "" };
}

/** Registries that answer mDNS on this LAN; an empty list when none does. */
export async function searchRegistries(
  opts: { timeoutMs?: number; firstOnly?: boolean } = {},
): Promise<RegistryChoice[]> {
  const found = await discoverRegistries({
    timeoutMs: opts.timeoutMs ?? SEARCH_MS,
    firstOnly: opts.firstOnly ?? false,
  });
  return found.map((r) => ({ name: r.name, address: registryAddress(r), fingerprint: r.fingerprint }));
}

export interface HostedRegistry extends RegistryChoice {
  /** Stop it before the process leaves, so it closes its store and says goodbye over mDNS. */
  running: LocalRegistry;
}

/** Starts a registry in this process with `start` (the root's), as a choice to log in to. */
export async function hostRegistry(start: () => Promise<LocalRegistry>): Promise<HostedRegistry> {
  const running = await start();
  return {
    name: "this machine",
    address: { host: "127.0.0.1", port: running.port },
    fingerprint: running.fingerprint,
    running,
  };
}
