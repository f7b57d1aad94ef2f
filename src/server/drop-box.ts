/**
 * The registry's drop box: files for a group, or for someone who is offline, held on the
 * registry's disk until every recipient has taken them (docs/architecture.md, "Drop box";
 * the wire in docs/protocol.md and `protocol/drop.ts`).
 *
 * The registry acts as a peer: the client's registry session carries the ordinary file
 * transfer (sliding window, CRC-32 per chunk, SHA-256 of the whole, resume from a manifest),
 * driven by the same `FileTransfers` a client uses, on the registry's own `UdpHost`.
 *
 *   upload    `drop.put` announces the file (recipients fixed then: the person, or the
 *             group's members but the sender), checked against the limits (`drop-rules.ts`),
 *             and recorded as `uploading`. The sender then offers it on its registry session;
 *             only an offer matching an `uploading` entry of that user is taken (`screen`),
 *             into `drop/incoming/`, resuming from a partial file of the same content if one
 *             is there. Verified, it becomes `drop/blobs/<sha256>` (one copy per content) and
 *             the entry `stored`; recipients online hear `drop.notify` now, the others at login.
 *   download  `drop.fetch` by a recipient: the blob is opened and hashed again, offered only
 *             if it still has the entry's SHA-256, and sent like any file; the recipient's
 *             client resumes from its own partial file. Done or declined, the recipient leaves
 *             `waiting`; once nobody waits, the entry goes, and its blob when no entry needs it.
 *   sweep     at start, every SWEEP_MS and soon after an entry goes: entries past retention
 *             go, blobs no entry needs go, and partial uploads no entry waits for go.
 *
 * The folder on disk and its file sweep are `drop-folder.ts`; who a drop is for and how an
 * entry is shown, `drop-recipients.ts`; the pure rules (quotas, retention), `drop-rules.ts`.
 *
 * Only logged-in sessions reach this (the registry drops file messages of others), and no
 * answer is larger than what asked for it before login, so amplification stays at most 1×.
 */

import { renameSync, rmSync } from "node:fs";
import { HallwayError } from "../errors.js";
import type { HostedConnection } from "../net/udp-host.js";
import type { ControlOf } from "../protocol/control.js";
import { type DropInfo, MAX_DROPS_LISTED } from "../protocol/drop.js";
import type { FileControl, FileEndCode, FileOffer } from "../protocol/file-control.js";
import type { StreamMessage } from "../protocol/stream-message.js";
import type { Timer } from "../runtime.js";
import { syncDirectory } from "../transfers/file-store.js";
import { FileTransfers } from "../transfers/file-transfers.js";
import type { TransferEvent, TransferOutput } from "../transfers/transfer-event.js";
import type { DropBoxOptions, DropRequest } from "./drop-box-options.js";
import { DropFolder } from "./drop-folder.js";
import { dropInfo, dropRecipients } from "./drop-recipients.js";
import { admitUpload, type DropEntry, isExpired, isFinished, resolveDrop } from "./drop-rules.js";
import { ANSWER_BUDGET_BYTES, fitPage } from "./reply-size.js";

const SWEEP_MS = 60_000;

export { type DropBoxOptions, type DropRequest, isDropRequest } from "./drop-box-options.js";

/** What one of the registry's transfers carries. */
interface Carried {
  drop: string;
  user: string;
  direction: "send" | "receive";
}

export class DropBox {
  private readonly entries = new Map<string, DropEntry>();
  private readonly transfers: FileTransfers;
  /** The registry's transfer id → the drop and user it is for. */
  private readonly carried = new Map<string, Carried>();
  private readonly folder: DropFolder;
  private sweepTimer: Timer | undefined;
  private sweepSoon = false;

  constructor(private readonly opts: DropBoxOptions) {
    this.folder = new DropFolder(opts.dir);
    for (const e of this.folder.load(opts.wall(), (l) => opts.log(l, "warn"))) {
      this.entries.set(e.id, e);
    }
    this.transfers = new FileTransfers({
      host: opts.host,
      runtime: opts.runtime,
      emit: (e) => this.onEvent(e),
      downloadDir: this.folder.incoming,
      autoAcceptDir: this.folder.incoming,
      maxFileBytes: opts.limits.maxFileBytes,
      ...(opts.sendBytesPerSecond === undefined ? {} : { maxTransferRate: opts.sendBytesPerSecond }),
      screenOffer: (user, offer) => this.screen(user, offer),
    });
  }

