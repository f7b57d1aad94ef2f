/**
 * Chat delivery for the client (`client.ts`). Sending a message:
 *   1. ask the registry where the recipient is (lookup: status, vouched key, addresses);
 *   2. online: open (or reuse) a direct session whose responder must hold the vouched
 *      key, send `chat`, and wait up to `directTimeoutMs` for the recipient's `receipt`;
 *   3. offline, unreachable, or no receipt in time: hand the message to the registry
 *      (`offline.send`), which stores it durably and delivers it at the next login.
 * Message ids make every path idempotent: the receiver drops ids it has already shown,
 * and the registry ignores a second enqueue of the same id.
 *
 * A send while the registry does not answer fails within `sendReportMs` with
 * `REGISTRY_UNREACHABLE` and stays in the outbox, to be stored once the registry is back,
 * one message at a time, in order. Direct messages' history goes to the registry in batches
 * (`history.batch`), one request at a time, waiting out retry-afters.
 *
 * Per message there is no timer of its own: receipts have one timeout for all
 * (`FifoDeadlines`), and message ids are random UUIDs. Time, timers and ids come from the
 * runtime.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import { type HostedConnection, isRelayAddress, type UdpHost } from "../net/udp-host.js";
import {
  type ChatMessage,
  type Control,
  encodeControl,
  type HistoryEntry,
  type LookupData,
  MAX_HISTORY_BATCH,
  type RequestBody,
} from "../protocol/control.js";
import { MAX_TEXT_BYTES } from "../protocol/limits.js";
import { uuid } from "../protocol/random-ids.js";
import type { Runtime } from "../runtime.js";
import type { PeerEvent, Via } from "./events.js";
import { FifoDeadlines } from "./fifo-deadlines.js";
import type { LanOutbox } from "./lan-outbox.js";
import type { LogHandOver } from "./log-hand-over.js";
import type { InboxEvent } from "./message-log.js";
import type { ClientState } from "./registry-session.js";
import { fitsWire } from "./social.js";

export interface ChatDeliveryOptions {
  host: UdpHost;
  runtime: Runtime;
  inbox: LogHandOver;
  me(): string;
  state(): ClientState;
  request(body: RequestBody): Promise<unknown>;
  emit(e: PeerEvent): void;
  directTimeoutMs: number;
  sendReportMs: number;
  lookup(user: string): Promise<LookupData>;
  /** A live session to `user`, or a new one (`client.ts`). */
  directTo(user: string, info: LookupData): Promise<HostedConnection>;
  /** The live, verified session with `user`, if there is one. */
  liveLink(user: string): HostedConnection | undefined;
  /** Close the session with `user` (no receipt came on it). */
  dropPeer(user: string): void;
  /** LAN discovery is on. */
  lanOn(): boolean;
  /** LAN mode: no registry session, LAN peers reached directly. */
  lanMode(): boolean;
  lanOutbox(): LanOutbox | undefined;
  /** LAN mode: directly to the recipient if the LAN has them, else into the LAN outbox. */
  sendLan(msg: ChatMessage): Promise<string>;
  /** Into the LAN outbox, the sender told so. */
  queueLan(msg: ChatMessage): void;
}

const utf8 = new TextEncoder();
/** History entries waiting to be reported, at most; the oldest are dropped beyond. */
const HISTORY_QUEUE_LIMIT = 10_000;
/** Least time between history batches that are not full: the registry's default 10 a second. */
const HISTORY_BATCH_GAP_MS = 100;

export const isRegistryDown = (e: HallwayError) =>
  e.code === "REGISTRY_LOST" || e.code === "REGISTRY_UNREACHABLE";
/**
 * Refused for now, with a retry-after: the rate limit, or a store batch that failed to commit
 * (`STORE_FAILED` with a retry-after; without one it is about the request, and final).
 */
export const isRetryLater = (e: HallwayError) =>
  e.code === "RATE_LIMITED" || (e.code === "STORE_FAILED" && e.retryAfterMs !== undefined);

