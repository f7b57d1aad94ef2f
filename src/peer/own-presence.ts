/**
 * The user's own presence as last set (`online` or `away`), for the client (`client.ts`;
 * docs/architecture.md "The peer"). A login starts online, so a reconnect sets `away` again;
 * in LAN mode it is only announced on the LAN.
 */

import { asHallwayError } from "../errors.js";
import type { RequestBody, SettablePresence } from "../protocol/control.js";
import type { PeerEvent } from "./events.js";
import type { LanMode } from "./lan-mode.js";
import type { ClientState } from "./registry-session.js";

export interface OwnPresenceOptions {
  lan(): LanMode | undefined;
  state(): ClientState;
  request(body: RequestBody): Promise<unknown>;
}

export class OwnPresence {
  private status: SettablePresence = "online";

  constructor(private readonly opts: OwnPresenceOptions) {}

  /**
   * Away or back (`online`): the registry tells everyone who may see this user's presence.
   * Kept across reconnects, also when the registry is lost while asking (the error says so
   * and the next login sets it); the answer is `{event:"ok",cmd:"presence",status}`.
   */
  async set(status: SettablePresence): Promise<PeerEvent> {
    const before = this.status;
    // Set first: a registry lost meanwhile gets it again at the next login.
    this.status = status;
    const lan = this.opts.lan();
    lan?.discovery.setPresence(status);
    if (lan && this.opts.state() !== "ready") return { event: "ok", cmd: "presence", status };
    try {
      await this.opts.request({ t: "presence.set", status });
    } catch (err) {
      const e = asHallwayError(err);
      if (e.code !== "REGISTRY_LOST" && e.code !== "REGISTRY_UNREACHABLE") this.status = before;
      throw e;
    }
    return { event: "ok", cmd: "presence", status };
  }

  /** Logged in: a login starts online, so `away` is set again. */
  onLogin(): void {
    if (this.status === "away") this.opts.request({ t: "presence.set", status: "away" }).catch(() => {});
  }
}
