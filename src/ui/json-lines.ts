/**
 * JSON lines to a file descriptor (stdout in the JSON mode), with an exact account of what
 * was handed over: an event's `written` callback runs once every byte of its line is in the
 * pipe (or the file), never before. That is when a message counts as handed over
 * (docs/architecture.md, "Acknowledge after hand-over").
 *
 * One write per event-loop turn: the lines queued in a turn go out in one `write(2)` (at
 * most MAX_WRITE_BYTES). The write is synchronous on a non-blocking descriptor, so it returns
 * how many bytes the pipe took: the lines it covered are handed over at once, in order; a
 * line it cut is continued first next time. A full pipe (EAGAIN, or a short write) is tried
 * again after a short, growing pause (1 to 50 ms) while the process goes on; lines wait here
 * meanwhile, and their messages in the log. A stream's write callback could not do this: it
 * covers a whole chunk, of which a reader may already have most when the process dies.
 *
 * A descriptor that fails otherwise (EPIPE: the reader went away) drops what is queued,
 * hands nothing over, and raises the error outside the turn.
 */

import { writeSync } from "node:fs";

/** The largest single write: a turn's lines beyond it go in the next write. */
const MAX_WRITE_BYTES = 1024 * 1024;
const MAX_RETRY_MS = 50;

interface QueuedLine {
  bytes: Buffer;
  written: (() => void) | undefined;
}

export class JsonLineWriter {
  private queue: QueuedLine[] = [];
  private head = 0;
  /** Bytes of the first queued line already written (a short write ended inside it). */
  private headOffset = 0;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly fd: number) {}

  /** Queues one event's line for this turn's write; `written` runs once it is all written. */
  write(event: unknown, written?: () => void): void {
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
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.head < this.queue.length) {
      const parts: Buffer[] = [];
      let bytes = 0;
      for (let i = this.head; i < this.queue.length; i++) {
        const line = (this.queue[i] as QueuedLine).bytes;
        const b = i === this.head ? line.subarray(this.headOffset) : line;
        if (i > this.head && bytes + b.length > MAX_WRITE_BYTES) break;
        parts.push(b);
        bytes += b.length;
      }
      let n: number;
      try {
        n = writeSync(this.fd, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, bytes));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
          this.retryLater();
          return;
        }
        this.fail(err);
        return;
      }
      if (process.env.HALLWAY_DEBUG_MARK) process.stderr.write(`wrote ${n} of ${bytes}\n`);
      this.handOver(n);
      if (n < bytes) {
        this.retryLater();
        return;
      }
    }
    this.retryMs = 0;
    this.queue = [];
    this.head = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** `n` bytes were written: the lines they complete are handed over, in order. */
  private handOver(n: number): void {
    let left = n;
    const done: Array<() => void> = [];
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
      if (q.written) done.push(q.written);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    for (const cb of done) cb();
  }

  private retryLater(): void {
    this.retryMs = Math.min(MAX_RETRY_MS, Math.max(1, this.retryMs * 2));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, this.retryMs);
  }

  private fail(err: unknown): void {
    this.queue = [];
    this.head = 0;
    this.headOffset = 0;
    for (const w of this.idleWaiters.splice(0)) w();
    setImmediate(() => {
      throw err;
    });
  }
}