/** Waits `ms` on the runtime's clock; the wait alone does not keep the process alive. */
export const sleep = (runtime: Runtime, ms: number) =>
  new Promise<void>((resolve) => {
    runtime.after(ms, resolve, { weak: true });
  });

export function messageEvent(m: ChatMessage, via: Via): InboxEvent {
  return { event: "message", id: m.id, from: m.from, to: m.to, text: m.text, via, sentAt: m.sentAt };
}

export class ChatDelivery {
  /** Offline messages handed to the registry and not yet acknowledged. */
  private readonly outbox = new Map<string, ChatMessage>();
  /** Direct messages waiting for their receipt; one timer for all (`receiptDeadlines`). */
  readonly awaitingReceipt = new Map<string, ChatMessage>();
  private readonly receiptDeadlines: FifoDeadlines<string>;
  private sendChain: Promise<unknown> = Promise.resolve();
  /** Direct messages' history entries, reported to the registry in batches. */
  readonly historyQueue: HistoryEntry[] = [];
  private historyInFlight = false;
  /** When the last `history.batch` went out (`runtime.now()`). */
  private historyBatchAt = Number.NEGATIVE_INFINITY;
  private outboxFlushing = false;
  /** Outbox messages already reported as refused for now (rate-limited): said once each. */
  private readonly outboxReported = new Set<string>();

  constructor(private readonly opts: ChatDeliveryOptions) {
    this.receiptDeadlines = new FifoDeadlines(
      opts.directTimeoutMs,
      (id) => this.receiptTimedOut(id),
      opts.runtime,
    );
  }

  /** Stopping: no receipt is waited for any more. */
  stop(): void {
    this.receiptDeadlines.clear();
  }

  /** A `chat` or `receipt` from `user` on its verified session. */
  handle(user: string, conn: HostedConnection, msg: Control): void {
    if (msg.t === "chat") {
      if (msg.msg.from !== user || msg.msg.to !== this.opts.me()) return;
      // No receipt unless the log has it: the sender then stores it at the registry.
      const id = msg.msg.id;
      this.opts.inbox.receive(
        [messageEvent(msg.msg, isRelayAddress(conn.address) ? "relay" : "direct")],
        () => {
          if (this.opts.host.isLive(conn))
            this.opts.host.send(conn, encodeControl({ t: "receipt", id, at: this.opts.runtime.wall() }));
        },
      );
    } else if (msg.t === "receipt") {
      const sent = this.awaitingReceipt.get(msg.id);
      if (!sent) return;
      this.awaitingReceipt.delete(msg.id);
      this.receiptDeadlines.delete(msg.id);
      this.opts.lanOutbox()?.remove(msg.id);
      this.opts.inbox.receive([{ event: "delivered", id: msg.id }]);
      this.reportHistory({ ...sent, deliveredAt: msg.at });
    }
  }

