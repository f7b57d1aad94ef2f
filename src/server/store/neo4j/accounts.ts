/**
 * `AccountStore` in Neo4j: `User` nodes and `Audit` nodes (linked to their user when there is
 * one). `setPublicKey` and `appendAudit` go through the group commit (see `neo4j-store.ts`).
 */

import { int } from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import {
  type AccountStore,
  AUDIT_EVENTS,
  type AuditEntry,
  type AuditQuery,
  type UserRecord,
} from "../account-store.js";
import { nameKey, rowLimit } from "../port-rules.js";
import { searchWords } from "../search-words.js";
import type { Neo4jDatabase } from "./database.js";
import { toAuditEntry, toCount, toUserRecord } from "./mapping.js";

export class Neo4jAccounts implements AccountStore {
  constructor(private readonly db: Neo4jDatabase) {}

  async createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    await this.db.write("createUser", async (run) => {
      const result = await run("createUser", {
        registry: this.db.registry,
        nameKey: nameKey(user.name),
        name: user.name,
        passwordHash: user.passwordHash,
        createdAt: int(user.createdAt),
        searchText: searchWords([user.name]),
      });
      if (result.summary.counters.updates().nodesCreated === 0) {
        throw new HallwayError("AUTH_USER_EXISTS", `user ${JSON.stringify(user.name)} already exists`);
      }
    });
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    return this.db.read("getUser", async (run) => {
      const result = await run("getUser", { registry: this.db.registry, nameKey: nameKey(name) });
      const record = result.records[0];
      return record === undefined ? undefined : toUserRecord(record.get("user"));
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.db.read("listUsers", async (run) => {
      const result = await run("listUsers", { registry: this.db.registry });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  async usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.db.opened();
      return [];
    }
    return this.db.read("usersAfter", async (run) => {
      const result = await run("usersAfter", {
        registry: this.db.registry,
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  /** In the group commit: a login storm of new devices is not one transaction per login. */
  async setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    await this.db.append("setPublicKey", async (run) => {
      const result = await run("setPublicKey", {
        registry: this.db.registry,
        nameKey: nameKey(name),
        publicKey: publicKeyHex,
      });
      if (toCount(result.records[0]?.get("updated"), "updated") === 0) {
        throw new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
      }
    });
  }

  async flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void> {
    if (entries.length === 0) {
      this.db.opened();
      return;
    }
    await this.db.write("flushLastSeen", async (run) => {
      await run("flushLastSeen", {
        registry: this.db.registry,
        entries: entries.map((e) => ({ nameKey: nameKey(e.name), at: int(e.at) })),
      });
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.db.append("appendAudit", async (run) => {
      const result = await run("appendAudit", {
        registry: this.db.registry,
        userKey: nameKey(entry.user),
        user: entry.user,
        event: entry.event,
        at: int(entry.at),
        address: entry.address,
        detail: entry.detail ?? null,
      });
      if (toCount(result.records[0]?.get("written"), "written") === 0) {
        throw new HallwayError("STORE_FAILED", `appendAudit: registry ${this.db.registry} is missing`);
      }
    });
  }

  async listAudit(opts: AuditQuery): Promise<AuditEntry[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) {
      this.db.opened();
      return [];
    }
    return this.db.read("listAudit", async (run) => {
      const result = await run("listAudit", {
        registry: this.db.registry,
        userKey: opts.user === undefined ? null : nameKey(opts.user),
        since: opts.since === undefined ? null : int(opts.since),
        until: opts.until === undefined ? null : int(opts.until),
        events: [...(opts.events ?? AUDIT_EVENTS)],
        limit: int(limit),
      });
      return result.records.map((r) => toAuditEntry(r.get("entry")));
    });
  }
}
