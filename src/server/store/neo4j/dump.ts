/**
 * `DumpStore` in Neo4j: which statement reads each kind of record and how its map becomes a
 * `DumpRecord`, how records become the rows of the load statements (both pure, so the
 * scripted-driver tests cover them), and `dump` and `load` themselves.
 */

import { type Integer, int, type Transaction } from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import { PROFILE_FIELDS } from "../account-store.js";
import type { DumpRecord, DumpStore } from "../dump-store.js";
import { conversationKey, nameKey, searchKey } from "../port-rules.js";
import { searchWords } from "../search-words.js";
import { type ReadKey, runStatement, type StatementKey } from "./cypher.js";
import type { Neo4jDatabase } from "./database.js";
import {
  describeNeo4jFailure,
  toAuditEntry,
  toCount,
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

export class Neo4jDump implements DumpStore {
  constructor(private readonly db: Neo4jDatabase) {}

  /**
   * One read transaction for the whole dump (a consistent snapshot), each statement's records
   * streamed as the consumer reads them.
   */
  async *dump(): AsyncIterable<DumpRecord> {
    const state = this.db.opened();
    const session = this.db.session(state, "READ");
    let tx: Transaction | undefined;
    try {
      tx = await session.beginTransaction();
      for (const [key, toRecord] of DUMP_STATEMENTS) {
        for await (const record of runStatement(tx, key, { registry: this.db.registry })) {
          yield toRecord(record.get("record"));
        }
      }
      await tx.commit();
    } catch (err) {
      throw describeNeo4jFailure("dump", err, this.db.target);
    } finally {
      await tx?.close().catch(() => {});
      await session.close().catch(() => {});
    }
  }

  /**
   * Consecutive records of one kind go in batches of `LOAD_BATCH_ROWS`, one write transaction
   * each; a batch whose rows do not all find their users, groups or messages fails the load.
   * A failed load removes what it wrote, so the registry is as empty as before.
   */
  async load(records: AsyncIterable<DumpRecord>): Promise<void> {
    const users = await this.db.read("load", async (run) => {
      const result = await run("countUsers", { registry: this.db.registry });
      return toCount(result.records[0]?.get("users"), "users");
    });
    if (users > 0) {
      throw new HallwayError(
        "STORE_NOT_EMPTY",
        `cannot load into ${this.db.describe()}: it already has users`,
      );
    }
    const rows = new LoadRows();
    let kind: DumpRecord["kind"] | undefined;
    let batch: LoadRow[] = [];
    const flush = async () => {
      if (kind === undefined || batch.length === 0) return;
      const [key, rowsOf] = [LOAD_STATEMENTS[kind], batch];
      const what = kind;
      batch = [];
      await this.db.write("load", async (run) => {
        const result = await run(key, { registry: this.db.registry, rows: rowsOf });
        const written = toCount(result.records[0]?.get("written"), "written");
        if (written !== rowsOf.length) {
          throw new HallwayError(
            "STORE_FAILED",
            `store load failed: ${rowsOf.length - written} ${what} record(s) refer to a user, group or message not loaded before them`,
          );
        }
      });
    };
    try {
      for await (const record of records) {
        if (record.kind !== kind || batch.length >= LOAD_BATCH_ROWS) {
          await flush();
          kind = record.kind;
        }
        batch.push(rows.of(record));
      }
      await flush();
    } catch (err) {
      await this.db
        .write("load", (run) => run("clearRegistryData", { registry: this.db.registry }))
        .catch(() => {});
      throw err;
    }
  }
}
