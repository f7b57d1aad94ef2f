/**
 * File transfers in plain words, for the interactive front ends: "you declined", "cancelled
 * by bob", "saved to ~/Downloads/x.bin", each line led by the transfer's number (`#3`), which
 * `/accept 3`, `/decline 3` and `/cancel 3` take. A folder is told about as one thing: its
 * files share its number, and only the folder's offer, its answer and its end get a line
 * (`FolderLines` keeps what was told). Names are shown JSON-quoted, so a peer's file name
 * cannot drive the terminal. Pure functions.
 */

import { mediaText } from "../media/index.js";
import type { TransferEvent, TransferRow, TransferState } from "../peer/index.js";
import { formatBytes } from "./tui/model.js";

const ENDED = new Set(["done", "failed", "cancelled"]);
/** Outcomes that end a whole folder (file-transfers.ts stops it on them). */
const FOLDER_STOPS = new Set([
  "FILE_DECLINED",
  "FILE_CANCELLED",
  "FILE_OFFER_EXPIRED",
  "FILE_PEER_LOST",
  "FILE_DISK_FULL",
]);

function quoted(name: string): string {
  return JSON.stringify(name);
}

/** What a transfer is about: `"x.bin"` or `folder "photos" (12 files, 34.0 MB)`. */
function subject(e: TransferEvent, withSize: boolean): string {
  if (e.batch) {
    const size = withSize ? ` (${e.batch.files} files, ${formatBytes(e.batch.bytes)})` : "";
    return `folder ${quoted(e.batch.name)}${size}`;
  }
  return `${quoted(e.name)}${withSize ? ` (${formatBytes(e.size)})` : ""}`;
}

/** A file of a folder, by its path in the folder: `"photos/2024/a.jpg"`. */
function filePath(e: TransferEvent): string {
  const parts = [e.batch?.name, e.dir, e.name].filter((p) => p !== undefined);
  return quoted(parts.join("/"));
}

/** How a transfer ended other than done, in plain words. */
function endWords(e: TransferEvent, what: string): string {
  const mine = e.by === "local";
  switch (e.code) {
    case "FILE_DECLINED":
      if (e.direction === "receive")
        return mine ? `you declined ${what} from ${e.peer}` : `${what} from ${e.peer} was declined`;
      return mine ? `${what} to ${e.peer}: declined here` : `${e.peer} declined ${what}`;
    case "FILE_CANCELLED":
      return mine ? `you cancelled ${what}` : `${what} cancelled by ${e.peer}`;
    case "FILE_OFFER_EXPIRED":
      return `nobody answered the offer of ${what} in time`;
    case "FILE_PEER_LOST":
      return e.direction === "receive"
        ? `${what} from ${e.peer} stopped: the connection was lost (offered again, it resumes)`
        : `${what} to ${e.peer} stopped: the connection was lost`;
    default:
      return `${what} ${e.direction === "send" ? "to" : "from"} ${e.peer} failed: ${e.message ?? e.code} (${e.code})`;
  }
}

/** One line for a transfer's state change, or undefined when there is nothing new to say. */
export function transferLine(e: TransferEvent): string | undefined {
  const n = `#${e.n}`;
  const what = subject(e, false);
  switch (e.state) {
    case "progress":
      return undefined;
    case "offered":
      return e.direction === "receive"
        ? `${n} ${e.peer} offers ${subject(e, true)}: /accept ${e.n} or /decline ${e.n}`
        : `${n} offering ${subject(e, true)} to ${e.peer} (/cancel ${e.n} stops it)`;
    case "accepted":
      return e.direction === "receive"
        ? `${n} receiving ${what} from ${e.peer}`
        : `${n} ${e.peer} accepted ${what}`;
    case "done": {
      const b = e.batch;
      const some = b !== undefined && b.filesDone < b.files ? ` (${b.filesDone} of ${b.files} files)` : "";
      if (e.direction === "send") return `${n} sent ${what} to ${e.peer}${some}`;
      return `${n} saved ${what} from ${e.peer} to ${b?.path ?? e.path ?? "the download folder"}${some}`;
    }
    default:
      return `${n} ${endWords(e, what)}`;
  }
}

/**
 * The line a received image, video or audio file gets after its "saved" line: what it is
 * (sniffed from its bytes), its size, and `/open N`. Files of a folder get none (a folder
 * of photos would bury the conversation).
 */
