/**
 * The client's side of the registry's drop box (docs/protocol.md, "Drop box"): a file for a
 * group, or for someone offline or out of reach, is uploaded to the registry; a file waiting
 * there for this user is fetched from it. Both are ordinary transfers of `FileTransfers` on
 * the registry session; this class only says which file they carry and for whom.
 *
 * - Upload: the file is hashed, announced (`drop.put`), and offered to the registry under the
 *   recipient's name (`#group` or the person). A lost registry session fails the transfer
 *   with FILE_PEER_LOST; at the next login it is announced and offered again, and the registry
 *   resumes from what it holds (its `.part` and manifest). A killed client forgets it: sending
 *   the same file again resumes the same way.
 * - Download: `drop.notify` (at once, or at login) names files waiting; each is fetched
 *   (`drop.fetch`) and arrives as an offer from the registry under the sender's name, which is
 *   accepted or declined like any offer (`--accept-files` takes it at once). A partial
 *   download stays, and the next offer of the same file resumes from it.
 * Transfer events of both carry `via: "registry"` and the drop's id (`drop`).
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { HostedConnection } from "../net/udp-host.js";
import { parseAnswer, type RequestBody } from "../protocol/control.js";
import { type DropInfo, dropFetchData, dropListData, dropPutData } from "../protocol/drop.js";
import type { FileControl, FileEndCode, FileOffer } from "../protocol/file-control.js";
import { hexId } from "../protocol/random-ids.js";
import type { StreamMessage } from "../protocol/stream-message.js";
import type { Runtime } from "../runtime.js";
import { OutgoingFile } from "../transfers/file-store.js";
import type { FileTransfers } from "../transfers/file-transfers.js";
import type { PeerEvent, TransferEvent } from "./events.js";

/** Downloads from the drop box at once; the others wait their turn. */
const PARALLEL_FETCHES = 2;
/** Receptions remembered (peer to peer, and from the drop box), for the one that comes second. */
const KEEP_DONE = 256;

interface Upload {
  to: string;
  path: string;
  name: string;
  size: number;
  sha256: string;
  /** The transfer carrying it now, if one runs. */
  transfer?: string;
}

export interface DropClientOptions {
  transfers: FileTransfers;
  /** Upload ids, the time of a drop already held, retry waits. */
  runtime: Runtime;
  request: (body: RequestBody) => Promise<unknown>;
  /** The live registry session, if there is one. */
  registry: () => HostedConnection | undefined;
  emit: (e: PeerEvent) => void;
}

