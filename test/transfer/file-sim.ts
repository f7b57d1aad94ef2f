/**
 * Test driver for file transfers: two peers over the seeded SimNetwork, each a miniature of
 * the peer's wiring around the real `Connection`: stream 0 carries the file control messages
 * (JSON, the real codec) and chat; every transfer's stream is its FileSender or FileReceiver,
 * attached to the Connection, which packs stream 0 first and shares the rest between the
 * transfers by bytes, into datagrams of exactly the size a real DATA datagram would have
 * (13-byte header, frames, 16-byte tag) and never above the size its path-MTU discovery has
 * proved. A checksum over the whole datagram stands in for the AEAD tag.
 *
 * The "disk" of a receiver is a byte array; writes become durable at once unless the test
 * stalls it (then they wait, undurable, until it resumes). Reads (the sender's blocks, a
 * resuming receiver's read-back) are answered at once from the file or the disk.
 */

import { createHash } from "node:crypto";
import type { FileTransferEvent } from "../../src/files/file-core.js";
import { FileReceiver, type FileReceiverOptions } from "../../src/files/file-receiver.js";
import { FileSender, type FileSenderOptions } from "../../src/files/file-sender.js";
import { decodeChunk, encodeChunk } from "../../src/protocol/file-chunk.js";
import { encodeFileControl, type FileControl, type FileOffer } from "../../src/protocol/file-control.js";
import { decodeFrames, encodeFrames, type Frame, type SegmentFrame } from "../../src/protocol/frames.js";
import { AEAD_TAG_BYTES, DATA_HEADER_BYTES, MAX_DATAGRAM_BYTES } from "../../src/protocol/limits.js";
import { decodeFileControl } from "../../src/protocol/stream-message.js";
import { Connection } from "../../src/transport/connection.js";
import type { StreamCore } from "../../src/transport/stream-core.js";
import { Prng } from "../sim/prng.js";
import type { NodeId, SimNode, Transmit } from "../sim/sim-network.js";

const CHECKSUM_BYTES = 4;

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** A datagram the size of a real DATA datagram carrying `frames`; the checksum covers all of it. */
export function seal(frames: Uint8Array): Uint8Array {
  const out = new Uint8Array(DATA_HEADER_BYTES + frames.length + AEAD_TAG_BYTES);
  out.set(frames, DATA_HEADER_BYTES);
  new DataView(out.buffer).setUint32(0, fnv1a(out.subarray(CHECKSUM_BYTES)));
  return out;
}

export function open(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < DATA_HEADER_BYTES + AEAD_TAG_BYTES) return undefined;
  const sum = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (sum !== fnv1a(bytes.subarray(CHECKSUM_BYTES))) return undefined;
  return bytes.subarray(DATA_HEADER_BYTES, bytes.length - AEAD_TAG_BYTES);
}

/** Frames of a sealed datagram (for taps in `drop` hooks). */
export function framesOf(bytes: Uint8Array): Frame[] {
  const body = open(bytes);
  if (body === undefined) return [];
  const decoded = decodeFrames(body);
  return decoded.ok ? decoded.value : [];
}

/** Offsets of the chunks a sealed datagram carries (whole, unfragmented chunk segments). */
export function chunkOffsetsOf(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const f of framesOf(bytes)) {
    if (f.type !== "segment" || f.stream === 0 || f.fragment !== undefined) continue;
    const c = decodeChunk(f.payload);
    if (c.ok) out.push(c.value.offset);
  }
  return out;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/** A receiver's disk: a byte array, plus durability the test can withhold. */
export class SimDisk {
  readonly bytes: Uint8Array;
  stalled = false;
  /** Written but not yet durable (while stalled): the offsets of those writes. */
  readonly undurable: number[] = [];
  writes = 0;
  /** Set: putting the finished file in place fails with this message (a read-only folder). */
  finishFails: string | undefined;
  /** The file is in place under its final name (the adapter's rename and directory fsync). */
  finished = false;

  constructor(sizeBytes: number) {
    this.bytes = new Uint8Array(sizeBytes);
  }
}

export interface TransferEnd {
  events: FileTransferEvent[];
}

/**
 * The "application" of a simulated peer: its file transfers (cores, files, disks, events) and
 * chat, driven the way the peer's transfer layer drives them, over any session that can send
 * a stream-0 message and host a transfer core. `PeerNode` runs it over a bare Connection;
 * `HostNode` (host-sim.ts) over a real SessionHost.
 */
