/**
 * The client's parts, built and wired together for the façade (`client.ts`, which draws the
 * client's state; docs/architecture.md "The peer"): the `UdpHost` on the injected runtime and
 * sockets, every part on the same runtime, and the host's handlers that route what arrives:
 * the registry's session to `registry-pushes.ts`, a peer's to the transfers or the chat.
 * The parts reach each other through `ClientParts`, read when called, never while building.
 */

import { HallwayError } from "../errors.js";
import { systemInterfaces } from "../net/interfaces.js";
import { systemRuntime } from "../net/system-runtime.js";
import { type HostedConnection, isRelayAddress, UdpHost } from "../net/udp-host.js";
import { type LookupData, lookupData, parseAnswer } from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import { decodeStreamMessage } from "../protocol/stream-message.js";
import type { Runtime } from "../runtime.js";
import { FileTransfers } from "../transfers/file-transfers.js";
import { ChatDelivery } from "./chat-delivery.js";
import { ClientFiles } from "./client-files.js";
import type { PeerClientOptions } from "./client-options.js";
import { DropClient } from "./drop-client.js";
import type { PeerEvent } from "./events.js";
import { LanMode } from "./lan-mode.js";
import { LogHandOver } from "./log-hand-over.js";
import { OwnPresence } from "./own-presence.js";
import { PeerPaths } from "./paths.js";
import { PeerLinks } from "./peer-links.js";
import { registryClosed, routeRegistryMessage } from "./registry-pushes.js";
import { RegistrySession } from "./registry-session.js";
import { SocialClient } from "./social.js";

export interface ClientParts {
  host: UdpHost;
  /** Files to and from the registry's drop box (groups, people offline). */
  drops: DropClient;
  transfers: FileTransfers;
  /** Sending files and folders, peer to peer or through the drop box. */
  files: ClientFiles;
  paths: PeerPaths;
  /** Friends, groups, profiles: requests to the registry and its social pushes. */
  social: SocialClient;
  /** Sessions with other peers: who is on which, held until vouched for, their paths. */
  links: PeerLinks;
  /** The account's message log, and what goes through it to the presenter. */
  inbox: LogHandOver;
  /** Own presence as last set: a login starts online, so a reconnect sets `away` again. */
  presence: OwnPresence;
  /** Chat: direct send, receipts, the offline fallback and its outbox, history reports. */
  chat: ChatDelivery;
  /** The registry session: requests, login, heartbeat, reconnect; the client's `state`. */
  session: RegistrySession;
  /** LAN discovery and LAN mode (docs/discovery.md); undefined when off. */
  lan: LanMode | undefined;
  /** The registry's word on `user`: status, vouched key, addresses. */
  lookup(user: string): Promise<LookupData>;
  /** The user, as the façade has it now. */
  me(): string;
  /** To the presenter (`PeerClientOptions.onEvent`). */
  emit(e: PeerEvent): void;
}

/** What the parts need of the façade. */
export interface ClientHooks {
  /** The user, as the façade has it now. */
  me(): string;
  /** Logged in (state "ready"). */
  onReady(): void;
  /** Stop the client (the registry ended the session, or a fatal refusal). */
  stop(): Promise<void>;
}

