/**
 * Moving an office between stores: `hallway server export` writes every record of a store as
 * JSON lines, `hallway server import` replays them into an empty store of either kind.
 *
 * Format: the first line is a header `{"format":"hallway-export","version":1,"exportedAt":ms}`,
 * then one `DumpRecord` per line in the order `Store.dump` yields them (users first, then what
 * refers to them). A line is checked against the record schema before it reaches the store, so
 * a damaged file fails with the number of the line and nothing imported (`Store.load` is all or
 * nothing); a file from a newer build fails on its header.
 */

import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { z } from "zod";
import { HallwayError } from "../errors.js";
import { ensureDataDir } from "../net/data-dir.js";
import { systemRuntime } from "../net/system-runtime.js";
import { openServerStore, type ServerStore } from "./index.js";
import { AUDIT_EVENTS, type DumpRecord, PROFILE_FIELDS, type Store } from "./store/index.js";

export const EXPORT_FORMAT = "hallway-export";
export const EXPORT_VERSION = 1;

/** How many records of each kind went through, for the summary line. */
export type RecordCounts = Partial<Record<DumpRecord["kind"], number>>;

export interface TransferSummary {
  records: number;
  counts: RecordCounts;
}

const text = z.string();
const name = z.string().min(1);
const millis = z.number().int();
const seq = z.number().int().nonnegative();
// Fields added since the first export (a profile's seed fields, a group's description) are
// null when an older export lacks them.
const profile = Object.fromEntries(PROFILE_FIELDS.map((f) => [f, text.nullable().default(null)])) as Record<
  (typeof PROFILE_FIELDS)[number],
  z.ZodDefault<z.ZodNullable<z.ZodString>>
>;

const RECORD = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("user"),
    name,
    passwordHash: text,
    publicKey: text.nullable(),
    ...profile,
    createdAt: millis,
    lastSeen: millis.nullable(),
    profileUpdatedAt: millis.nullable().default(null),
  }),
  z.strictObject({
    kind: z.literal("audit"),
    // The name as given at the time: it may name nobody (a failed login), or be empty (a block).
    user: text,
    event: z.enum(AUDIT_EVENTS),
    at: millis,
    address: text,
    detail: text.optional(),
  }),
  z.strictObject({
    kind: z.literal("message"),
    id: name,
    from: name,
    to: name,
    body: text,
    sentAt: millis,
    deliveredAt: millis.nullable(),
  }),
  z.strictObject({ kind: z.literal("offline"), id: name, to: name }),
  z.strictObject({ kind: z.literal("friendRequest"), from: name, to: name, at: millis }),
  z.strictObject({ kind: z.literal("friendship"), a: name, b: name, since: millis }),
  z.strictObject({
    kind: z.literal("group"),
    name,
    admin: name,
    createdAt: millis,
    lastSeq: seq,
    description: text.nullable().default(null),
  }),
  z.strictObject({ kind: z.literal("member"), group: name, name, joinedAt: millis, ackedSeq: seq }),
  z.strictObject({ kind: z.literal("joinRequest"), group: name, user: name, at: millis }),
  z.strictObject({
    kind: z.literal("groupMessage"),
    id: name,
    group: name,
    from: name,
    body: text,
    sentAt: millis,
    seq: seq.min(1),
  }),
  z.strictObject({
    kind: z.literal("notice"),
    notice: z.strictObject({ id: name, to: name, kind: text, body: text, at: millis }),
  }),
]) satisfies z.ZodType<DumpRecord>;

const HEADER = z.object({ format: z.literal(EXPORT_FORMAT), version: z.number().int() });

function badLine(line: number, problem: string): HallwayError {
  return new HallwayError("IMPORT_BAD_LINE", `line ${line}: ${problem}; nothing was imported`);
}

function parseJson(line: string, lineNo: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw badLine(lineNo, "not JSON");
  }
}

/** The first problem zod found, as `field: message`. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "not a record";
  const path = issue.path.join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}

/** Checks the header line; refuses another format or a version this build cannot read. */
export function parseHeader(line: string | undefined): void {
  if (line === undefined) throw badLine(1, "the file is empty, expected a header");
  const header = HEADER.safeParse(parseJson(line, 1));
  if (!header.success) throw badLine(1, `not a ${EXPORT_FORMAT} header`);
  if (header.data.version !== EXPORT_VERSION) {
    throw new HallwayError(
      "IMPORT_BAD_VERSION",
      `export format version ${header.data.version} is not supported (this build reads version ${EXPORT_VERSION})`,
    );
  }
}

