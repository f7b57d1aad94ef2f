/**
 * The connection every part of the Neo4j adapter works through: the driver, the open state,
 * the group commit, and the transactions.
 *
 * Transactions. Every write runs in `session.executeWrite`, every read in `executeRead`, each in
 * a short session (the export reads in one explicit read transaction, streamed); the checks a
 * write depends on (user exists, group exists, membership) run inside its write transaction;
 * all sessions share one bookmark manager, so in a cluster a read routed to another member
 * still sees this store's earlier writes. The driver retries a transaction that
 * failed transiently (leader switch, deadlock, lost connection) for up to
 * `maxTransactionRetryTimeMs`; work functions are idempotent for that reason.
 *
 * Connections belong to the driver: it keeps a pool, replaces broken connections on the next
 * use, and with a `neo4j://` URI keeps a routing table of the cluster (writes to the leader,
 * reads spread over members). There is no reconnect logic here. `init()` checks once that the
 * server answers and accepts the credentials, so a bad URI or password fails at start-up with
 * one line, not at the first login.
 *
 * Time budget and outages. A registry request waits on its store call, the requests of one
 * client session run one after another (heartbeats too), and a client that gets no answer
 * within 5 s takes the registry for lost and reconnects. So a store call must end well within
 * that: the driver starts no retry after `maxTransactionRetryTimeMs` (2 s; with its backoff of
 * 1 s, then 2 s, ±20%, the last attempt ends by about 3.6 s; at 3 s the next retry came at
 * about 7 s against a stopped server, after the client had gone), a TCP connect gives up after
 * `connectionTimeoutMs` (2 s) and a usable connection (handshake, login, a free one in the
 * pool) after twice that. When Neo4j is unreachable (stopped, restarting, network gone), the
 * first call finds out within that budget; from then on the store is in an outage: calls fail
 * at once with the same `STORE_FAILED` ("cannot reach Neo4j at …"), except that one call a
 * second (`OUTAGE_PROBE_INTERVAL_MS`) tries the server once, without the driver's retries. The
 * first call that reaches the server ends the outage. So while Neo4j is gone every request
 * still gets its answer quickly, and the registry serves again as soon as Neo4j is back, with
 * no restart.
 */

import {
  type AuthToken,
  auth,
  type BookmarkManager,
  bookmarkManager,
  type Config,
  driver as createDriver,
  type Driver,
  type ManagedTransaction,
  type QueryResult,
  type Session,
} from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import { wallClock } from "../../../net/clock.js";
import { systemRuntime } from "../../../net/system-runtime.js";
import { GroupCommit, type Outcome } from "../group-commit.js";
import { nameKey } from "../port-rules.js";
import { type DataKey, type ParamsOf, type ReadKey, runStatement } from "./cypher.js";
import { describeNeo4jFailure, displayUri, isUnreachable, type Neo4jTarget } from "./mapping.js";
import { prepareGraph } from "./schema.js";

export interface Neo4jConnection {
  /** `bolt://host:7687` for one server, `neo4j://host:7687` for routing (clusters); `+s` for TLS. */
  uri: string;
  user: string;
  password: string;
  /** Omitted: the server's default (or the user's home) database. */
  database?: string;
  /**
   * Which registry's data in the database this store sees. Default `"hallway"`. Several
   * registries (or test runs) can share one database; each sees only its own.
   */
  registry?: string;
}

export interface Neo4jStoreOptions extends Neo4jConnection {
  /**
   * Clock for times the port does not pass in (ack delivery time, registry creation) and for
   * the outage probe. Default: the wall clock (`net/clock.ts`).
   */
  now?: () => number;
  /** Runs a function at the end of this turn: when the group commit commits. Default the process's. */
  soon?: (fn: () => void) => void;
  /** Limit for a TCP connect to Neo4j; twice this for a usable connection (handshake, login). Default 2000. */
  connectionTimeoutMs?: number;
  /** How long the driver keeps retrying a transiently failed transaction. Default 2000. */
  maxTransactionRetryTimeMs?: number;
  /** Builds the driver. Default: neo4j-driver's `driver()`; tests pass a scripted fake. */
  createDriver?: DriverFactory;
}

export type DriverFactory = (uri: string, authToken: AuthToken, config: Config) => Driver;

export const DEFAULT_REGISTRY = "hallway";
// Both well under the client's 5 s request timeout (see "Time budget and outages" above).
const DEFAULT_CONNECTION_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_RETRY_TIME_MS = 2_000;
/** During an outage, how often one call may try the server; the others fail at once. */
export const OUTAGE_PROBE_INTERVAL_MS = 1_000;

export type ReadRun = <K extends ReadKey>(key: K, params: ParamsOf<K>) => Promise<QueryResult>;
export type WriteRun = <K extends DataKey>(key: K, params: ParamsOf<K>) => Promise<QueryResult>;
/** One append in a group commit: its statements run inside the batch's transaction. */
export type Append = { op: string; work: (run: WriteRun) => Promise<unknown> };

