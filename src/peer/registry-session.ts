/**
 * The client's session with the registry: which registry, the connection to it (its key
 * pinned on first use: `registry-connect.ts`), login, requests and their one deadline for
 * all (`FifoDeadlines`), the heartbeat, and the reconnect loop with exponential backoff. `state` is the client's
 * state (drawn in `client.ts`); the rest of the client reads it and reacts to `hooks`.
 *
 * Registry loss: a request that gets no answer within `requestTimeoutMs`, or a closed
 * session, starts the reconnect loop; on success the client logs in again (a `resume` login).
 * The registry may end the session itself (`session.end`, or the code in its CLOSE reason):
 * `SESSION_REPLACED` or `SESSION_TERMINATED`; the client then stops and does not log in again.
 *
 * In LAN mode (no registry at start) `server` may be one found on the LAN later (`adopt`);
 * a refusal there is not fatal (`adoptionFailed`), and the account may have to be created
 * there first (`needsRegister`).
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { PinStore } from "../net/data-dir.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import { type Control, encodeControl, type RequestBody } from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import { randomFraction } from "../protocol/random-ids.js";
import type { Runtime, Timer } from "../runtime.js";
import type { PeerEvent } from "./events.js";
import { FifoDeadlines } from "./fifo-deadlines.js";
import { connectRegistry } from "./registry-connect.js";

export type ClientState = "idle" | "connecting" | "ready" | "reconnecting" | "closed";

export interface RegistrySessionOptions {
  host: UdpHost;
  /** The heartbeat, the reconnect's backoff and its jitter, the requests' deadline. */
  runtime: Runtime;
  server: Address | undefined;
  user: string;
  password: string;
  pins: PinStore;
  /** The registry must present the key with this fingerprint. */
  registryFingerprint: string | undefined;
  heartbeatMs: number;
  requestTimeoutMs: number;
  emit(e: PeerEvent): void;
  /** This host's candidate addresses, for the login. */
  addresses(): Address[];
  /** Logged in (state "ready"): what the rest of the client does then. */
  onReady(): void;
  /** The registry was lost (state "reconnecting"), before the reconnect is scheduled. */
  onLost(): void;
  /** The session ended for good (or a fatal refusal): stop the client. */
  stop(): Promise<void>;
}

interface PendingRequest {
  resolve(data: unknown): void;
  reject(err: HallwayError): void;
  /** The request's `t`, for the timeout's message. */
  what: string;
}

export class RegistrySession {
  state: ClientState = "idle";
  /** The live session with the registry, if any. */
  conn: HostedConnection | undefined;
  /** The registry: the one given, or (LAN mode without one) the first that mDNS shows later. */
  private server: Address | undefined;
  /** `server` was found on the LAN in LAN mode, not given: a refusal there is not fatal. */
  private adopted = false;
  private readonly refusedRegistries = new Set<string>();
  /** The account is to be created at the first registry reached (LAN mode at start). */
  needsRegister = false;
  /** Set when the registry ended the session itself: no reconnect. */
  ended: HallwayError | undefined;
  private nextRid = 1;
  private readonly requests = new Map<number, PendingRequest>();
  /** One timer for every request's answer (`requestTimeoutMs`). */
  private readonly requestDeadlines: FifoDeadlines<number>;
  private heartbeatTimer: Timer | undefined;
  private reconnectAttempt = 0;
  private readonly loginWaiters: Array<{ resolve(): void; reject(err: HallwayError): void }> = [];
  private reportFailure: (err: HallwayError) => void = () => {};
  /** Settles if the client gives up by itself, with the error it already emitted. */
  readonly failed = new Promise<HallwayError>((resolve) => {
    this.reportFailure = resolve;
  });

  constructor(private readonly opts: RegistrySessionOptions) {
    this.server = opts.server;
    this.requestDeadlines = new FifoDeadlines(
      opts.requestTimeoutMs,
      (rid) => this.requestTimedOut(rid),
      opts.runtime,
    );
  }

  get registryName(): string {
    const server = this.server;
    return server ? `${server.host}:${server.port}` : "none";
  }

  /** Whether `conn` is the registry's session. */
  isRegistry(conn: HostedConnection): boolean {
    return conn === this.conn || (this.conn !== undefined && conn.session === this.conn.session);
  }

  /** The registry's session while it is live. */
  live(): HostedConnection | undefined {
    return this.conn && this.opts.host.isLive(this.conn) ? this.conn : undefined;
  }

