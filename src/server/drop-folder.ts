/**
 * The drop box's folder on the registry's disk: `index.json` (the entries, rewritten
 * atomically on every change, `drop-index.ts`), `incoming/` (uploads under way, each
 * `X.part` with its resume manifest) and `blobs/<sha256>` (one copy per content). The sweep
 * here deletes what no entry needs: blobs, and partial uploads no entry waits for.
 */

import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { decodeManifest } from "../files/transfer-manifest.js";
import { loadDropIndex, saveDropIndex } from "./drop-index.js";
import { type DropEntry, partialWanted, unreferencedBlobs } from "./drop-rules.js";

const PART_SUFFIX = ".part";

export class DropFolder {
  private readonly indexPath: string;
  /** Where uploads land while they run. */
  readonly incoming: string;
  readonly blobs: string;

  constructor(dir: string) {
    this.indexPath = join(dir, "index.json");
    this.incoming = join(dir, "incoming");
    this.blobs = join(dir, "blobs");
    for (const d of [dir, this.incoming, this.blobs]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  /** The entries the index holds (a damaged index is set aside: none). */
  load(now: number, warn: (line: string) => void): DropEntry[] {
    return loadDropIndex(this.indexPath, now, warn);
  }

  save(entries: Iterable<DropEntry>): void {
    saveDropIndex(this.indexPath, entries);
  }

  blobPath(sha256: string): string {
    return join(this.blobs, sha256);
  }

  hasBlob(sha256: string, size: number): boolean {
    try {
      return readdirSync(this.blobs).includes(sha256) && statSync(this.blobPath(sha256)).size === size;
    } catch {
      return false;
    }
  }

  /** Deletes the blobs and partial uploads (with their manifests) that no entry needs; may throw. */
  sweepFiles(entries: ReadonlyMap<string, DropEntry>): void {
    for (const sha of unreferencedBlobs(entries.values(), readdirSync(this.blobs))) {
      rmSync(this.blobPath(sha), { force: true });
    }
    // A partial upload is `X.part` with `X.part.manifest` (and, while a save is under way or
    // if one was cut by a kill, `X.part.manifest.tmp*`): all of it goes unless an entry waits
    // for the content its manifest names.
    const partials = new Map<string, string[]>();
    for (const file of readdirSync(this.incoming)) {
      const at = file.lastIndexOf(PART_SUFFIX);
      if (at < 0) continue;
      const base = file.slice(0, at + PART_SUFFIX.length);
      partials.set(base, [...(partials.get(base) ?? []), file]);
    }
    for (const [base, files] of partials) {
      if (this.partialWanted(entries, join(this.incoming, `${base}.manifest`))) continue;
      for (const f of files) rmSync(join(this.incoming, f), { force: true });
    }
  }

  /** The manifest at `path` names content an `uploading` entry waits for. */
  private partialWanted(entries: ReadonlyMap<string, DropEntry>, path: string): boolean {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch {
      return false;
    }
    const m = decodeManifest(bytes);
    return (
      m.ok && partialWanted(entries.values(), Buffer.from(m.value.sha256).toString("hex"), m.value.sizeBytes)
    );
  }
}