  start(): void {
    this.sweep();
    this.sweepTimer = this.opts.runtime.every(SWEEP_MS, () => this.sweep(), { weak: true });
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.transfers.stop();
  }

  onTurn(now: number): void {
    this.transfers.onTurn(now);
  }

  onClosed(conn: HostedConnection): void {
    this.transfers.onClosed(conn);
  }

  /** A `file.*` message (or a bad offer) from a logged-in user's registry session. */
  handleFile(user: string, conn: HostedConnection, m: Exclude<StreamMessage, { kind: "control" }>): void {
    if (m.kind === "bad-offer") this.transfers.handleBadOffer(user, conn, m);
    else this.transfers.handleControl(user, conn, m.msg as FileControl);
  }

  async handle(user: string, conn: HostedConnection, msg: DropRequest): Promise<unknown> {
    switch (msg.t) {
      case "drop.put":
        return this.put(user, msg);
      case "drop.fetch":
        return this.fetch(user, conn, msg.id);
      case "drop.list":
        return this.list(user);
      case "drop.cancel":
        return this.cancel(user, msg.id);
      case "drop.decline":
        return this.decline(user, msg.id);
      case "drop.got": {
        // Taken peer to peer from the sender: only the user's own delivery changes.
        const e = this.entries.get(msg.id);
        if (!e?.waiting.includes(user))
          throw new HallwayError("FILE_DROP_UNKNOWN", `no file ${msg.id} waits for you`);
        this.stopTransfers(e.id, user);
        this.settle(e, user, "got");
        return undefined;
      }
    }
  }

  /** At login: what waits for the user, in pushes of at most MAX_DROPS_LISTED. */
  atLogin(user: string): void {
    let rest = [...this.entries.values()]
      .filter((e) => e.state === "stored" && e.waiting.includes(user))
      .map((e) => dropInfo(e, false));
    while (rest.length > 0) {
      // Each push within the message limit (names are up to 255 bytes).
      const page = fitPage(rest.slice(0, MAX_DROPS_LISTED), "end").items;
      if (page.length === 0) return;
      this.opts.push(user, { t: "drop.notify", drops: page });
      rest = rest.slice(page.length);
    }
  }

  // ---- requests ----------------------------------------------------------------------

  private async put(user: string, msg: ControlOf<"drop.put">): Promise<unknown> {
    const { to, recipients } = await dropRecipients(this.opts.store, this.opts.mayTalk, user, msg.to);
    const same = [...this.entries.values()].find(
      (e) =>
        e.from === user &&
        e.to === to &&
        e.sha256 === msg.sha256 &&
        e.size === msg.size &&
        e.state === "uploading",
    );
    // The same upload again (after a lost session): it resumes.
    if (same) return { id: same.id, stored: false };
    const refused = admitUpload(
      this.entries.values(),
      { from: user, size: msg.size, sha256: msg.sha256 },
      this.opts.limits,
    );
    if (refused) throw new HallwayError(refused.code, refused.message);
    const stored = this.folder.hasBlob(msg.sha256, msg.size);
    const e: DropEntry = {
      id: this.newId(),
      from: user,
      to,
      name: msg.name,
      size: msg.size,
      sha256: msg.sha256,
      at: this.opts.wall(),
      state: stored ? "stored" : "uploading",
      waiting: recipients,
      got: [],
      declined: [],
    };
    this.entries.set(e.id, e);
    this.save();
    this.opts.log(`drop ${e.id}: ${user} → ${to}, ${e.size} bytes${stored ? " (content already held)" : ""}`);
    if (stored) this.notify(e);
    return { id: e.id, stored };
  }