export function buildClientParts(opts: PeerClientOptions, client: ClientHooks): ClientParts {
  const heartbeatMs = opts.heartbeatMs ?? 10_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
  const directTimeoutMs = opts.directTimeoutMs ?? 3_000;
  const sendReportMs = opts.sendReportMs ?? Math.min(4_000, requestTimeoutMs);
  // Time, timers and randomness for the host and every part.
  const runtime: Runtime = opts.runtime ?? systemRuntime;
  const emit = (e: PeerEvent): void => opts.onEvent(e);
  // Filled in below; the closures read it only once the parts run.
  const p = {
    lan: undefined,
    me: () => client.me(),
    emit,
    lookup: async (user: string) =>
      parseAnswer(lookupData, await p.session.request({ t: "lookup", user }), "lookup"),
  } as ClientParts;
  p.inbox = new LogHandOver({
    user: client.me(),
    runtime,
    openLog: opts.openLog,
    onEvent: opts.onEvent,
    onHandOverAgain: opts.onHandOverAgain,
    closed: () => p.session.state === "closed",
  });
  const host = new UdpHost({
    identity: opts.identity,
    acceptIncoming: true,
    port: opts.port ?? 0,
    keepaliveMs: Math.min(heartbeatMs, 15_000),
    handshakeTimeoutMs: Math.min(requestTimeoutMs, 5_000),
    ipv6: true,
    runtime,
    ...(opts.sockets === undefined ? {} : { sockets: opts.sockets }),
  });
  p.host = host;
  p.chat = new ChatDelivery({
    host,
    runtime,
    inbox: p.inbox,
    me: () => client.me(),
    state: () => p.session.state,
    request: (body) => p.session.request(body),
    emit,
    directTimeoutMs,
    sendReportMs,
    lookup: (user) => p.lookup(user),
    directTo: (user, info) => p.links.directTo(user, info),
    liveLink: (user) => p.links.liveLink(user),
    dropPeer: (user) => p.links.dropPeer(user),
    lanOn: () => p.lan !== undefined,
    lanMode: () => p.lan?.active ?? false,
    lanOutbox: () => p.lan?.outbox,
    sendLan: (msg) => (p.lan as LanMode).sendLan(msg),
    queueLan: (msg) => p.lan?.queueLan(msg),
  });
  p.session = new RegistrySession({
    host,
    runtime,
    server: opts.server,
    user: client.me(),
    password: opts.password,
    pins: opts.pins,
    registryFingerprint: opts.registryFingerprint,
    heartbeatMs,
    requestTimeoutMs,
    emit,
    addresses: () => p.paths.hostCandidates(host.localPort, host.localPort6),
    onReady: () => client.onReady(),
    onLost: () => {
      if (p.lan) p.lan.setMode(true, new HallwayError("REGISTRY_LOST", "lost the registry"));
    },
    stop: () => client.stop(),
  });
  p.paths = new PeerPaths({
    host,
    registry: opts.server ?? { host: "0.0.0.0", port: 0 },
    registrySession: () => p.session.conn?.address,
    request: (body) => p.session.request(body),
    runtime,
    interfaces: opts.interfaces ?? systemInterfaces,
    onDirect: (user, path) => {
      const conn = p.links.liveLink(user);
      if (!conn) return;
      // Moving emits the path event; a session the far side already moved just learns its kind.
      if (isRelayAddress(conn.address)) host.moveTo(conn, path.address);
      else p.links.emitPath(user, conn);
    },
    onRelay: (user) => {
      const conn = p.links.liveLink(user);
      return conn !== undefined && isRelayAddress(conn.address);
    },
    ...(opts.pathRetryMs === undefined ? {} : { upgradeEveryMs: opts.pathRetryMs }),
  });
  p.links = new PeerLinks({
    host,
    runtime,
    paths: p.paths,
    me: () => client.me(),
    emit,
    onPeerMessage: (user, conn, bytes) => routePeerMessage(p, user, conn, bytes),
    lanDirectory: () => p.lan?.discovery.directory,
    lookup: (user) => p.lookup(user),
    verifyOnLan: (conn, user, held) => {
      if (!p.lan || p.session.state === "ready") return false;
      p.lan.verifyIncoming(conn, user, held);
      return true;
    },
    pinVouched: (user, keyHex) => p.lan?.pinVouched(user, keyHex),
  });
  host.handlers = {
    onProbe: (bytes, from) => p.paths.handleProbe(bytes, from),
    onEstablished: (conn) => p.links.onEstablished(conn),
    onMessage: (conn, bytes) => {
      if (p.session.isRegistry(conn)) routeRegistryMessage(p, bytes);
      else p.links.onMessage(conn, bytes);
    },
    onClosed: (conn, reason) => {
      if (p.session.conn && conn.session === p.session.conn.session) {
        registryClosed(p, conn, reason);
        return;
      }
      p.transfers.onClosed(conn);
      p.links.closed(conn);
    },
    onAddressChanged: (conn) => p.links.onAddressChanged(conn),
    onTurn: (now) => p.transfers.onTurn(now),
  };
  p.social = new SocialClient({
    runtime,
    me: () => client.me(),
    request: (body) => p.session.request(body),
    nextLogin: () => p.session.nextLogin(),
    emit,
    receive: (events, then) => p.inbox.receive(events, then),
    recordSent: (event) => p.inbox.recordSent(event),
    unfriended: (user) => p.links.dropPeer(user),
  });
  p.transfers = new FileTransfers({
    host,
    runtime,
    emit: (e) => emit(e.event === "transfer" ? p.drops.decorate(e) : e),
    downloadDir: opts.downloadDir,
    ...(opts.autoAcceptDir === undefined ? {} : { autoAcceptDir: opts.autoAcceptDir }),
    ...(opts.offerTimeoutMs === undefined ? {} : { offerTimeoutMs: opts.offerTimeoutMs }),
    ...(opts.maxTransferRate === undefined ? {} : { maxTransferRate: opts.maxTransferRate }),
    ...(opts.maxFileBytes === undefined ? {} : { maxFileBytes: opts.maxFileBytes }),
    screenOffer: (peer, offer) => p.drops.screenDirect(peer, offer),
  });
  p.drops = new DropClient({
    transfers: p.transfers,
    runtime,
    request: (body) => p.session.request(body),
    registry: () => p.session.live(),
    emit,
  });
  p.files = new ClientFiles({
    transfers: p.transfers,
    drops: p.drops,
    me: () => client.me(),
    emit,
    groups: () => p.social.groups(),
    liveLink: (user) => p.links.liveLink(user),
    lanMode: () => p.lan !== undefined && p.session.state !== "ready",
    lanSession: (user) => (p.lan as LanMode).lanSession(user),
    lookup: (user) => p.lookup(user),
    directTo: (user, info) => p.links.directTo(user, info),
  });
  p.presence = new OwnPresence({
    lan: () => p.lan,
    state: () => p.session.state,
    request: (body) => p.session.request(body),
  });
  p.lan = opts.lan
    ? new LanMode({
        lan: opts.lan,
        pins: opts.lan.pins,
        fingerprint: fingerprint(opts.identity.publicKey),
        host,
        runtime,
        links: p.links,
        chat: p.chat,
        me: () => client.me(),
        state: () => p.session.state,
        registry: () => p.session.conn,
        request: (body) => p.session.request(body),
        lookup: (user) => p.lookup(user),
        emit,
        adopt: (address) => p.session.adopt(address),
      })
    : undefined;
  return p;
}

/** A message on a peer's session: file messages to the transfers, the rest to the chat. */
function routePeerMessage(p: ClientParts, user: string, conn: HostedConnection, bytes: Uint8Array): void {
  const decoded = decodeStreamMessage(bytes);
  if (!decoded.ok) return;
  if (decoded.value.kind === "file") {
    // Stream-0 messages whose `t` starts with "file." belong to the transfer layer.
    p.transfers.handleControl(user, conn, decoded.value.msg);
    return;
  }
  if (decoded.value.kind === "bad-offer") {
    p.transfers.handleBadOffer(user, conn, decoded.value);
    return;
  }
  p.chat.handle(user, conn, decoded.value.msg);
}