  /**
   * Send a chat message; resolves with its id once it is on its way (direct or stored).
   * Sends are serialised so that messages leave in the order they were given.
   */
  send(toRaw: string, text: string): Promise<string> {
    const p = this.sendChain.then(() => this.sendNow(toRaw, text));
    this.sendChain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private async sendNow(toRaw: string, text: string): Promise<string> {
    const to = toRaw.trim().toLowerCase();
    if (text.length === 0) throw new HallwayError("MSG_EMPTY", "message is empty");
    const bytes = utf8.encode(text).length;
    if (bytes > MAX_TEXT_BYTES) {
      throw new HallwayError("MSG_TOO_LARGE", `message is ${bytes} bytes; the limit is ${MAX_TEXT_BYTES}`);
    }
    if (!fitsWire(to)) throw new HallwayError("MSG_UNKNOWN_RECIPIENT", "no user by that name");
    const msg: ChatMessage = {
      // 122 random bits, unguessable.
      id: uuid(this.opts.runtime),
      from: this.opts.me(),
      to,
      text,
      sentAt: this.opts.runtime.wall(),
    };
    // A live, verified session to the recipient needs no registry round trip.
    const live = this.opts.liveLink(to);
    if (live) {
      if (this.opts.lanMode()) this.opts.lanOutbox()?.add(msg);
      this.sendDirect(live, msg);
      return msg.id;
    }
    if (this.opts.lanOn() && this.opts.state() !== "ready") return this.opts.sendLan(msg);
    let info: LookupData;
    // The registry must answer within `sendReportMs`, or the sender hears that it does not; the
    // lookup goes on, and the message is sent as usual if the answer comes late.
    let reported = false;
    const reportTimer = this.opts.runtime.after(this.opts.sendReportMs, () => {
      reported = true;
      this.keepForRegistry(msg);
    });
    try {
      info = await this.opts.lookup(to);
    } catch (err) {
      const e = asHallwayError(err);
      reportTimer.cancel();
      // Refused (no such user, the policy): the caller hears why.
      if (!isRegistryDown(e)) {
        if (!reported) throw e;
        this.outbox.delete(msg.id);
        this.opts.emit({ event: "error", code: e.code, message: e.message, id: msg.id });
        return msg.id;
      }
      // Registry unreachable: keep the message and store it when the registry is back.
      if (!reported) this.keepForRegistry(msg);
      return msg.id;
    }
    reportTimer.cancel();
    if (info.status !== "offline" && info.publicKey && info.addresses.length > 0 && to !== this.opts.me()) {
      try {
        this.sendDirect(await this.opts.directTo(to, info), msg);
        return msg.id;
      } catch {
        // Unreachable directly: fall through to the registry.
      }
    }
    if (this.outbox.size > 0) {
      // Earlier messages wait for the registry (retrying after a refusal): this one goes behind
      // them, so that the recipient gets them in the order they were sent.
      this.outbox.set(msg.id, msg);
      void this.flushOutbox();
      return msg.id;
    }
    await this.storeOffline(msg, true);
    return msg.id;
  }

  /**
   * No registry to look the recipient up or to store the message: it waits in the outbox,
   * and the sender hears so now (`REGISTRY_UNREACHABLE`, with the id); `sent` follows once
   * the registry has it.
   */
  private keepForRegistry(msg: ChatMessage): void {
    this.outbox.set(msg.id, msg);
    this.opts.emit({
      event: "error",
      code: "REGISTRY_UNREACHABLE",
      message: `the registry does not answer; the message to ${msg.to} is kept and sent when it is back`,
      id: msg.id,
    });
  }

  sendDirect(conn: HostedConnection, msg: ChatMessage): void {
    this.outbox.delete(msg.id);
    this.awaitingReceipt.set(msg.id, msg);
    this.receiptDeadlines.set(msg.id);
    this.opts.host.send(conn, encodeControl({ t: "chat", msg }));
    this.opts.inbox.recordSent(messageEvent(msg, isRelayAddress(conn.address) ? "relay" : "direct"));
    this.opts.emit({
      event: "sent",
      id: msg.id,
      to: msg.to,
      via: isRelayAddress(conn.address) ? "relay" : "direct",
    });
  }

  private receiptTimedOut(id: string): void {
    const msg = this.awaitingReceipt.get(id);
    if (!msg) return;
    this.awaitingReceipt.delete(id);
    this.opts.dropPeer(msg.to);
    if (this.opts.lanOn() && this.opts.state() !== "ready") {
      this.opts.queueLan(msg);
      return;
    }
    void this.storeOffline(msg, true);
  }

  /**
   * Hands `msg` to the registry's store. Resolves with how long to wait before trying again
   * when the registry is rate-limiting (the message stays in the outbox), else undefined.
   * `announce`: a new message, whose sender hears `REGISTRY_UNREACHABLE` within
   * `sendReportMs` if the registry does not take it.
   */
  private async storeOffline(msg: ChatMessage, announce: boolean): Promise<number | undefined> {
    this.outbox.set(msg.id, msg);
    let reported = false;
    const reportTimer = announce
      ? this.opts.runtime.after(this.opts.sendReportMs, () => {
          reported = true;
          this.keepForRegistry(msg);
        })
      : undefined;
    try {
      await this.opts.request({ t: "offline.send", msg });
      this.outboxReported.delete(msg.id);
      if (!this.outbox.delete(msg.id) && !announce) return undefined;
      this.opts.inbox.recordSent(messageEvent(msg, "offline"));
      this.opts.emit({ event: "sent", id: msg.id, to: msg.to, via: "offline" });
    } catch (err) {
      const e = asHallwayError(err);
      if (isRegistryDown(e)) {
        // Stored after the reconnect; a new message's sender hears now.
        if (announce && !reported) {
          reported = true;
          this.keepForRegistry(msg);
        }
        return undefined;
      }
      if (isRetryLater(e)) {
        // Kept, and tried again when the registry allows (rate limit) or its store can take it
        // (a batch that failed to commit); said once per message.
        if (!this.outboxReported.has(msg.id)) {
          this.outboxReported.add(msg.id);
          this.opts.emit({
            event: "error",
            code: e.code,
            message: `${e.message}; the message is kept and sent again then`,
            id: msg.id,
            ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
          });
        }
        const wait = e.retryAfterMs ?? 1000;
        if (announce) this.opts.runtime.after(wait, () => void this.flushOutbox(), { weak: true });
        return wait;
      }
      this.outbox.delete(msg.id);
      this.outboxReported.delete(msg.id);
      this.opts.emit({ event: "error", code: e.code, message: e.message, id: msg.id });
    } finally {
      reportTimer?.cancel();
    }
    return undefined;
  }

  /**
   * The outbox to the registry, one message at a time, in order, waiting out rate limits and
   * store failures. The iteration is live: a message queued meanwhile is sent in its turn.
   */
  async flushOutbox(): Promise<void> {
    if (this.outboxFlushing) return;
    this.outboxFlushing = true;
    try {
      for (const msg of this.outbox.values()) {
        for (;;) {
          if (this.opts.state() !== "ready") return;
          if (!this.outbox.has(msg.id)) break;
          const wait = await this.storeOffline(msg, false);
          if (wait === undefined) break;
          await sleep(this.opts.runtime, wait);
        }
      }
    } finally {
      this.outboxFlushing = false;
    }
  }

  /** A direct message for the registry's history: queued, and sent in batches. */
  private reportHistory(entry: HistoryEntry): void {
    // Without a registry, the entry waits on disk too: LAN-mode history reaches the registry.
    if (this.opts.state() !== "ready") this.opts.lanOutbox()?.addHistory(entry);
    this.historyQueue.push(entry);
    if (this.historyQueue.length > HISTORY_QUEUE_LIMIT) this.historyQueue.shift();
    void this.flushHistory();
  }

  /** One `history.batch` in flight at a time; waits out `RATE_LIMITED`, resumes at login. */
  async flushHistory(): Promise<void> {
    if (this.historyInFlight) return;
    this.historyInFlight = true;
    try {
      while (this.historyQueue.length > 0 && this.opts.state() === "ready") {
        // A batch that is not full waits to fill, so that batches follow each other at most
        // at the registry's history rate: receipts that trickle in one by one would otherwise
        // make one request each, be RATE_LIMITED, and get the session cut off.
        const since = this.opts.runtime.now() - this.historyBatchAt;
        if (this.historyQueue.length < MAX_HISTORY_BATCH && since < HISTORY_BATCH_GAP_MS) {
          await sleep(this.opts.runtime, HISTORY_BATCH_GAP_MS - since);
          continue;
        }
        this.historyBatchAt = this.opts.runtime.now();
        const batch = this.historyQueue.slice(0, MAX_HISTORY_BATCH);
        try {
          await this.opts.request({ t: "history.batch", msgs: batch });
        } catch (err) {
          const e = asHallwayError(err);
          if (isRetryLater(e)) {
            await sleep(this.opts.runtime, e.retryAfterMs ?? 1000);
            continue;
          }
          if (isRegistryDown(e)) return; // reported again after the next login
          // Refused (the policy changed meanwhile): those entries are not the registry's.
        }
        this.historyQueue.splice(0, batch.length);
        this.opts.lanOutbox()?.removeHistory(batch.map((e) => e.id));
      }
    } finally {
      this.historyInFlight = false;
    }
  }
}
