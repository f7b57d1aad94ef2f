/**
 * The peer's mDNS adapter (docs/discovery.md): announces this peer as `_hallway-peer._udp`
 * and browses for the others, on one multicast-dns socket (bonjour-service's). The records
 * are `protocol/mdns-txt.ts`'s; what a browse finds goes to `LanDirectory` as sightings.
 *
 * Why not bonjour's own `publish` and `find`: its browser reports a service once and never
 * says it was seen again, so a directory could not expire entries by TTL; and its responder
 * answers every query at once, however many come. Here:
 *
 *   - answers and announcements share one rule (RFC 6762 §6): the record set goes out at
 *     most once per `MIN_SEND_GAP_MS`; what asks for it meanwhile is answered by one send at
 *     the end of the gap. A query flood costs one datagram a second;
 *   - announcing: two unsolicited answers a second apart at start (RFC 6762 §8.3), one on
 *     each change of the TXT record (presence), goodbyes (TTL 0, §10.1) at stop;
 *   - only private IPv4 addresses (RFC 1918) are announced; with none, nothing is;
 *   - browsing: a PTR query at start, then again at 1, 2, 4… s and every `requeryMs`
 *     (half the records' TTL, §5.2), so that every live peer is seen again before it expires.
 *     Answers are multicast, so one query refreshes every browser: a peer that sees another
 *     peer's query puts its own off (duplicate question suppression, §7.3, `QueryPacer`).
 *     500 peers then cost about one query and 500 answers a minute, not 500 queries.
 *
 * The socket is bonjour-service's (multicast); the clock, timers and the queries' jitter are
 * the runtime's.
 */

import { channel } from "node:diagnostics_channel";
import type { EventEmitter } from "node:events";
import { Bonjour } from "bonjour-service";
import {
  MDNS_DIAGNOSTICS_CHANNEL,
  PEER_SERVICE_TYPE,
  type PeerTxtRecord,
  REGISTRY_SERVICE_PROTOCOL,
  REGISTRY_SERVICE_TYPE,
} from "../protocol/mdns-txt.js";
import { randomFraction } from "../protocol/random-ids.js";
import type { Runtime, Timer } from "../runtime.js";
import type { LanSighting } from "./lan-directory.js";

export const PEER_SERVICE = `_${PEER_SERVICE_TYPE}._udp.local`;
const REGISTRY_SERVICE = `_${REGISTRY_SERVICE_TYPE}._${REGISTRY_SERVICE_PROTOCOL}.local`;
/** RFC 6762 §10: 120 s for records that name a host's addresses or a service's details. */
export const RECORD_TTL_S = 120;
/** RFC 6762 §6: a record is multicast at most once a second. */
export const MIN_SEND_GAP_MS = 1000;
const REQUERY_MS = (RECORD_TTL_S * 1000) / 2;
const CLOSE_MS = 1000;

const diagnostics = channel(MDNS_DIAGNOSTICS_CHANNEL);

/** multicast-dns's emitter, as bonjour-service holds it. */
interface MdnsSocket extends EventEmitter {
  query(q: { questions: Array<{ name: string; type: string }> }, cb?: (err?: unknown) => void): void;
  respond(r: { answers: DnsRecord[]; additionals?: DnsRecord[] }, cb?: (err?: unknown) => void): void;
}

interface DnsRecord {
  name: string;
  type: string;
  ttl?: number;
  data: unknown;
  flush?: boolean;
}

interface DnsPacket {
  questions?: Array<{ name: string; type: string }>;
  answers?: DnsRecord[];
  additionals?: DnsRecord[];
}

export interface LanMdnsOptions {
  /** Our UDP port, for the SRV record. */
  port: number;
  /** Our DNS-SD instance label (`peerInstanceName`). */
  instance: string;
  fingerprint: string;
  txt: PeerTxtRecord;
  /** Private IPv4 addresses to announce; empty: browse only. */
  addresses: () => string[];
  announce: boolean;
  runtime: Runtime;
  onSighting: (s: LanSighting) => void;
  onGoodbye: (instanceFqdn: string) => void;
  /** A registry's answer (`_hallway._udp`): its TXT is the caller's to check. */
  onRegistry?: (s: LanSighting) => void;
  requeryMs?: number;
}

export interface LanMdns {
  /** A new TXT record (presence changed): announced once the send gap allows. */
  update(txt: PeerTxtRecord): void;
  /** Ask the LAN again now (rate-limited like everything else). */
  requery(): void;
  /** Goodbyes, then the socket closes. Idempotent. */
  stop(): Promise<void>;
}

