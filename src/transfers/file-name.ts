/**
 * Received file names: what a peer offers is a hint, never a path. Pure functions (the disk
 * adapter `file-store.ts` asks the file system which candidates are free).
 *
 * `safeFileName` keeps only the last path component (either separator), drops NUL and
 * control characters (C0, DEL, C1) and bidirectional overrides, replaces the characters
 * Windows forbids (`<>:"|?*`), trims the dots and spaces Windows strips, renames the
 * Windows device names (`CON`, `NUL`, `COM1` …, with any extension), caps the name at 200
 * UTF-8 bytes (room for ` (n)` and `.part.manifest` within the usual 255) and falls back
 * to `file`. `numberedName` gives the n-th candidate for "do not overwrite": `a (1).txt`.
 */

const MAX_NAME_BYTES = 200;
const utf8 = new TextEncoder();
// C0, DEL, C1, and the Unicode bidi controls that can disguise an extension.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const WINDOWS_RESERVED_CHARS = /[<>:"|?*]/g;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

export function safeFileName(offered: string): string {
  const last = offered.split(/[/\\]/).pop() ?? "";
  let name = last.replace(CONTROL, "").replace(WINDOWS_RESERVED_CHARS, "_");
  name = name.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  if (WINDOWS_DEVICE.test(name)) name = `_${name}`;
  name = truncateUtf8(name, MAX_NAME_BYTES);
  return name === "" ? "file" : name;
}

/** The n-th name to try for `name` (0: the name itself): `report (2).pdf`, `archive (1).tar.gz`. */
export function numberedName(name: string, n: number): string {
  if (n === 0) return name;
  const dot = name.search(/\.[^.]+(\.(gz|bz2|xz|zst))?$/);
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  return `${stem} (${n})${ext}`;
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8.encode(s).length <= maxBytes) return s;
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = utf8.encode(ch).length;
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}