  /**
   * Offers a stored file to a recipient on this session; answers the transfer's id once the
   * blob was hashed again and offered (a blob that no longer has its SHA-256 is never offered:
   * the entry goes, FILE_HASH_MISMATCH).
   */
  private async fetch(user: string, conn: HostedConnection, id: string): Promise<unknown> {
    const e = this.entries.get(id);
    if (e?.state !== "stored" || !e.waiting.includes(user)) {
      throw new HallwayError("FILE_DROP_UNKNOWN", `no file ${id} waits for you`);
    }
    for (const [transfer, c] of this.carried) {
      if (c.drop === id && c.user === user && c.direction === "send") return { transfer };
    }
    const transfer = this.newId();
    this.carried.set(transfer, { drop: id, user, direction: "send" });
    try {
      await this.transfers.send(user, conn, this.folder.blobPath(e.sha256), e.name, undefined, {
        id: transfer,
        sha256: e.sha256,
      });
    } catch (err) {
      this.carried.delete(transfer);
      if (
        err instanceof HallwayError &&
        (err.code === "FILE_HASH_MISMATCH" || err.code === "FILE_NOT_FOUND")
      ) {
        this.opts.log(`drop ${id}: the stored file is damaged or gone (${err.code}); it is dropped`, "error");
        this.remove(e);
      }
      throw err;
    }
    return { transfer };
  }

  private list(user: string): unknown {
    const all = [...this.entries.values()];
    // The oldest first, as many as fit half an answer each (a large group's `waiting` is long).
    const page = (drops: DropInfo[]) =>
      fitPage(drops.slice(0, MAX_DROPS_LISTED), "end", ANSWER_BUDGET_BYTES / 2).items;
    return {
      sent: page(all.filter((e) => e.from === user).map((e) => dropInfo(e, true))),
      received: page(
        all.filter((e) => e.state === "stored" && e.waiting.includes(user)).map((e) => dropInfo(e, false)),
      ),
    };
  }

  /** The sender withdraws a file: running transfers of it stop, and it goes. */
  private cancel(user: string, ref: string): unknown {
    const e = resolveDrop(
      [...this.entries.values()].filter((x) => x.from === user),
      ref,
    );
    if (!e) throw new HallwayError("FILE_DROP_UNKNOWN", `you have no file ${ref} in the drop box`);
    this.remove(e);
    this.opts.log(`drop ${e.id}: cancelled by ${user}`);
    return { id: e.id };
  }

  /** A recipient does not want a file: it stops waiting for them. */
  private decline(user: string, ref: string): unknown {
    const e = resolveDrop(
      [...this.entries.values()].filter((x) => x.waiting.includes(user)),
      ref,
    );
    if (!e) throw new HallwayError("FILE_DROP_UNKNOWN", `no file ${ref} waits for you`);
    this.stopTransfers(e.id, user);
    this.settle(e, user, "declined");
    return { id: e.id };
  }

  // ---- transfers ---------------------------------------------------------------------

  /** Takes an offer only for an upload announced by `user` that still fits the limits. */
  private screen(user: string, offer: FileOffer): { code: FileEndCode; message: string } | undefined {
    const e = [...this.entries.values()].find(
      (x) => x.from === user && x.state === "uploading" && x.sha256 === offer.sha256 && x.size === offer.size,
    );
    if (!e) return { code: "FILE_PROTOCOL_ERROR", message: "announce the file with drop.put first" };
    const refused = admitUpload(this.entries.values(), e, this.opts.limits, e.id);
    if (refused) {
      this.opts.log(`drop ${e.id}: ${refused.code} on resuming (${refused.message})`, "warn");
      this.remove(e);
      return refused;
    }
    this.carried.set(offer.id, { drop: e.id, user, direction: "receive" });
    return undefined;
  }

  private onEvent(e: TransferOutput): void {
    if (e.event === "error") {
      this.opts.log(`drop box: ${e.code}: ${e.message}`, "warn");
      return;
    }
    if (e.event !== "transfer") return;
    const c = this.carried.get(e.id);
    if (!c || (e.state !== "done" && e.state !== "failed" && e.state !== "cancelled")) return;
    this.carried.delete(e.id);
    const entry = this.entries.get(c.drop);
    if (c.direction === "receive") this.uploadEnded(entry, e);
    else if (entry) this.downloadEnded(entry, c.user, e);
  }

