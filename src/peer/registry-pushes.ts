/**
 * What arrives on the registry's session, routed to the client's parts (`client.ts` draws
 * the client's state; docs/architecture.md "The peer"): answers to requests go to the
 * registry session, the registry's pushes (presence, offline messages, receipts, the drop
 * box's notices, punch requests, social pushes) to the part that owns them, and file
 * messages to the drop box. The registry's CLOSE ends the session as `session.end` would.
 */

import { HallwayError } from "../errors.js";
import type { HostedConnection } from "../net/udp-host.js";
import { decodeControl, SESSION_END_CODES } from "../protocol/control.js";
import { decodeStreamMessage } from "../protocol/stream-message.js";
import type { FileTransfers } from "../transfers/file-transfers.js";
import { messageEvent } from "./chat-delivery.js";
import type { DropClient } from "./drop-client.js";
import type { PeerEvent } from "./events.js";
import type { LogHandOver } from "./log-hand-over.js";
import type { PeerPaths } from "./paths.js";
import type { PeerLinks } from "./peer-links.js";
import type { RegistrySession } from "./registry-session.js";
import type { SocialClient } from "./social.js";

/** The parts what the registry sends goes to. */
export interface RegistryPushTargets {
  session: RegistrySession;
  drops: DropClient;
  links: PeerLinks;
  inbox: LogHandOver;
  paths: PeerPaths;
  social: SocialClient;
  transfers: FileTransfers;
  me(): string;
  emit(e: PeerEvent): void;
}

/** A message on the registry's session. */
export function routeRegistryMessage(to: RegistryPushTargets, bytes: Uint8Array): void {
  const decoded = decodeControl(bytes);
  if (!decoded.ok) {
    // A transfer to or from the drop box: file messages on the registry session.
    const file = decodeStreamMessage(bytes);
    if (file.ok && file.value.kind !== "control" && to.session.conn)
      to.drops.handleFile(to.session.conn, file.value);
    return;
  }
  const msg = decoded.value;
  switch (msg.t) {
    case "ok":
    case "err":
      to.session.answer(
        msg.rid,
        msg.t === "ok"
          ? { ok: true, data: msg.data }
          : {
              ok: false,
              error: new HallwayError(msg.code, msg.message, {
                origin: "remote",
                ...(msg.retryAfterMs === undefined ? {} : { retryAfterMs: msg.retryAfterMs }),
              }),
            },
      );
      return;
    case "session.end":
      to.session.sessionEnded(msg.code, msg.message);
      return;
    case "presence":
      // Gone, or a new process of the same user: a session with the old one is stale.
      if (msg.status === "offline" || msg.fresh) to.links.dropPeer(msg.user);
      to.emit({ event: "presence", user: msg.user, status: msg.status });
      return;
    case "offline.deliver": {
      const me = to.me();
      const mine = msg.msgs.filter((m) => m.to === me).map((m) => messageEvent(m, "offline"));
      // Acknowledged only once the log has them; else the next login delivers them again.
      const ids = msg.msgs.map((m) => m.id);
      to.inbox.receive(mine, () => void to.session.request({ t: "offline.ack", ids }).catch(() => {}));
      return;
    }
    case "delivered":
      to.inbox.receive([{ event: "delivered", id: msg.id }]);
      return;
    case "drop.notify":
      to.drops.handleNotify(msg.drops);
      return;
    case "punch":
      // The path events name the path by this attempt's candidates, whichever of the
      // handshake and our own probes' answer comes first (see emitPath, onDirect).
      to.paths.onPunch(msg);
      return;
    default:
      to.social.handlePush(msg);
      return;
  }
}

/** The registry's session closed (`reason`: its CLOSE reason, or ours). */
export function registryClosed(to: RegistryPushTargets, conn: HostedConnection, reason: string): void {
  // The registry's CLOSE names why it ended the session, should `session.end` be lost.
  const code = SESSION_END_CODES.find((c) => reason.startsWith(`${c}:`));
  // Transfers to and from the drop box end with it (partial files stay for a resume).
  to.transfers.onClosed(conn);
  if (code)
    to.session.sessionEnded(code, reason.slice(code.length + 1).trim() || "the registry ended the session");
  else to.session.lost();
}
