/**
 * What `/send FOLDER` sends: the regular files under a folder, each with its folder relative
 * to the root (`2024/march`), in a stable order. A disk adapter (it lists and stats).
 *
 * Bounded: more than `maxFiles` files refuses the whole folder with FILE_TOO_MANY_FILES
 * before anything is offered (the walk stops at the first file over); folders deeper than
 * `maxDepth` are left out. Symbolic links are followed only to a regular file inside the
 * root; one pointing outside it, or to a folder (a loop, or a second copy), is not followed.
 * Unreadable files and folders, sockets, FIFOs and devices are left out. Everything left out
 * is listed in `skipped` with the reason, for the user to see.
 */

import { accessSync, constants, type Dirent, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, join, sep } from "node:path";
import { HallwayError } from "../errors.js";
import { MAX_BATCH_FILES, MAX_DIR_BYTES, MAX_DIR_DEPTH } from "../protocol/file-control.js";

export interface FolderFile {
  /** Where it is on this disk. */
  path: string;
  /** Its folder relative to the root, `/`-separated; undefined at the root. */
  dir: string | undefined;
  /** Its name as offered. */
  name: string;
  size: number;
}

export interface FolderListing {
  /** The folder's own name, offered as the batch's name. */
  name: string;
  files: FolderFile[];
  bytes: number;
  skipped: Array<{ path: string; why: string }>;
}

const utf8 = new TextEncoder();

/** A name as the offer carries it: a backslash is a separator to Windows, so it goes. */
function wireName(name: string): string {
  return name.replace(/\\/g, "_");
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "error";
}

/** Whether `path` is a folder (following a symbolic link given by the user). */
export function isFolder(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

export function walkFolder(root: string, opts: { maxFiles?: number; maxDepth?: number } = {}): FolderListing {
  const maxFiles = opts.maxFiles ?? MAX_BATCH_FILES;
  const maxDepth = opts.maxDepth ?? MAX_DIR_DEPTH;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (err) {
    throw new HallwayError("FILE_NOT_FOUND", `cannot open folder ${root} (${errnoOf(err)})`);
  }
  const inside = (real: string) => real === realRoot || real.startsWith(realRoot + sep);
  const listing: FolderListing = {
    name: wireName(basename(realRoot)) || "folder",
    files: [],
    bytes: 0,
    skipped: [],
  };
  const skip = (path: string, why: string) => listing.skipped.push({ path, why });
  // Depth-first, names sorted, so the order is the same on every run.
  const stack: Array<{ path: string; dir: string[] }> = [{ path: root, dir: [] }];
  while (stack.length > 0) {
    const folder = stack.pop() as { path: string; dir: string[] };
    let entries: Dirent[];
    try {
      entries = readdirSync(folder.path, { withFileTypes: true });
    } catch (err) {
      if (folder.dir.length === 0)
        throw new HallwayError("FILE_READ_FAILED", `cannot read folder ${root} (${errnoOf(err)})`);
      skip(folder.path, `cannot read it (${errnoOf(err)})`);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subfolders: Array<{ path: string; dir: string[] }> = [];
    for (const e of entries) {
      const path = join(folder.path, e.name);
      let size: number;
      if (e.isDirectory()) {
        if (folder.dir.length + 1 > maxDepth) skip(path, `deeper than ${maxDepth} folders`);
        else subfolders.push({ path, dir: [...folder.dir, wireName(e.name)] });
        continue;
      }
      if (e.isSymbolicLink()) {
        let real: string;
        try {
          real = realpathSync(path);
        } catch {
          skip(path, "a broken symbolic link");
          continue;
        }
        if (!inside(real)) {
          skip(path, "a symbolic link to outside the folder (not followed)");
          continue;
        }
        const st = statSync(real, { throwIfNoEntry: false });
        if (!st?.isFile()) {
          skip(path, "a symbolic link to a folder (not followed)");
          continue;
        }
        size = st.size;
      } else if (e.isFile()) {
        try {
          size = statSync(path).size;
        } catch (err) {
          skip(path, `cannot read it (${errnoOf(err)})`);
          continue;
        }
      } else {
        skip(path, "not a regular file");
        continue;
      }
      try {
        accessSync(path, constants.R_OK);
      } catch (err) {
        skip(path, `cannot read it (${errnoOf(err)})`);
        continue;
      }
      const dir = folder.dir.length === 0 ? undefined : folder.dir.join("/");
      if (dir !== undefined && utf8.encode(dir).length > MAX_DIR_BYTES) {
        skip(path, `its folder path is longer than ${MAX_DIR_BYTES} bytes`);
        continue;
      }
      if (listing.files.length >= maxFiles) {
        throw new HallwayError(
          "FILE_TOO_MANY_FILES",
          `${root} holds more than ${maxFiles} files; send a smaller folder (or an archive of it)`,
        );
      }
      listing.files.push({ path, dir, name: wireName(e.name), size });
      listing.bytes += size;
    }
    // Pushed in reverse so that the first subfolder is walked first.
    for (const s of subfolders.reverse()) stack.push(s);
  }
  if (listing.files.length === 0) {
    throw new HallwayError("FILE_NOT_FOUND", `${root} has no files that can be sent`);
  }
  return listing;
}
