/**
 * JSON lines to a file descriptor (stdout in the JSON mode), with an exact account of what
 * was handed over (docs/architecture.md, "Acknowledge after hand-over"). A line may carry a
 * hand-over mark (`HandOverMark`), which this writer sets and, if need be, takes back.
 *
 * One write per event-loop turn: the lines queued in a turn go out in one `write(2)` (at
 * most MAX_WRITE_BYTES; more waits for the next turn). The write is synchronous on a
 * non-blocking descriptor, so it returns how many bytes the pipe took; a line it cut is
 * continued first next time. A full pipe (EAGAIN, or a short write) is tried again after a
 * short, growing pause (1 to 50 ms) while the process goes on; lines wait here meanwhile, and
 * their messages in the log.
 *
 * Mark, then write. A reader's wake-up by a write is what a kill most often follows (a
 * supervisor that reads a line and kills): marked first, nothing a reader can see is ever
 * unmarked, so it is not shown again. If the pipe takes less than the write, the lines it did
 * not take are taken back at once, and until a write goes through whole the mark follows the
 * write instead (a full pipe means a reader that is not reading). The two system calls cannot
 * be one: a kill exactly between mark and write loses that write's lines for the reader (the
 * log keeps them as history), and one between a write and its mark in a full pipe shows
 * lines again. docs/architecture.md says what that costs.
 *
 * A stream's write callback could not do this: it covers a whole chunk, of which a reader may
 * already have most when the process dies.
 *
 * A descriptor that fails otherwise (EPIPE: the reader went away) drops what is queued,
 * hands nothing over, and raises the error outside the turn.
 *
 * The turn and the pauses are the runtime's (`soon`, `after`), from the composition root.
 */

import { writeSync } from "node:fs";
import type { Runtime, Timer } from "../runtime.js";

/**
 * The largest single write; a turn's lines beyond it go in the next turn. Small against a
 * pipe's 64 KiB, so that a reader that keeps up always has room for a whole write: a write
 * the pipe cuts short is the case where a mark made first must be taken back.
 */
const MAX_WRITE_BYTES = 16 * 1024;
const MAX_RETRY_MS = 50;

/**
 * A line's hand-over mark. Cumulative, like the log's: called, it says this line and every
 * one before it are handed over; called with `false`, that this line and every one after it
 * are not (a write that was marked first and then taken by the pipe only in part, or not).
 */
export type HandOverMark = (handed?: boolean) => void;

interface QueuedLine {
  bytes: Buffer;
  written: HandOverMark | undefined;
}

function lastMark(lines: readonly QueuedLine[]): HandOverMark | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const mark = (lines[i] as QueuedLine).written;
    if (mark) return mark;
  }
  return undefined;
}
const firstMark = (lines: readonly QueuedLine[]) => lines.find((l) => l.written)?.written;

export class JsonLineWriter {
  private queue: QueuedLine[] = [];
  private head = 0;
  /** Bytes of the first queued line already written (a short write ended inside it). */
  private headOffset = 0;
  /** The last write was refused or cut short: marks follow writes until one goes through. */
  private congested = false;
  private scheduled = false;
  private retryTimer: Timer | undefined;
  private retryMs = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    private readonly runtime: Pick<Runtime, "after" | "soon">,
  ) {}

  /** Queues one event's line for this turn's write; `written` runs once it is all written. */
  write(event: unknown, written?: HandOverMark): void {
    this.queue.push({ bytes: Buffer.from(`${JSON.stringify(event)}\n`), written });
    this.schedule();
  }

  /** Writes at once, after what is queued (the last words before an exit). */
  writeNow(event: unknown): void {
    this.queue.push({ bytes: Buffer.from(`${JSON.stringify(event)}\n`), written: undefined });
    this.flush();
  }

  /** Raw text in the same order (a line break that ends a line a killed process left half-written). */
  writeRaw(text: string): void {
    this.queue.push({ bytes: Buffer.from(text), written: undefined });
    this.schedule();
  }

  /** Resolves once everything queued so far is written. */
  flushed(): Promise<void> {
    if (this.head === this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.retryTimer !== undefined) return;
    this.scheduled = true;
    this.runtime.soon(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.head < this.queue.length) {
      const end = this.chunkEnd();
      const lines = this.queue.slice(this.head, end);
      const parts = lines.map((l, i) => (i === 0 ? l.bytes.subarray(this.headOffset) : l.bytes));
      const bytes = parts.reduce((n, p) => n + p.length, 0);
      const chunk = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, bytes);
      // Marked before the reader can see it, unless the pipe is known to be full; nothing
      // between the mark and the write that need not be there.
      const markFirst = !this.congested && this.headOffset === 0;
      if (markFirst) lastMark(lines)?.();
      let n: number;
      try {
        n = writeSync(this.fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") {
          this.fail(err);
          return;
        }
        n = 0;
      }
      const covered = this.advance(n);
      if (markFirst && n < bytes) {
        // The pipe took less: the lines it did not take are taken back.
        firstMark(this.queue.slice(this.head, end))?.(false);
      } else if (!markFirst) lastMark(covered)?.();
      if (n < bytes) {
        this.congested = true;
        this.retryLater();
        return;
      }
      this.congested = false;
      this.retryMs = 0;
      if (this.head < this.queue.length) {
        // One write per turn: the rest goes in the next.
        this.schedule();
        return;
      }
    }
    this.queue = [];
    this.head = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Where this turn's write ends: every queued line, up to MAX_WRITE_BYTES. */
  private chunkEnd(): number {
    let bytes = 0;
    let end = this.head;
    while (end < this.queue.length) {
      const n = (this.queue[end] as QueuedLine).bytes.length;
      if (end > this.head && bytes + n > MAX_WRITE_BYTES) break;
      bytes += n;
      end++;
    }
    return end;
  }

  /** `n` bytes were written: moves past the lines they complete, and returns those. */
  private advance(n: number): QueuedLine[] {
    let left = n;
    const from = this.head;
    while (left > 0 && this.head < this.queue.length) {
      const q = this.queue[this.head] as QueuedLine;
      const rest = q.bytes.length - this.headOffset;
      if (left < rest) {
        this.headOffset += left;
        break;
      }
      left -= rest;
      this.headOffset = 0;
      this.head++;
    }
    const covered = this.queue.slice(from, this.head);
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return covered;
  }

  private retryLater(): void {
    this.retryMs = Math.min(MAX_RETRY_MS, Math.max(1, this.retryMs * 2));
    this.retryTimer = this.runtime.after(this.retryMs, () => {
      this.retryTimer = undefined;
      this.flush();
    });
  }

  private fail(err: unknown): void {
    this.queue = [];
    this.head = 0;
    this.headOffset = 0;
    for (const w of this.idleWaiters.splice(0)) w();
    this.runtime.soon(() => {
      throw err;
    });
  }
}