export interface OpenState {
  kind: "open";
  driver: Driver;
  bookmarks: BookmarkManager;
}

type State = { kind: "new" } | { kind: "opening"; done: Promise<void> } | OpenState | { kind: "closed" };

/** Neo4j found unreachable: since when the last attempt started, and what it said. */
interface Outage {
  lastAttemptAt: number;
  failure: HallwayError;
}

export class Neo4jDatabase {
  readonly registry: string;
  private readonly connection: Neo4jConnection;
  readonly target: Neo4jTarget;
  readonly now: () => number;
  private readonly connectionTimeoutMs: number;
  private readonly maxTransactionRetryTimeMs: number;
  private readonly createDriver: DriverFactory;
  private state: State = { kind: "new" };
  private outage: Outage | undefined;
  /** Appends waiting for their batch's transaction (see `neo4j-store.ts`). */
  readonly appends: GroupCommit<Append>;

  constructor(options: Neo4jStoreOptions) {
    this.connection = {
      uri: options.uri,
      user: options.user,
      password: options.password,
      ...(options.database === undefined ? {} : { database: options.database }),
    };
    this.target = { uri: options.uri, user: options.user, database: options.database };
    this.registry = options.registry ?? DEFAULT_REGISTRY;
    this.now = options.now ?? wallClock.now;
    this.appends = new GroupCommit<Append>({
      commit: (batch) => this.commitAppends(batch),
      batchError: (err, size) => describeNeo4jFailure(`commit of ${size} appends`, err, this.target),
      schedule: options.soon ?? systemRuntime.soon,
    });
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
    this.maxTransactionRetryTimeMs = options.maxTransactionRetryTimeMs ?? DEFAULT_MAX_RETRY_TIME_MS;
    this.createDriver = options.createDriver ?? createDriver;
  }

  /** Where this store connects, for logs: URI without credentials, database, registry. */
  describe(): string {
    const db = this.connection.database === undefined ? "" : `, database ${this.connection.database}`;
    return `Neo4j ${displayUri(this.connection.uri)}${db}, registry ${JSON.stringify(this.registry)}`;
  }

  async init(): Promise<void> {
    switch (this.state.kind) {
      case "open":
        return;
      case "closed":
        throw new HallwayError("STORE_FAILED", "store is closed");
      case "opening":
        return this.state.done;
      case "new": {
        // The callbacks run after `state` says "opening", also when open() fails synchronously.
        const done = this.open().then(
          async (opened) => {
            if (this.state.kind !== "opening") {
              // close() was called while connecting.
              await opened.driver.close();
              throw new HallwayError("STORE_FAILED", "store is closed");
            }
            this.state = opened;
          },
          (err: unknown) => {
            if (this.state.kind === "opening") this.state = { kind: "new" };
            throw err;
          },
        );
        this.state = { kind: "opening", done };
        return done;
      }
    }
  }

  async close(): Promise<void> {
    if (this.state.kind === "open") await this.appends.drain();
    const previous = this.state;
    this.state = { kind: "closed" };
    if (previous.kind === "open") await previous.driver.close();
    // An init() still in progress sees the closed state when it finishes and closes its driver.
  }

  /** What a method with nothing to ask the server answers: nothing, if the store is open. */
  async none(): Promise<never[]> {
    this.opened();
    return [];
  }

  /** AUTH_UNKNOWN_USER for the first of `names` that is no user, checked in the caller's transaction. */
  async requireUsers(run: ReadRun, names: readonly string[]): Promise<void> {
    const keys = names.map(nameKey);
    const known = await run("knownUsers", { registry: this.registry, nameKeys: keys });
    const found = new Set(known.records.map((r) => r.get("nameKey") as unknown));
    const missing = names.find((_, i) => !found.has(keys[i]));
    if (missing !== undefined) throw noUser(missing);
  }

  /** A connected driver over an initialised schema; leaves `state` to init(). */
  private async open(): Promise<OpenState> {
    let driver: Driver;
    try {
      driver = this.createDriver(
        this.connection.uri,
        auth.basic(this.connection.user, this.connection.password),
        {
          disableLosslessIntegers: true,
          connectionTimeout: this.connectionTimeoutMs,
          // The TCP connect is bounded above; getting a connection from the pool also covers the
          // Bolt handshake and login (which a busy server, or 100 connections opened at once
          // after a registry restart, makes slow) and waiting for a free one. Bounded too, so a
          // server that accepts TCP but never answers is found out.
          connectionAcquisitionTimeout: 2 * this.connectionTimeoutMs,
          maxTransactionRetryTime: this.maxTransactionRetryTimeMs,
          userAgent: "hallway-registry",
        },
      );
    } catch (err) {
      throw new HallwayError(
        "STORE_FAILED",
        `invalid Neo4j URI ${JSON.stringify(displayUri(this.connection.uri))}: ${firstLine(err)}`,
        { cause: err },
      );
    }
    const opened: OpenState = { kind: "open", driver, bookmarks: bookmarkManager() };
    try {
      await driver.verifyConnectivity(
        this.connection.database === undefined ? {} : { database: this.connection.database },
      );
      await prepareGraph((op, work) => this.transaction(opened, "WRITE", op, work), this.registry, this.now);
    } catch (err) {
      await driver.close().catch(() => {});
      throw describeNeo4jFailure("init", err, this.target);
    }
    return opened;
  }