/** One record line, checked; `IMPORT_BAD_LINE` naming the line otherwise. */
export function parseRecord(line: string, lineNo: number): DumpRecord {
  const value = parseJson(line, lineNo);
  const record = RECORD.safeParse(value);
  if (record.success) return record.data;
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badLine(lineNo, "not a JSON object");
  }
  if (typeof kind !== "string" || !RECORD.options.some((o) => o.shape.kind.value === kind)) {
    throw badLine(lineNo, `unknown record kind ${JSON.stringify(kind)}`);
  }
  throw badLine(lineNo, `${kind} record: ${firstIssue(record.error)}`);
}

/** Writes the header and every record of `store`; waits for the stream when it is full. */
export async function writeExport(store: Store, out: Writable, now: number): Promise<TransferSummary> {
  const summary: TransferSummary = { records: 0, counts: {} };
  const write = async (value: unknown) => {
    if (!out.write(`${JSON.stringify(value)}\n`)) await once(out, "drain");
  };
  await write({ format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt: now });
  for await (const record of store.dump()) {
    await write(record);
    count(summary, record);
  }
  return summary;
}

/** Replays JSON lines (header first; blank lines are ignored) into an empty store. */
export async function readImport(store: Store, lines: AsyncIterable<string>): Promise<TransferSummary> {
  const summary: TransferSummary = { records: 0, counts: {} };
  async function* records(): AsyncIterable<DumpRecord> {
    let lineNo = 0;
    let headerSeen = false;
    for await (const line of lines) {
      lineNo++;
      if (!headerSeen) {
        parseHeader(line);
        headerSeen = true;
        continue;
      }
      if (line.trim() === "") continue;
      const record = parseRecord(line, lineNo);
      count(summary, record);
      yield record;
    }
    if (!headerSeen) parseHeader(undefined);
  }
  await store.load(records());
  return summary;
}

function count(summary: TransferSummary, record: DumpRecord): void {
  summary.records++;
  summary.counts[record.kind] = (summary.counts[record.kind] ?? 0) + 1;
}

/** "4 users, 2 groups, …" for the one summary line. */
export function describeCounts(summary: TransferSummary): string {
  const parts = Object.entries(summary.counts).map(([kind, n]) => `${n} ${kind}`);
  return `${summary.records} records${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
}

export interface TransferOptions {
  store: ServerStore;
  /** The registry's data directory: where the SQLite database is. */
  dataDir: string;
  /** A file; omitted: stdout (export) or stdin (import). */
  file?: string;
  /** The export's timestamp (calendar time); default the process's (`systemRuntime.wall`). */
  now?: () => number;
}

async function withStore<T>(opts: TransferOptions, work: (store: Store) => Promise<T>): Promise<T> {
  const dir = opts.store.kind === "sqlite" ? ensureDataDir(opts.dataDir) : opts.dataDir;
  const store = await openServerStore(opts.store, dir);
  try {
    await store.init();
    return await work(store);
  } finally {
    await store.close();
  }
}

function fileError(err: unknown, file: string, verb: string): HallwayError {
  const code = (err as { code?: unknown } | null)?.code;
  return new HallwayError(
    code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_WRITE_FAILED",
    `cannot ${verb} ${file} (${typeof code === "string" ? code : String(err)})`,
    { cause: err },
  );
}

/** `hallway server export`: the store's records to a file or stdout. */
export async function exportOffice(opts: TransferOptions): Promise<TransferSummary> {
  return withStore(opts, async (store) => {
    const out: Writable = opts.file === undefined ? process.stdout : createWriteStream(opts.file);
    const failed = new Promise<never>((_, reject) =>
      out.once("error", (err) => reject(fileError(err, opts.file ?? "stdout", "write"))),
    );
    const summary = await Promise.race([writeExport(store, out, (opts.now ?? systemRuntime.wall)()), failed]);
    if (opts.file !== undefined) {
      out.end();
      await Promise.race([once(out, "finish"), failed]);
    }
    return summary;
  });
}

/** `hallway server import`: records from a file or stdin into an empty store. */
export async function importOffice(opts: TransferOptions): Promise<TransferSummary> {
  const input: Readable = opts.file === undefined ? process.stdin : createReadStream(opts.file);
  const opened = new Promise<void>((resolve, reject) => {
    if (opts.file === undefined) resolve();
    input.once("open", () => resolve());
    input.once("error", (err) => reject(fileError(err, opts.file ?? "stdin", "read")));
  });
  await opened;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  // The iterator must exist before the first await: readline emits lines as soon as the stream
  // flows, and an iterator made later (after the store's `init()` and `load()`'s first query,
  // network round trips with Neo4j) never sees them, so the import waited forever. Made now,
  // it buffers them and pauses the stream when it has enough.
  const iterator = lines[Symbol.asyncIterator]();
  try {
    return await withStore(opts, (store) => readImport(store, { [Symbol.asyncIterator]: () => iterator }));
  } finally {
    lines.close();
    input.destroy();
  }
}
