/**
 * Sending files for the client (`client.ts`): a file or folder offered peer to peer over a
 * verified session, or through the registry's drop box for groups and people offline or
 * out of reach. The transfers themselves are `FileTransfers`' and `DropClient`'s.
 */

import { basename, dirname, relative } from "node:path";
import { asHallwayError, HallwayError } from "../errors.js";
import { type HostedConnection, isRelayAddress } from "../net/udp-host.js";
import type { LookupData } from "../protocol/control.js";
import { GROUP_PREFIX } from "../protocol/drop.js";
import type { FileTransfers } from "../transfers/file-transfers.js";
import { isFolder, walkFolder } from "../transfers/folder-walk.js";
import type { SendHow } from "./client-options.js";
import type { DropClient } from "./drop-client.js";
import type { PeerEvent } from "./events.js";
import { fitsWire } from "./social.js";

export interface ClientFilesOptions {
  transfers: FileTransfers;
  drops: DropClient;
  me(): string;
  emit(e: PeerEvent): void;
  /** The user's groups, as `SocialClient.groups` answers. */
  groups(): Promise<PeerEvent>;
  /** The live, verified session with `user`, if there is one. */
  liveLink(user: string): HostedConnection | undefined;
  /** No registry: LAN peers only (`lanSession`). */
  lanMode(): boolean;
  lanSession(user: string): Promise<HostedConnection>;
  lookup(user: string): Promise<LookupData>;
  directTo(user: string, info: LookupData): Promise<HostedConnection>;
}

export class ClientFiles {
  constructor(private readonly opts: ClientFilesOptions) {}

  /**
   * Offer the file at `path` to `toRaw`, who must be online; resolves with the transfer's
   * short number once offered. `offeredName` (default: the file's base name) is the name the
   * receiver is offered. A folder is offered as its files (`walkFolder`: bounded, symbolic
   * links to outside not followed), under one number; what it leaves out is reported as
   * `FILE_READ_FAILED` error events.
   */
  async sendFile(toRaw: string, path: string, offeredName?: string, how: SendHow = {}): Promise<number> {
    const [n] = await this.sendFileTo([toRaw], path, offeredName, how);
    return n as number;
  }

  /**
   * The same to several people: a folder is read once (and what it leaves out told once);
   * each person gets a transfer of their own. Resolves with the numbers, in the order of
   * `names`; rejects with the first failure once every offer was tried.
   */
  async sendFileTo(
    names: readonly string[],
    path: string,
    offeredName?: string,
    how: SendHow = {},
  ): Promise<number[]> {
    const people = names.map((raw) => {
      const to = raw.trim().toLowerCase();
      if (!fitsWire(to)) throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `no user called ${raw.trim()}`);
      return to;
    });
    const folder = offeredName === undefined && isFolder(path) ? walkFolder(path) : undefined;
    for (const s of folder?.skipped ?? []) {
      this.opts.emit({
        event: "error",
        code: "FILE_READ_FAILED",
        // Named from the folder sent ("photos/x.txt"), as the user knows it.
        message: `left out ${relative(dirname(path), s.path)}: ${s.why}`,
      });
    }
    const offers = people.map(async (to) => {
      const name = offeredName ?? basename(path);
      // A group, or someone offline or out of reach: through the registry's drop box.
      const viaDropBox = (): Promise<number> => {
        if (folder) {
          throw new HallwayError(
            "FILE_PEER_UNREACHABLE",
            `${to} cannot take a folder now: the drop box takes files, not folders; send the files one by one`,
          );
        }
        return this.opts.drops.upload(to, path, name);
      };
      if (to.startsWith(GROUP_PREFIX)) {
        const n = await viaDropBox();
        if (how.via !== "registry") void this.offerToMembers(to.slice(GROUP_PREFIX.length), path, name);
        return n;
      }
      if (how.via === "registry" && to !== this.opts.me()) return viaDropBox();
      let conn: HostedConnection;
      try {
        conn = await this.fileSession(to);
      } catch (err) {
        if (asHallwayError(err).code !== "FILE_PEER_UNREACHABLE" || to === this.opts.me()) throw err;
        return viaDropBox();
      }
      if (folder) return this.opts.transfers.sendFolder(to, conn, folder);
      const id = await this.opts.transfers.send(to, conn, path, offeredName ?? basename(path));
      return this.opts.transfers.numberOf(id);
    });
    const settled = await Promise.allSettled(offers);
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<number>).value);
  }

  /**
   * A group's members who are online and reachable directly also get the file peer to peer
   * while it goes up to the drop box: on a LAN that starts at once and is not slowed by the
   * upload. Their clients tell the registry `drop.got`; a member this does not reach takes it
   * from the drop box. A relayed path goes through the registry anyway, so it is left out.
   */
  private async offerToMembers(group: string, path: string, name: string): Promise<void> {
    let members: string[];
    try {
      const e = await this.opts.groups();
      members = e.event === "groups" ? (e.groups.find((g) => g.name === group)?.members ?? []) : [];
    } catch {
      return;
    }
    await Promise.allSettled(
      members
        .filter((m) => m !== this.opts.me())
        .map(async (m) => {
          const conn = await this.fileSession(m);
          if (!isRelayAddress(conn.address)) await this.opts.transfers.send(m, conn, path, name);
        }),
    );
  }

  /** A verified session with `to` for a file, made if need be. */
  async fileSession(to: string): Promise<HostedConnection> {
    const live = this.opts.liveLink(to);
    if (live) return live;
    if (this.opts.lanMode()) {
      try {
        return await this.opts.lanSession(to);
      } catch (err) {
        const e = asHallwayError(err);
        if (e.code.startsWith("PEER_KEY")) throw e;
        throw new HallwayError("FILE_PEER_UNREACHABLE", `${to} is not on the LAN`);
      }
    }
    const info = await this.opts.lookup(to);
    if (
      info.status === "offline" ||
      !info.publicKey ||
      info.addresses.length === 0 ||
      to === this.opts.me()
    ) {
      throw new HallwayError("FILE_PEER_UNREACHABLE", `${to} is not online`);
    }
    try {
      return await this.opts.directTo(to, info);
    } catch {
      throw new HallwayError("FILE_PEER_UNREACHABLE", `cannot reach ${to} directly`);
    }
  }
}
