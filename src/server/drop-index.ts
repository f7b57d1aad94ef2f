/**
 * The drop box's metadata: one small JSON file (`drop/index.json` in the registry's data
 * directory), beside the blobs it describes, replaced atomically and durably on every change
 * (temporary file, fsync, rename, fsync of the folder). It is bounded by the quotas, so a
 * whole rewrite costs little, and a registry killed at any moment restarts with either the
 * old or the new version, never a torn one.
 *
 * Why not the store port: the blobs are files on this registry's disk, and what describes
 * them must move, be backed up and be lost together with them. An office on Neo4j keeps its
 * store elsewhere (or in a cluster), while the blobs stay here; a record there would outlive
 * or miss its file. `hallway server export` carries the store, not the drop box (docs/admin.md).
 */

import { existsSync, readFileSync, renameSync } from "node:fs";
import { z } from "zod";
import { HallwayError } from "../errors.js";
import { writeFileAtomic } from "../net/data-dir.js";
import type { DropEntry } from "./drop-rules.js";

const VERSION = 1;
const name = z.string().min(1).max(65);
const entry = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/),
  from: name,
  to: name,
  name: z.string().min(1).max(255),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.number().int().min(0),
  state: z.enum(["uploading", "stored"]),
  waiting: z.array(name),
  got: z.array(name),
  declined: z.array(name),
});
const file = z.object({ version: z.literal(VERSION), entries: z.array(entry) });

/**
 * The entries in `path`, or none if there is no file yet. A file that does not parse is set
 * aside (`index.json.damaged-<time>`) and the drop box starts empty: its blobs then belong to
 * no entry and go at the next sweep, and the senders send again; refusing to start would take
 * messaging down with it.
 */
export function loadDropIndex(path: string, now: number, log: (line: string) => void): DropEntry[] {
  if (!existsSync(path)) return [];
  let parsed: z.infer<typeof file>;
  try {
    parsed = file.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch (err) {
    const aside = `${path}.damaged-${now}`;
    try {
      renameSync(path, aside);
    } catch {
      // Left in place; it is overwritten at the next change.
    }
    log(`drop box: ${path} is damaged (${(err as Error).message.slice(0, 120)}); set aside as ${aside}`);
    return [];
  }
  return parsed.entries;
}

export function saveDropIndex(path: string, entries: Iterable<DropEntry>): void {
  try {
    writeFileAtomic(path, JSON.stringify({ version: VERSION, entries: [...entries] }));
  } catch (err) {
    throw new HallwayError(
      "STORE_FAILED",
      `the drop box cannot record the change: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
