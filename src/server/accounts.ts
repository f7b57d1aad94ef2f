/**
 * Account rules: what a username and a password may be, and how passwords are hashed.
 *
 * Hashes are scrypt (RFC 7914) with a per-user random salt (drawn from the caller's random
 * source: the registry's `Runtime`), encoded so that every parameter travels with the hash:
 * `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`. Verification uses whatever the string
 * says, within bounds, so the cost can be raised later (or lowered for a test's accounts)
 * without invalidating stored hashes. Passwords are NFC-normalised before hashing so the same password
 * typed on systems that compose characters differently still matches. Nothing here logs.
 */

import { scrypt, timingSafeEqual } from "node:crypto";
import { HallwayError, MisuseError } from "../errors.js";

export const USERNAME_MIN_CHARS = 3;
export const USERNAME_MAX_CHARS = 32;
export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_BYTES = 1024;

const USERNAME_PATTERN = /^[a-z][a-z0-9._-]*$/;

const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  "admin",
  "administrator",
  "root",
  "registry",
  "system",
  "hallway",
  "server",
  "everyone",
  "nobody",
]);

/** Among the most used passwords of at least eight characters (public breach-corpus top lists). */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  "password",
  "password1",
  "password123",
  "passw0rd",
  "p@ssw0rd",
  "12345678",
  "123456789",
  "1234567890",
  "87654321",
  "qwertyuiop",
  "qwerty123",
  "1q2w3e4r",
  "1qaz2wsx",
  "zaq12wsx",
  "abc12345",
  "abcd1234",
  "iloveyou",
  "sunshine",
  "princess",
  "football",
  "baseball",
  "welcome1",
  "welcome123",
  "letmein1",
  "trustno1",
  "changeme",
  "admin123",
]);

/**
 * The stored form of a typed username: trimmed and lower-cased. It does not validate, so a
 * lookup of a malformed name simply finds nobody; registration calls `validateUsername` next.
 */
export function normalizeUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

/**
 * Why `name` cannot name a user or a group (they follow the same rule), or undefined if it
 * can; `what` is the word the message uses ("username", "group name").
 */
export function nameProblem(name: string, what: string): string | undefined {
  const chars = [...name].length;
  if (chars < USERNAME_MIN_CHARS || chars > USERNAME_MAX_CHARS) {
    return `${what} must be ${USERNAME_MIN_CHARS}–${USERNAME_MAX_CHARS} characters (got ${chars})`;
  }
  if (!USERNAME_PATTERN.test(name)) {
    return `${what} must start with a lower-case letter and use only a-z, 0-9, '.', '_' and '-'`;
  }
  return undefined;
}

/** Throws AUTH_BAD_USERNAME unless `name` is an acceptable, already normalised username. */
export function validateUsername(name: string): void {
  const problem = nameProblem(name, "username");
  if (problem !== undefined) throw badUsername(problem);
  if (RESERVED_USERNAMES.has(name)) throw badUsername(`username "${name}" is reserved`);
}

/** Throws AUTH_WEAK_PASSWORD unless `password` is acceptable for `username`. */
export function validatePassword(password: string, username: string): void {
  const chars = [...password];
  if (chars.length < PASSWORD_MIN_CHARS) {
    throw weakPassword(`password must be at least ${PASSWORD_MIN_CHARS} characters`);
  }
  if (Buffer.byteLength(password, "utf8") > PASSWORD_MAX_BYTES) {
    throw weakPassword(`password must be at most ${PASSWORD_MAX_BYTES} bytes`);
  }
  const lower = password.toLowerCase();
  const user = username.trim().toLowerCase();
  if (user.length > 0 && lower.includes(user)) {
    throw weakPassword("password must not contain the username");
  }
  if (new Set(chars).size === 1) {
    throw weakPassword("password must not be one character repeated");
  }
  if (COMMON_PASSWORDS.has(lower)) {
    throw weakPassword("password is one of the most common passwords");
  }
}

