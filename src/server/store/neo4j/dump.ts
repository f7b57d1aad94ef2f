/**
 * Export and import for the Neo4j adapter: which statement reads each kind of record and how
 * its map becomes a `DumpRecord`, and how records become the rows of the load statements.
 * Pure (no server), so the scripted-driver tests cover it.
 */

import { type Integer, int } from "neo4j-driver";
import { conversationKey, nameKey, searchKey } from "../port-rules.js";
import { searchWords } from "../search-words.js";
import { type DumpRecord, PROFILE_FIELDS } from "../store.js";
import type { ReadKey, StatementKey } from "./cypher.js";
import {
  toAuditEntry,
  toFriendPair,
  toFriendRequest,
  toGroupMessage,
  toGroupRecord,
  toJoinRequest,
  toMembership,
  toNotice,
  toQueueEntry,
  toStoredMessage,
  toUserRecord,
} from "./mapping.js";

export const LOAD_BATCH_ROWS = 500;

export type LoadRow = Readonly<
  Record<string, string | Integer | null | Readonly<Record<string, string | Integer | null>>>
>;

/** Which statement exports each kind of record, and how its `record` map becomes one. */
export const DUMP_STATEMENTS: ReadonlyArray<readonly [ReadKey & DumpKey, (value: unknown) => DumpRecord]> = [
  ["dumpUsers", (v) => ({ kind: "user", ...toUserRecord(v) })],
  ["dumpAudit", (v) => ({ kind: "audit", ...toAuditEntry(v) })],
  ["dumpMessages", (v) => ({ kind: "message", ...toStoredMessage(v) })],
  ["dumpOffline", (v) => ({ kind: "offline", ...toQueueEntry(v) })],
  ["dumpFriendRequests", (v) => ({ kind: "friendRequest", ...toFriendRequest(v) })],
  ["dumpFriendships", (v) => ({ kind: "friendship", ...toFriendPair(v) })],
  ["dumpGroups", (v) => ({ kind: "group", ...toGroupRecord(v) })],
  ["dumpMembers", (v) => ({ kind: "member", ...toMembership(v) })],
  ["dumpJoinRequests", (v) => ({ kind: "joinRequest", ...toJoinRequest(v) })],
  ["dumpGroupMessages", (v) => ({ kind: "groupMessage", ...toGroupMessage(v) })],
  ["dumpNotices", (v) => ({ kind: "notice", notice: toNotice(v) })],
];

type DumpKey = Extract<StatementKey, `dump${string}`>;

export const LOAD_STATEMENTS = {
  user: "loadUsers",
  audit: "loadAudit",
  message: "loadMessages",
  offline: "loadOffline",
  friendRequest: "loadFriendRequests",
  friendship: "loadFriendships",
  group: "loadGroups",
  member: "loadMembers",
  joinRequest: "loadJoinRequests",
  groupMessage: "loadGroupMessages",
  notice: "loadNotices",
} as const satisfies Record<DumpRecord["kind"], StatementKey>;

const optionalInt = (n: number | null): Integer | null => (n === null ? null : int(n));

/**
 * Records as the rows of the load statements. The order keys that SQLite takes from
 * autoincrement columns (audit, queue and notice order) are numbered here, in record order.
 */
export class LoadRows {
  private auditSeq = 0;
  private readonly queueSeq = new Map<string, number>();
  private readonly noticeSeq = new Map<string, number>();

  of(r: DumpRecord): LoadRow {
    switch (r.kind) {
      case "user":
        return {
          nameKey: nameKey(r.name),
          props: {
            name: r.name,
            passwordHash: r.passwordHash,
            publicKey: r.publicKey,
            ...Object.fromEntries(PROFILE_FIELDS.map((f) => [f, r[f] ?? null])),
            displayKey: r.displayName === null ? null : searchKey(r.displayName),
            searchText: searchWords([r.name, r.displayName, r.department, r.school, r.profession]),
            createdAt: int(r.createdAt),
            lastSeen: optionalInt(r.lastSeen),
            profileUpdatedAt: optionalInt(r.profileUpdatedAt ?? null),
          },
        };
      case "audit":
        return {
          userKey: nameKey(r.user),
          user: r.user,
          detail: r.detail ?? null,
          event: r.event,
          at: int(r.at),
          address: r.address,
          seq: int(++this.auditSeq),
        };
      case "message":
        return {
          fromKey: nameKey(r.from),
          toKey: nameKey(r.to),
          id: r.id,
          conversation: conversationKey(r.from, r.to),
          body: r.body,
          textKey: searchKey(r.body),
          sentAt: int(r.sentAt),
          deliveredAt: optionalInt(r.deliveredAt),
        };
      case "offline":
        return { toKey: nameKey(r.to), id: r.id, seq: int(next(this.queueSeq, nameKey(r.to))) };
      case "friendRequest":
        return { fromKey: nameKey(r.from), toKey: nameKey(r.to), at: int(r.at) };
      case "friendship": {
        const [aKey, bKey] = [nameKey(r.a), nameKey(r.b)].sort() as [string, string];
        return { aKey, bKey, since: int(r.since) };
      }
      case "group":
        return {
          adminKey: nameKey(r.admin),
          groupKey: nameKey(r.name),
          name: r.name,
          createdAt: int(r.createdAt),
          lastSeq: int(r.lastSeq),
          description: r.description ?? null,
        };
      case "member":
        return {
          groupKey: nameKey(r.group),
          userKey: nameKey(r.name),
          joinedAt: int(r.joinedAt),
          ackedSeq: int(r.ackedSeq),
        };
      case "joinRequest":
        return { groupKey: nameKey(r.group), userKey: nameKey(r.user), at: int(r.at) };
      case "groupMessage":
        return {
          groupKey: nameKey(r.group),
          fromKey: nameKey(r.from),
          id: r.id,
          body: r.body,
          textKey: searchKey(r.body),
          sentAt: int(r.sentAt),
          seq: int(r.seq),
        };
      case "notice": {
        const n = r.notice;
        return {
          toKey: nameKey(n.to),
          id: n.id,
          kind: n.kind,
          body: n.body,
          at: int(n.at),
          seq: int(next(this.noticeSeq, nameKey(n.to))),
        };
      }
    }
  }
}

function next(counters: Map<string, number>, key: string): number {
  const n = (counters.get(key) ?? 0) + 1;
  counters.set(key, n);
  return n;
}
