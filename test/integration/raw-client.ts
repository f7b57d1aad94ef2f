/**
 * A registry session opened by the test process itself, on a real UDP socket (`UdpHost`):
 * it sends requests as a hostile or scripted client would (any body, any rate) and records
 * every answer and push. The registry on the other side is always a real process.
 */

import { randomBytes } from "node:crypto";
import { type HostedConnection, UdpHost } from "../../src/net/udp-host.js";
import type { Address } from "../../src/protocol/address.js";
import type { Identity } from "../../src/protocol/endpoint.js";
import { generateIdentity } from "../../src/protocol/noise.js";
import type { Json } from "./harness.js";

const utf8 = new TextEncoder();
const lenient = new TextDecoder();
const open: RawClient[] = [];

export function newIdentity(): Identity {
  return generateIdentity((n) => new Uint8Array(randomBytes(n)));
}

export interface RawClientOptions {
  identity?: Identity;
  /** Local address to bind (default 127.0.0.1). */
  bindHost?: string;
  /** Handshake timeout, default 5000. */
  handshakeTimeoutMs?: number;
}

export class RawClient {
  readonly pushes: Json[] = [];
  /** Set when the registry closed the session, with its CLOSE reason. */
  closedReason: string | undefined;
  private nextRid = 1;
  private readonly pending = new Map<
    number,
    { resolve: (answer: Json) => void; reject: (e: Error) => void }
  >();
  private readonly closeWaiters: Array<(reason: string) => void> = [];

  private constructor(
    readonly host: UdpHost,
    readonly conn: HostedConnection,
  ) {}

  /** Opens a session to the registry at `registry` (a port on 127.0.0.1, or an address). */
  static async open(registry: number | Address, opts: RawClientOptions = {}): Promise<RawClient> {
    const host = new UdpHost({
      identity: opts.identity ?? newIdentity(),
      acceptIncoming: false,
      host: opts.bindHost ?? "127.0.0.1",
      ...(opts.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: opts.handshakeTimeoutMs }),
    });
    let client: RawClient | undefined;
    const early: Array<() => void> = [];
    host.handlers = {
      onMessage: (_c, bytes) => {
        if (client) client.onMessage(bytes);
        else early.push(() => client?.onMessage(bytes));
      },
      onClosed: (_c, reason) => client?.onClosed(reason),
    };
    await host.start();
    const to = typeof registry === "number" ? { host: "127.0.0.1", port: registry } : registry;
    try {
      const conn = await host.connect(to);
      client = new RawClient(host, conn);
    } catch (err) {
      await host.stop();
      throw err;
    }
    open.push(client);
    for (const f of early) f();
    return client;
  }

  get localPort(): number {
    return this.host.localPort;
  }

  /** Sends `body` with a fresh rid (first, as the project's clients write it). */
  request(body: Json, timeoutMs = 15_000): Promise<Json> {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`no answer to ${JSON.stringify(body).slice(0, 80)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      try {
        this.host.send(this.conn, utf8.encode(JSON.stringify({ rid, ...body })));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(rid);
        reject(err);
      }
    });
  }

  /** Sends a request without waiting; its answer is dropped. */
  fire(body: Json): void {
    const rid = this.nextRid++;
    this.host.send(this.conn, utf8.encode(JSON.stringify({ rid, ...body })));
  }

  /** Sends arbitrary bytes as one message. */
  sendBytes(bytes: Uint8Array): void {
    this.host.send(this.conn, bytes);
  }

  /** Resolves with the CLOSE reason when the registry closes the session. */
  closed(): Promise<string> {
    if (this.closedReason !== undefined) return Promise.resolve(this.closedReason);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    await this.host.stop();
  }

  private onMessage(bytes: Uint8Array): void {
    let msg: Json;
    try {
      msg = JSON.parse(lenient.decode(bytes)) as Json;
    } catch {
      return;
    }
    const rid = typeof msg.rid === "number" ? msg.rid : undefined;
    const waiter = rid === undefined ? undefined : this.pending.get(rid);
    if (waiter && (msg.t === "ok" || msg.t === "err")) {
      this.pending.delete(rid as number);
      waiter.resolve(msg);
    } else {
      this.pushes.push(msg);
    }
  }

  private onClosed(reason: string): void {
    this.closedReason = reason;
    for (const p of this.pending.values()) p.reject(new Error(`session closed: ${reason}`));
    this.pending.clear();
    for (const w of this.closeWaiters.splice(0)) w(reason);
  }
}

/** Stops every raw client the test opened. */
export async function stopRawClients(): Promise<void> {
  await Promise.all(open.splice(0).map((c) => c.stop()));
}

/** A raw client that registered (unless told not to) and logged in as `user`. */
export async function loggedIn(
  port: number,
  user: string,
  password: string,
  opts: RawClientOptions & { register?: boolean; addresses?: Address[] } = {},
): Promise<RawClient> {
  const c = await RawClient.open(port, opts);
  if (opts.register !== false) {
    const r = await c.request({ t: "register", user, password });
    if (r.t !== "ok") throw new Error(`register ${user}: ${JSON.stringify(r)}`);
  }
  const l = await c.request({
    t: "login",
    user,
    password,
    heartbeatMs: 10_000,
    addresses: opts.addresses ?? [],
  });
  if (l.t !== "ok") throw new Error(`login ${user}: ${JSON.stringify(l)}`);
  return c;
}

/** The median of some numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
