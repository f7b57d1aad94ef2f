/**
 * An office in the simulator: the real registry (SQLite store on a temporary file) and real
 * peer clients (message logs and pin files on temporary directories) on one `SimWorld` LAN,
 * built the way the composition roots build them, with the world's runtime and sockets.
 *
 * Crashes are simulated as a machine losing power would look from the network: the host goes
 * silent first (`world.down`), so nothing the dying process would still say (a `session.end`,
 * a CLOSE) reaches anyone; then its objects are stopped and its files are left as they are.
 */

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PinStore } from "../../src/net/data-dir.js";
import { PeerClient, type PeerClientOptions } from "../../src/peer/client.js";
import type { PeerEvent } from "../../src/peer/events.js";
import { MessageLog } from "../../src/peer/message-log.js";
import type { Address } from "../../src/protocol/address.js";
import type { Identity } from "../../src/protocol/endpoint.js";
import { Registry, type RegistryOptions } from "../../src/server/registry.js";
import { SqliteStore } from "../../src/server/store/index.js";
import { SIM_TEMP_ROOT, SimWorld, type WorldOptions } from "./role-sim.js";

export const REGISTRY_PORT = 7741;
export const PASSWORD = "correct horse battery";
/** The cheapest scrypt cost verification accepts (new hashes only; tests and simulations only). */
const SIM_SCRYPT = { log2N: 4, r: 1, p: 1 };

export interface SimPeer {
  name: string;
  host: string;
  client: PeerClient;
  events: PeerEvent[];
  /** Events of one kind, in order. */
  of<E extends PeerEvent["event"]>(event: E): Extract<PeerEvent, { event: E }>[];
}

export class SimOffice {
  readonly world: SimWorld;
  readonly dir: string;
  readonly registryHost: string;
  readonly registryIdentity: Identity;
  registry: Registry | undefined;
  private store: SqliteStore | undefined;
  readonly peers = new Map<string, SimPeer>();
  /** The registry's log lines (warn and error only), for failure messages. */
  readonly registryLog: string[] = [];

  constructor(opts: WorldOptions) {
    this.world = new SimWorld(opts);
    this.dir = mkdtempSync(join(SIM_TEMP_ROOT, "hallway-sim-office-"));
    this.registryHost = this.world.newHost();
    this.registryIdentity = this.world.identity();
  }

  get registryAddress(): Address {
    return { host: this.registryHost, port: REGISTRY_PORT };
  }

  async startRegistry(extra: Partial<RegistryOptions> = {}): Promise<Registry> {
    const world = this.world;
    const runtime = world.runtime();
    this.store = new SqliteStore(join(this.dir, "registry.sqlite"), {
      now: () => runtime.wall(),
      soon: runtime.soon,
    });
    await world.wait(this.store.init(), 10_000, "the store to open");
    const registry = new Registry({
      store: this.store,
      identity: this.registryIdentity,
      port: REGISTRY_PORT,
      log: (line, level) => {
        if (level === "warn" || level === "error") this.registryLog.push(line);
      },
      // Registration at scrypt's production cost takes 0.2 s of CPU; a crowd cannot afford it.
      passwordHashing: SIM_SCRYPT,
      ...extra,
      runtime,
      sockets: world.socketsOn(this.registryHost),
    });
    await world.wait(registry.start(), 10_000, "the registry to start");
    this.registry = registry;
    return registry;
  }

  /** The registry's machine loses power: silence at once, then the process is gone. */
  async crashRegistry(): Promise<void> {
    const registry = this.registry;
    if (!registry) return;
    this.world.down(this.registryHost);
    await this.world.wait(registry.stop(), 10_000, "the old registry to stop");
    await this.world.wait(this.store?.close() ?? Promise.resolve(), 10_000, "the store to close");
    this.registry = undefined;
    this.store = undefined;
    this.world.up(this.registryHost);
  }

  async stopRegistry(): Promise<void> {
    await this.world.wait(this.registry?.stop() ?? Promise.resolve(), 10_000, "the registry to stop");
    await this.world.wait(this.store?.close() ?? Promise.resolve(), 10_000, "the store to close");
    this.registry = undefined;
    this.store = undefined;
  }

  /**
   * A peer client, built (not started), on a machine of its own (`device` names it; one per
   * name by default). `register` creates the account at its first login.
   */
  peer(name: string, extra: Partial<PeerClientOptions> = {}, device = name): SimPeer {
    const world = this.world;
    const host = world.newHost();
    const dir = join(this.dir, device);
    mkdirSync(dir, { recursive: true });
    const events: PeerEvent[] = [];
    const client = new PeerClient({
      identity: world.identity(),
      server: this.registryAddress,
      user: name,
      password: PASSWORD,
      register: true,
      pins: new PinStore(dir),
      openLog: (user, create, now) => MessageLog.open(dir, user, create, now),
      downloadDir: join(dir, "downloads"),
      onEvent: (event, handedOver) => {
        events.push(event);
        handedOver?.();
      },
      ...extra,
      runtime: world.runtime(),
      sockets: world.socketsOn(host),
      // The machine's one interface is its address on the simulated LAN.
      interfaces: () => [{ address: host, netmask: "255.255.0.0" }],
    });
    const peer: SimPeer = {
      name,
      host,
      client,
      events,
      of: (event) => events.filter((e) => e.event === event) as never,
    };
    this.peers.set(device, peer);
    return peer;
  }

  /** A peer, started and logged in. */
  async login(name: string, extra: Partial<PeerClientOptions> = {}, device = name): Promise<SimPeer> {
    const peer = this.peer(name, extra, device);
    await this.world.wait(peer.client.start(), 60_000, `${name} to log in`);
    return peer;
  }

  /** A peer's machine loses power. */
  async crashPeer(peer: SimPeer): Promise<void> {
    this.world.down(peer.host);
    await this.world.wait(peer.client.stop(), 30_000, `${peer.name}'s client to stop`);
  }

  async close(): Promise<void> {
    for (const p of this.peers.values()) {
      await this.world.wait(p.client.stop(), 30_000, `${p.name} to stop`).catch(() => {});
    }
    await this.stopRegistry().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