function publishDiagnostic(event: string, detail: unknown): void {
  if (diagnostics.hasSubscribers) diagnostics.publish({ role: "lan", event, detail });
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The sightings and goodbyes of `service` (peers by default) in one mDNS response (pure:
 * exported for the tests).
 */
export function readPeerResponse(
  packet: DnsPacket,
  referer: string | undefined,
  service = PEER_SERVICE,
): { sightings: LanSighting[]; goodbyes: string[] } {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
  const sightings: LanSighting[] = [];
  const goodbyes: string[] = [];
  for (const ptr of records) {
    if (ptr.type !== "PTR" || !sameName(ptr.name, service) || typeof ptr.data !== "string") continue;
    const instance = ptr.data;
    if ((ptr.ttl ?? 0) === 0) {
      goodbyes.push(instance);
      continue;
    }
    const srv = records.find((r) => r.type === "SRV" && sameName(r.name, instance));
    const txt = records.find((r) => r.type === "TXT" && sameName(r.name, instance));
    const target = (srv?.data as { target?: unknown; port?: unknown } | undefined) ?? {};
    if (!srv || !txt || typeof target.target !== "string" || typeof target.port !== "number") continue;
    if ((srv.ttl ?? 0) === 0) {
      goodbyes.push(instance);
      continue;
    }
    const addresses = records
      .filter(
        (r) => r.type === "A" && sameName(r.name, target.target as string) && typeof r.data === "string",
      )
      .map((r) => r.data as string);
    sightings.push({
      instance,
      txt: txt.data,
      addresses,
      ...(referer === undefined ? {} : { referer }),
      port: target.port,
      ttlSeconds: Math.min(srv.ttl ?? RECORD_TTL_S, txt.ttl ?? RECORD_TTL_S),
    });
  }
  return { sightings, goodbyes };
}

/** Our own query comes back to us (multicast loopback) within this long; it is not another's. */
const OWN_ECHO_MS = 500;
/** Steady-state queries wait a random extra of up to this share of `requeryMs`, so that browsers do not all ask at once. */
const QUERY_JITTER = 0.2;

/**
 * When to ask the LAN again, in the steady state (pure). Every browser sees every query, so
 * the next one is due `requeryMs` after the last query anybody sent, plus jitter; a peer
 * whose timer fires first asks, and everybody else puts theirs off.
 */
export class QueryPacer {
  private lastOwn = Number.NEGATIVE_INFINITY;
  private lastAny = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly requeryMs: number,
    /** A number in [0, 1) for the jitter. */
    private readonly random: () => number,
  ) {}

  sent(now: number): void {
    this.lastOwn = now;
    this.lastAny = now;
  }

  /** Someone asked the peer service's PTR question (our own echo is ignored). */
  seen(now: number): void {
    if (now - this.lastOwn < OWN_ECHO_MS) return;
    this.lastAny = Math.max(this.lastAny, now);
  }

  due(now: number): boolean {
    return now >= this.lastAny + this.requeryMs;
  }

  /** How long to wait before looking again whether a query is due. */
  waitMs(now: number): number {
    return Math.max(0, this.lastAny + this.requeryMs - now) + this.random() * QUERY_JITTER * this.requeryMs;
  }
}

function txtStrings(txt: PeerTxtRecord): Buffer[] {
  return Object.entries(txt).map(([k, v]) => Buffer.from(`${k}=${v}`));
}

