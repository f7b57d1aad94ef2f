/**
 * Two peers' file-transfer layers on a SimWorld (role-sim.ts): each peer is the real
 * `FileTransfers` (src/transfers/file-transfers.ts) with its real disk adapter on a temporary
 * download folder, over a real `UdpHost` on the world's LAN, wired to its session the way
 * `PeerClient` wires it (`onTurn`, `onClosed`, stream-0 messages through the one decoder:
 * `file.*` to the transfer layer, a bad offer refused by id, chat recorded). Nothing of the
 * transfer path is stood in for; only the clock, the sockets and (on request) the fsync are
 * the world's.
 *
 * The disk is as fast as the machine's, which costs no virtual time: the world waits for
 * outstanding file-system requests before its clock moves. `StallableDisk` holds writes back
 * (a disk that stops taking them) until the test resumes it.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HostedConnection, UdpHost } from "../../src/net/udp-host.js";
import type { PeerEvent, TransferEvent } from "../../src/peer/events.js";
import type { Address } from "../../src/protocol/address.js";
import { encodeControl } from "../../src/protocol/control.js";
import { decodeStreamMessage } from "../../src/protocol/stream-message.js";
import type { IncomingFile } from "../../src/transfers/file-store.js";
import { FileTransfers, type FileTransfersOptions } from "../../src/transfers/file-transfers.js";
import { type LinkFaults, SIM_TEMP_ROOT, type SimWorld } from "./role-sim.js";

export { makeFile, sha256 } from "./file-content.js";

/** A disk whose writes hang while stalled (a stuck USB stick, a hung network mount). */
export class StallableDisk {
  stalled = false;
  private readonly held: Array<() => void> = [];

  readonly write = (file: IncomingFile, offsetBytes: number, buffers: Uint8Array[]): Promise<void> => {
    if (!this.stalled) return file.writeAt(offsetBytes, buffers);
    return new Promise<void>((resume) => this.held.push(resume)).then(() =>
      file.writeAt(offsetBytes, buffers),
    );
  };

  resume(): void {
    this.stalled = false;
    for (const go of this.held.splice(0)) go();
  }
}

export interface PeerOptions {
  /** Accept every offer into the download folder (default true). */
  autoAccept?: boolean;
  /** The MTU of the local link, as the socket adapter would read it (default 1,500). */
  linkMtuBytes?: number;
  writeFile?: FileTransfersOptions["writeFile"];
}

export class FilePeer {
  readonly udp: UdpHost;
  readonly transfers: FileTransfers;
  /** Every event the transfer layer emitted, in order. */
  readonly events: PeerEvent[] = [];
  readonly chat: Array<{ text: string; at: number }> = [];
  /** The session to the other peer, once established. */
  conn: HostedConnection | undefined;
  readonly address: Address;
  private chatSeq = 0;

  constructor(
    private readonly world: SimWorld,
    readonly name: string,
    readonly other: string,
    readonly host: string,
    /** Where received files go; where files to send are written (`outbox`). */
    readonly downloadDir: string,
    readonly outbox: string,
    opts: PeerOptions,
    acceptIncoming: boolean,
  ) {
    this.address = { host, port: 7000 };
    const runtime = world.runtime();
    this.udp = new UdpHost({
      identity: world.identity(),
      acceptIncoming,
      runtime,
      sockets: world.socketsOn(host),
      port: 7000,
      linkMtuFor: () => opts.linkMtuBytes ?? 1500,
    });
    this.transfers = new FileTransfers({
      host: this.udp,
      runtime,
      emit: (e) => this.events.push(e),
      downloadDir,
      ...(opts.autoAccept === false ? {} : { autoAcceptDir: downloadDir }),
      ...(opts.writeFile === undefined ? {} : { writeFile: opts.writeFile }),
    });
    this.udp.handlers = {
      onEstablished: (conn) => {
        this.conn ??= conn;
      },
      onMessage: (conn, bytes) => this.onMessage(conn, bytes),
      onClosed: (conn) => this.transfers.onClosed(conn),
      onAddressChanged: (conn) => {
        this.conn = conn;
      },
      onTurn: (now) => this.transfers.onTurn(now),
    };
  }