export abstract class FileApp {
  readonly senders = new Map<string, FileSender>();
  /** Each sender's file, which its reads are served from. */
  private readonly files = new Map<string, Uint8Array>();
  readonly receivers = new Map<string, FileReceiver>();
  readonly disks = new Map<string, SimDisk>();
  readonly events = new Map<string, FileTransferEvent[]>();
  readonly chat: Array<{ text: string; at: number }> = [];
  /** What to do with an offer: build a receiver (and accept or decline it), or ignore it. */
  onOffer: ((offer: FileOffer, now: number) => FileReceiver | undefined) | undefined;

  constructor(readonly id: NodeId) {}

  /** Queue one reliable message on stream 0 of the session. */
  protected abstract sendMessage(message: Uint8Array, now: number): void;
  /** Host a transfer core on a stream of the session. */
  protected abstract attachCore(stream: number, core: StreamCore): boolean;

  private attach(stream: number, core: StreamCore): void {
    if (!this.attachCore(stream, core)) throw new Error(`${this.id}: stream ${stream} is taken`);
  }

  /** Start sending a file; the offer goes out on stream 0. */
  send(opts: FileSenderOptions & { file: Uint8Array }): FileSender {
    const { file, ...rest } = opts;
    const sender = new FileSender(rest);
    this.senders.set(sender.id, sender);
    this.files.set(sender.id, file);
    this.attach(sender.offer.stream, sender);
    this.events.set(sender.id, []);
    return sender;
  }

  /** Build a receiver for an offer, with its disk (reused when resuming). */
  receive(offer: FileOffer, opts: Omit<FileReceiverOptions, "offer"> = {}, disk?: SimDisk): FileReceiver {
    const d = disk ?? new SimDisk(offer.size);
    const receiver = new FileReceiver({ ...opts, offer });
    this.receivers.set(offer.id, receiver);
    this.disks.set(offer.id, d);
    this.attach(offer.stream, receiver);
    this.events.set(offer.id, []);
    return receiver;
  }

  sendChat(text: string, now: number): void {
    this.sendMessage(new TextEncoder().encode(`chat:${text}`), now);
  }

  /** Release writes held by a stalled disk. */
  resumeDisk(id: string, now: number): void {
    const disk = this.disks.get(id) as SimDisk;
    disk.stalled = false;
    const receiver = this.receivers.get(id) as FileReceiver;
    for (const offset of disk.undurable.splice(0)) receiver.handleDurable(offset, now);
    this.service(now);
  }

  eventsOf(id: string): FileTransferEvent[] {
    return this.events.get(id) ?? [];
  }

  /** A stream-0 message from the peer: chat, or a file control message. */
  protected handleMessage(m: Uint8Array, now: number): void {
    const text = new TextDecoder().decode(m);
    if (text.startsWith("chat:")) {
      this.chat.push({ text: text.slice(5), at: now });
      return;
    }
    const decoded = decodeFileControl(m);
    if (!decoded.ok) throw new Error(`${this.id}: bad file control message: ${decoded.error.detail}`);
    this.dispatch(decoded.value, now);
  }

  /** Moves reads, writes, control messages and events between the cores and this "application". */
  protected service(now: number): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const [id, sender] of this.senders) {
        const file = this.files.get(id) as Uint8Array;
        for (let r = sender.pollRead(); r !== undefined; r = sender.pollRead()) {
          sender.handleRead(r.offset, file.slice(r.offset, r.offset + r.length), now);
          progress = true;
        }
        for (let c = sender.pollControl(); c !== undefined; c = sender.pollControl())
          this.sendControl(c, now);
        for (let e = sender.pollEvent(); e !== undefined; e = sender.pollEvent()) this.eventsOf(id).push(e);
      }
      for (const [id, receiver] of this.receivers) {
        const disk = this.disks.get(id) as SimDisk;
        for (let r = receiver.pollRead(); r !== undefined; r = receiver.pollRead()) {
          receiver.handleRead(r.offset, disk.bytes.slice(r.offset, r.offset + r.length), now);
          progress = true;
        }
        for (let w = receiver.pollWrite(); w !== undefined; w = receiver.pollWrite()) {
          disk.bytes.set(w.bytes, w.offsetBytes);
          disk.writes++;
          if (disk.stalled) disk.undurable.push(w.offsetBytes);
          else receiver.handleDurable(w.offsetBytes, now);
          progress = true;
        }
        for (let c = receiver.pollControl(); c !== undefined; c = receiver.pollControl())
          this.sendControl(c, now);
        for (let e = receiver.pollEvent(); e !== undefined; e = receiver.pollEvent()) {
          this.eventsOf(id).push(e);
          if (e.type !== "verified") continue;
          // The adapter's rename and directory fsync, done at once (or refused).
          if (disk.finishFails === undefined) {
            disk.finished = true;
            receiver.handleFinished(now);
          } else receiver.handleFinishFailed("FILE_WRITE_FAILED", disk.finishFails, now);
          progress = true;
        }
      }
    }
  }

  private sendControl(msg: FileControl, now: number): void {
    this.sendMessage(encodeFileControl(msg), now);
  }

  private dispatch(msg: FileControl, now: number): void {
    if (msg.t === "file.offer") {
      this.onOffer?.(msg, now);
      return;
    }
    this.senders.get(msg.id)?.handleControl(msg, now);
    this.receivers.get(msg.id)?.handleControl(msg, now);
  }
}

