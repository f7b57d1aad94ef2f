/**
 * Password work (scrypt) with bounded concurrency, fair between source hosts: at most
 * `concurrent` checks run at once, waiting checks are served one host at a time in turn, and
 * one host may have at most `perHost` checks waiting. A check whose session went away while
 * it waited is dropped without running (`alive()` is asked when its turn comes).
 *
 * So one guessing host cannot starve other hosts' logins, and guesses queued by a client that
 * disconnected cost nothing. No clock and no timers: only promises.
 */

import { HallwayError } from "../errors.js";

interface Job {
  alive: () => boolean;
  run: () => Promise<void>;
  cancel: () => void;
}

export class PasswordChecks {
  private running = 0;
  /** Hosts with waiting jobs, in serving order; each host appears once. */
  private readonly turns: string[] = [];
  private turnHead = 0;
  private readonly waiting = new Map<string, Job[]>();
  /** Checks dropped because their session had gone. */
  dropped = 0;

  constructor(
    private readonly concurrent: number,
    private readonly perHost: number,
  ) {}

  /**
   * Runs `work` when a slot is free and it is `host`'s turn. Rejects with `RATE_LIMITED` if
   * `host` already has `perHost` checks waiting, and with `SESSION_TERMINATED` if `alive()`
   * is false when its turn comes.
   */
  run<T>(host: string, alive: () => boolean, work: () => Promise<T>): Promise<T> {
    const queue = this.waiting.get(host);
    if ((queue?.length ?? 0) >= this.perHost) {
      return Promise.reject(
        new HallwayError("RATE_LIMITED", "too many logins waiting from your address; try again shortly", {
          retryAfterMs: 1000,
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        alive,
        run: () => work().then(resolve, reject),
        cancel: () => reject(new HallwayError("SESSION_TERMINATED", "the session went away")),
      };
      if (queue) queue.push(job);
      else {
        this.waiting.set(host, [job]);
        this.turns.push(host);
      }
      this.pump();
    });
  }

  /** Checks waiting now, over all hosts. */
  get queued(): number {
    let n = 0;
    for (const q of this.waiting.values()) n += q.length;
    return n;
  }

  private next(): Job | undefined {
    while (this.turnHead < this.turns.length) {
      const host = this.turns[this.turnHead] as string;
      this.turnHead++;
      const queue = this.waiting.get(host);
      const job = queue?.shift();
      if (queue && queue.length > 0) this.turns.push(host);
      else this.waiting.delete(host);
      if (this.turnHead > 1024 && this.turnHead * 2 > this.turns.length) {
        this.turns.splice(0, this.turnHead);
        this.turnHead = 0;
      }
      if (job) return job;
    }
    return undefined;
  }

  private pump(): void {
    while (this.running < this.concurrent) {
      const job = this.next();
      if (!job) return;
      if (!job.alive()) {
        this.dropped++;
        job.cancel();
        continue;
      }
      this.running++;
      void job.run().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}
