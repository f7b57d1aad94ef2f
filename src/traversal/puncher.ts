/**
 * Puncher: one connection attempt's connectivity checks, sans-IO (the caller owns the
 * socket and the clock, as with every Hallway core).
 *
 * Both peers run one, started at the same moment by the registry, with the same secret
 * token and each other's ranked candidates (see candidates.ts). Each side:
 *
 * 1. opens its own NAT mappings first: a low-TTL request to every candidate that is not on
 *    our LAN. It leaves our NAT (creating the mapping) and expires in transit before the far
 *    NAT, where an early inbound datagram would create a conntrack entry that pushes the far
 *    side's later mapping onto another port;
 * 2. then probes every candidate at full TTL, best path first, one probe per `paceMs`
 *    (ICE's pacing), round after round, until one answers or `deadlineMs` passes;
 * 3. answers every request that carries the token, from wherever it came, and if that
 *    source is not a candidate yet (a peer-reflexive address: the far NAT's mapping towards
 *    us) probes it at once (a triggered check).
 *
 * Reflection (docs/security.md): a candidate the registry did not observe (`observed` unset)
 * may be an address its claimant does not own, so requests toward such candidates, openers
 * and triggered checks included, are capped by `unverifiedBudgetBytes` for the whole attempt,
 * until the candidate answers: the registry sets the budget from the size of the `connect`
 * that asked for the attempt, so nobody can make a peer send more than they sent themselves
 * (plus two probes). Answers to requests are exactly as long as the request and not counted.
 *
 * The first response decides: its pair's path kind and the round-trip time are the result.
 * Probing in preference order makes the best path answer first when several work (a LAN
 * answer arrives long before the next probe is due). After a result the puncher only
 * answers requests, so the far side can finish too; after the deadline it fails and the
 * caller falls back to the relay.
 */

import type { Address } from "../protocol/address.js";
import { encodeProbe, PROBE_BYTES, PROBE_TOKEN_BYTES, type Probe } from "../protocol/probe.js";
import type { PathKind, RemoteCandidate } from "./candidates.js";

export interface PuncherOptions {
  token: Uint8Array;
  candidates: readonly RemoteCandidate[];
  now: number;
  random: (n: number) => Uint8Array;
  /** Gap between two probes, default 50 ms. */
  paceMs?: number;
  /** Pause after a full round before the next, default 200 ms. */
  roundGapMs?: number;
  /** TTL of the mapping-opening first probes, default 2; 0 skips them. */
  lowTtl?: number;
  /**
   * Full-TTL probing starts this long after the openers, default 100 ms: the far side's
   * openers must leave its NAT before our probes arrive there, and the two start signals
   * from the registry reach the peers at slightly different times.
   */
  openerLeadMs?: number;
  /** Give up after this long, default 5000 ms. */
  deadlineMs?: number;
  /**
   * Bytes of requests toward candidates that are not `observed` and have not answered, for
   * the whole attempt; default unlimited.
   */
  unverifiedBudgetBytes?: number;
}

export interface PunchTransmit {
  to: Address;
  bytes: Uint8Array;
  /** IP TTL for this datagram; the socket default when absent. */
  ttl?: number;
}

export type PunchResult =
  | { ok: true; address: Address; kind: Exclude<PathKind, "relay">; rttMs: number }
  | { ok: false; reason: "timeout" };

interface Check {
  candidate: RemoteCandidate;
  /** Requests in flight: nonce -> time sent. */
  sent: Map<number, number>;
  /** The registry observed this address, or it answered one of our requests. */
  verified: boolean;
}

const key = (a: Address) => `${a.host}:${a.port}`;