  private uploadEnded(entry: DropEntry | undefined, e: TransferEvent): void {
    if (e.state === "done" && e.path !== undefined) {
      if (entry?.state !== "uploading") {
        rmSync(e.path, { force: true });
        return;
      }
      try {
        if (this.folder.hasBlob(entry.sha256, entry.size)) rmSync(e.path, { force: true });
        else {
          renameSync(e.path, this.folder.blobPath(entry.sha256));
          syncDirectory(this.folder.blobs);
        }
      } catch (err) {
        this.opts.log(`drop ${entry.id}: cannot store the upload: ${(err as Error).message}`, "error");
        return;
      }
      entry.state = "stored";
      this.save();
      this.opts.log(`drop ${entry.id}: stored ${entry.size} bytes from ${entry.from}`);
      this.notify(entry);
      return;
    }
    // A lost session keeps the partial file for a resume; anything else (the sender cancelled,
    // the SHA-256 did not match, a full disk) ends the upload, and what it wrote goes.
    if (entry && entry.state === "uploading" && e.code !== "FILE_PEER_LOST") {
      this.opts.log(`drop ${entry.id}: upload ended (${e.code ?? e.state})`, "warn");
      this.remove(entry);
    }
  }

  private downloadEnded(entry: DropEntry, user: string, e: TransferEvent): void {
    if (e.state === "done") this.settle(entry, user, "got");
    else if (e.code === "FILE_DECLINED" && e.by === "peer") this.settle(entry, user, "declined");
    // Any other end (a lost session, an expired offer): it waits for the next fetch.
  }

  /** `user` took or declined `entry`; the last one deletes it. */
  private settle(entry: DropEntry, user: string, how: "got" | "declined"): void {
    if (!entry.waiting.includes(user)) return;
    entry.waiting = entry.waiting.filter((u) => u !== user);
    entry[how].push(user);
    this.opts.log(`drop ${entry.id}: ${how === "got" ? "taken" : "declined"} by ${user}`);
    if (isFinished(entry)) this.remove(entry);
    else this.save();
  }

  private stopTransfers(drop: string, user?: string): void {
    for (const [transfer, c] of this.carried) {
      if (c.drop !== drop || (user !== undefined && c.user !== user)) continue;
      this.carried.delete(transfer);
      try {
        this.transfers.cancel(transfer);
      } catch {
        // Already over.
      }
    }
  }

  // ---- storage -----------------------------------------------------------------------

  private notify(e: DropEntry): void {
    for (const user of e.waiting) {
      if (this.opts.isOnline(user)) this.opts.push(user, { t: "drop.notify", drops: [dropInfo(e, false)] });
    }
  }

  /** The entry goes (with its running transfers); its blob and partials go at the sweep. */
  private remove(e: DropEntry): void {
    this.entries.delete(e.id);
    this.stopTransfers(e.id);
    this.save();
    if (this.sweepSoon) return;
    this.sweepSoon = true;
    this.opts.runtime.soon(() => {
      this.sweepSoon = false;
      this.sweep();
    });
  }

  /** A random id for a drop or a transfer: 12 bytes in hex. */
  private newId(): string {
    return Buffer.from(this.opts.runtime.random(12)).toString("hex");
  }

  private save(): void {
    this.folder.save(this.entries.values());
  }

  /** Retention, then what no entry needs: blobs, and partial uploads (with their manifests). */
  sweep(): void {
    const now = this.opts.wall();
    let changed = false;
    for (const e of [...this.entries.values()]) {
      if (!isExpired(e, now, this.opts.limits)) continue;
      this.opts.log(`drop ${e.id}: expired (${e.waiting.length} never took it)`);
      this.entries.delete(e.id);
      this.stopTransfers(e.id);
      changed = true;
    }
    if (changed) this.save();
    try {
      this.folder.sweepFiles(this.entries);
    } catch (err) {
      this.opts.log(`drop box sweep: ${(err as Error).message}`, "warn");
    }
  }
}
