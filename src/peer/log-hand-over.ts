/**
 * The client's side of the message log (`message-log.ts`): what arrives for the user is
 * recorded there before it is acknowledged, and handed over to the presenter in log order.
 * What arrives in one turn is recorded in one transaction at its end (`runtime.soon`), so a
 * burst costs one fsync, as the registry's group commit does.
 */

import { asHallwayError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import type { PeerClientOptions } from "./client-options.js";
import type { InboxEvent, LoggedEntry, MessageLog } from "./message-log.js";

export interface LogHandOverOptions {
  user: string;
  /** The end of the turn, and the log's entry times (`wall()`). */
  runtime: Runtime;
  openLog: PeerClientOptions["openLog"];
  onEvent: PeerClientOptions["onEvent"];
  onHandOverAgain?: (() => void) | undefined;
  /** The client stopped: nothing more is recorded. */
  closed(): boolean;
}

export class LogHandOver {
  /** The account's message log: open from `start()` on if it exists, else from the first entry. */
  private log: MessageLog | undefined;
  /** The log refused a write, and the user heard so; cleared by the next write that works. */
  private logFailing = false;
  /** Arrivals of this turn, recorded together at its end (`receive`). */
  private readonly receiving: Array<{
    events: readonly InboxEvent[];
    outgoing?: readonly InboxEvent[];
    then?: () => void;
  }> = [];

  constructor(private readonly opts: LogHandOverOptions) {}

  /** At start: what the last run recorded but did not hand over comes first, once. */
  handOverPending(): void {
    this.log ??= this.opts.openLog(this.opts.user, false, this.opts.runtime.wall());
    const pending = this.log?.pending() ?? [];
    if (pending.length > 0) this.opts.onHandOverAgain?.();
    for (const entry of pending) this.handOver(this.log as MessageLog, entry);
  }

  /**
   * Records `events` in the message log and then runs `then` (the acknowledgement). What
   * arrives in one turn is recorded in one transaction at its end (one fsync for a burst, as
   * the registry's group commit), handed over in log order, and acknowledged only after that
   * commit; if the log refuses, nothing of the turn is acknowledged and the user hears it once.
   * `outgoing`: what the user sent, recorded with them as history (never handed over).
   */
  receive(events: readonly InboxEvent[], then?: () => void, outgoing?: readonly InboxEvent[]): void {
    if (this.opts.closed()) return;
    this.receiving.push({ events, ...(outgoing ? { outgoing } : {}), ...(then ? { then } : {}) });
    if (this.receiving.length > 1) return;
    this.opts.runtime.soon(() => this.recordReceived());
  }

  /** What the user sent, for the log's history (with this turn's arrivals). */
  recordSent(event: InboxEvent): void {
    this.receive([], undefined, [event]);
  }

  private recordReceived(): void {
    const batch = this.receiving.splice(0);
    if (batch.length === 0 || this.opts.closed()) return;
    let fresh: LoggedEntry[];
    let log: MessageLog;
    try {
      const now = this.opts.runtime.wall();
      log = this.log ??= this.opts.openLog(this.opts.user, true, now) as MessageLog;
      fresh = log.record(
        batch.flatMap((b) => b.events),
        batch.flatMap((b) => b.outgoing ?? []),
        now,
      );
    } catch (err) {
      if (!this.logFailing) {
        this.logFailing = true;
        const e = asHallwayError(err);
        this.opts.onEvent({ event: "error", code: e.code, message: e.message });
      }
      return;
    }
    this.logFailing = false;
    for (const entry of fresh) this.handOver(log, entry);
    for (const b of batch) b.then?.();
  }

  private handOver(log: MessageLog, entry: LoggedEntry): void {
    this.opts.onEvent(entry.event, (handed) => log.handedOver(entry.seq, handed));
  }

  /** The last `limit` messages of a conversation from the local log, oldest first. */
  recent(conversation: string, limit: number): InboxEvent[] {
    return this.log?.recent(conversation, limit) ?? [];
  }

  close(): void {
    this.log?.close();
  }
}