function sameToken(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export class Puncher {
  private readonly token: Uint8Array;
  private readonly random: (n: number) => Uint8Array;
  private readonly paceMs: number;
  private readonly roundGapMs: number;
  private readonly deadline: number;
  private readonly checks: Check[] = [];
  private readonly byAddress = new Map<string, Check>();
  private readonly outbox: PunchTransmit[] = [];
  /** Low-TTL openers still to send, then the round-robin position. */
  private openers: RemoteCandidate[];
  private readonly lowTtl: number;
  private readonly openerLeadMs: number;
  private next = 0;
  private nextProbeAt: number;
  private outcome: PunchResult | undefined;
  /** Datagrams dropped: wrong token, unsolicited or stale responses. */
  ignored = 0;
  /** Bytes sent toward unverified candidates, and requests not sent for want of budget. */
  unverifiedBytes = 0;
  withheld = 0;
  private readonly unverifiedBudget: number;

  constructor(opts: PuncherOptions) {
    if (opts.token.length !== PROBE_TOKEN_BYTES) throw new RangeError("token must be 16 bytes");
    this.token = opts.token;
    this.random = opts.random;
    this.paceMs = opts.paceMs ?? 50;
    this.roundGapMs = opts.roundGapMs ?? 200;
    this.lowTtl = opts.lowTtl ?? 2;
    this.openerLeadMs = opts.openerLeadMs ?? 100;
    this.deadline = opts.now + (opts.deadlineMs ?? 5000);
    this.unverifiedBudget = opts.unverifiedBudgetBytes ?? Number.POSITIVE_INFINITY;
    for (const c of opts.candidates) this.addCheck(c);
    this.openers = this.lowTtl > 0 ? opts.candidates.filter((c) => c.kind !== "lan") : [];
    this.nextProbeAt = opts.now;
    this.handleTimeout(opts.now);
  }

  get result(): PunchResult | undefined {
    return this.outcome;
  }

  /** Whether `probe` belongs to this attempt (the caller routes probes by token). */
  owns(probe: Probe): boolean {
    return sameToken(probe.token, this.token);
  }

  /** A probe for this attempt arrived from `from`. */
  handleProbe(probe: Probe, from: Address, now: number): void {
    if (!this.owns(probe)) {
      this.ignored++;
      return;
    }
    if (probe.type === "request") {
      this.outbox.push({
        to: from,
        bytes: encodeProbe({ type: "response", token: this.token, nonce: probe.nonce }),
      });
      if (!this.outcome && !this.byAddress.has(key(from))) {
        // The far NAT's mapping towards us: check it now rather than at the end of a round.
        const check = this.addCheck({ address: from, kind: "punched" });
        this.sendRequest(check, now);
      }
      return;
    }
    const check = this.byAddress.get(key(from));
    const sentAt = check?.sent.get(probe.nonce);
    if (!check || sentAt === undefined || this.outcome) {
      this.ignored++;
      return;
    }
    check.verified = true;
    this.outcome = {
      ok: true,
      address: check.candidate.address,
      kind: check.candidate.kind,
      rttMs: now - sentAt,
    };
  }

  pollTransmit(): PunchTransmit | undefined {
    return this.outbox.shift();
  }

  pollTimeout(): number | undefined {
    if (this.outcome) return undefined;
    return Math.min(this.nextProbeAt, this.deadline);
  }

  handleTimeout(now: number): void {
    if (this.outcome) return;
    if (now >= this.deadline) {
      this.outcome = { ok: false, reason: "timeout" };
      return;
    }
    while (now >= this.nextProbeAt && this.checks.length > 0) {
      const opener = this.openers.shift();
      if (opener) {
        const check = this.byAddress.get(key(opener.address));
        if (check) this.sendRequest(check, now, this.lowTtl);
        if (this.openers.length === 0) this.nextProbeAt += this.openerLeadMs; // openers go out together
        continue;
      }
      const check = this.checks[this.next % this.checks.length] as Check;
      this.sendRequest(check, now);
      this.next++;
      this.nextProbeAt += this.paceMs + (this.next % this.checks.length === 0 ? this.roundGapMs : 0);
    }
    if (this.checks.length === 0) this.nextProbeAt = this.deadline;
  }

  private addCheck(candidate: RemoteCandidate): Check {
    const existing = this.byAddress.get(key(candidate.address));
    if (existing) return existing;
    const check = { candidate, sent: new Map<number, number>(), verified: candidate.observed === true };
    this.checks.push(check);
    this.byAddress.set(key(candidate.address), check);
    return check;
  }

  private sendRequest(check: Check, now: number, ttl?: number): void {
    if (!check.verified) {
      if (this.unverifiedBytes + PROBE_BYTES > this.unverifiedBudget) {
        this.withheld++;
        return;
      }
      this.unverifiedBytes += PROBE_BYTES;
    }
    const r = this.random(4);
    const nonce =
      (((r[0] as number) << 24) | ((r[1] as number) << 16) | ((r[2] as number) << 8) | (r[3] as number)) >>>
      0;
    check.sent.set(nonce, now);
    const bytes = encodeProbe({ type: "request", token: this.token, nonce });
    this.outbox.push(
      ttl === undefined
        ? { to: check.candidate.address, bytes }
        : { to: check.candidate.address, bytes, ttl },
    );
  }
}
