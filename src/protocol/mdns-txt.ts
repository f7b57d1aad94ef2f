/**
 * How a registry describes itself on mDNS (DNS-SD, RFC 6763). Pure: no sockets.
 *
 *   PTR  _hallway._udp.local            -> "<instance>._hallway._udp.local"
 *   SRV  <instance>._hallway._udp.local -> <host>.local : <registry UDP port>
 *   TXT  <instance>._hallway._udp.local -> v=<protocol version> fp=<key fingerprint> [name=<display name>]
 *
 * The instance name must be unique on the link, and bonjour-service does not rename on a
 * conflict (its probe gives up and withdraws the service). So the instance label is the
 * display name plus a fingerprint tag, "Office (ab12)", and " #2", " #3"… if even that is
 * taken. Clients never rely on the instance label: they choose a registry by the display
 * name in TXT or, unambiguously, by its fingerprint.
 *
 * TXT decoding is total: anything that is not a well-formed record is a WIRE_BAD_VALUE that
 * the browser drops. Keys are case-insensitive and only the first occurrence of a key counts
 * (RFC 6763 §6.4).
 */

import { type Decoded, fail, HallwayError, MisuseError, ok } from "../errors.js";

/** bonjour-service spelling of `_hallway._udp`. */
export const REGISTRY_SERVICE_TYPE = "hallway";
export const REGISTRY_SERVICE_PROTOCOL = "udp";

/** RFC 6763 §4.1.1: an instance name is one DNS label of at most 63 bytes. */
export const MAX_INSTANCE_NAME_BYTES = 63;
/** The display name must fit in an instance label on its own. */
export const MAX_REGISTRY_NAME_BYTES = MAX_INSTANCE_NAME_BYTES;
export const MAX_FINGERPRINT_CHARS = 128;
/** RFC 6763 §6.1: one TXT string (key=value) is at most 255 bytes. */
const MAX_TXT_STRING_BYTES = 255;
/** More entries than this is not a registry record; don't walk it. */
const MAX_TXT_ENTRIES = 32;
const MAX_VERSION = 65_535;
const FINGERPRINT_TAG_CHARS = 4;

export interface RegistryTxt {
  version: number;
  fingerprint: string;
  name?: string;
}

/** Diagnostics (`node:diagnostics_channel`) of the mDNS adapters: socket warnings, dropped records. */
export const MDNS_DIAGNOSTICS_CHANNEL = "hallway:mdns";

/** The TXT record as bonjour-service's `publish({ txt })` wants it. */
export type RegistryTxtRecord = { v: string; fp: string; name?: string };

const FINGERPRINT_RE = /^[\x21-\x7e]+$/;
const VERSION_RE = /^[1-9][0-9]{0,4}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_RE = /[\x00-\x1f\x7f]/;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function byteLength(s: string): number {
  return utf8.encode(s).length;
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (CONTROL_RE.test(name)) return "contains control characters";
  if (byteLength(name) > MAX_REGISTRY_NAME_BYTES) return `is longer than ${MAX_REGISTRY_NAME_BYTES} bytes`;
  return undefined;
}

function fingerprintProblem(fingerprint: string): string | undefined {
  if (fingerprint.length === 0) return "is empty";
  if (fingerprint.length > MAX_FINGERPRINT_CHARS) return `is longer than ${MAX_FINGERPRINT_CHARS} characters`;
  if (!FINGERPRINT_RE.test(fingerprint)) return "is not printable ASCII without spaces";
  return undefined;
}

/**
 * The TXT record for a registry. Throws on local misuse: a bad display name is the
 * operator's input (CLI_BAD_ARGS); a bad version or fingerprint is a bug (MISUSE).
 */
export function encodeRegistryTxt(txt: RegistryTxt): RegistryTxtRecord {
  if (!Number.isInteger(txt.version) || txt.version < 1 || txt.version > MAX_VERSION) {
    throw new MisuseError(`mDNS TXT: bad protocol version ${txt.version}`);
  }
  const fpProblem = fingerprintProblem(txt.fingerprint);
  if (fpProblem) throw new MisuseError(`mDNS TXT: registry fingerprint ${fpProblem}`);
  const record: RegistryTxtRecord = { v: String(txt.version), fp: txt.fingerprint };
  if (txt.name !== undefined) {
    const problem = nameProblem(txt.name);
    if (problem) throw new HallwayError("CLI_BAD_ARGS", `registry name ${problem}`);
    record.name = txt.name;
  }
  return record;
}

type TxtValue = string | Uint8Array;