export function mediaLine(e: TransferEvent): string | undefined {
  if (e.direction !== "receive" || e.state !== "done" || e.media === undefined || e.batch) return undefined;
  return `#${e.n} ${quoted(e.name)}: ${mediaText(e.media)}, ${formatBytes(e.size)} (/open ${e.n})`;
}

/**
 * Which events of a folder's files deserve a line: the first offer, the first answer, the
 * end of the whole folder, and a file that failed alone (the folder goes on without it).
 * Single files always do (but progress).
 */
export class FolderLines {
  /** `told`: what was said of each folder, by number; a view-model may keep it between calls. */
  constructor(private readonly told = new Map<number, Set<string>>()) {}

  line(e: TransferEvent): string | undefined {
    if (!e.batch) return viaRegistry(e, transferLine(e));
    if (e.state === "progress") return undefined;
    const seen = this.told.get(e.n) ?? new Set<string>();
    this.told.set(e.n, seen);
    if (seen.has("end")) return undefined;
    const ended = ENDED.has(e.state);
    const stops = folderStops(e);
    if (!ended) {
      if (seen.has(e.state)) return undefined;
      seen.add(e.state);
      return transferLine(e);
    }
    const lines: string[] = [];
    // A file that failed alone: the folder goes on without it.
    if (e.state !== "done" && !stops) {
      lines.push(
        `#${e.n} ${filePath(e)} ${e.direction === "send" ? "to" : "from"} ${e.peer} failed: ${e.message ?? e.code} (${e.code})`,
      );
    }
    if (stops) lines.push(transferLine(e) as string);
    else if (e.batch.filesEnded >= e.batch.files) lines.push(transferLine({ ...e, state: "done" }) as string);
    if (stops || e.batch.filesEnded >= e.batch.files) {
      seen.add("end");
      if (this.told.size > 256) this.told.delete(this.told.keys().next().value as number);
    }
    return lines.length === 0 ? undefined : lines.join("\n");
  }
}

/** A transfer to or from the registry's drop box says so: which path the file took. */
function viaRegistry(e: TransferEvent, line: string | undefined): string | undefined {
  return line !== undefined && e.via === "registry" ? `${line} (via the registry's drop box)` : line;
}

/** A file's end that ends its whole folder (file-transfers.ts stops the folder on it). */
function folderStops(e: TransferEvent): boolean {
  return e.state !== "done" && e.code !== undefined && FOLDER_STOPS.has(e.code);
}

/**
 * The state of a whole folder after an event of one of its files: offered until one is
 * answered, running until every file ended (then done) or one ended it (then that file's
 * end); `before` is what it was.
 */
export function folderState(before: TransferState | undefined, e: TransferEvent): TransferState {
  if (before !== undefined && ENDED.has(before)) return before;
  if (e.state === "offered") return before ?? "offered";
  if (!ENDED.has(e.state)) return e.state;
  if (folderStops(e)) return e.state;
  const b = e.batch;
  return b !== undefined && b.filesEnded >= b.files ? "done" : "progress";
}

/** One row of `/files`: number, direction, peer, name, state and how far. */
export function transferRowText(r: TransferRow): string {
  const arrow = r.direction === "send" ? "→" : "←";
  const percent = r.size === 0 ? 100 : Math.floor((r.bytes / r.size) * 100);
  const files = r.files === undefined ? "" : ` ${r.filesDone ?? 0}/${r.files} files`;
  const how =
    r.state === "offered"
      ? r.direction === "receive"
        ? "waiting for you"
        : "waiting for an answer"
      : `${percent}%`;
  return `  #${r.n} ${arrow} ${r.peer} ${quoted(r.name)} ${formatBytes(r.size)}${files} ${how}`;
}

/** The one updating progress line: every running transfer, shortest first. */
export function progressLine(rows: readonly TransferRow[]): string {
  return rows
    .filter((r) => r.state === "progress")
    .map((r) => {
      const percent = r.size === 0 ? 100 : Math.floor((r.bytes / r.size) * 100);
      const files = r.files === undefined ? "" : ` ${r.filesDone ?? 0}/${r.files}`;
      return `#${r.n} ${r.direction === "send" ? "→" : "←"}${r.peer} ${percent}%${files}`;
    })
    .join("  ");
}
