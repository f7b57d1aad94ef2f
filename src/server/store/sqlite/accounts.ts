/**
 * `AccountStore` in SQLite: users and the audit log. `setPublicKey` and `appendAudit` go
 * through the group commit (see `sqlite-store.ts`).
 */

import { HallwayError } from "../../../errors.js";
import type { AccountStore, AuditEntry, AuditQuery, UserRecord } from "../account-store.js";
import { rowLimit } from "../port-rules.js";
import { type SqliteDatabase, sqliteCode } from "./database.js";
import { toAuditEntry, toUser } from "./rows.js";

export class SqliteAccounts implements AccountStore {
  constructor(private readonly db: SqliteDatabase) {}

  async createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    this.db.write("createUser", (s) => {
      try {
        s.insertUser.run(user.name, user.passwordHash, user.createdAt);
      } catch (err) {
        if (sqliteCode(err) === "SQLITE_CONSTRAINT_PRIMARYKEY") {
          throw new HallwayError("AUTH_USER_EXISTS", `user ${JSON.stringify(user.name)} already exists`, {
            cause: err,
          });
        }
        throw err;
      }
    });
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    return this.db.run("getUser", (s) => {
      const row = s.getUser.get(name);
      return row === undefined ? undefined : toUser(row);
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.db.run("listUsers", (s) => s.listUsers.all().map(toUser));
  }

  async usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    return this.db.run("usersAfter", (s) =>
      rows === 0 ? [] : s.usersAfter.all(after ?? "", rows).map(toUser),
    );
  }

  /** In the group commit: a login storm of new devices is not one fsync per login. */
  async setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    await this.db.append("setPublicKey", (s) => {
      if (s.setPublicKey.run(publicKeyHex, name).changes === 0) {
        throw new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
      }
    });
  }

  async flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void> {
    this.db.transaction("flushLastSeen", (s) => {
      for (const { name, at } of entries) s.touchLastSeen.run({ name, at });
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.db.append("appendAudit", (s) => {
      s.insertAudit.run(entry.user, entry.event, entry.at, entry.address, entry.detail ?? null);
    });
  }

  async listAudit(opts: AuditQuery): Promise<AuditEntry[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) return this.db.run("listAudit", () => []);
    return this.db.run("listAudit", (s) =>
      s.listAudit
        .all({
          user: opts.user ?? null,
          since: opts.since ?? null,
          until: opts.until ?? null,
          events: opts.events === undefined ? null : JSON.stringify(opts.events),
          limit,
        })
        .map(toAuditEntry),
    );
  }
}