/** A TXT value as text, or undefined if it is not valid UTF-8 or too long. */
function valueText(value: unknown): string | undefined {
  if (typeof value === "string") return byteLength(value) <= MAX_TXT_STRING_BYTES ? value : undefined;
  if (value instanceof Uint8Array) {
    if (value.length > MAX_TXT_STRING_BYTES) return undefined;
    try {
      return utf8Strict.decode(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Lower-cased key -> value, first occurrence wins. Accepts the decoded object that
 * bonjour-service hands out (`service.txt`, values strings or Buffers) or the raw TXT
 * strings (`service.rawTxt`, an array of "key=value" Buffers or strings).
 */
function txtEntries(txt: unknown): Map<string, TxtValue> | string {
  const entries = new Map<string, TxtValue>();
  const add = (key: string, value: TxtValue): void => {
    const k = key.toLowerCase();
    if (k.length > 0 && !entries.has(k)) entries.set(k, value);
  };
  if (Array.isArray(txt)) {
    if (txt.length > MAX_TXT_ENTRIES) return `more than ${MAX_TXT_ENTRIES} TXT strings`;
    for (const raw of txt) {
      const s = valueText(raw);
      if (s === undefined) return "TXT string is not UTF-8 text of at most 255 bytes";
      const eq = s.indexOf("=");
      // RFC 6763 §6.4: a string without "=" is a boolean attribute; none of ours are.
      if (eq > 0) add(s.slice(0, eq), s.slice(eq + 1));
    }
    return entries;
  }
  if (typeof txt === "object" && txt !== null) {
    const keys = Object.keys(txt);
    if (keys.length > MAX_TXT_ENTRIES) return `more than ${MAX_TXT_ENTRIES} TXT keys`;
    for (const key of keys) {
      const value: unknown = (txt as Record<string, unknown>)[key];
      if (typeof value === "string" || value instanceof Uint8Array) add(key, value);
    }
    return entries;
  }
  return "TXT record is not an object";
}

export function parseRegistryTxt(txt: unknown): Decoded<RegistryTxt> {
  const entries = txtEntries(txt);
  if (typeof entries === "string") return fail("WIRE_BAD_VALUE", entries);

  const v = valueText(entries.get("v"));
  if (v === undefined) return fail("WIRE_BAD_VALUE", "TXT v is missing or not text");
  if (!VERSION_RE.test(v) || Number(v) > MAX_VERSION) return fail("WIRE_BAD_VALUE", "TXT v is not a version");

  const fingerprint = valueText(entries.get("fp"));
  if (fingerprint === undefined) return fail("WIRE_BAD_VALUE", "TXT fp is missing or not text");
  const fpProblem = fingerprintProblem(fingerprint);
  if (fpProblem) return fail("WIRE_BAD_VALUE", `TXT fp ${fpProblem}`);

  const value: RegistryTxt = { version: Number(v), fingerprint };
  if (entries.has("name")) {
    const name = valueText(entries.get("name"));
    if (name === undefined) return fail("WIRE_BAD_VALUE", "TXT name is not text");
    const problem = nameProblem(name);
    if (problem) return fail("WIRE_BAD_VALUE", `TXT name ${problem}`);
    value.name = name;
  }
  return ok(value);
}

/**
 * A short tag of the fingerprint for the instance label: its first four letters or digits,
 * after an "ALGO:" prefix such as "SHA256:" if there is one.
 */
export function fingerprintTag(fingerprint: string): string {
  const body = /^[A-Za-z0-9-]+:[^:]{8,}$/.test(fingerprint)
    ? fingerprint.slice(fingerprint.indexOf(":") + 1)
    : fingerprint;
  return body.replace(/[^A-Za-z0-9]/g, "").slice(0, FINGERPRINT_TAG_CHARS);
}

/** Longest prefix of `s`, by whole code points, of at most `maxBytes` UTF-8 bytes. */
function truncateUtf8(s: string, maxBytes: number): string {
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * The DNS-SD instance label for a registry: "Office (ab12)", then "Office (ab12) #2", … for
 * `attempt` 2, 3, … Dots become dashes (a label cannot hold one, and bonjour-service would
 * do the same), and the display part is shortened so that the label fits in 63 bytes.
 */
export function registryInstanceName(name: string, fingerprint: string, attempt = 1): string {
  const tag = fingerprintTag(fingerprint);
  const suffix = `${tag ? ` (${tag})` : ""}${attempt > 1 ? ` #${attempt}` : ""}`;
  const base = truncateUtf8(name.replaceAll(".", "-"), MAX_INSTANCE_NAME_BYTES - byteLength(suffix));
  return `${base}${suffix}`;
}

// ---- peers: `_hallway-peer._udp` ---------------------------------------------------------
//
//   PTR  _hallway-peer._udp.local            -> "<user> (<fp tag>)._hallway-peer._udp.local"
//   SRV  <instance>._hallway-peer._udp.local -> <host>.local : <the peer's UDP port>
//   TXT  <instance>._hallway-peer._udp.local -> v=<protocol version> user=<user name>
//        fp=<device key fingerprint> [reg=<registry key fingerprint>] st=<online|away>
//
// Every peer announces itself (docs/discovery.md). The instance label is only for humans and
// for uniqueness on the link; a browser takes the user name and fingerprint from TXT.

/** bonjour-service spelling of `_hallway-peer._udp`. */
export const PEER_SERVICE_TYPE = "hallway-peer";
/** A user name as the registry accepts it (control.ts MAX_NAME_CHARS), in bytes to be safe. */
const MAX_PEER_NAME_BYTES = 64;

export type PeerPresence = "online" | "away";

export interface PeerTxt {
  version: number;
  user: string;
  /** The device key's fingerprint (`fingerprint()` in noise.ts). */
  fingerprint: string;
  /** The registry this peer belongs to, if it has one. */
  registry?: string;
  presence: PeerPresence;
}

export type PeerTxtRecord = { v: string; user: string; fp: string; reg?: string; st: PeerPresence };

function peerNameProblem(user: string): string | undefined {
  if (user.length === 0) return "is empty";
  if (byteLength(user) > MAX_PEER_NAME_BYTES) return `is longer than ${MAX_PEER_NAME_BYTES} bytes`;
  if (CONTROL_RE.test(user) || /\s/u.test(user)) return "contains spaces or control characters";
  return undefined;
}

/** The TXT record a peer announces. Throws INTERNAL on values the client never makes. */
export function encodePeerTxt(txt: PeerTxt): PeerTxtRecord {
  if (!Number.isInteger(txt.version) || txt.version < 1 || txt.version > MAX_VERSION) {
    throw new HallwayError("INTERNAL", `mDNS TXT: bad protocol version ${txt.version}`);
  }
  const problem =
    peerNameProblem(txt.user) ??
    fingerprintProblem(txt.fingerprint) ??
    (txt.registry === undefined ? undefined : fingerprintProblem(txt.registry));
  if (problem) throw new HallwayError("INTERNAL", `mDNS TXT: peer record value ${problem}`);
  return {
    v: String(txt.version),
    user: txt.user,
    fp: txt.fingerprint,
    ...(txt.registry === undefined ? {} : { reg: txt.registry }),
    st: txt.presence,
  };
}

/** A peer's TXT record, decoded (total, like `parseRegistryTxt`). */
export function parsePeerTxt(txt: unknown): Decoded<PeerTxt> {
  const entries = txtEntries(txt);
  if (typeof entries === "string") return fail("WIRE_BAD_VALUE", entries);
  const v = valueText(entries.get("v"));
  if (v === undefined || !VERSION_RE.test(v) || Number(v) > MAX_VERSION) {
    return fail("WIRE_BAD_VALUE", "TXT v is missing or not a version");
  }
  const user = valueText(entries.get("user"));
  if (user === undefined) return fail("WIRE_BAD_VALUE", "TXT user is missing or not text");
  const userProblem = peerNameProblem(user);
  if (userProblem) return fail("WIRE_BAD_VALUE", `TXT user ${userProblem}`);
  const fp = valueText(entries.get("fp"));
  if (fp === undefined) return fail("WIRE_BAD_VALUE", "TXT fp is missing or not text");
  const fpProblem = fingerprintProblem(fp);
  if (fpProblem) return fail("WIRE_BAD_VALUE", `TXT fp ${fpProblem}`);
  const value: PeerTxt = {
    version: Number(v),
    user: user.toLowerCase(),
    fingerprint: fp,
    presence: "online",
  };
  if (entries.has("reg")) {
    const reg = valueText(entries.get("reg"));
    const regProblem = reg === undefined ? "is not text" : fingerprintProblem(reg);
    if (regProblem || reg === undefined) return fail("WIRE_BAD_VALUE", `TXT reg ${regProblem}`);
    value.registry = reg;
  }
  const st = valueText(entries.get("st"));
  if (st !== "online" && st !== "away") return fail("WIRE_BAD_VALUE", "TXT st is not online or away");
  value.presence = st;
  return ok(value);
}

/** The DNS-SD instance label of a peer: "alice (ab12)", shortened to fit one label. */
export function peerInstanceName(user: string, fingerprint: string): string {
  const suffix = ` (${fingerprintTag(fingerprint)})`;
  return `${truncateUtf8(user.replaceAll(".", "-"), MAX_INSTANCE_NAME_BYTES - byteLength(suffix))}${suffix}`;
}
