/**
 * The real session host on the seeded SimNetwork: `HostNode` runs a `SessionHost`
 * (src/transport/session-host.ts) with real Noise handshakes and real sealing, one turn per
 * wake-up exactly as the socket adapter does (inputs → events → the file application → pack
 * → transmit), and the file application of file-sim.ts on its sessions. `RelayNode` is the
 * registry's relay role (src/server/relay.ts) as a network node. Addresses: every node gets a
 * made-up IP address, which the datagrams carry; nothing leaves the simulator.
 *
 * The adapter's timer has millisecond granularity (setTimeout); `HostNode` wakes on the same
 * grid (deadlines rounded up to the next millisecond), so pacing, delayed ACKs and probe
 * timers meet the real timer's resolution here too.
 */

import type { Address } from "../../src/protocol/address.js";
import { generateIdentity } from "../../src/protocol/noise.js";
import { Relay } from "../../src/server/relay.js";
import { type HostEvent, type HostedConnection, SessionHost } from "../../src/transport/session-host.js";
import type { StreamCore } from "../../src/transport/stream-core.js";
import { Prng } from "../sim/prng.js";
import type { NodeId, SimNode, Transmit } from "../sim/sim-network.js";
import { FileApp } from "./file-sim.js";

/** The made-up address of every node; ports are the same everywhere. */
export const PORT = 7743;
const addresses = new Map<NodeId, string>();
const nodes = new Map<string, NodeId>();

export function addressOf(id: NodeId): Address {
  let host = addresses.get(id);
  if (host === undefined) {
    host = `10.77.0.${addresses.size + 1}`;
    addresses.set(id, host);
    nodes.set(host, id);
  }
  return { host, port: PORT };
}

function nodeAt(a: Address): NodeId {
  const id = nodes.get(a.host);
  if (id === undefined) throw new Error(`sim: no node at ${a.host}`);
  return id;
}

export interface HostNodeOptions {
  seed: number;
  acceptIncoming?: boolean;
  /** The MTU of the local link, as the adapter reads it from the interface. */
  linkMtuBytes?: number;
  /** Round wake-ups up to this grid, as setTimeout does (default 1 ms; 0: exact). */
  timerGranularityMs?: number;
}

export class HostNode extends FileApp implements SimNode {
  readonly host: SessionHost;
  readonly identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** Every event the host produced, in order. */
  readonly log: HostEvent[] = [];
  /** The session the file application runs on (the first established, or the one `use` picks). */
  session: HostedConnection | undefined;
  /** Stream-0 messages of sessions other than `session`, as text. */
  readonly otherMessages: Array<{ from: NodeId; text: string }> = [];
  private readonly granularityMs: number;

  constructor(id: NodeId, opts: HostNodeOptions) {
    super(id);
    addressOf(id);
    const rng = new Prng(opts.seed ^ 0x5e55);
    this.identity = generateIdentity((n) => rng.bytes(n));
    this.granularityMs = opts.timerGranularityMs ?? 1;
    this.host = new SessionHost({
      identity: this.identity,
      random: (n) => rng.bytes(n),
      acceptIncoming: opts.acceptIncoming ?? true,
      ...(opts.linkMtuBytes === undefined ? {} : { linkMtuFor: () => opts.linkMtuBytes }),
    });
  }

  /** Open a session to `peer` (through `via`, a relay address, if given). */
  connect(peer: HostNode | Address, now: number): void {
    const to = peer instanceof HostNode ? addressOf(peer.id) : peer;
    this.host.connect(
      to,
      now,
      peer instanceof HostNode ? { expectedRemoteKey: peer.identity.publicKey } : {},
    );
  }

  protected sendMessage(message: Uint8Array, now: number): void {
    this.host.send(this.live(), message, 0, now);
  }

  protected attachCore(stream: number, core: StreamCore): boolean {
    return this.host.attachStream(this.live(), stream, core);
  }

  private live(): HostedConnection {
    if (this.session === undefined) throw new Error(`${this.id}: no session yet`);
    return this.session;
  }

  handleDatagram(bytes: Uint8Array, from: NodeId, now: number): void {
    this.host.handleDatagram(bytes, addressOf(from), now);
    this.turn(now);
  }

  handleTimeout(now: number): void {
    this.host.handleTimeout(now);
    this.turn(now);
  }

  pollTransmit(now: number): Transmit | undefined {
    this.turn(now);
    const t = this.host.pollTransmit();
    return t === undefined ? undefined : { to: nodeAt(t.to), bytes: new Uint8Array(Buffer.concat(t.bytes)) };
  }

  pollTimeout(): number | undefined {
    const t = this.host.pollTimeout();
    if (t === undefined || this.granularityMs === 0) return t;
    return Math.ceil(t / this.granularityMs) * this.granularityMs;
  }

  /** The adapter's turn, minus the socket: events, the application, pack. */
  private turn(now: number): void {
    for (let ev = this.host.pollEvent(); ev; ev = this.host.pollEvent()) {
      this.log.push(ev);
      if (ev.type === "established" && this.session === undefined) this.session = ev.conn;
      if (ev.type === "message" && ev.stream === 0) {
        if (ev.conn.session === this.session?.session) this.handleMessage(ev.message, now);
        else
          this.otherMessages.push({
            from: nodeAt(ev.conn.address),
            text: new TextDecoder().decode(ev.message),
          });
      }
    }
    if (
      this.session !== undefined &&
      this.host.isLive(this.session) &&
      this.senders.size + this.receivers.size > 0
    ) {
      // The cores may have been fed (reads, writes): their session needs packing.
      this.service(now);
      this.host.touch(this.session);
    }
    this.host.pack(now);
  }
}

/**
 * The registry's relay as a node: it forwards RELAY envelopes between the two members of a
 * channel it opened, from and to their addresses, within its byte budget.
 */
export class RelayNode implements SimNode {
  readonly relay: Relay;
  private readonly out: Transmit[] = [];
  private readonly members = new Map<string, Address>();

  constructor(
    readonly id: NodeId,
    seed: number,
    bytesPerSecond = 4_000_000,
  ) {
    addressOf(id);
    const rng = new Prng(seed ^ 0x4e1a);
    this.relay = new Relay({ bytesPerSecond, random: (n) => rng.bytes(n) });
  }

  /** A channel between two nodes; returns its token. */
  open(a: NodeId, b: NodeId, now: number): Uint8Array {
    this.members.set(a, addressOf(a));
    this.members.set(b, addressOf(b));
    const token = this.relay.open(a, b, now);
    if (token === undefined) throw new Error("sim: relay refused a channel");
    return new Uint8Array(Buffer.from(token, "hex"));
  }

  handleDatagram(bytes: Uint8Array, from: NodeId, now: number): void {
    const out = this.relay.forward(bytes, addressOf(from), now, (user) => this.members.get(user));
    if (out) this.out.push({ to: nodeAt(out.to), bytes: out.bytes });
  }

  handleTimeout(): void {}

  pollTransmit(): Transmit | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    return undefined;
  }
}
