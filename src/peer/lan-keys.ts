/**
 * Keys in LAN mode (`lan-mode.ts`, docs/discovery.md): trust on first use without a
 * registry, and the registry's word over it once it is back. A peer's key is the pinned one,
 * or else the one key the LAN directory has for that user from a single device, which is
 * then pinned; when the registry vouches for another key, its key is pinned and the change
 * reported.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { LookupData } from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import type { Runtime } from "../runtime.js";
import { isRegistryDown, isRetryLater, sleep } from "./chat-delivery.js";
import type { PeerEvent } from "./events.js";
import type { LanDirectory } from "./lan-directory.js";
import type { PeerPins } from "./peer-pins.js";
import type { ClientState } from "./registry-session.js";

/** LAN pins checked against the registry when it is back: at most this many, this far apart. */
const MAX_PIN_CHECKS = 100;
const PIN_CHECK_GAP_MS = 100;

export interface LanKeysOptions {
  pins: PeerPins;
  directory(): LanDirectory;
  /** Paces the checks against the registry. */
  runtime: Runtime;
  state(): ClientState;
  lookup(user: string): Promise<LookupData>;
  emit(e: PeerEvent): void;
}

export class LanKeys {
  constructor(private readonly opts: LanKeysOptions) {}

  /**
   * TOFU for a session with `user` in LAN mode: a pinned key must match (else
   * `PEER_KEY_CHANGED`); without a pin, the key must be the one the LAN directory has for
   * `user` from a single device (else `PEER_KEY_CONFLICT` or `AUTH_KEY_MISMATCH`), and is pinned.
   */
  check(user: string, remoteKey: Uint8Array): void {
    const pins = this.opts.pins;
    const keyHex = Buffer.from(remoteKey).toString("hex");
    const pinned = pins.get(user);
    if (pinned !== undefined) {
      if (pinned === keyHex) return;
      throw new HallwayError(
        "PEER_KEY_CHANGED",
        `${user} presented key ${fingerprint(remoteKey)}, not the one pinned (${fingerprint(
          new Uint8Array(Buffer.from(pinned, "hex")),
        )}); refusing until the registry vouches for the new key`,
      );
    }
    const devices = this.opts.directory().devicesOf(user);
    if (devices.length > 1 && devices.some((d) => d.conflicting)) {
      throw new HallwayError(
        "PEER_KEY_CONFLICT",
        `two devices announce ${user} with different keys; trusting neither`,
      );
    }
    if (!devices.some((d) => d.fingerprint === fingerprint(remoteKey))) {
      throw new HallwayError("AUTH_KEY_MISMATCH", `${user}'s key is not the one announced on the LAN`);
    }
    pins.set(user, keyHex);
  }

  /**
   * The registry vouches for `keyHex`: it is the key to pin for `user`, also over a pin from
   * LAN mode. Best effort: a pin file that cannot be read is reported, and the registry's
   * word still holds for this session.
   */
  pinVouched(user: string, keyHex: string): void {
    const pins = this.opts.pins;
    if (!pins) return;
    try {
      if (pins.get(user) !== keyHex) pins.set(user, keyHex);
    } catch (err) {
      const e = asHallwayError(err);
      this.opts.emit({ event: "error", code: e.code, message: e.message });
    }
  }

  /** Pins learned in LAN mode against the registry's vouching: a disagreement is reported, and the registry's key pinned. */
  async checkAgainstRegistry(): Promise<void> {
    const pins = this.opts.pins;
    if (!pins) return;
    let all: Record<string, string>;
    try {
      all = pins.all();
    } catch (err) {
      const e = asHallwayError(err);
      this.opts.emit({ event: "error", code: e.code, message: e.message });
      return;
    }
    // Paced well under the registry's read limit, which other requests share.
    for (const [user, keyHex] of Object.entries(all).slice(0, MAX_PIN_CHECKS)) {
      if (this.opts.state() !== "ready") return;
      let info: LookupData;
      try {
        info = await this.opts.lookup(user);
      } catch (err) {
        const e = asHallwayError(err);
        if (isRetryLater(e) || isRegistryDown(e)) return; // checked again after the next LAN mode
        continue; // not the registry's to say (unknown here, or not a friend)
      } finally {
        await sleep(this.opts.runtime, PIN_CHECK_GAP_MS);
      }
      // The registry knows the key of the device that logged in last: only a live session's is
      // the user's key now (an offline user's may be an old device's, or the one met on the LAN
      // before it logs in again).
      if (info.status === "offline" || !info.publicKey || info.publicKey === keyHex) continue;
      this.pinVouched(user, info.publicKey);
      this.opts.emit({
        event: "error",
        code: "PEER_KEY_CHANGED",
        message: `the registry vouches for key ${fingerprint(new Uint8Array(Buffer.from(info.publicKey, "hex")))} for ${user}, not the one pinned on the LAN (${fingerprint(new Uint8Array(Buffer.from(keyHex, "hex")))}); now pinned to the registry's`,
      });
    }
  }
}