  /** The client's `onPeerMessage`: one decoder, file messages to the transfer layer. */
  private onMessage(conn: HostedConnection, bytes: Uint8Array): void {
    const decoded = decodeStreamMessage(bytes);
    if (!decoded.ok) throw new Error(`${this.name}: undecodable stream-0 message: ${decoded.error.detail}`);
    const m = decoded.value;
    if (m.kind === "file") this.transfers.handleControl(this.other, conn, m.msg);
    else if (m.kind === "bad-offer") this.transfers.handleBadOffer(this.other, conn, m);
    else if (m.msg.t === "chat") this.chat.push({ text: m.msg.msg.text, at: this.world.now });
  }

  get session(): HostedConnection {
    if (this.conn === undefined) throw new Error(`${this.name} has no session`);
    return this.conn;
  }

  sendChat(text: string): void {
    const msg = {
      t: "chat" as const,
      msg: { id: `${this.name}-chat-${this.chatSeq++}`, from: this.name, to: this.other, text, sentAt: 1 },
    };
    this.udp.send(this.session, encodeControl(msg));
  }

  /** Writes `content` to this peer's outbox and offers it; resolves with the transfer id. */
  async sendFile(name: string, content: Uint8Array): Promise<string> {
    return await this.world.wait(this.offerFile(name, content), 10_000, "an offer");
  }

  /** The same, without running the world (to offer several at once: `world.wait` them). */
  offerFile(name: string, content: Uint8Array): Promise<string> {
    const path = join(this.outbox, name);
    writeFileSync(path, content);
    return this.transfers.send(this.other, this.session, path, name);
  }

  /** Transfer events of one transfer. */
  eventsOf(id: string): TransferEvent[] {
    return this.events.filter((e): e is TransferEvent => e.event === "transfer" && e.id === id);
  }

  /** The transfer's last event, if it ended (done, failed, cancelled). */
  endOf(id: string): TransferEvent | undefined {
    return this.eventsOf(id).find(
      (e) => e.state === "done" || e.state === "failed" || e.state === "cancelled",
    );
  }

  /** Bytes acknowledged (sender) or durable (receiver) of a running transfer, from `list()`. */
  bytesOf(n: number): number {
    return this.transfers.list().find((r) => r.n === n)?.bytes ?? 0;
  }

  /** The path statistics of the session. */
  path() {
    const stats = this.udp.connectionStats(this.session);
    if (stats === undefined) throw new Error(`${this.name}'s session is gone`);
    return stats.path;
  }

  /** What the receiver put in place for transfer `id`. */
  received(id: string): Uint8Array {
    const path = this.endOf(id)?.path;
    if (path === undefined) throw new Error(`${this.name}: transfer ${id} has no file in place`);
    return new Uint8Array(readFileSync(path));
  }

  async stop(): Promise<void> {
    this.transfers.stop();
    await this.world.wait(this.udp.stop(), 5_000, `${this.name} stopping`);
  }
}

export interface PairOptions {
  alice?: PeerOptions;
  bob?: PeerOptions;
  /** Faults between the two, both ways, over the world's. */
  link?: LinkFaults;
  /** Bob's download folder (a resume reuses one). */
  bobDir?: string;
  /** Whether to open the session (default true). */
  connect?: boolean;
}

/** Temporary folders of the pairs made so far; `removeFolders` deletes them. */
const folders: string[] = [];

export function tempFolder(): string {
  const dir = mkdtempSync(join(SIM_TEMP_ROOT, "hallway-sim-files-"));
  folders.push(dir);
  return dir;
}

export function removeFolders(): void {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Alice (connects) and bob (accepts), started, with a session between them. */
export async function filePair(
  world: SimWorld,
  opts: PairOptions = {},
  hosts = { alice: world.newHost(), bob: world.newHost() },
): Promise<{ alice: FilePeer; bob: FilePeer }> {
  const peer = (name: string, other: string, host: string, o: PeerOptions | undefined, dir?: string) =>
    new FilePeer(world, name, other, host, dir ?? tempFolder(), tempFolder(), o ?? {}, name === "bob");
  const alice = peer("alice", "bob", hosts.alice, opts.alice);
  const bob = peer("bob", "alice", hosts.bob, opts.bob, opts.bobDir);
  if (opts.link) world.setLinks(hosts.alice, hosts.bob, opts.link);
  await world.wait(Promise.all([alice.udp.start(), bob.udp.start()]), 1_000, "binding");
  if (opts.connect !== false) {
    alice.conn = await world.wait(alice.udp.connect(bob.address), 10_000, "the handshake");
    await world.until(() => bob.conn !== undefined, 10_000, "bob's session");
  }
  return { alice, bob };
}