/** The cost of a scrypt hash (RFC 7914): N = 2^log2N, block size r, parallelism p. */
export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

/**
 * The cost of new hashes: N = 2^15, r = 8, p = 1, i.e. 32 MiB per hash (RFC 7914 §6:
 * 128 * N * r), one step above the 2^14 Percival's scrypt paper suggests for interactive logins.
 */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { log2N: 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

// Bounds on parameters read back from a stored hash, so a corrupted or hostile string cannot
// make verification allocate gigabytes or run for minutes.
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const MAX_WORK = 2 ** 24; // N * r * p; the default is 2^18

/**
 * A hash of `password` with a fresh salt of `random`'s, at the cost of `params` (default
 * `DEFAULT_SCRYPT`; anything cheaper is for tests and simulations). Parameters that
 * verification would refuse are a misuse: the account could never log in.
 */
export async function hashPassword(
  password: string,
  random: (n: number) => Uint8Array,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  checkScryptParams(params);
  const salt = Buffer.from(random(SALT_BYTES));
  const hash = await derive(password, salt, HASH_BYTES, params);
  return ["scrypt", params.log2N, params.r, params.p, salt.toString("base64"), hash.toString("base64")].join(
    "$",
  );
}

/** False for a wrong password and for any malformed or out-of-bounds encoded hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseEncoded(encoded);
  if (parsed === undefined) return false;
  if (Buffer.byteLength(password, "utf8") > PASSWORD_MAX_BYTES) return false;
  const actual = await derive(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(actual, parsed.hash);
}

function derive(password: string, salt: Buffer, keyBytes: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.log2N;
  const { r, p } = params;
  // scrypt needs about 128 * N * r bytes plus bookkeeping, and Node refuses to exceed maxmem,
  // whose default (32 MiB) is just short of what N = 2^15, r = 8 needs.
  const maxmem = 2 * 128 * N * r;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, keyBytes, { N, r, p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL = /^[1-9][0-9]{0,2}$/;

function parseEncoded(encoded: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [, n, r, p, saltText, hashText] = parts as [string, string, string, string, string, string];
  if (!DECIMAL.test(n) || !DECIMAL.test(r) || !DECIMAL.test(p)) return undefined;
  const params: ScryptParams = { log2N: Number(n), r: Number(r), p: Number(p) };
  if (!withinBounds(params)) return undefined;
  const salt = decodeBase64(saltText);
  const hash = decodeBase64(hashText);
  if (salt === undefined || hash === undefined) return undefined;
  // scrypt's output for a shorter key is a prefix of the longer one, so a floor on the hash
  // length keeps a truncated string from verifying.
  if (salt.length < SALT_BYTES || salt.length > 64 || hash.length < HASH_BYTES || hash.length > 64) {
    return undefined;
  }
  return { params, salt, hash };
}

/** Throws MisuseError unless verification accepts hashes of this cost. */
export function checkScryptParams(params: ScryptParams): void {
  if (!withinBounds(params)) {
    throw new MisuseError(
      `accounts: scrypt cost ${JSON.stringify(params)} is outside what verification accepts`,
    );
  }
}

/** Whether verification accepts a hash of this cost (`DECIMAL` in the encoding, and the bounds). */
function withinBounds(params: ScryptParams): boolean {
  const { log2N, r, p } = params;
  if (![log2N, r, p].every((x) => Number.isInteger(x) && x >= 1 && x <= 999)) return false;
  if (log2N > MAX_LOG2_N || r > MAX_R || p > MAX_P) return false;
  const N = 2 ** log2N;
  return 128 * N * r <= MAX_MEMORY_BYTES && N * r * p <= MAX_WORK;
}

/** Strict base64: Node's decoder skips junk, so accept only text that round-trips. */
function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

function badUsername(message: string): HallwayError {
  return new HallwayError("AUTH_BAD_USERNAME", message);
}

function weakPassword(message: string): HallwayError {
  return new HallwayError("AUTH_WEAK_PASSWORD", message);
}
