/**
 * How this client reaches other peers: the registry-coordinated connect of
 * docs/nat-traversal.md, on the client's one socket.
 *
 * Initiator: `find(user)` asks the registry to `connect`, gets the target's candidates and a
 * token (the target gets ours in a `punch` push at the same moment), and runs the
 * connectivity checks; the first pair that answers is where the Noise handshake goes.
 * Target: `onPunch` runs the same checks, which open its NAT mapping and answer the
 * initiator's probes; the handshake then arrives as an incoming session.
 */

import { HallwayError } from "../errors.js";
import { now as monoNow, type UdpHost } from "../net/udp-host.js";
import { type ConnectData, type ControlOf, connectData } from "../protocol/control.js";
import type { Address } from "../protocol/endpoint.js";
import {
  type Candidate,
  hostCandidates,
  isLoopbackHost,
  localInterfaces,
  type PathKind,
  rankCandidates,
} from "../traversal/candidates.js";
import { PathFinder, type PathFinderOptions } from "../traversal/path-finder.js";

export interface FoundPath {
  address: Address;
  kind: Exclude<PathKind, "relay">;
  /** The target's key, as the registry vouches for it. */
  publicKey: string;
  /** From the connect request to the first answering probe. */
  ms: number;
}

export interface PeerPathsOptions {
  host: UdpHost;
  /** The registry's address: on loopback, no host candidates are offered (see `hostCandidates`). */
  registry: Address;
  request: (body: { t: "connect"; to: string }) => Promise<unknown>;
  random: (n: number) => Uint8Array;
  finder?: Omit<PathFinderOptions, "random">;
}

/**
 * After an attempt found no path, further sends to that peer go straight to the registry
 * for this long instead of each waiting out another attempt.
 */
export const NO_PATH_BACKOFF_MS = 30_000;

export class PeerPaths {
  private readonly finder: PathFinder;
  private readonly kinds = new Map<string, Exclude<PathKind, "relay">>();
  private readonly noPathUntil = new Map<string, number>();

  constructor(private readonly opts: PeerPathsOptions) {
    this.finder = new PathFinder(opts.host, { random: opts.random, ...opts.finder });
  }

  /**
   * Our host candidates for the registry to pass on. A registry on loopback means every
   * peer we can meet is on this machine, and the registry's view of us (127.0.0.1) is the
   * one address they need; interface addresses would only send probes off loopback.
   */
  hostCandidates(port: number): Address[] {
    if (isLoopbackHost(this.opts.registry.host)) return [];
    return hostCandidates(port, localInterfaces())
      .map((c) => c.address)
      .slice(0, 8);
  }

  /** For `UdpHostHandlers.onProbe`. */
  handleProbe(bytes: Uint8Array, from: Address): boolean {
    return this.finder.handleProbe(bytes, from);
  }

  /** The path the last attempt with `user` found, from either side. */
  kindOf(user: string): Exclude<PathKind, "relay"> | undefined {
    return this.kinds.get(user);
  }

  /**
   * Target side of a connect: probe back so our NAT opens, and answer. Resolves with the
   * path's kind once a probe is answered (undefined if none is), which may be after the
   * initiator's handshake has already arrived.
   */
  onPunch(msg: ControlOf<"punch">): Promise<Exclude<PathKind, "relay"> | undefined> {
    return this.run(msg.from, msg).then(
      (found) => found.kind,
      () => undefined,
    );
  }

  /** Initiator side: rejects with PEER_OFFLINE, PEER_UNREACHABLE or a registry error. */
  async find(user: string): Promise<FoundPath> {
    const started = monoNow();
    if ((this.noPathUntil.get(user) ?? 0) > started) {
      throw new HallwayError("PEER_UNREACHABLE", `no direct path to ${user} answered recently`);
    }
    const parsed = connectData.safeParse(await this.opts.request({ t: "connect", to: user }));
    if (!parsed.success) throw new HallwayError("PROTO_BAD_MESSAGE", "bad connect answer from the registry");
    try {
      const found = await this.run(user, parsed.data);
      this.noPathUntil.delete(user);
      return { ...found, ms: Math.round(monoNow() - started) };
    } catch (err) {
      this.noPathUntil.set(user, monoNow() + NO_PATH_BACKOFF_MS);
      throw err;
    }
  }

  stop(): void {
    this.finder.stop();
  }

  private async run(user: string, offer: Omit<ConnectData, "peer">): Promise<FoundPath> {
    const candidates: Candidate[] = offer.candidates;
    const result = await this.finder.start(
      new Uint8Array(Buffer.from(offer.token, "hex")),
      rankCandidates(candidates, localInterfaces()),
    );
    if (!result.ok) throw new HallwayError("PEER_UNREACHABLE", `no direct path to ${user} answered`);
    this.kinds.set(user, result.kind);
    return { address: result.address, kind: result.kind, publicKey: offer.publicKey, ms: 0 };
  }
}