/** One peer over a bare Connection: stream 0 for control and chat, one stream per transfer. */
export class PeerNode extends FileApp implements SimNode {
  readonly conn: Connection;
  /** Probability that a chunk's plaintext is damaged after "decryption", before the core. */
  plaintextCorruptRate = 0;
  plaintextCorrupted = 0;
  corruptDropped = 0;
  maxDatagramBytes = 0;
  private readonly rng: Prng;

  constructor(
    id: NodeId,
    private readonly peer: NodeId,
    seed: number,
    /** The MTU of the link, as the socket adapter would tell the Connection (default: Ethernet). */
    linkMtuBytes?: number,
  ) {
    super(id);
    this.rng = new Prng(seed ^ 0x7e57);
    this.conn = new Connection(
      { keepaliveMs: 15_000, initiator: id < peer, ...(linkMtuBytes === undefined ? {} : { linkMtuBytes }) },
      0,
    );
  }

  protected sendMessage(message: Uint8Array, now: number): void {
    this.conn.sendMessage(message, now);
  }

  protected attachCore(stream: number, core: StreamCore): boolean {
    return this.conn.attachStream(stream, core);
  }

  handleDatagram(bytes: Uint8Array, _from: NodeId, now: number): void {
    const body = open(bytes);
    if (body === undefined) {
      this.corruptDropped++;
      return;
    }
    const decoded = decodeFrames(body);
    if (!decoded.ok) throw new Error(`${this.id}: undecodable payload that passed the checksum`);
    const frames = decoded.value.map((f) => (f.type === "segment" ? this.maybeCorrupt(f) : f));
    this.conn.handlePayload(encodeFrames(frames), now);
    this.drain(now);
  }

  handleTimeout(now: number): void {
    this.conn.handleTimeout(now);
    this.drain(now);
  }

  pollTransmit(now: number): Transmit | undefined {
    this.drain(now);
    const frames = this.conn.pollPayload(now);
    if (frames === undefined) return undefined;
    const bytes = seal(Buffer.concat(frames));
    if (bytes.length > MAX_DATAGRAM_BYTES) throw new Error(`${this.id}: a ${bytes.length}-byte datagram`);
    this.maxDatagramBytes = Math.max(this.maxDatagramBytes, bytes.length);
    return { to: this.peer, bytes };
  }

  pollTimeout(): number | undefined {
    return this.conn.pollTimeout();
  }

  private drain(now: number): void {
    for (let got = this.conn.pollMessage(); got !== undefined; got = this.conn.pollMessage()) {
      if (got.stream !== 0) throw new Error(`${this.id}: a message on stream ${got.stream}`);
      this.handleMessage(got.message, now);
    }
    this.service(now);
  }

  /** Damages a chunk's CRC or bytes (never its offset, which only the AEAD protects). */
  private maybeCorrupt(frame: SegmentFrame): SegmentFrame {
    const skip = frame.fragment === undefined || frame.fragment.offset === 0 ? 8 : 0;
    if (frame.stream === 0 || frame.payload.length <= skip || !this.rng.chance(this.plaintextCorruptRate)) {
      return frame;
    }
    const payload = frame.payload.slice();
    const at = skip + this.rng.int(payload.length - skip);
    payload[at] = (payload[at] as number) ^ (1 + this.rng.int(255));
    this.plaintextCorrupted++;
    return { ...frame, payload };
  }
}

/** Deterministic file contents of a given size. */
export function makeFile(seed: number, sizeBytes: number): Uint8Array {
  return new Prng(seed ^ 0xf11e).bytes(sizeBytes);
}

/** A chunk with a deliberately wrong CRC (for unit tests). */
export function badChunk(offset: number, bytes: Uint8Array): Uint8Array {
  return encodeChunk(offset, bytes, 0xdeadbeef);
}
