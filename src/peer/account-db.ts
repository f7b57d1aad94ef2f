/**
 * The client's per-account SQLite files in the data directory (the message log, the LAN
 * outbox): how they are named and opened, in one place.
 */

import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

/** `<prefix>-<user>.sqlite` in `dir`; a user name that is not a plain file name is hex-encoded. */
export function accountFilePath(dir: string, prefix: string, user: string): string {
  const safe = /^[a-z0-9][a-z0-9._-]{0,63}$/.test(user) ? user : `x-${Buffer.from(user).toString("hex")}`;
  return join(dir, `${prefix}-${safe}.sqlite`);
}

/**
 * Opens (or creates, mode 0600: it holds messages in clear) a database in WAL mode with
 * `synchronous = FULL`: a committed write survives the process and the machine.
 */
export function openAccountDatabase(path: string): Database.Database {
  const fresh = !existsSync(path);
  const db = new Database(path);
  if (fresh) chmodSync(path, 0o600);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  return db;
}
