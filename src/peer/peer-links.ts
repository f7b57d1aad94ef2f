/**
 * The client's sessions with other peers (`client.ts`): who is on which session, the
 * incoming sessions held apart until their key is vouched for (by the registry, or in LAN
 * mode by a pin or the LAN directory), the path each takes (`path` events), and opening a
 * session to a peer the registry introduces, or straight to its LAN address.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import { systemInterfaces } from "../net/interfaces.js";
import { type HostedConnection, isRelayAddress, type UdpHost } from "../net/udp-host.js";
import { decodeControl, encodeControl, type LookupData } from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import type { Runtime } from "../runtime.js";
import { onSubnet } from "../traversal/candidates.js";
import type { PeerEvent } from "./events.js";
import type { LanDirectory } from "./lan-directory.js";
import type { FoundPath, PeerPaths } from "./paths.js";

export interface PeerLink {
  conn?: HostedConnection;
  connecting?: Promise<HostedConnection>;
  verified: boolean;
}

export interface PeerLinksOptions {
  host: UdpHost;
  /** Times a new session's path for its path event. */
  runtime: Runtime;
  paths: PeerPaths;
  me(): string;
  emit(e: PeerEvent): void;
  /** A message from `user` on its verified session. */
  onPeerMessage(user: string, conn: HostedConnection, bytes: Uint8Array): void;
  /** The LAN directory, when LAN discovery is on. */
  lanDirectory(): LanDirectory | undefined;
  lookup(user: string): Promise<LookupData>;
  /** In LAN mode: the LAN vouches for an incoming session instead (true), else false. */
  verifyOnLan(conn: HostedConnection, user: string, held: Uint8Array[]): boolean;
  /** The registry vouched for `keyHex` as `user`'s key: pin it for LAN mode. */
  pinVouched(user: string, keyHex: string): void;
}

export class PeerLinks {
  readonly peersByUser = new Map<string, PeerLink>();
  /** The path kind last reported per peer, so that a flap back and forth is not news. */
  private readonly pathShown = new Map<string, string>();
  readonly userBySession = new Map<number, string>();
  /** Incoming sessions the registry has not vouched for yet, with what arrived on them meanwhile. */
  readonly unverified = new Map<number, Uint8Array[]>();
  /** Peers whose session was opened from the LAN directory (their path is "lan"). */
  readonly lanPaths = new Set<string>();

  constructor(private readonly opts: PeerLinksOptions) {}

  /** A session a peer opened to us: held until its key is vouched for. */
  onEstablished(conn: HostedConnection): void {
    if (conn.initiator) return;
    // A peer opened a session to us; it names itself in the handshake payload, and we
    // believe it only once the registry vouches that this key belongs to that user.
    const hello = decodeControl(conn.remotePayload);
    if (!hello.ok || hello.value.t !== "hello") {
      this.opts.host.close(conn, "expected hello");
      return;
    }
    const user = hello.value.user;
    const held = this.hold(conn, user);
    // LAN mode: the pin (TOFU) or the LAN directory vouches instead of the registry.
    if (this.opts.verifyOnLan(conn, user, held)) return;
    this.opts
      .lookup(user)
      .then((info) => {
        const keyHex = Buffer.from(conn.remoteKey).toString("hex");
        if (info.publicKey !== keyHex) {
          throw new HallwayError("AUTH_KEY_MISMATCH", `${user}'s key does not match the registry's`);
        }
        this.opts.pinVouched(user, keyHex);
        this.trustIncoming(conn, user, held);
      })
      .catch((err) => {
        const e = asHallwayError(err);
        // A name nobody registered vouches for no key at all.
        const code = e.code === "MSG_UNKNOWN_RECIPIENT" ? "AUTH_KEY_MISMATCH" : e.code;
        this.opts.emit({ event: "error", code, message: e.message });
        this.opts.host.close(conn, "unverified");
      });
  }

  /** An incoming session from someone naming themselves `user`: held until vouched for. */
  hold(conn: HostedConnection, user: string): Uint8Array[] {
    // Kept apart until then, so that a stranger naming a peer cannot displace that peer's session.
    const held: Uint8Array[] = [];
    this.unverified.set(conn.session, held);
    this.userBySession.set(conn.session, user);
    return held;
  }

  /** A message on a peer's session: held if not vouched for yet, else read. */
  onMessage(conn: HostedConnection, bytes: Uint8Array): void {
    // Held until the registry vouches for the sender's key.
    const held = this.unverified.get(conn.session);
    if (held) {
      if (held.length < 256) held.push(bytes);
      return;
    }
    const user = this.userBySession.get(conn.session);
    if (!user) return;
    const link = this.peersByUser.get(user);
    if (!link) return;
    this.opts.onPeerMessage(user, conn, bytes);
  }

  /** A peer's session closed. */
  closed(conn: HostedConnection): void {
    const user = this.userBySession.get(conn.session);
    this.userBySession.delete(conn.session);
    this.unverified.delete(conn.session);
    if (user && this.peersByUser.get(user)?.conn?.session === conn.session) {
      this.peersByUser.delete(user);
      this.pathShown.delete(user);
      this.lanPaths.delete(user);
    }
  }

