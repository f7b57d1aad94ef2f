/**
 * The data directory: the device's long-term identity (mode 0600), the registries it has
 * pinned, and (for the registry) its SQLite file. Only this module and the store touch disk.
 */

import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import envPaths from "env-paths";
import { z } from "zod";
import { HallwayError } from "../errors.js";
import { generateIdentity, type Identity } from "../protocol/noise.js";

export function defaultDataDir(role: "client" | "server"): string {
  const base =
    process.env.HALLWAY_HOME ?? envPaths("hallway", { suffix: "" }).data ?? join(homedir(), ".hallway");
  return role === "server" ? join(base, "registry") : base;
}

/**
 * Create the directory (0700) and prove it is writable, or fail with DATA_DIR_UNUSABLE: not a
 * directory, no permission, read-only, or a file system that takes no files (procfs). Missing
 * parents are made one at a time: a recursive mkdir spins forever on some of those.
 */
export function ensureDataDir(dir: string): string {
  const unusable = (why: string) =>
    new HallwayError("DATA_DIR_UNUSABLE", `data directory ${dir} is unusable (${why})`);
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      const code = errnoOf(err);
      if (code !== "ENOENT" || dirname(at) === at) throw unusable(code);
      missing.push(at);
      at = dirname(at);
      continue;
    }
    if (!isDir) throw unusable(`${at} is not a directory`);
    break;
  }
  try {
    for (const d of missing.reverse()) mkdirSync(d, { mode: 0o700 });
    const probe = join(dir, `.probe-${process.pid}`);
    writeFileSync(probe, "");
    renameSync(probe, join(dir, ".writable"));
  } catch (err) {
    throw unusable(errnoOf(err));
  }
  return dir;
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "error";
}

/**
 * One warning line per path in `paths` (the data directory, its key and store files) that
 * others than the owner may read: they hold the device's private key and the user's messages.
 */
export function privacyWarnings(paths: readonly string[]): string[] {
  const lines: string[] = [];
  for (const path of paths) {
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) {
      lines.push(
        `warning: ${path} can be read by others (mode ${(mode & 0o777).toString(8)}); chmod ${
          (mode & 0o170000) === 0o040000 ? "700" : "600"
        } it`,
      );
    }
  }
  return lines;
}

/** Replace `path` with `body` atomically and durably: a temporary file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(path: string, body: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

const identityFile = z.object({
  publicKey: z.string().regex(/^[0-9a-f]{64}$/),
  privateKey: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Load the device identity, creating it on first use. The file is always left at mode 0600. */
export function loadOrCreateIdentity(dir: string, random: (n: number) => Uint8Array): Identity {
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
    const id = generateIdentity(random);
    const body = JSON.stringify({
      publicKey: Buffer.from(id.publicKey).toString("hex"),
      privateKey: Buffer.from(id.privateKey).toString("hex"),
    });
    writeFileAtomic(path, body);
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

/**
 * Trust on first use: registry keys this device has seen, by registry address. A pin file
 * that cannot be read or is damaged stops the client (`REGISTRY_PINS_UNREADABLE`) instead of
 * trusting whatever answers next; `forget` (`hallway client --forget-registry NAME`) is the
 * deliberate way to re-pin.
 */
export class PinStore {
  private readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, "pinned-registries.json");
  }

  /** The pins; throws REGISTRY_PINS_UNREADABLE if the file exists and is not a valid pin file. */
  private read(): Record<string, string> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return {};
      throw this.unreadable(errnoOf(err));
    }
    const parsed = pinFile.safeParse(
      (() => {
        try {
          return JSON.parse(text);
        } catch {
          return undefined;
        }
      })(),
    );
    if (!parsed.success) throw this.unreadable("damaged");
    return parsed.data;
  }

  private unreadable(why: string): HallwayError {
    return new HallwayError(
      "REGISTRY_PINS_UNREADABLE",
      `the pinned registry keys in ${this.path} cannot be read (${why}); to trust a registry again deliberately, run 'hallway client --forget-registry HOST:PORT'`,
    );
  }

  get(registry: string): string | undefined {
    return this.read()[registry];
  }

  set(registry: string, keyHex: string): void {
    const all = this.read();
    all[registry] = keyHex;
    writeFileAtomic(this.path, JSON.stringify(all, null, 2));
  }

  /**
   * Forgets the pin of `registry`, so that the next connection pins what it finds. A damaged
   * file is moved aside (`.damaged`) and every pin in it is forgotten. True if anything was.
   */
  forget(registry: string): boolean {
    let all: Record<string, string>;
    try {
      all = this.read();
    } catch {
      renameSync(this.path, `${this.path}.damaged`);
      return true;
    }
    if (!(registry in all)) return false;
    delete all[registry];
    writeFileAtomic(this.path, JSON.stringify(all, null, 2));
    return true;
  }
}

const pinFile = z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/));
