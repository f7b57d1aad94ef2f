/**
 * Composition root of a peer: finds the registry (flag or mDNS), loads the device identity
 * and pinned registry keys from the data directory, and builds a PeerClient.
 */

import { join } from "node:path";
import { HallwayError } from "../errors.js";
import { ensureDataDir, loadOrCreateIdentity, PinStore, privacyWarnings } from "../net/data-dir.js";
import { type DiscoveredRegistry, discoverRegistries } from "../net/mdns-discovery.js";
import { systemRuntime } from "../net/system-runtime.js";
import type { Address } from "../protocol/address.js";
import { DEFAULT_PORT } from "../protocol/limits.js";
import { isLoopbackHost } from "../traversal/candidates.js";
import { PeerClient, type PeerClientOptions } from "./client.js";
import { defaultDownloadDir } from "./download-dir.js";
import { LanOutbox } from "./lan-outbox.js";
import { MessageLog } from "./message-log.js";
import { PeerPins } from "./peer-pins.js";

export { type DiscoveredRegistry, discoverRegistries } from "../net/mdns-discovery.js";
export type { TransferRow } from "../transfers/file-transfers.js";
export { PeerClient } from "./client.js";
export { defaultDownloadDir } from "./download-dir.js";
export type { LanPeerView, PeerEvent, TransferEvent, TransferState, Via } from "./events.js";
export type { InboxEvent } from "./message-log.js";

/** Parse HOST:PORT (or HOST alone, with the default port). */
export function parseServerAddress(raw: string): Address {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(raw.trim());
  const port = m?.[2] === undefined ? DEFAULT_PORT : Number(m[2]);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HallwayError("CLI_BAD_ARGS", `'${raw}' is not HOST:PORT`);
  }
  return { host: m[1] === "localhost" ? "127.0.0.1" : m[1], port };
}

/** A key fingerprint as `fingerprint()` writes it: eight groups of four hex digits. */
export function isFingerprint(text: string): boolean {
  return /^[0-9a-f]{4}(-[0-9a-f]{4}){7}$/i.test(text.trim());
}

/**
 * The registry to use: the one given, else one mDNS finds: the first, or the one `want`
 * names (its display name, instance label or key fingerprint).
 */
export async function findRegistry(
  server: string | undefined,
  opts: { timeoutMs?: number; want?: string } = {},
): Promise<Address> {
  if (server) return parseServerAddress(server);
  const want = opts.want?.trim();
  const found = await discoverRegistries({
    timeoutMs: opts.timeoutMs ?? 3000,
    firstOnly: true,
    ...(want === undefined
      ? {}
      : isFingerprint(want)
        ? { wantFingerprint: want.toLowerCase() }
        : { wantName: want }),
  });
  const first = found[0];
  if (!first) {
    throw new HallwayError(
      "REGISTRY_NOT_FOUND",
      want === undefined
        ? "no registry found on this network; pass --server HOST:PORT"
        : `no registry named '${want}' found on this network`,
    );
  }
  return registryAddress(first);
}

/** Where to reach a registry mDNS found. */
export function registryAddress(found: DiscoveredRegistry): Address {
  // The SRV target ("<hostname>.local") needs an mDNS resolver the OS may not have; the
  // address the answer came from is on a link we share (discovery puts it first).
  return { host: found.addresses[0] ?? found.host, port: found.port };
}

export interface ClientSetup
  extends Omit<PeerClientOptions, "identity" | "pins" | "openLog" | "downloadDir" | "lan"> {
  dataDir: string;
  /**
   * LAN discovery (docs/discovery.md): on unless absent. Off anyway with a registry on
   * loopback: every peer it can introduce is on this machine, and announcing would only
   * show this machine's test and demo clients to the LAN.
   */
  lan?: { announce: boolean; registerIfMissing?: boolean };
  /** Where accepted files go; default: the user's download folder (`defaultDownloadDir`). */
  downloadDir?: string;
}

export function createClient(setup: ClientSetup): PeerClient {
  const dir = ensureDataDir(setup.dataDir);
  const files = [
    dir,
    join(dir, "identity.json"),
    join(dir, "pinned-registries.json"),
    join(dir, "pinned-peers.json"),
  ];
  for (const line of privacyWarnings(files)) process.stderr.write(`hallway: ${line}\n`);
  const { dataDir: _unused, downloadDir, lan, ...rest } = setup;
  const lanOn = lan !== undefined && !(setup.server && isLoopbackHost(setup.server.host));
  return new PeerClient({
    ...rest,
    ...(lanOn
      ? {
          lan: {
            ...lan,
            pins: new PeerPins(dir),
            openOutbox: (user: string) => LanOutbox.open(dir, user),
          },
        }
      : {}),
    identity: loadOrCreateIdentity(dir, (setup.runtime ?? systemRuntime).random),
    pins: new PinStore(dir),
    openLog: (user, create, now) => MessageLog.open(dir, user, create, now),
    downloadDir: downloadDir ?? defaultDownloadDir(),
  });
}