export function startLanMdns(opts: LanMdnsOptions): LanMdns {
  const runtime = opts.runtime;
  const bonjour = new Bonjour({}, (err: unknown) => publishDiagnostic("send-error", err));
  const mdns = (bonjour as unknown as { server?: { mdns?: MdnsSocket } }).server?.mdns;
  const instanceFqdn = `${opts.instance}.${PEER_SERVICE}`;
  // A host name of our own: peers on one machine (or in namespaces of one) share its hostname.
  const host = `hw-${opts.fingerprint.replace(/[^0-9a-f]/gi, "").slice(0, 12)}-${opts.port}.local`;
  let txt = opts.txt;
  let stopped = false;
  let lastSendAt = Number.NEGATIVE_INFINITY;
  let sendTimer: Timer | undefined;
  const timers = new Set<Timer>();

  const records = (ttl: number): DnsRecord[] => [
    { name: PEER_SERVICE, type: "PTR", ttl, data: instanceFqdn },
    {
      name: instanceFqdn,
      type: "SRV",
      ttl,
      flush: true,
      data: { target: host, port: opts.port, priority: 0, weight: 0 },
    },
    { name: instanceFqdn, type: "TXT", ttl, flush: true, data: txtStrings(txt) },
    ...opts.addresses().map((a) => ({ name: host, type: "A", ttl, flush: true, data: a })),
  ];
  const canAnnounce = () => opts.announce && opts.addresses().length > 0;

  /** The record set, now or at the end of the send gap; repeated asks meanwhile are one send. */
  const sendRecords = (): void => {
    if (stopped || !mdns || !canAnnounce() || sendTimer) return;
    const wait = lastSendAt + MIN_SEND_GAP_MS - runtime.now();
    const go = (): void => {
      sendTimer = undefined;
      if (stopped) return;
      lastSendAt = runtime.now();
      const [ptr, ...rest] = records(RECORD_TTL_S);
      mdns.respond({ answers: ptr ? [ptr] : [], additionals: rest }, (err) => {
        if (err) publishDiagnostic("send-error", err);
      });
    };
    if (wait <= 0) go();
    else sendTimer = runtime.after(wait, go);
  };

  const pacer = new QueryPacer(opts.requeryMs ?? REQUERY_MS, () => randomFraction(runtime));
  const query = (): void => {
    if (stopped || !mdns) return;
    pacer.sent(runtime.now());
    const questions = [{ name: PEER_SERVICE, type: "PTR" }];
    // Without a registry, a registry that starts later is looked for in the same query.
    if (opts.onRegistry) questions.push({ name: REGISTRY_SERVICE, type: "PTR" });
    mdns.query({ questions }, (err) => {
      if (err) publishDiagnostic("send-error", err);
    });
  };

  const later = (ms: number, fn: () => void): void => {
    const t = runtime.after(
      ms,
      () => {
        timers.delete(t);
        fn();
      },
      { weak: true },
    );
    timers.add(t);
  };

  if (mdns) {
    mdns.on("warning", (err: unknown) => publishDiagnostic("warning", err));
    mdns.on("error", (err: unknown) => publishDiagnostic("error", err));
    mdns.on("query", (packet: DnsPacket) => {
      if ((packet.questions ?? []).some((q) => sameName(q.name, PEER_SERVICE) && q.type === "PTR")) {
        pacer.seen(runtime.now());
      }
      const asks = (packet.questions ?? []).some(
        (q) =>
          (sameName(q.name, PEER_SERVICE) && (q.type === "PTR" || q.type === "ANY")) ||
          sameName(q.name, instanceFqdn) ||
          sameName(q.name, host),
      );
      if (asks) sendRecords();
    });
    mdns.on("response", (packet: DnsPacket, rinfo: { address?: string } | undefined) => {
      const { sightings, goodbyes } = readPeerResponse(packet, rinfo?.address);
      for (const g of goodbyes) opts.onGoodbye(g);
      for (const s of sightings) opts.onSighting(s);
      if (opts.onRegistry)
        for (const r of readPeerResponse(packet, rinfo?.address, REGISTRY_SERVICE).sightings)
          opts.onRegistry(r);
    });
    mdns.once("ready", () => {
      query();
      sendRecords();
      // RFC 6762 §8.3: a second announcement a second later; queries at 1, 2, 4… s.
      later(MIN_SEND_GAP_MS, sendRecords);
      let gap = 1000;
      const requeryMs = opts.requeryMs ?? REQUERY_MS;
      const steady = (): void => {
        later(pacer.waitMs(runtime.now()), () => {
          if (pacer.due(runtime.now())) query();
          steady();
        });
      };
      const startup = (): void => {
        if (gap >= requeryMs) {
          steady();
          return;
        }
        later(gap, () => {
          query();
          startup();
        });
        gap *= 2;
      };
      startup();
    });
  }

  let stopping: Promise<void> | undefined;
  return {
    update(next) {
      txt = next;
      sendRecords();
    },
    requery: query,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        for (const t of timers) t.cancel();
        sendTimer?.cancel();
        const close = (): void => {
          stopped = true;
          const timer = runtime.after(CLOSE_MS, resolve);
          try {
            bonjour.destroy(() => {
              timer.cancel();
              resolve();
            });
          } catch (err) {
            publishDiagnostic("close-error", err);
            resolve();
          }
        };
        if (!mdns || !canAnnounce()) return close();
        // Goodbye: the same records with TTL 0 (RFC 6762 §10.1).
        const [ptr, ...rest] = records(0);
        const timer = runtime.after(CLOSE_MS, close);
        mdns.respond({ answers: ptr ? [ptr] : [], additionals: rest }, () => {
          timer.cancel();
          close();
        });
      });
      return stopping;
    },
  };
}
