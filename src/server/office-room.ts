/**
 * `#all`, the office room: one group that every registered user is a member of, so the whole
 * office can talk in one place without anyone approving anyone.
 *
 * It is an ordinary group of the store (`all`), so it gets the groups' ordering, backlog and
 * history for free: per-group sequence numbers, `ackedSeq` per member, `group.history`. What
 * differs is decided here and enforced by `Social`:
 *
 * - Membership is the registry's, not the users': everyone registered is enrolled (at start
 *   for users the store already has, at registration for new ones), and joining, leaving,
 *   removing and handing over the admin role are refused with `GROUP_OFFICE_ROOM`.
 * - `announce` mode makes it read-only for everyone but the registry admin (`--admin NAME`):
 *   a send by anyone else fails with `GROUP_READ_ONLY`.
 * - The login backlog is bounded by a window of messages: a member who was away longer than
 *   the window gets the newest `backlogWindow` messages and the older ones stay in history.
 *   A new member starts at the room's newest message, as in any group.
 * - It counts for nothing in "people you may know" (everyone would share it).
 *
 * The group's stored admin is the registry admin when that user exists, else the first user
 * enrolled; it only matters to the store (a group has an admin), since every admin action on
 * the room is refused. With the room off (`--no-office-room`) nothing is enrolled and a group
 * named `all` that a store already holds is an ordinary group.
 */

import { HallwayError } from "../errors.js";
import type { Store } from "./store/store.js";

export const OFFICE_ROOM = "all";

export type OfficeRoomMode = "open" | "announce" | "off";

/** Messages a returning member gets at login, at most, unless `--office-backlog` says otherwise. */
export const DEFAULT_OFFICE_BACKLOG = 200;
/** Users enrolled in the room per store transaction at start. */
const ENROLL_BATCH = 1000;

export interface OfficeRoomOptions {
  mode: OfficeRoomMode;
  /** The registry admin: the one who may write in `announce` mode (lower-cased). */
  admin?: string;
  /** Most messages a returning member gets at login. */
  backlogWindow?: number;
}

export class OfficeRoom {
  readonly mode: OfficeRoomMode;
  readonly admin: string | undefined;
  readonly backlogWindow: number;

  constructor(
    private readonly store: Store,
    opts: OfficeRoomOptions,
  ) {
    this.mode = opts.mode;
    this.admin = opts.admin;
    this.backlogWindow = opts.backlogWindow ?? DEFAULT_OFFICE_BACKLOG;
    if (this.mode === "announce" && this.admin === undefined) {
      throw new HallwayError(
        "CLI_BAD_ARGS",
        "--office-room announce needs --admin NAME: who may write in #all",
      );
    }
  }

  /** Whether `group` (a stored, lower-cased name) is the office room of this registry. */
  is(group: string): boolean {
    return this.mode !== "off" && group === OFFICE_ROOM;
  }

  /** Group names that "people you may know" must not count. */
  get exceptGroups(): readonly string[] {
    return this.mode === "off" ? [] : [OFFICE_ROOM];
  }

  /** Throws GROUP_READ_ONLY unless `user` may write in the room. */
  requireMayWrite(user: string): void {
    if (this.mode === "announce" && user !== this.admin) {
      throw new HallwayError(
        "GROUP_READ_ONLY",
        `#${OFFICE_ROOM} is for announcements; only ${this.admin} writes there`,
      );
    }
  }

  /** Throws GROUP_OFFICE_ROOM: the room's membership is not the users' to change. */
  refuseMembershipChange(): never {
    throw new HallwayError(
      "GROUP_OFFICE_ROOM",
      `everyone is in #${OFFICE_ROOM}; nobody joins, leaves or runs it`,
    );
  }

  /**
   * Enrols every user the store has who is not a member yet (at registry start). Returns how
   * many were added.
   */
  async enrollEveryone(now: number): Promise<number> {
    if (this.mode === "off") return 0;
    const users = await this.store.listUsers();
    if (users.length === 0) return 0;
    const existed = (await this.store.getGroup(OFFICE_ROOM)) !== undefined;
    const before = new Set(existed ? (await this.store.groupMembers(OFFICE_ROOM)).map((m) => m.name) : []);
    const first = [...users].sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : 1))[0];
    if (first) await this.ensureRoom(first.name, now);
    const missing = users.filter((u) => !before.has(u.name));
    // In transactions of ENROLL_BATCH: a store of 10,000 users is enrolled in a few commits,
    // not 10,000 (seconds of start-up on SQLite, more on Neo4j).
    for (let i = 0; i < missing.length; i += ENROLL_BATCH) {
      const batch = missing.slice(i, i + ENROLL_BATCH).map((u) => u.name);
      await this.store.addMembers(OFFICE_ROOM, batch, now);
    }
    await this.settleAdmin();
    return missing.length;
  }

  /** Enrols a user who has just registered. */
  async enroll(user: string, now: number): Promise<void> {
    if (this.mode === "off") return;
    await this.ensureRoom(user, now);
    await this.store.addMember(OFFICE_ROOM, user, now);
    if (user === this.admin) await this.settleAdmin();
  }

  /** Creates the room if it is missing, with `creator` as its stored admin. */
  private async ensureRoom(creator: string, now: number): Promise<void> {
    if (await this.store.getGroup(OFFICE_ROOM)) return;
    const admin = this.admin !== undefined && (await this.store.getUser(this.admin)) ? this.admin : creator;
    try {
      await this.store.createGroup({ name: OFFICE_ROOM, admin, createdAt: now });
    } catch (err) {
      // Two registrations at once: the other one made it.
      if (!(err instanceof HallwayError && err.code === "GROUP_EXISTS")) throw err;
    }
  }

  /** The registry admin becomes the room's stored admin once they are a member. */
  private async settleAdmin(): Promise<void> {
    if (this.admin === undefined) return;
    const g = await this.store.getGroup(OFFICE_ROOM);
    if (!g || g.admin === this.admin) return;
    const members = await this.store.groupMembers(OFFICE_ROOM);
    if (members.some((m) => m.name === this.admin)) await this.store.setGroupAdmin(OFFICE_ROOM, this.admin);
  }
}