  /** `{"cmd":"connect"}` to a live session: its path is said again. */
  showPath(user: string, conn: HostedConnection): void {
    this.pathShown.delete(user);
    this.emitPath(user, conn);
  }

  /** A verified incoming session from `user`: it becomes the link, and what it held is read. */
  trustIncoming(conn: HostedConnection, user: string, held: readonly Uint8Array[]): void {
    if (!this.unverified.delete(conn.session)) return; // closed meanwhile
    const link: PeerLink = this.peersByUser.get(user) ?? { verified: true };
    link.conn = conn;
    link.verified = true;
    this.peersByUser.set(user, link);
    this.emitPath(user, conn);
    for (const m of held) this.opts.onPeerMessage(user, conn, m);
  }

  /** The live, verified session with `user`, if there is one. */
  liveLink(user: string): HostedConnection | undefined {
    const link = this.peersByUser.get(user);
    return link?.conn && link.verified && this.opts.host.isLive(link.conn) ? link.conn : undefined;
  }

  /** `path` event for the session with `user`, unless it names the path last reported. */
  emitPath(user: string, conn: HostedConnection, ms?: number): void {
    // No attempt with `user` (a session from the LAN directory, or one the far side opened
    // from its own): an address on one of our subnets is the LAN.
    const kind =
      this.opts.paths.kindOf(user, conn.address) ??
      (this.lanPaths.has(user) || systemInterfaces().some((i) => onSubnet(conn.address.host, i))
        ? "lan"
        : "direct");
    if (ms === undefined && this.pathShown.get(user) === kind) return;
    this.pathShown.set(user, kind);
    const { host, port } = conn.address;
    this.opts.emit({
      event: "path",
      peer: user,
      kind,
      ...(ms === undefined ? {} : { ms }),
      ...(kind === "relay" ? {} : { address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}` }),
    });
  }

  /** A session moved: up from the relay to a direct path, or (rarely) back. */
  onAddressChanged(conn: HostedConnection): void {
    const user = this.userBySession.get(conn.session);
    if (user === undefined || this.unverified.has(conn.session)) return;
    if (this.liveLink(user)?.session !== conn.session) return;
    // Moved here by the far side before our own checks named the path: onDirect reports it.
    if (this.opts.paths.kindOf(user, conn.address) === undefined) return;
    this.emitPath(user, conn);
    if (isRelayAddress(conn.address) && conn.initiator) this.opts.paths.keepUpgrading(user);
  }

  /**
   * A live session to `user`, or a new one: the registry coordinates a connect, the
   * connectivity checks find the best path that answers, and the Noise handshake runs on it
   * (the responder must hold the key the registry vouches for).
   */
  directTo(user: string, info: LookupData): Promise<HostedConnection> {
    const link = this.peersByUser.get(user);
    const key = info.publicKey ?? "";
    if (
      link?.conn &&
      this.opts.host.isLive(link.conn) &&
      Buffer.from(link.conn.remoteKey).toString("hex") === key
    ) {
      return Promise.resolve(link.conn);
    }
    if (link?.connecting) return link.connecting;
    const fresh: PeerLink = { verified: true };
    const startedAt = this.opts.runtime.now();
    const connectOn = async (path: FoundPath, fromDirectory: boolean): Promise<HostedConnection> => {
      const conn = await this.opts.host.connect(path.address, {
        expectedRemoteKey: new Uint8Array(Buffer.from(path.publicKey, "hex")),
        payload: encodeControl({ t: "hello", user: this.opts.me() }),
      });
      if (fromDirectory) this.lanPaths.add(user);
      fresh.conn = conn;
      fresh.connecting = undefined;
      this.userBySession.set(conn.session, user);
      this.emitPath(user, conn, fromDirectory ? Math.round(this.opts.runtime.now() - startedAt) : path.ms);
      if (path.kind === "relay") this.opts.paths.keepUpgrading(user);
      return conn;
    };
    const introduced = () => this.opts.paths.find(user).then((path) => connectOn(path, false));
    // On our LAN with the key the registry vouches for: no introduction round trip (and the
    // introduction after all if that address does not answer).
    const lanPeer = this.opts.lanDirectory()?.reachable(user);
    const onLan = lanPeer && lanPeer.fingerprint === fingerprint(new Uint8Array(Buffer.from(key, "hex")));
    fresh.connecting = (
      onLan
        ? connectOn({ address: lanPeer.address, kind: "lan", publicKey: key, ms: 0 }, true).catch(introduced)
        : introduced()
    ).catch((err) => {
      if (this.peersByUser.get(user) === fresh) this.peersByUser.delete(user);
      throw err;
    });
    this.peersByUser.set(user, fresh);
    return fresh.connecting;
  }

  dropPeer(user: string): void {
    const link = this.peersByUser.get(user);
    if (link?.conn) this.opts.host.close(link.conn, "peer went offline");
    this.peersByUser.delete(user);
  }
}
