/**
 * Reaching the registry (`registry-session.ts`; the client's state is drawn in `client.ts`):
 * a Noise session to its address, its key pinned on first use and held to the pin (or to the
 * fingerprint asked for) after that. A registry that answers with cookies is busy admitting a
 * crowd (its handshake budget, docs/security.md), so it is tried again, with backoff, for a
 * while before it counts as unreachable.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { PinStore } from "../net/data-dir.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import { fingerprint } from "../protocol/noise.js";
import { randomFraction } from "../protocol/random-ids.js";
import type { Runtime } from "../runtime.js";

/**
 * How long a connect keeps trying a registry that answers with cookies (busy: a crowd logging
 * in at once, after a power cut, is admitted at its handshake rate) before it reports it
 * unreachable.
 */
const BUSY_REGISTRY_RETRY_MS = 60_000;

export interface RegistryTarget {
  host: UdpHost;
  /** The backoff's waits and jitter. */
  runtime: Runtime;
  server: Address;
  /** `host:port`, the pin's name and the messages'. */
  name: string;
  pins: PinStore;
  /** The registry must present the key with this fingerprint. */
  registryFingerprint: string | undefined;
  /** The client stopped: no more tries. */
  closed(): boolean;
}

/** A session with the registry whose key is the one pinned (pinned now if none was). */
export async function connectRegistry(to: RegistryTarget): Promise<HostedConnection> {
  const { host, runtime, server, name } = to;
  const pinned = to.pins.get(name);
  const started = runtime.now();
  let conn: HostedConnection;
  for (let attempt = 0; ; attempt++) {
    const cookiesBefore = host.cookieStats.received;
    try {
      conn = await host.connect(
        server,
        pinned ? { expectedRemoteKey: new Uint8Array(Buffer.from(pinned, "hex")) } : {},
      );
      break;
    } catch (err) {
      const e = asHallwayError(err);
      if (e.code === "CRYPTO_UNEXPECTED_KEY") {
        throw new HallwayError(
          "REGISTRY_KEY_CHANGED",
          `the registry at ${name} presented a different key than the one pinned (${fingerprint(
            new Uint8Array(Buffer.from(pinned ?? "", "hex")),
          )}); refusing to connect`,
        );
      }
      // A registry that answered with a cookie is there, and busy admitting a crowd (its
      // handshake budget: docs/security.md): wait a little and try again, for a while.
      const busy = host.cookieStats.received > cookiesBefore;
      if (!busy || runtime.now() - started >= BUSY_REGISTRY_RETRY_MS || to.closed()) {
        throw new HallwayError("REGISTRY_UNREACHABLE", `no answer from the registry at ${name}`);
      }
      const base = Math.min(2_000, 250 * 2 ** attempt);
      await new Promise<void>((resolve) =>
        runtime.after(base / 2 + randomFraction(runtime) * (base / 2), resolve),
      );
    }
  }
  const wanted = to.registryFingerprint;
  if (wanted !== undefined && fingerprint(conn.remoteKey) !== wanted) {
    host.close(conn, "not the registry asked for");
    throw new HallwayError(
      "REGISTRY_KEY_CHANGED",
      `the registry at ${name} has key ${fingerprint(conn.remoteKey)}, not the ${wanted} asked for; refusing to connect`,
    );
  }
  const keyHex = Buffer.from(conn.remoteKey).toString("hex");
  if (!pinned) to.pins.set(name, keyHex);
  return conn;
}
