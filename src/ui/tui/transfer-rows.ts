/**
 * Transfers in the view-model: one row per number (a folder is one row, its files' bytes
 * summed), a smoothed rate, one line per step, the media line of a received file and its
 * decoded preview. At most KEEP_FINISHED_TRANSFERS ended rows are kept.
 */

import type { PreviewPixels } from "../../media/index.js";
import type { TransferEvent } from "../../peer/index.js";
import { FolderLines, folderState, mediaLine } from "../transfer-text.js";
import { aboutUser, addLine, addPrompt, dropPrompt } from "./buffers.js";
import type { Line, Model, TransferView } from "./model.js";
import { sanitize } from "./text-width.js";

/** Smoothing of the transfer rate: new sample weight, and the shortest interval worth sampling. */
const RATE_WEIGHT = 0.3;
const RATE_SAMPLE_MS = 250;

const KEEP_FINISHED_TRANSFERS = 20;
const ENDED_STATES: ReadonlySet<string> = new Set(["done", "failed", "cancelled"]);

/**
 * A transfer's row and lines. A folder is one row under its own id, its files' bytes summed,
 * and one line per step of the whole folder (transfer-text.ts `FolderLines`): its offer, its
 * answer, its end, and a file that failed alone. Lines are plain words led by the number.
 */
export function reduceTransfer(m: Model, e: TransferEvent, now: number): void {
  const folder = e.batch;
  const id = folder?.id ?? e.id;
  const bytes = folder?.bytesDone ?? e.bytes;
  let t: TransferView | undefined = m.transfers.find((x) => x.id === id);
  // A folder that ended was told so; its other files' ends add nothing.
  if (t && ENDED_STATES.has(t.state)) return;
  if (!t) {
    t = {
      id,
      n: e.n,
      direction: e.direction,
      peer: e.peer,
      name: sanitize(folder?.name ?? e.name),
      size: folder?.bytes ?? e.size,
      bytes,
      state: e.state,
      rateBps: 0,
      sampleAt: now,
      sampleBytes: bytes,
    };
    m.transfers.push(t);
  }
  const dt = now - t.sampleAt;
  if (e.state === "progress" && dt >= RATE_SAMPLE_MS) {
    const sample = ((bytes - t.sampleBytes) / dt) * 1000;
    t.rateBps = t.rateBps === 0 ? sample : t.rateBps * (1 - RATE_WEIGHT) + sample * RATE_WEIGHT;
    t.sampleAt = now;
    t.sampleBytes = bytes;
  }
  t.bytes = bytes;
  t.state = folder ? folderState(t.state, e) : e.state;
  if (folder) t.files = { total: folder.files, done: folder.filesDone };
  const text = new FolderLines(m.foldersTold).line(e);
  // A folder's later files are offered too, after its answer: only its first offer asks.
  if (e.state === "offered" && e.direction === "receive" && text !== undefined) {
    addPrompt(m, {
      kind: "file",
      id: e.id,
      n: e.n,
      peer: e.peer,
      name: t.name,
      size: t.size,
      ...(folder ? { files: folder.files } : {}),
    });
  } else if (e.state !== "offered") {
    dropPrompt(m, `file:${e.n}`);
  }
  for (const line of text?.split("\n") ?? []) aboutUser(m, e.peer, line, now);
  noteReceived(m, t, e, now);
  if (ENDED_STATES.has(t.state)) {
    if (t.state === "done") m.bells += 1;
    const finished = m.transfers.filter((x) => ENDED_STATES.has(x.state));
    const drop = new Set(finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED_TRANSFERS)));
    m.transfers = m.transfers.filter((x) => !drop.has(x));
  }
}

/**
 * A received file that is done: where it is (for `/open N`), and, for an image, video or
 * audio file, its media line; an image's preview is attached to that line when decoded
 * (`previewReady`).
 */
export function noteReceived(m: Model, t: TransferView, e: TransferEvent, now: number): void {
  if (e.direction !== "receive" || e.state !== "done") return;
  const path = e.batch?.path ?? e.path;
  if (path !== undefined) t.path = path;
  if (e.media !== undefined && !e.batch) t.media = e.media;
  const media = mediaLine(e);
  if (media === undefined) return;
  const i = Math.max(
    0,
    m.buffers.findIndex((b) => b.kind === "user" && b.name === e.peer.toLowerCase()),
  );
  addLine(m, i, { at: now, kind: "system", text: media, transfer: e.n });
}

/** A decoded preview for received file `n`: drawn under its media line. False if that line is gone. */
export function previewReady(m: Model, n: number, pixels: PreviewPixels): boolean {
  for (const b of m.buffers) {
    for (let i = b.lines.length - 1; i >= 0; i--) {
      const line = b.lines[i] as Line;
      if (line.transfer !== n) continue;
      line.preview = pixels;
      return true;
    }
  }
  return false;
}

/** Alt+I: image previews shown or hidden. */
export function togglePreviews(m: Model): void {
  m.previews = !m.previews;
}
