/**
 * Trust on first use for peers met on the LAN (docs/discovery.md): the key each user name
 * presented first, in `pinned-peers.json` in the data directory (mode 0600, written
 * atomically like the registry pins). A changed key is refused (`PEER_KEY_CHANGED`) unless
 * the registry vouches for the new one, which then replaces the pin. A pin file that cannot
 * be read stops LAN trust (`PEER_PINS_UNREADABLE`) rather than trusting any key.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { HallwayError } from "../errors.js";
import { writeFileAtomic } from "../net/data-dir.js";

const pinFile = z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/));

export type PinCheck = "pinned" | "matches" | "changed";

export class PeerPins {
  private readonly path: string;
  private cache: Record<string, string> | undefined;

  constructor(dir: string) {
    this.path = join(dir, "pinned-peers.json");
  }

  private read(): Record<string, string> {
    if (this.cache) return this.cache;
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        this.cache = {};
        return this.cache;
      }
      throw this.unreadable((err as NodeJS.ErrnoException).code ?? "unreadable");
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.unreadable("damaged");
    }
    const parsed = pinFile.safeParse(json);
    if (!parsed.success) throw this.unreadable("damaged");
    this.cache = parsed.data;
    return this.cache;
  }

  private unreadable(why: string): HallwayError {
    return new HallwayError(
      "PEER_PINS_UNREADABLE",
      `the pinned peer keys in ${this.path} cannot be read (${why}); move the file away to trust peers anew`,
    );
  }

  get(user: string): string | undefined {
    return this.read()[user];
  }

  /** Every pin: user name -> key (hex). */
  all(): Record<string, string> {
    return { ...this.read() };
  }

  set(user: string, keyHex: string): void {
    const all = { ...this.read(), [user]: keyHex };
    writeFileAtomic(this.path, JSON.stringify(all, null, 2));
    this.cache = all;
  }

  /**
   * TOFU: `pinned` (first contact: pinned now), `matches`, or `changed` (left as it was;
   * the caller refuses the session unless the registry vouches).
   */
  check(user: string, keyHex: string): PinCheck {
    const pinned = this.get(user);
    if (pinned === undefined) {
      this.set(user, keyHex);
      return "pinned";
    }
    return pinned === keyHex ? "matches" : "changed";
  }
}
