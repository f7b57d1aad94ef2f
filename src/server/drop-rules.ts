/**
 * The drop box's rules, as pure functions of its entries (docs/architecture.md, "Drop box"):
 * what an upload may take (per-file size, the sender's quota, the registry's total), when an
 * entry is over (every recipient took or declined it), when it expires (retention), and what
 * on disk no entry needs any more.
 *
 * Quotas count content, as the disk holds it: one blob per SHA-256, however many drops and
 * recipients share it. An upload reserves its whole declared size when it is admitted, so two
 * uploads that together do not fit are told at once (the second gets FILE_QUOTA before a byte
 * is sent), never half-way. An upload is checked again each time it resumes: a registry
 * restarted with smaller quotas stops an upload that no longer fits half-way, with FILE_QUOTA,
 * and the retention sweep removes what it had written.
 */

export interface DropEntry {
  /** 24 hex digits. */
  id: string;
  from: string;
  /** A user, or `#group`. */
  to: string;
  name: string;
  size: number;
  sha256: string;
  /** When the sender announced it (wall clock, ms): retention counts from here. */
  at: number;
  state: "uploading" | "stored";
  /** Recipients who have not taken it yet. */
  waiting: string[];
  /** Recipients who took it, and who declined it. */
  got: string[];
  declined: string[];
}

export interface DropLimits {
  /** The largest file the drop box takes. */
  maxFileBytes: number;
  /** What one sender's drops may hold at once (distinct content). */
  perUserBytes: number;
  /** What the whole drop box may hold (distinct content). */
  totalBytes: number;
  /** An entry is deleted this long after it was announced, taken by everyone or not. */
  retentionMs: number;
}

const MiB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_DROP_LIMITS: DropLimits = {
  maxFileBytes: 256 * MiB,
  perUserBytes: 2048 * MiB,
  totalBytes: 20 * 1024 * MiB,
  retentionMs: 14 * DAY_MS,
};

/** Bytes of distinct content among `entries`. */
export function contentBytes(entries: Iterable<DropEntry>): number {
  const sizes = new Map<string, number>();
  for (const e of entries) sizes.set(e.sha256, e.size);
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

export type Refusal = { code: "FILE_TOO_LARGE" | "FILE_QUOTA"; message: string };

/**
 * Why an upload of `want` may not go into the drop box, if it may not. `except` is the
 * upload's own entry when it is checked again (a resume).
 */
export function admitUpload(
  entries: Iterable<DropEntry>,
  want: { from: string; size: number; sha256: string },
  limits: DropLimits,
  except?: string,
): Refusal | undefined {
  if (want.size > limits.maxFileBytes) {
    return {
      code: "FILE_TOO_LARGE",
      message: `${want.size} bytes is over the drop box's limit of ${limits.maxFileBytes} per file`,
    };
  }
  const others = [...entries].filter((e) => e.id !== except);
  const asIf = [
    ...others,
    {
      ...want,
      id: "",
      to: "",
      name: "",
      at: 0,
      state: "uploading",
      waiting: [],
      got: [],
      declined: [],
    } as DropEntry,
  ];
  const mine = contentBytes(asIf.filter((e) => e.from === want.from));
  if (mine > limits.perUserBytes) {
    return {
      code: "FILE_QUOTA",
      message: `your files in the drop box would take ${mine} bytes; your quota is ${limits.perUserBytes}`,
    };
  }
  const total = contentBytes(asIf);
  if (total > limits.totalBytes) {
    return {
      code: "FILE_QUOTA",
      message: `the drop box would hold ${total} bytes; it holds at most ${limits.totalBytes}`,
    };
  }
  return undefined;
}

/** Every recipient took it or declined it. */
export function isFinished(e: DropEntry): boolean {
  return e.waiting.length === 0;
}

/**
 * An upload not finished this long after it was announced is given up (its sender's client
 * is gone; sending the file again starts over): until then it holds its share of the quotas.
 */
export const UNFINISHED_UPLOAD_MS = DAY_MS;

/** Past retention: deleted whether or not everyone took it; an unfinished upload sooner. */
export function isExpired(e: DropEntry, now: number, limits: DropLimits): boolean {
  const keepMs =
    e.state === "uploading" ? Math.min(limits.retentionMs, UNFINISHED_UPLOAD_MS) : limits.retentionMs;
  return now - e.at >= keepMs;
}

/** Blobs (by SHA-256) that no stored entry refers to. */
export function unreferencedBlobs(entries: Iterable<DropEntry>, blobs: Iterable<string>): string[] {
  const wanted = new Set<string>();
  for (const e of entries) if (e.state === "stored") wanted.add(e.sha256);
  return [...blobs].filter((sha) => !wanted.has(sha));
}

/** A partial upload of this content still has an entry to finish it for. */
export function partialWanted(entries: Iterable<DropEntry>, sha256: string, size: number): boolean {
  for (const e of entries) if (e.state === "uploading" && e.sha256 === sha256 && e.size === size) return true;
  return false;
}

/** The one entry among `entries` whose id is `ref` or starts with it. */
export function resolveDrop(entries: Iterable<DropEntry>, ref: string): DropEntry | undefined {
  const hits = [...entries].filter((e) => e.id.startsWith(ref));
  return hits.length === 1 ? hits[0] : hits.find((e) => e.id === ref);
}
