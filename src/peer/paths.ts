/**
 * How this client reaches other peers: the registry-coordinated connect of
 * docs/nat-traversal.md, on the client's one socket.
 *
 * Initiator: `find(user)` asks the registry to `connect`, gets the target's candidates and a
 * token (the target gets ours in a `punch` push at the same moment), and runs the
 * connectivity checks; the first pair that answers is where the Noise handshake goes.
 * Target: `onPunch` runs the same checks, which open its NAT mapping and answer the
 * initiator's probes; the handshake then arrives as an incoming session.
 *
 * Relay: the registry names a relay channel with each connect. If no direct pair has
 * answered `relayAfterMs` into the attempt, the initiator takes the relay and the checks go
 * on; a pair that answers later, or in one of the background attempts made every
 * `upgradeEveryMs` while a session rides the relay, is handed to `onDirect`, which moves the
 * session (the far side follows the newest authenticated datagram).
 *
 * The attempts (`path-finder.ts`), the relay deadline and the background attempts run on the
 * runtime's clock and timers.
 */

import { HallwayError } from "../errors.js";
import { isRelayAddress, type UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import { type ConnectData, type ControlOf, connectData } from "../protocol/control.js";
import type { Runtime, Timer } from "../runtime.js";
import {
  type Candidate,
  hostCandidates,
  isLoopbackHost,
  type LocalInterface,
  type PathKind,
  pathKindOf,
  type RemoteCandidate,
  rankCandidates,
} from "../traversal/candidates.js";
import { PathFinder, type PathFinderOptions } from "./path-finder.js";

export interface FoundPath {
  address: Address;
  kind: PathKind;
  /** The target's key, as the registry vouches for it. */
  publicKey: string;
  /** From the connect request to the first answering probe. */
  ms: number;
}

export interface PeerPathsOptions {
  host: UdpHost;
  /** The registry's address: on loopback, no host candidates are offered (see `hostCandidates`). */
  registry: Address;
  /** Where the registry's session is now (relay envelopes go there and come from there). */
  registrySession: () => Address | undefined;
  request: (body: { t: "connect"; to: string; relay?: boolean; pad?: string }) => Promise<unknown>;
  runtime: Runtime;
  /** Our usable interfaces now (`net/interfaces.ts`' `systemInterfaces` in the process). */
  interfaces: () => readonly LocalInterface[];
  /** A direct path to `user` answered after the relay was taken, or in a background attempt. */
  onDirect: (user: string, path: FoundPath) => void;
  /** Whether the session with `user` still rides the relay (the background attempts stop when not). */
  onRelay: (user: string) => boolean;
  finder?: Omit<PathFinderOptions, "runtime">;
  /** Take the relay when no direct pair has answered this long into an attempt (default 2000). */
  relayAfterMs?: number;
  /** While on the relay, look for a direct path this often (default 15 000). */
  upgradeEveryMs?: number;
}

/**
 * After an attempt found no path, further sends to that peer go straight to the registry
 * for this long instead of each waiting out another attempt.
 */
export const NO_PATH_BACKOFF_MS = 30_000;
/**
 * How much a `connect` is padded: the registry lets both peers spend as many bytes on probes
 * toward candidates nobody observed as the connect had (docs/security.md, "Reflection"), and
 * this buys about 90 probes, several rounds over a peer's dozen host addresses.
 */
export const CONNECT_PAD_CHARS = 2000;
const PAD = "0".repeat(CONNECT_PAD_CHARS);
export const RELAY_AFTER_MS = 2_000;
export const UPGRADE_EVERY_MS = 15_000;

export class PeerPaths {
  private readonly finder: PathFinder;
  /** The candidates of the last attempt with each user, ranked: what their addresses are. */
  private readonly candidates = new Map<string, RemoteCandidate[]>();
  private readonly noPathUntil = new Map<string, number>();
  private readonly upgrades = new Map<string, Timer>();
  private stopped = false;

  constructor(private readonly opts: PeerPathsOptions) {
    this.finder = new PathFinder(opts.host, { runtime: opts.runtime, ...opts.finder });
  }

  /**
   * Our host candidates for the registry to pass on. A registry on loopback means every
   * peer we can meet is on this machine, and the registry's view of us (127.0.0.1) is the
   * one address they need; interface addresses would only send probes off loopback.
   */
  hostCandidates(port: number, port6?: number): Address[] {
    if (isLoopbackHost(this.opts.registry.host)) return [];
    return hostCandidates(port, this.opts.interfaces(), port6)
      .map((c) => c.address)
      .slice(0, 12);
  }

  /** For `UdpHostHandlers.onProbe`. */
  handleProbe(bytes: Uint8Array, from: Address): boolean {
    return this.finder.handleProbe(bytes, from);
  }

  /**
   * The kind of path `address` is to `user`: the relay, the kind of the candidate it is in
   * the last attempt with `user`, or for an address only probing revealed, "lan" on this
   * machine or one of our subnets and "punched" elsewhere (`pathKindOf`). Undefined before
   * any attempt with `user`.
   */
  kindOf(user: string, address: Address): PathKind | undefined {
    if (isRelayAddress(address)) return "relay";
    const known = this.candidates.get(user);
    if (known === undefined) return undefined;
    return pathKindOf(address, known, this.opts.interfaces());
  }

  /**
   * Target side of a connect: open the relay channel (the initiator may come through it),
   * probe back so our NAT opens, and answer. A pair found here also moves a relayed session.
   */
  onPunch(msg: ControlOf<"punch">): void {
    if (msg.relay !== undefined) this.openRelay(msg.relay);
    void this.run(msg.from, msg).then(
      (found) => this.opts.onDirect(msg.from, found),
      () => {},
    );
  }

  /**
   * Initiator side: the first direct pair that answers, or the relay `relayAfterMs` into the
   * attempt. Rejects with PEER_OFFLINE, PEER_UNREACHABLE (no direct path, no relay) or a
   * registry error.
   */
  async find(user: string): Promise<FoundPath> {
    const runtime = this.opts.runtime;
    const started = runtime.now();
    if ((this.noPathUntil.get(user) ?? 0) > started) {
      throw new HallwayError("PEER_UNREACHABLE", `no direct path to ${user} answered recently`);
    }
    const parsed = connectData.safeParse(await this.opts.request({ t: "connect", to: user, pad: PAD }));
    if (!parsed.success) throw new HallwayError("PROTO_BAD_MESSAGE", "bad connect answer from the registry");
    const offer = parsed.data;
    const relay = offer.relay === undefined ? undefined : this.openRelay(offer.relay);
    const punch = this.run(user, offer);
    const elapsed = () => Math.round(runtime.now() - started);
    if (relay === undefined) {
      try {
        const found = await punch;
        this.noPathUntil.delete(user);
        return { ...found, ms: elapsed() };
      } catch (err) {
        this.noPathUntil.set(user, runtime.now() + NO_PATH_BACKOFF_MS);
        throw err;
      }
    }
    let takeRelay: (r: "relay") => void = () => {};
    const relayTaken = new Promise<"relay">((resolve) => {
      takeRelay = resolve;
    });
    const timer = runtime.after(this.opts.relayAfterMs ?? RELAY_AFTER_MS, () => takeRelay("relay"));
    const first = await Promise.race([punch.catch(() => "relay" as const), relayTaken]);
    timer.cancel();
    if (first !== "relay") return { ...first, ms: elapsed() };
    // Late answers still count: the session moves as soon as a direct pair answers.
    punch.then(
      (found) => this.opts.onDirect(user, { ...found, ms: elapsed() }),
      () => {},
    );
    return { address: relay, kind: "relay", publicKey: offer.publicKey, ms: elapsed() };
  }

  /**
   * Keep looking for a direct path to `user` in the background while the session rides the
   * relay: a new connect (without a relay channel) every `upgradeEveryMs`.
   */
  keepUpgrading(user: string): void {
    if (this.upgrades.has(user) || this.stopped) return;
    const every = this.opts.upgradeEveryMs ?? UPGRADE_EVERY_MS;
    const attempt = async () => {
      if (this.stopped || !this.opts.onRelay(user)) {
        this.upgrades.delete(user);
        return;
      }
      try {
        const offer = connectData.parse(
          await this.opts.request({ t: "connect", to: user, relay: false, pad: PAD }),
        );
        const started = this.opts.runtime.now();
        const found = await this.run(user, offer);
        if (this.opts.onRelay(user))
          this.opts.onDirect(user, { ...found, ms: Math.round(this.opts.runtime.now() - started) });
      } catch {
        // No path this time (or the registry is away): try again later.
      }
      if (this.stopped || !this.opts.onRelay(user)) {
        this.upgrades.delete(user);
        return;
      }
      this.upgrades.set(user, schedule());
    };
    const schedule = () => this.opts.runtime.after(every, () => void attempt(), { weak: true });
    this.upgrades.set(user, schedule());
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.upgrades.values()) t.cancel();
    this.upgrades.clear();
    this.finder.stop();
  }

  private openRelay(tokenHex: string): Address | undefined {
    const via = this.opts.registrySession();
    if (via === undefined) return undefined;
    return this.opts.host.openRelay(via, new Uint8Array(Buffer.from(tokenHex, "hex")));
  }

  private async run(user: string, offer: Omit<ConnectData, "peer">): Promise<FoundPath> {
    const candidates: Candidate[] = offer.candidates;
    const ranked = rankCandidates(candidates, this.opts.interfaces());
    this.candidates.set(user, ranked);
    const result = await this.finder.start(
      new Uint8Array(Buffer.from(offer.token, "hex")),
      ranked,
      offer.probeBudget === undefined ? {} : { unverifiedBudgetBytes: offer.probeBudget },
    );
    if (!result.ok) throw new HallwayError("PEER_UNREACHABLE", `no direct path to ${user} answered`);
    return { address: result.address, kind: result.kind, publicKey: offer.publicKey, ms: 0 };
  }
}