export class DropClient {
  /** Registry transfers: their id → the name they go under (recipient or sender) and the drop. */
  private readonly carried = new Map<
    string,
    { label: string; drop: string; direction: "send" | "receive" }
  >();
  /** Files the registry said wait for us, by drop id. */
  private readonly waiting = new Map<string, DropInfo>();
  /** Drops being fetched or downloaded (at most PARALLEL_FETCHES), and those waiting their turn. */
  private readonly fetching = new Set<string>();
  private readonly queue: string[] = [];
  /** Drops the sender is also sending us peer to peer: drop id → `sender sha256`. */
  private readonly covered = new Map<string, string>();
  /** Peer-to-peer receptions by `sender sha256`: running (its transfer id), and done lately. */
  private readonly directRunning = new Map<string, string>();
  private readonly directDone = new Set<string>();
  /** Drops received lately, by `sender sha256`. */
  private readonly viaDropBox = new Set<string>();
  /** Uploads not finished, by drop id: offered again after a lost session. */
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly opts: DropClientOptions) {}

  /** Upload `path` for `to` (a person or `#group`); resolves with the transfer's number (0: already held). */
  async upload(to: string, path: string, name: string): Promise<number> {
    const file = await OutgoingFile.open(path);
    const size = file.sizeBytes;
    const sha256 = Buffer.from(file.sha256).toString("hex");
    file.close();
    const put = parseAnswer(
      dropPutData,
      await this.opts.request({ t: "drop.put", to, name, size, sha256 }),
      "drop.put",
    );
    if (put.stored) {
      this.opts.emit({
        event: "drop",
        drop: { id: put.id, from: "", to, name, size, sha256, at: this.opts.runtime.wall(), state: "stored" },
      });
      return 0;
    }
    this.uploads.set(put.id, { to, path, name, size, sha256 });
    return this.offer(put.id);
  }

  private async offer(drop: string): Promise<number> {
    const u = this.uploads.get(drop);
    const conn = this.opts.registry();
    if (!u || !conn) throw new HallwayError("REGISTRY_LOST", "not connected to the registry");
    const id = hexId(this.opts.runtime);
    // Known before the first event of the transfer, so that every event says where it goes.
    this.carried.set(id, { label: u.to, drop, direction: "send" });
    u.transfer = id;
    try {
      await this.opts.transfers.send(u.to, conn, u.path, u.name, undefined, { id, sha256: u.sha256 });
    } catch (err) {
      this.carried.delete(id);
      u.transfer = undefined;
      throw err;
    }
    return this.opts.transfers.numberOf(id);
  }

  /** After every login: uploads a lost session cut short start again (and resume). */
  onLogin(): void {
    for (const [drop, u] of [...this.uploads]) {
      if (u.transfer !== undefined) continue;
      this.uploads.delete(drop);
      this.opts
        .request({ t: "drop.put", to: u.to, name: u.name, size: u.size, sha256: u.sha256 })
        .then((data) => {
          const put = parseAnswer(dropPutData, data, "drop.put");
          if (put.stored) return;
          this.uploads.set(put.id, u);
          return this.offer(put.id);
        })
        .catch((err) => {
          const e = asHallwayError(err);
          this.opts.emit({ event: "error", code: e.code, message: `${u.name} for ${u.to}: ${e.message}` });
        });
    }
  }

  /**
   * `drop.notify`: files wait for us. Each is fetched (and offered by the registry), a few at
   * a time, unless the sender is sending it to us peer to peer: then it is fetched only if
   * that fails, and the registry hears `drop.got` when it is done.
   */
  handleNotify(drops: readonly DropInfo[]): void {
    for (const d of drops) {
      if (!this.waiting.has(d.id)) this.opts.emit({ event: "drop", drop: d });
      this.waiting.set(d.id, d);
      const direct = `${d.from} ${d.sha256}`;
      if (this.directDone.has(direct)) this.got(d.id);
      else if (this.directRunning.has(direct)) this.covered.set(d.id, direct);
      else this.want(d.id);
    }
  }

  private want(drop: string): void {
    if (!this.fetching.has(drop) && !this.queue.includes(drop)) this.queue.push(drop);
    this.pump();
  }

  private pump(): void {
    while (this.fetching.size < PARALLEL_FETCHES && this.queue.length > 0) {
      const drop = this.queue.shift() as string;
      if (this.waiting.has(drop) && !this.covered.has(drop)) this.fetch(drop);
    }
  }

  private fetch(drop: string): void {
    this.fetching.add(drop);
    this.opts
      .request({ t: "drop.fetch", id: drop })
      .then((data) => {
        const { transfer } = parseAnswer(dropFetchData, data, "drop.fetch");
        const d = this.waiting.get(drop);
        if (d && !this.carried.has(transfer))
          this.carried.set(transfer, { label: d.from, drop, direction: "receive" });
      })
      .catch((err) => {
        this.fetching.delete(drop);
        const e = asHallwayError(err);
        if (e.code === "RATE_LIMITED" || e.retryAfterMs !== undefined) {
          this.opts.runtime.after(e.retryAfterMs ?? 1000, () => this.want(drop), { weak: true });
        } else if (e.code !== "REGISTRY_LOST" && e.code !== "REGISTRY_UNREACHABLE") {
          // (A lost registry notifies again at the next login.)
          this.waiting.delete(drop);
          this.opts.emit({ event: "error", code: e.code, message: e.message, id: drop });
        }
        this.pump();
      });
  }

  /** We have the file from the sender directly: the registry need not keep it for us. */
  private got(drop: string): void {
    this.covered.delete(drop);
    this.waiting.delete(drop);
    this.opts.request({ t: "drop.got", id: drop }).catch(() => {
      // Not told (registry lost): it notifies again at login, and the file is then known here.
    });
  }

  /** A peer-to-peer file arriving: drops of the same content from the same sender wait for it. */
  private watchDirect(e: TransferEvent): void {
    if (e.direction !== "receive" || e.batch) return;
    const key = `${e.peer} ${e.sha256}`;
    if (e.state !== "done" && e.state !== "failed" && e.state !== "cancelled") {
      this.directRunning.set(key, e.id);
      return;
    }
    if (this.directRunning.get(key) === e.id) this.directRunning.delete(key);
    if (e.state === "done") this.remember(this.directDone, key);
    if (e.state === "done") {
      // Whether it waited for this transfer or was being fetched meanwhile.
      for (const d of [...this.waiting.values()]) if (`${d.from} ${d.sha256}` === key) this.got(d.id);
      return;
    }
    for (const [drop, k] of [...this.covered]) {
      if (k !== key) continue;
      this.covered.delete(drop);
      this.want(drop);
    }
  }

  private remember(set: Set<string>, key: string): void {
    set.add(key);
    if (set.size > KEEP_DONE) set.delete(set.values().next().value as string);
  }

  /**
   * A peer-to-peer offer of what the same sender's drop just brought us (the drop box won the
   * race) is declined, so the file does not arrive twice.
   */
  screenDirect(peer: string, offer: FileOffer): { code: FileEndCode; message: string } | undefined {
    if (this.carried.has(offer.id) || !this.viaDropBox.has(`${peer} ${offer.sha256}`)) return undefined;
    return { code: "FILE_DECLINED", message: "already received through the registry's drop box" };
  }

  /** A `file.*` message on the registry session. */
  handleFile(conn: HostedConnection, m: Exclude<StreamMessage, { kind: "control" }>): void {
    if (m.kind === "bad-offer") {
      this.opts.transfers.handleBadOffer("registry", conn, m);
      return;
    }
    const msg = m.msg as FileControl;
    if (msg.t === "file.offer" && !this.carried.has(msg.id)) {
      // The offer may come before the answer to `drop.fetch`: it is known by its content.
      const taken = new Set([...this.carried.values()].map((c) => c.drop));
      const d = [...this.waiting.values()].find(
        (x) => x.sha256 === msg.sha256 && x.size === msg.size && this.fetching.has(x.id) && !taken.has(x.id),
      );
      if (d) this.carried.set(msg.id, { label: d.from, drop: d.id, direction: "receive" });
    }
    this.opts.transfers.handleControl(this.carried.get(msg.id)?.label ?? "registry", conn, msg);
  }

  /** A transfer event, marked if it is a registry transfer, and what its end means here. */
  decorate(e: TransferEvent): TransferEvent {
    const c = this.carried.get(e.id);
    if (!c) {
      this.watchDirect(e);
      return e;
    }
    if (e.state === "done" || e.state === "failed" || e.state === "cancelled")
      this.ended(e, c.drop, c.direction);
    return { ...e, via: "registry", drop: c.drop };
  }

  private ended(e: TransferEvent, drop: string, direction: "send" | "receive"): void {
    this.carried.delete(e.id);
    if (direction === "receive") {
      this.fetching.delete(drop);
      // Done or declined: over. Cut short by the same file arriving peer to peer (the sender's
      // offer supersedes it): that one covers it. Lost: fetched again at the next notify.
      const d = this.waiting.get(drop);
      if (e.state === "done" && d) this.remember(this.viaDropBox, `${d.from} ${d.sha256}`);
      if (e.state === "done" || e.code === "FILE_DECLINED") this.waiting.delete(drop);
      else if (d) {
        const key = `${d.from} ${d.sha256}`;
        if (this.directDone.has(key)) this.got(drop);
        else if (this.directRunning.has(key)) this.covered.set(drop, key);
      }
      this.pump();
      return;
    }
    const u = this.uploads.get(drop);
    if (!u || u.transfer !== e.id) return;
    u.transfer = undefined;
    if (e.state !== "done" && e.code === "FILE_PEER_LOST") return; // offered again at login
    this.uploads.delete(drop);
  }

  async list(): Promise<PeerEvent> {
    const data = parseAnswer(dropListData, await this.opts.request({ t: "drop.list" }), "drop.list");
    // What waits for us and is not on its way (an offer nobody answered in time) is fetched again.
    for (const d of data.received) {
      this.waiting.set(d.id, d);
      if (!this.covered.has(d.id)) this.want(d.id);
    }
    return { event: "drops", sent: data.sent, received: data.received };
  }

  async cancel(ref: string): Promise<PeerEvent> {
    await this.opts.request({ t: "drop.cancel", id: dropRef(ref) });
    return { event: "ok", cmd: "dropCancel", drop: ref };
  }

  async decline(ref: string): Promise<PeerEvent> {
    await this.opts.request({ t: "drop.decline", id: dropRef(ref) });
    return { event: "ok", cmd: "dropDecline", drop: ref };
  }
}

function dropRef(raw: string): string {
  const ref = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{4,24}$/.test(ref)) {
    throw new HallwayError("FILE_DROP_UNKNOWN", `'${raw.trim()}' is not a drop id (at least 4 hex digits)`);
  }
  return ref;
}
