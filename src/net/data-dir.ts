/**
 * The data directory: the device's long-term identity (mode 0600), the registries it has
 * pinned, and (for the registry) its SQLite file. Only this module and the store touch disk.
 */

import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import envPaths from "env-paths";
import { z } from "zod";
import { HallwayError } from "../errors.js";
import { generateIdentity, type Identity } from "../protocol/noise.js";

export function defaultDataDir(role: "client" | "server"): string {
  const base =
    process.env.HALLWAY_HOME ?? envPaths("hallway", { suffix: "" }).data ?? join(homedir(), ".hallway");
  return role === "server" ? join(base, "registry") : base;
}

/** Create the directory (0700) and prove it is writable, or fail with DATA_DIR_UNWRITABLE. */
export function ensureDataDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.probe-${process.pid}`);
    writeFileSync(probe, "");
    renameSync(probe, join(dir, ".writable"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? "error";
    throw new HallwayError("DATA_DIR_UNWRITABLE", `data directory ${dir} is not writable (${why})`);
  }
  return dir;
}

const identityFile = z.object({
  publicKey: z.string().regex(/^[0-9a-f]{64}$/),
  privateKey: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Load the device identity, creating it on first use. The file is always left at mode 0600. */
export function loadOrCreateIdentity(dir: string): Identity {
  const path = join(dir, "identity.json");
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new HallwayError("DATA_DIR_UNWRITABLE", `cannot read ${path}`);
    }
  }
  if (text === undefined) {
    const id = generateIdentity((n) => new Uint8Array(randomBytes(n)));
    const body = JSON.stringify({
      publicKey: Buffer.from(id.publicKey).toString("hex"),
      privateKey: Buffer.from(id.privateKey).toString("hex"),
    });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, path);
    return id;
  }
  let parsed: z.infer<typeof identityFile>;
  try {
    parsed = identityFile.parse(JSON.parse(text));
  } catch {
    throw new HallwayError(
      "DATA_DIR_UNWRITABLE",
      `${path} is damaged; move it away to create a new identity`,
    );
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return {
    publicKey: new Uint8Array(Buffer.from(parsed.publicKey, "hex")),
    privateKey: new Uint8Array(Buffer.from(parsed.privateKey, "hex")),
  };
}

/** Trust on first use: registry keys this device has seen, by registry address. */
export class PinStore {
  private readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, "pinned-registries.json");
  }

  private read(): Record<string, string> {
    try {
      const v = JSON.parse(readFileSync(this.path, "utf8"));
      return v && typeof v === "object" ? (v as Record<string, string>) : {};
    } catch {
      return {};
    }
  }

  get(registry: string): string | undefined {
    const v = this.read()[registry];
    return typeof v === "string" && /^[0-9a-f]{64}$/.test(v) ? v : undefined;
  }

  set(registry: string, keyHex: string): void {
    const all = this.read();
    all[registry] = keyHex;
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
