/**
 * Finds registries on the LAN by browsing mDNS for `_hallway._udp` (see
 * `protocol/mdns-txt.ts` for the records). A thin adapter around bonjour-service.
 *
 * Entries whose TXT does not decode, or that speak another protocol version, are dropped
 * (reported on the diagnostics channel). Several registries may share a display name;
 * callers choose by `wantFingerprint` when they have pinned one, else by `wantName`.
 * "None found" is an empty list, never an error.
 */

import { channel } from "node:diagnostics_channel";
import type { EventEmitter } from "node:events";
import { isIPv4 } from "node:net";
import { Bonjour, type Service } from "bonjour-service";
import { HallwayError } from "../errors.js";
import { PROTOCOL_VERSION } from "../protocol/datagram.js";
import {
  MDNS_DIAGNOSTICS_CHANNEL,
  parseRegistryTxt,
  REGISTRY_SERVICE_PROTOCOL,
  REGISTRY_SERVICE_TYPE,
} from "../protocol/mdns-txt.js";

/** RFC 6762 §5.2: repeat the query after 1 s, then at doubling intervals. */
const FIRST_REQUERY_MS = 1000;
/** Upper bound on closing our socket; a healthy close takes milliseconds. */
const CLOSE_MS = 1000;

const diagnostics = channel(MDNS_DIAGNOSTICS_CHANNEL);

export interface DiscoveredRegistry {
  /** Display name from TXT, or the instance label if the registry sent none. */
  name: string;
  /** DNS-SD instance label, unique on the link, e.g. "Office (ab12)". */
  instanceName: string;
  /** SRV target host. */
  host: string;
  /** IPv4 first (the address the answer came from leads), then IPv6. */
  addresses: string[];
  port: number;
  fingerprint: string;
  version: number;
}

export interface DiscoverOptions {
  /** How long to browse. */
  timeoutMs: number;
  /** Only registries with this key fingerprint. */
  wantFingerprint?: string;
  /** Only registries with this display name (or instance label). */
  wantName?: string;
  /** Resolve as soon as one matching registry is seen. */
  firstOnly?: boolean;
}

function publishDiagnostic(event: string, detail: unknown): void {
  if (diagnostics.hasSubscribers) diagnostics.publish({ role: "discover", event, detail });
}

/** See the same helper in mdns-advertise.ts: bind errors surface only on this emitter. */
function mdnsSocketOf(bonjour: Bonjour): EventEmitter | undefined {
  return (bonjour as unknown as { server?: { mdns?: EventEmitter } }).server?.mdns;
}

function orderAddresses(addresses: readonly string[], referer: string | undefined): string[] {
  const all = [...new Set(referer && addresses.length === 0 ? [referer] : addresses)];
  const v4 = all.filter((a) => isIPv4(a));
  const rest = all.filter((a) => !isIPv4(a));
  // The address the answer came from is on a link we share; put it first among its peers.
  if (referer && v4.includes(referer)) v4.sort((a, b) => Number(b === referer) - Number(a === referer));
  return [...v4, ...rest];
}

/** A browsed service as a registry, or undefined (with a diagnostic) if it is not one we can use. */
function toRegistry(service: Service): DiscoveredRegistry | undefined {
  // The raw TXT strings keep RFC 6763 §6.4 first-key-wins; the decoded object is the fallback.
  const raw = (service as unknown as { rawTxt?: unknown }).rawTxt;
  const decoded = parseRegistryTxt(raw ?? service.txt);
  if (!decoded.ok) {
    publishDiagnostic("bad-txt", { instanceName: service.name, error: decoded.error });
    return undefined;
  }
  const txt = decoded.value;
  if (txt.version !== PROTOCOL_VERSION) {
    publishDiagnostic("other-version", { instanceName: service.name, version: txt.version });
    return undefined;
  }
  if (!Number.isInteger(service.port) || service.port < 1 || service.port > 65_535) return undefined;
  return {
    name: txt.name ?? service.name,
    instanceName: service.name,
    host: service.host,
    addresses: orderAddresses(service.addresses ?? [], service.referer?.address),
    port: service.port,
    fingerprint: txt.fingerprint,
    version: txt.version,
  };
}

function matches(registry: DiscoveredRegistry, opts: DiscoverOptions): boolean {
  if (opts.wantFingerprint !== undefined && registry.fingerprint !== opts.wantFingerprint) return false;
  if (
    opts.wantName !== undefined &&
    registry.name !== opts.wantName &&
    registry.instanceName !== opts.wantName
  ) {
    return false;
  }
  return true;
}

export function discoverRegistries(opts: DiscoverOptions): Promise<DiscoveredRegistry[]> {
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs < 0) {
    return Promise.reject(new HallwayError("CLI_BAD_ARGS", `bad discovery timeout ${opts.timeoutMs} ms`));
  }
  return new Promise((resolve, reject) => {
    const bonjour = new Bonjour({}, (err: unknown) => publishDiagnostic("send-error", err));
    const mdns = mdnsSocketOf(bonjour);
    mdns?.on("warning", (err: unknown) => publishDiagnostic("warning", err));

    const found = new Map<string, DiscoveredRegistry>();
    const timers = new Set<NodeJS.Timeout>();
    let finished = false;

    const finish = (err?: HallwayError): void => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      browser.stop();
      const settle = (): void => {
        clearTimeout(closeTimer);
        if (err) reject(err);
        else resolve([...found.values()]);
      };
      // Resolve once the socket is closed, so "returned" means "released".
      const closeTimer = setTimeout(settle, CLOSE_MS);
      try {
        bonjour.destroy(settle);
      } catch (closeErr) {
        publishDiagnostic("close-error", closeErr);
        settle();
      }
    };

    mdns?.on("error", (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      finish(
        new HallwayError("PORT_IN_USE", `cannot use the mDNS port (UDP 5353): ${message}`, { cause: err }),
      );
    });

    const browser = bonjour.find({ type: REGISTRY_SERVICE_TYPE, protocol: REGISTRY_SERVICE_PROTOCOL });
    const consider = (service: Service): void => {
      if (finished) return;
      const key = service.fqdn.toLowerCase();
      const registry = toRegistry(service);
      if (!registry || !matches(registry, opts)) {
        found.delete(key);
        return;
      }
      found.set(key, registry);
      if (opts.firstOnly) finish();
    };
    browser.on("up", consider);
    browser.on("srv-update", consider);
    browser.on("txt-update", consider);
    browser.on("down", (service: Service) => {
      found.delete(service.fqdn.toLowerCase());
    });

    const requery = (atMs: number, gapMs: number): void => {
      if (atMs >= opts.timeoutMs) return;
      const t = setTimeout(() => {
        timers.delete(t);
        browser.update();
        requery(atMs + gapMs * 2, gapMs * 2);
      }, gapMs);
      timers.add(t);
    };
    requery(FIRST_REQUERY_MS, FIRST_REQUERY_MS);
    timers.add(setTimeout(() => finish(), opts.timeoutMs));
  });
}
