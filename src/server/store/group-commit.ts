/**
 * Group commit: appends that arrive together share one transaction, and so one fsync.
 *
 * An adapter hands each append to `add` as a unit of work. The first append after a commit
 * schedules the next commit for the end of the event-loop turn (`Runtime.soon`), so every
 * append the turn produced (all the datagrams read in it, every session's requests) rides in
 * the same transaction. While an asynchronous commit is under way (Neo4j), new appends wait
 * and go together in the next one: under load a batch grows to whatever arrived during the
 * previous commit, which is the "few milliseconds" of classic group commit without a timer.
 *
 *   add(work) ──► pending ──(end of turn, previous commit done)──► commit(batch) ──► settle
 *
 * Invariants:
 * - Appends are committed in call order; a batch's promises settle in that order.
 * - A promise resolves only after the transaction holding its append has committed
 *   (`synchronous = FULL` in SQLite: the WAL is on disk). Nothing is acknowledged earlier.
 * - The adapter's `commit` reports one outcome per work item. An item's own failure (a
 *   constraint, an unknown user) fails that item only: the adapter rolls back to a savepoint,
 *   or the item checks before it writes. A failure of the transaction itself (disk full,
 *   `SQLITE_BUSY`, a lost connection) rejects `commit`, and every append in the batch fails
 *   with `STORE_FAILED` and a retry-after (`BATCH_RETRY_MS`): nothing of it is on disk, the
 *   cause is likely to pass, and the client keeps what it sent and sends it again.
 */

import { HallwayError } from "../../errors.js";

/** The retry-after of an append whose batch failed to commit. */
export const BATCH_RETRY_MS = 1000;

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface GroupCommitOptions<W> {
  /** One transaction for the batch: one outcome per item, in order; throws if it cannot commit. */
  commit(batch: readonly W[]): Outcome[] | Promise<Outcome[]>;
  /** Describes why a batch failed to commit (its message is what every item's error says). */
  batchError(err: unknown, size: number): HallwayError;
  /** Runs `fn` at the end of this turn (`Runtime.soon`). */
  schedule: (fn: () => void) => void;
  /** Items per transaction at most; the rest go in the next one at once. Default 4096. */
  maxBatch?: number;
}

interface Entry<W> {
  work: W;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export class GroupCommit<W> {
  private pending: Array<Entry<W>> = [];
  private scheduled = false;
  private committing: Promise<void> | undefined;
  private readonly schedule: (fn: () => void) => void;
  private readonly maxBatch: number;
  /** Transactions committed (or failed), and the items they carried: for benchmarks and logs. */
  readonly stats = { batches: 0, items: 0, failedBatches: 0 };

  constructor(private readonly opts: GroupCommitOptions<W>) {
    this.schedule = opts.schedule;
    this.maxBatch = opts.maxBatch ?? 4096;
  }

  /** Appends waiting for their transaction. */
  get size(): number {
    return this.pending.length;
  }

  /** Places `work` in the next batch now; settles once that batch has committed or failed. */
  add<T>(work: W): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(() => this.run());
      }
    });
  }

  /**
   * Commits everything pending now, before another write of the adapter (so writes take
   * effect in call order) or before it closes. With a synchronous `commit` the batch is on
   * disk when this returns; the returned promise covers an asynchronous one.
   */
  drain(): Promise<void> {
    const wait = this.committing;
    if (wait !== undefined) return wait.then(() => this.drain());
    while (this.pending.length > 0) {
      const step = this.commitPending();
      if (step !== undefined) return step.then(() => this.drain());
    }
    return Promise.resolve();
  }

  private run(): void {
    this.scheduled = false;
    if (this.committing !== undefined) {
      // The next batch starts when this commit is done; what arrives meanwhile joins it.
      this.scheduled = true;
      void this.committing.then(() => this.run());
      return;
    }
    const step = this.commitPending();
    if (this.pending.length > 0 && !this.scheduled) {
      this.scheduled = true;
      if (step === undefined) this.schedule(() => this.run());
      else void step.then(() => this.run());
    }
  }

  /** One batch; a promise only while an asynchronous commit is under way. */
  private commitPending(): Promise<void> | undefined {
    if (this.pending.length === 0) return undefined;
    const batch = this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
    let outcomes: Outcome[] | Promise<Outcome[]>;
    try {
      outcomes = this.opts.commit(batch.map((e) => e.work));
    } catch (err) {
      this.fail(batch, err);
      return undefined;
    }
    if (!(outcomes instanceof Promise)) {
      this.settle(batch, outcomes);
      return undefined;
    }
    const done = outcomes.then(
      (o) => this.settle(batch, o),
      (err) => this.fail(batch, err),
    );
    this.committing = done.finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  private settle(batch: Array<Entry<W>>, outcomes: Outcome[]): void {
    this.stats.batches++;
    this.stats.items += batch.length;
    batch.forEach((e, i) => {
      const o = outcomes[i];
      if (o === undefined) e.reject(new HallwayError("INTERNAL", "an append of the batch has no outcome"));
      else if (o.ok) e.resolve(o.value);
      else e.reject(o.error);
    });
  }

  private fail(batch: Array<Entry<W>>, err: unknown): void {
    this.stats.batches++;
    this.stats.failedBatches++;
    this.stats.items += batch.length;
    const cause = this.opts.batchError(err, batch.length);
    const error = new HallwayError("STORE_FAILED", cause.message, { cause, retryAfterMs: BATCH_RETRY_MS });
    for (const e of batch) e.reject(error);
  }
}
