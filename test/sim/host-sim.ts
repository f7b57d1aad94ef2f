/**
 * The real session host on the seeded SimNetwork: `HostNode` runs a `SessionHost`
 * (src/transport/session-host.ts) with real Noise handshakes and real sealing, one turn per
 * wake-up exactly as the socket adapter does (inputs → events → the cores' pump → pack →
 * transmit). Addresses: every node gets a made-up IP address, which the datagrams carry; nothing leaves
 * the simulator.
 *
 * For tests about the transport and the file cores alone (rates, pacing, congestion control),
 * a node hosts `FileSender` and `FileReceiver` cores directly on its session: reads come from
 * a byte array, writes go to one and are durable at once, a verified file is in place at once,
 * and the cores' control messages cross on stream 0. Tests of the peer's transfer layer (offers,
 * the disk, endings) run the real wiring instead: test/sim/file-peers.ts.
 *
 * The adapter's timer has millisecond granularity (setTimeout); `HostNode` wakes on the same
 * grid (deadlines rounded up to the next millisecond), so pacing, delayed ACKs and probe
 * timers meet the real timer's resolution here too.
 */

import { FileReceiver, type FileReceiverOptions } from "../../src/files/file-receiver.js";
import { FileSender, type FileSenderOptions } from "../../src/files/file-sender.js";
import type { Address } from "../../src/protocol/address.js";
import { encodeFileControl, type FileOffer } from "../../src/protocol/file-control.js";
import { generateIdentity } from "../../src/protocol/noise.js";
import { decodeFileControl } from "../../src/protocol/stream-message.js";
import { type HostEvent, type HostedConnection, SessionHost } from "../../src/transport/session-host.js";
import { Prng } from "./prng.js";
import type { NodeId, SimNode, Transmit } from "./sim-network.js";

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

/** A file core hosted on a node, with the bytes it reads from and writes to. */
interface HostedCore {
  core: FileSender | FileReceiver;
  bytes: Uint8Array;
}

export class HostNode implements SimNode {
  readonly host: SessionHost;
  readonly identity: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** Every event the host produced, in order. */
  readonly log: HostEvent[] = [];
  /** The session the file application runs on (the first established, or the one `use` picks). */
  session: HostedConnection | undefined;
  /** Stream-0 messages of sessions other than `session`, as text. */
  readonly otherMessages: Array<{ from: NodeId; text: string }> = [];
  /** Stream-0 text messages of `session`, with their arrival times. */
  readonly chat: Array<{ text: string; at: number }> = [];
  private readonly cores = new Map<string, HostedCore>();
  private readonly granularityMs: number;

  constructor(
    readonly id: NodeId,
    opts: HostNodeOptions,
  ) {
    addressOf(id);
    const rng = new Prng(opts.seed ^ 0x5e55);
    this.identity = generateIdentity((n) => rng.bytes(n));
    this.granularityMs = opts.timerGranularityMs ?? 1;
    this.host = new SessionHost({
      identity: this.identity,
      random: (n) => rng.bytes(n),
      acceptIncoming: opts.acceptIncoming ?? true,
      // As the adapter on a CPU with AES instructions (every machine these tests run on).
      aesGcm: true,
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

  /** A text message on stream 0 of the session. */
  sendChat(text: string, now: number): void {
    this.host.send(this.live(), new TextEncoder().encode(`chat:${text}`), 0, now);
  }

  /** Hosts a sender of `file` on the session (its offer goes out; `hostReceiver` answers it). */
  hostSender(opts: FileSenderOptions, file: Uint8Array): FileSender {
    const sender = new FileSender(opts);
    this.hostCore(sender.offer.stream, { core: sender, bytes: file });
    return sender;
  }

  /** Hosts an accepted receiver of `offer`; `received` gives what it wrote. */
  hostReceiver(offer: FileOffer, opts: Omit<FileReceiverOptions, "offer"> = {}): FileReceiver {
    const receiver = new FileReceiver({ ...opts, offer });
    this.hostCore(offer.stream, { core: receiver, bytes: new Uint8Array(offer.size) });
    receiver.accept();
    return receiver;
  }

  /** The bytes a hosted receiver wrote. */
  received(id: string): Uint8Array {
    const hosted = this.cores.get(id);
    if (hosted === undefined || !(hosted.core instanceof FileReceiver))
      throw new Error(`${this.id}: no receiver ${id}`);
    return hosted.bytes;
  }

  private hostCore(stream: number, hosted: HostedCore): void {
    if (!this.host.attachStream(this.live(), stream, hosted.core))
      throw new Error(`${this.id}: stream ${stream} is taken`);
    this.cores.set(hosted.core.offer.id, hosted);
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
    if (this.session !== undefined && this.host.isLive(this.session) && this.cores.size > 0) {
      // The cores may have been fed (reads, writes): their session needs packing.
      this.pump(now);
      this.host.touch(this.session);
    }
    this.host.pack(now);
  }

  /** Chat, or a control message for a hosted core (an offer needs no answer: see hostReceiver). */
  private handleMessage(message: Uint8Array, now: number): void {
    const text = new TextDecoder().decode(message);
    if (text.startsWith("chat:")) {
      this.chat.push({ text: text.slice(5), at: now });
      return;
    }
    const decoded = decodeFileControl(message);
    if (!decoded.ok) throw new Error(`${this.id}: bad file control message: ${decoded.error.detail}`);
    if (decoded.value.t !== "file.offer")
      this.cores.get(decoded.value.id)?.core.handleControl(decoded.value, now);
  }

  /** Reads from the bytes, writes to them (durable at once), control out on stream 0. */
  private pump(now: number): void {
    const session = this.live();
    for (const { core, bytes } of this.cores.values()) {
      for (let r = core.pollRead(); r !== undefined; r = core.pollRead())
        core.handleRead(r.offset, bytes.slice(r.offset, r.offset + r.length), now);
      if (core instanceof FileReceiver) {
        for (let w = core.pollWrite(); w !== undefined; w = core.pollWrite()) {
          bytes.set(w.bytes, w.offsetBytes);
          core.handleDurable(w.offsetBytes, now);
        }
      }
      for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent())
        if (e.type === "verified" && core instanceof FileReceiver) core.handleFinished(now);
      for (let c = core.pollControl(); c !== undefined; c = core.pollControl())
        this.host.send(session, encodeFileControl(c), 0, now);
    }
  }
}
