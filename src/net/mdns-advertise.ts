/**
 * mDNS advertisement of a registry (`_hallway._udp`), so that clients on the LAN find it
 * without configuration. A thin adapter around bonjour-service (an adapter, so in `net/`, with
 * its own timers: the claim browse and the bounded waits); the record layout and the instance
 * naming live in `protocol/mdns-txt.ts`. The registry's composition root starts it.
 *
 * Name conflicts. bonjour-service probes for its instance name (RFC 6762 §8.1) but does not
 * rename on a conflict: it withdraws the service and logs to stdout. So we claim the name
 * ourselves and publish without its probe:
 *
 *   1. The instance label carries a fingerprint tag, "Office (ab12)", so two registries
 *      that an admin happened to give the same name differ anyway.
 *   2. Before publishing we browse `_hallway._udp` for CLAIM_BROWSE_MS and take the first
 *      of "Office (ab12)", "Office (ab12) #2", … that nobody answered for (RFC 6762 §9
 *      renaming). This covers the same key on two hosts (a copied data directory).
 *
 * Two registries that start within the same claim window with the same name *and* the same
 * key can still pick the same label; clients then see only one of them. Clients choose a
 * registry by the display name in TXT or, unambiguously, by its fingerprint.
 */

import { channel } from "node:diagnostics_channel";
import type { EventEmitter } from "node:events";
import os from "node:os";
import { Bonjour, type Service } from "bonjour-service";
import { HallwayError } from "../errors.js";
import {
  encodeRegistryTxt,
  MDNS_DIAGNOSTICS_CHANNEL,
  REGISTRY_SERVICE_PROTOCOL,
  REGISTRY_SERVICE_TYPE,
  registryInstanceName,
} from "../protocol/mdns-txt.js";

/** RFC 6762 §8.1 probes for 750 ms; answers to a PTR query come within 20–120 ms (§6). */
const CLAIM_BROWSE_MS = 1000;
/** Upper bounds on waiting for our own socket; a healthy one takes milliseconds. */
const SOCKET_READY_MS = 2000;
const ANNOUNCE_MS = 2000;
const GOODBYE_MS = 1000;
const MAX_RENAME_ATTEMPTS = 64;

const diagnostics = channel(MDNS_DIAGNOSTICS_CHANNEL);

export interface AdvertiseOptions {
  /** Display name, at most 63 bytes; sent in TXT and used for the instance label. */
  name: string;
  /** The registry's UDP port. */
  port: number;
  /** The registry key fingerprint that clients pin. */
  fingerprint: string;
  /** Protocol version (PROTOCOL_VERSION). */
  version: number;
  /** SRV target; defaults to "<hostname>.local". */
  host?: string;
}

export interface RegistryAdvertisement {
  /** The DNS-SD instance label actually published, e.g. "Office (ab12)". */
  readonly instanceName: string;
  /** Sends goodbye records and closes the mDNS socket. Idempotent. */
  stop(): Promise<void>;
}

/**
 * bonjour-service keeps its multicast-dns socket private, but only that emitter reports a
 * failed bind (EADDRINUSE, EACCES) and, without a listener, that becomes an uncaught
 * 'error' event.
 */
function mdnsSocketOf(bonjour: Bonjour): EventEmitter | undefined {
  return (bonjour as unknown as { server?: { mdns?: EventEmitter } }).server?.mdns;
}

function publishDiagnostic(event: string, detail: unknown): void {
  if (diagnostics.hasSubscribers) diagnostics.publish({ role: "advertise", event, detail });
}

function socketReady(mdns: EventEmitter | undefined): Promise<void> {
  if (!mdns) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, SOCKET_READY_MS);
    function done(err?: unknown): void {
      clearTimeout(timer);
      mdns?.off("ready", onReady);
      mdns?.off("error", done);
      if (err) {
        const message = err instanceof Error ? err.message : String(err);
        reject(
          new HallwayError("PORT_IN_USE", `cannot use the mDNS port (UDP 5353): ${message}`, { cause: err }),
        );
      } else {
        resolve();
      }
    }
    const onReady = (): void => done();
    mdns.once("ready", onReady);
    mdns.once("error", done);
  });
}

/** Lower-cased instance labels that answer for `_hallway._udp` right now. */
function instanceNamesInUse(bonjour: Bonjour): Promise<Set<string>> {
  return new Promise((resolve) => {
    const names = new Set<string>();
    const browser = bonjour.find({ type: REGISTRY_SERVICE_TYPE, protocol: REGISTRY_SERVICE_PROTOCOL });
    const add = (service: Service): void => {
      names.add(service.name.toLowerCase());
    };
    browser.on("up", add);
    browser.on("srv-update", add);
    setTimeout(() => {
      browser.stop();
      resolve(names);
    }, CLAIM_BROWSE_MS);
  });
}

function untilUp(service: Service): Promise<void> {
  return new Promise((resolve) => {
    if (service.published) return resolve();
    // bonjour emits "up" once the first announcement was handed to the socket, sent or not.
    const timer = setTimeout(resolve, ANNOUNCE_MS);
    service.once("up", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function defaultHost(): string {
  const label = os.hostname().split(".")[0] || "hallway";
  return `${label}.local`;
}

export async function advertiseRegistry(opts: AdvertiseOptions): Promise<RegistryAdvertisement> {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65_535) {
    throw new HallwayError("INTERNAL", `cannot advertise registry port ${opts.port}`);
  }
  const txt = encodeRegistryTxt({ version: opts.version, fingerprint: opts.fingerprint, name: opts.name });

  // A send error (interface went away, no multicast route) must not crash the registry:
  // bonjour-service's default error callback throws. The next announcement retries.
  const bonjour = new Bonjour({}, (err: unknown) => publishDiagnostic("send-error", err));
  const mdns = mdnsSocketOf(bonjour);
  mdns?.on("warning", (err: unknown) => publishDiagnostic("warning", err));
  mdns?.on("error", (err: unknown) => publishDiagnostic("error", err));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      let finished = false;
      const destroy = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        try {
          bonjour.destroy(() => resolve());
        } catch (err) {
          publishDiagnostic("close-error", err);
          resolve();
        }
      };
      const timer = setTimeout(destroy, GOODBYE_MS);
      // Goodbye: the same records with TTL 0 (RFC 6762 §10.1), so browsers drop us at once.
      bonjour.unpublishAll(destroy);
    });
    return stopping;
  };

  try {
    await socketReady(mdns);
    const inUse = await instanceNamesInUse(bonjour);
    let attempt = 1;
    let instanceName = registryInstanceName(opts.name, opts.fingerprint, attempt);
    while (inUse.has(instanceName.toLowerCase())) {
      attempt += 1;
      if (attempt > MAX_RENAME_ATTEMPTS) {
        throw new HallwayError("INTERNAL", `no free mDNS instance name for registry "${opts.name}"`);
      }
      instanceName = registryInstanceName(opts.name, opts.fingerprint, attempt);
    }
    const service = bonjour.publish({
      name: instanceName,
      type: REGISTRY_SERVICE_TYPE,
      protocol: REGISTRY_SERVICE_PROTOCOL,
      port: opts.port,
      host: opts.host ?? defaultHost(),
      txt,
      probe: false,
    });
    await untilUp(service);
    return { instanceName, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