  async connect(): Promise<void> {
    const host = this.opts.host;
    const server = this.server;
    if (!server) throw new HallwayError("REGISTRY_NOT_FOUND", "no registry found on this network");
    const conn = await connectRegistry({
      host,
      runtime: this.opts.runtime,
      server,
      name: this.registryName,
      pins: this.opts.pins,
      registryFingerprint: this.opts.registryFingerprint,
      closed: () => this.state === "closed",
    });
    this.conn = conn;
    this.opts.emit({
      event: "registry",
      status: "connected",
      address: this.registryName,
      fingerprint: fingerprint(conn.remoteKey),
      localPort: host.localPort,
    });
  }

  register(): Promise<unknown> {
    return this.request({ t: "register", user: this.opts.user, password: this.opts.password });
  }

  /**
   * `resume`: a login again after a lost session, which must not take the account over from
   * another device (the registry answers `SESSION_REPLACED` instead).
   */
  async login(resume: boolean): Promise<void> {
    await this.request({
      t: "login",
      user: this.opts.user,
      password: this.opts.password,
      heartbeatMs: this.opts.heartbeatMs,
      addresses: this.opts.addresses(),
      ...(resume ? { resume: true } : {}),
    });
    this.state = "ready";
    this.adopted = false; // logged in: from now on it is our registry
    this.reconnectAttempt = 0;
    this.startHeartbeat();
    this.opts.onReady();
    for (const w of this.loginWaiters.splice(0)) w.resolve();
  }

  /** No registry at start: LAN mode, and the reconnect loop looks for one (`resume`). */
  goLan(needsRegister: boolean): void {
    if (this.conn) this.opts.host.close(this.conn, "LAN mode");
    this.conn = undefined;
    this.needsRegister = needsRegister;
    this.state = "reconnecting";
  }

  /** The registry ended the session (another device, or abuse): say why once, and stop. */
  sessionEnded(code: HallwayError["code"], message: string): void {
    if (this.ended || this.state === "closed") return;
    this.fail(new HallwayError(code, message, { origin: "remote" }));
  }

  /** Gives up for good with `e`, said once as an `error` event. */
  private fail(e: HallwayError): void {
    this.ended = e;
    this.opts.emit({ event: "error", code: e.code, message: e.message });
    const failed = () => this.reportFailure(e);
    this.opts.stop().then(failed, failed);
  }

  private startHeartbeat(): void {
    this.heartbeatTimer?.cancel();
    this.heartbeatTimer = this.opts.runtime.every(this.opts.heartbeatMs, () => {
      if (this.state !== "ready") return;
      this.request({ t: "heartbeat" }).catch(() => {});
    });
  }

