/**
 * `/profile` in the interactive UIs: show a profile, or change one field of your own or who
 * sees it. The registry validates the values and enforces who sees what; this only reads
 * the words.
 *
 *   /profile                              your own profile
 *   /profile NAME                         NAME's profile, as the registry lets you see it
 *   /profile set FIELD [VALUE…]           set FIELD (no VALUE clears it)
 *   /profile visibility FIELD WHO         WHO: everyone, friends or nobody
 */

import { HallwayError } from "../errors.js";
import {
  PRIVATE_PROFILE_FIELDS,
  type PrivateProfileField,
  type ProfilePatchWire,
  VISIBILITIES,
  type Visibility,
} from "../protocol/control.js";

export type ProfileCommand = { kind: "get"; user?: string } | { kind: "set"; patch: ProfilePatchWire };

const SETTABLE = ["displayName", ...PRIVATE_PROFILE_FIELDS] as const;
type Settable = (typeof SETTABLE)[number];

/** `birth-date`, `birth_date`, `birthdate` and `birthDate` all name `birthDate`. */
function fieldNamed(word: string, among: readonly string[]): string | undefined {
  const key = word.toLowerCase().replace(/[-_]/g, "");
  return among.find((f) => f.toLowerCase() === key);
}

function unknownField(word: string, among: readonly string[]): HallwayError {
  return new HallwayError("PROFILE_BAD_FIELD", `no profile field '${word}'; fields: ${among.join(", ")}`);
}

/** The words after `/profile`, as a request; throws PROFILE_BAD_FIELD for a field it does not know. */
export function parseProfileCommand(words: readonly string[]): ProfileCommand {
  const [first, field, ...rest] = words;
  if (first === undefined) return { kind: "get" };
  if (first === "set" && field !== undefined) {
    const name = fieldNamed(field, SETTABLE) as Settable | undefined;
    if (name === undefined) throw unknownField(field, SETTABLE);
    const value = rest.join(" ").trim();
    return { kind: "set", patch: { [name]: value === "" ? null : value } };
  }
  if (first === "visibility" && field !== undefined) {
    const name = fieldNamed(field, PRIVATE_PROFILE_FIELDS) as PrivateProfileField | undefined;
    if (name === undefined) throw unknownField(field, PRIVATE_PROFILE_FIELDS);
    const who = rest[0]?.toLowerCase();
    if (!VISIBILITIES.some((v) => v === who)) {
      throw new HallwayError("PROFILE_BAD_FIELD", `who sees ${name}: ${VISIBILITIES.join(", ")}`);
    }
    return { kind: "set", patch: { visibility: { [name]: who as Visibility } } };
  }
  return { kind: "get", user: first };
}
