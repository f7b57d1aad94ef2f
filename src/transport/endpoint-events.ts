/**
 * The first step of the SessionHost's turn after the Endpoint has run: what each of its events
 * does to the host's connections. A session that is established gets a `Connection`; data goes
 * into it and its messages out as host events; a moved, failed or closed session is followed.
 */

import type { Address } from "../protocol/address.js";
import type { Endpoint, EndpointEvent, SessionId } from "../protocol/endpoint.js";
import { Connection } from "./connection.js";
import { isRelayAddress } from "./relay-channels.js";
import type { HostEvent, HostedConnection, Live } from "./session-host-types.js";

/** What of the host an Endpoint event may change. */
export interface EndpointEventTarget {
  readonly endpoint: Endpoint;
  readonly keepaliveMs: number;
  readonly live: Map<SessionId, Live>;
  /** Sessions touched since the last pack. */
  readonly dirty: Set<SessionId>;
  readonly events: HostEvent[];
  linkMtuOf(address: Address): number | undefined;
}

export function applyEndpointEvent(host: EndpointEventTarget, ev: EndpointEvent, now: number): void {
  switch (ev.type) {
    case "established": {
      const info: HostedConnection = {
        session: ev.session,
        initiator: ev.initiator,
        remoteKey: ev.remoteKey,
        remotePayload: ev.remotePayload,
        address: ev.address,
      };
      const linkMtuBytes = host.linkMtuOf(ev.address);
      const conn = new Connection(
        {
          keepaliveMs: host.keepaliveMs,
          initiator: ev.initiator,
          relayed: isRelayAddress(ev.address),
          ...(linkMtuBytes === undefined ? {} : { linkMtuBytes }),
          onOversized: (stream, head) => host.events.push({ type: "oversized", conn: info, stream, head }),
        },
        now,
      );
      host.live.set(ev.session, { info, conn, wakeAt: undefined });
      host.dirty.add(ev.session);
      host.events.push({ type: "established", conn: info });
      break;
    }
    case "data": {
      const live = host.live.get(ev.session);
      if (!live) break;
      live.conn.handlePayload(ev.payload, now);
      host.dirty.add(ev.session);
      for (let m = live.conn.pollMessage(); m; m = live.conn.pollMessage()) {
        host.events.push({ type: "message", conn: live.info, stream: m.stream, message: m.message });
      }
      if (live.conn.closedReason !== undefined) host.endpoint.close(ev.session);
      break;
    }
    case "address-changed": {
      const live = host.live.get(ev.session);
      if (live) {
        live.info.address = ev.address;
        live.conn.handlePathChange(isRelayAddress(ev.address), now, host.linkMtuOf(ev.address));
        host.events.push({ type: "address-changed", conn: live.info });
      }
      break;
    }
    case "failed": {
      const live = host.live.get(ev.session);
      if (live) {
        host.live.delete(ev.session);
        host.dirty.delete(ev.session);
        host.events.push({ type: "closed", conn: live.info, reason: ev.message });
      } else {
        host.events.push({
          type: "connect-failed",
          session: ev.session,
          code: ev.code,
          message: ev.message,
        });
      }
      break;
    }
    case "closed": {
      const live = host.live.get(ev.session);
      if (live) {
        host.live.delete(ev.session);
        host.dirty.delete(ev.session);
        host.events.push({
          type: "closed",
          conn: live.info,
          reason: live.conn.closedReason ?? ev.reason,
        });
      } else {
        host.events.push({
          type: "connect-failed",
          session: ev.session,
          code: "CRYPTO_HANDSHAKE_TIMEOUT",
          message: "session closed before it was established",
        });
      }
      break;
    }
  }
}