  /** Send a request to the registry; resolves with its `data`. */
  request(body: RequestBody): Promise<unknown> {
    const conn = this.conn;
    const host = this.opts.host;
    if (!conn || !host.isLive(conn)) {
      return Promise.reject(new HallwayError("REGISTRY_LOST", "not connected to the registry"));
    }
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      try {
        // `rid` first: a registry can answer even a request it could only read the start of.
        host.send(conn, encodeControl({ rid, ...body } as Control));
      } catch (err) {
        // Local misuse (a message over the limit): refused here, the session is fine.
        reject(asHallwayError(err));
        return;
      }
      this.requests.set(rid, { resolve, reject, what: body.t });
      this.requestDeadlines.set(rid);
    });
  }

  /** The registry's `ok` or `err` to request `rid`. */
  answer(rid: number, result: { ok: true; data: unknown } | { ok: false; error: HallwayError }): void {
    const p = this.requests.get(rid);
    if (!p) return;
    this.requests.delete(rid);
    this.requestDeadlines.delete(rid);
    if (result.ok) p.resolve(result.data);
    else p.reject(result.error);
  }

  private requestTimedOut(rid: number): void {
    const p = this.requests.get(rid);
    if (!p) return;
    this.requests.delete(rid);
    p.reject(new HallwayError("REGISTRY_UNREACHABLE", `the registry did not answer '${p.what}'`));
    this.lost();
  }

  /** The registry's session closed or stopped answering: reconnect. */
  lost(): void {
    if (this.state !== "ready" || this.ended) return;
    this.state = "reconnecting";
    this.heartbeatTimer?.cancel();
    const old = this.conn;
    this.conn = undefined;
    if (old) this.opts.host.close(old, "reconnecting");
    this.requestDeadlines.clear();
    for (const [rid, p] of this.requests) {
      p.reject(new HallwayError("REGISTRY_LOST", "lost the registry"));
      this.requests.delete(rid);
    }
    this.opts.emit({ event: "registry", status: "lost", address: this.registryName, fingerprint: "" });
    this.opts.onLost();
    this.scheduleReconnect();
  }

  scheduleReconnect(atLeastMs = 0): void {
    if (this.state !== "reconnecting" || !this.server) return;
    const base = Math.min(10_000, 250 * 2 ** this.reconnectAttempt);
    const delay = Math.max(atLeastMs, base / 2 + randomFraction(this.opts.runtime) * (base / 2));
    this.reconnectAttempt++;
    const retry = (): void => {
      if (this.state !== "reconnecting") return;
      this.connect()
        .then(() => this.registerIfNeeded())
        .then(() => this.login(true))
        .catch((err) => {
          const e = asHallwayError(err);
          if (
            e.code === "REGISTRY_KEY_CHANGED" ||
            e.code === "REGISTRY_PINS_UNREADABLE" ||
            e.code === "AUTH_BAD_PASSWORD" ||
            e.code === "AUTH_UNKNOWN_USER" ||
            e.code === "SESSION_REPLACED" ||
            e.code === "SESSION_TERMINATED"
          ) {
            if (this.adopted) {
              this.adoptionFailed(e);
              return;
            }
            this.fail(e);
            return;
          }
          if (this.conn) {
            this.opts.host.close(this.conn, "retry");
            this.conn = undefined;
          }
          // Throttled (RATE_LIMITED): not before the registry says.
          this.scheduleReconnect(e.retryAfterMs ?? 0);
        });
    };
    this.opts.runtime.after(delay, retry, { weak: true });
  }

  /**
   * LAN mode without a registry: one appeared on the LAN (its mDNS announcement, or its
   * answer to our queries). Taken as `findRegistry` takes the first it finds; its key is
   * pinned on first use as always.
   */
  adopt(address: Address): void {
    if (this.server || this.state !== "reconnecting" || this.ended) return;
    const name = `${address.host}:${address.port}`;
    if (this.refusedRegistries.has(name)) return;
    this.server = address;
    this.adopted = true;
    this.reconnectAttempt = 0;
    this.scheduleReconnect();
  }

  /**
   * A registry nobody asked for refused us (no such account, another password, a key that
   * differs from its pin): said once, and LAN mode goes on without it.
   */
  private adoptionFailed(e: HallwayError): void {
    if (this.conn) this.opts.host.close(this.conn, "not ours");
    this.conn = undefined;
    if (this.server) this.refusedRegistries.add(`${this.server.host}:${this.server.port}`);
    this.server = undefined;
    this.adopted = false;
    this.opts.emit({
      event: "error",
      code: e.code,
      message: `${e.message}; staying in LAN mode without the registry found on the LAN`,
    });
  }

  private async registerIfNeeded(): Promise<void> {
    if (!this.needsRegister) return;
    try {
      await this.register();
    } catch (err) {
      if (asHallwayError(err).code !== "AUTH_USER_EXISTS") throw err;
    }
    this.needsRegister = false;
  }

  /** Resolves at the next successful login (after a reconnect); rejects if the client stops first. */
  nextLogin(): Promise<void> {
    if (this.state === "closed")
      return Promise.reject(new HallwayError("REGISTRY_LOST", "the client stopped"));
    return new Promise((resolve, reject) => this.loginWaiters.push({ resolve, reject }));
  }

  /**
   * The client stops: state "closed", login waiters refused, no heartbeat. Returns whether
   * there is a session to log out from (`logout`).
   */
  close(): boolean {
    // After the registry ended the session there is nobody to log out from.
    const wasReady = this.state === "ready" && this.ended === undefined;
    this.state = "closed";
    for (const w of this.loginWaiters.splice(0))
      w.reject(new HallwayError("REGISTRY_LOST", "the client stopped"));
    this.heartbeatTimer?.cancel();
    return wasReady;
  }

  /** Log out, best effort, while stopping. */
  async logout(): Promise<void> {
    this.state = "ready";
    await this.request({ t: "logout" }).catch(() => {});
    this.state = "closed";
  }

  /** Stopped: no request waits for an answer any more. */
  clearDeadlines(): void {
    this.requestDeadlines.clear();
  }
}