  opened(): OpenState {
    switch (this.state.kind) {
      case "open":
        return this.state;
      case "new":
      case "opening":
        throw new HallwayError("STORE_FAILED", "store used before init()");
      case "closed":
        throw new HallwayError("STORE_FAILED", "store is closed");
    }
  }

  read<T>(op: string, work: (run: ReadRun) => Promise<T>): Promise<T> {
    return this.transaction(this.opened(), "READ", op, (tx) =>
      work((key, params) => runStatement(tx, key, params)),
    );
  }

  write<T>(op: string, work: (run: WriteRun) => Promise<T>): Promise<T> {
    return this.transaction(this.opened(), "WRITE", op, (tx) =>
      work((key, params) => runStatement(tx, key, params)),
    );
  }

  /** An append, in the next group commit; resolves with `work`'s result once that commits. */
  append<T>(op: string, work: (run: WriteRun) => Promise<T>): Promise<T> {
    this.opened();
    return this.appends.add<T>({ op, work });
  }

  /**
   * The group commit's transaction: the appends one after another. A HallwayError is the
   * append's own refusal, raised before it wrote anything; anything else fails the batch. The
   * driver may run this again after a transient failure, so the outcomes start afresh.
   */
  private commitAppends(batch: readonly Append[]): Promise<Outcome[]> {
    const op = batch.length === 1 ? (batch[0]?.op ?? "append") : `${batch.length} appends`;
    return this.write(op, async (run) => {
      const outcomes: Outcome[] = [];
      for (const a of batch) {
        try {
          outcomes.push({ ok: true, value: await a.work(run) });
        } catch (err) {
          if (!(err instanceof HallwayError)) throw err;
          outcomes.push({ ok: false, error: err });
        }
      }
      return outcomes;
    });
  }

  /** A short session; all share the bookmark manager, so reads see this store's earlier writes. */
  session(state: OpenState, mode: "READ" | "WRITE"): Session {
    return state.driver.session({
      defaultAccessMode: mode,
      bookmarkManager: state.bookmarks,
      ...(this.connection.database === undefined ? {} : { database: this.connection.database }),
    });
  }

  /**
   * One transaction in a short session; failures become one-line STORE_FAILED errors. Normally
   * a managed transaction, which the driver retries on transient failures; during an outage
   * (see the header) either an immediate failure or, once a second, a single attempt.
   */
  private async transaction<T>(
    state: OpenState,
    mode: "READ" | "WRITE",
    op: string,
    work: (tx: Pick<ManagedTransaction, "run">) => Promise<T>,
  ): Promise<T> {
    const probing = this.outage !== undefined;
    if (this.outage !== undefined) {
      const now = this.now();
      if (now - this.outage.lastAttemptAt < OUTAGE_PROBE_INTERVAL_MS) {
        throw new HallwayError("STORE_FAILED", this.outage.failure.message);
      }
      this.outage.lastAttemptAt = now;
    }
    const startedAt = this.now();
    let session: Session | undefined;
    try {
      session = this.session(state, mode);
      const result = probing
        ? await once(session, work)
        : mode === "READ"
          ? await session.executeRead(work)
          : await session.executeWrite(work);
      this.outage = undefined;
      return result;
    } catch (err) {
      const failure = describeNeo4jFailure(op, err, this.target);
      // Anything but "unreachable" (a refused constraint, an unknown user) means it answered.
      this.outage = isUnreachable(err) ? { lastAttemptAt: startedAt, failure } : undefined;
      throw failure;
    } finally {
      await session?.close().catch(() => {});
    }
  }
}

/** One explicit transaction, no retries: the outage probe. */
async function once<T>(
  session: Session,
  work: (tx: Pick<ManagedTransaction, "run">) => Promise<T>,
): Promise<T> {
  const tx = await session.beginTransaction();
  try {
    const result = await work(tx);
    await tx.commit();
    return result;
  } finally {
    await tx.close().catch(() => {});
  }
}

export function noUser(name: string): HallwayError {
  return new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
}

export function noGroup(name: string): HallwayError {
  return new HallwayError("GROUP_UNKNOWN", `no group ${JSON.stringify(name)}`);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] ?? "";
}
