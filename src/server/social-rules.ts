/**
 * The registry's social rules that need no store: what a group name and a profile may be,
 * and who inherits a group when its admin leaves. Pure functions, unit-tested directly.
 */

import { HallwayError } from "../errors.js";
import {
  MAX_GROUP_DESCRIPTION_CHARS,
  PRIVATE_PROFILE_FIELDS,
  type ProfilePatchWire,
  type Visibility,
  type VisibilityMap,
  visibilityMap,
} from "../protocol/control.js";
import { nameProblem } from "./accounts.js";
import type { GroupMember, ProfilePatch } from "./store/store.js";

/** Throws GROUP_BAD_NAME unless `name` (already normalised) may name a group: the user-name rule. */
export function validateGroupName(name: string): void {
  const problem = nameProblem(name, "group name");
  if (problem !== undefined) throw new HallwayError("GROUP_BAD_NAME", problem);
}

interface FieldRule {
  maxChars: number;
  pattern?: RegExp;
  describe?: string;
}

// Lengths: a display name fits a user list column; 254 is the longest address an SMTP path
// allows (RFC 5321 §4.5.3.1.3); 32 covers E.164's 15 digits with spaces, dashes and an extension.
const PROFILE_RULES: Record<Exclude<keyof ProfilePatch, "visibility">, FieldRule> = {
  displayName: { maxChars: 64 },
  statusText: { maxChars: 140 },
  email: { maxChars: 254, pattern: /^[^\s@]+@[^\s@]+$/, describe: "an address like name@example.com" },
  phone: { maxChars: 32, pattern: /^\+?[0-9][0-9 ()./-]*$/, describe: "digits, spaces, + ( ) . / -" },
  department: { maxChars: 64 },
  note: { maxChars: 500 },
  birthDate: {
    maxChars: 10,
    pattern: /^\d{4}-\d{2}-\d{2}$/,
    describe: "a date like 1990-04-23 (YYYY-MM-DD)",
  },
  gender: { maxChars: 32 },
  country: { maxChars: 64 },
  region: { maxChars: 64 },
  school: { maxChars: 100 },
  profession: { maxChars: 100 },
};

/** The earliest birth date the registry takes: older is a typo. */
const EARLIEST_BIRTH_DATE = "1900-01-01";

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * The patch as the store takes it: values trimmed, an empty value clears the field. Throws
 * PROFILE_BAD_FIELD naming the first field that breaks its rule; a birth date must be a real
 * day, not after `now` (ms) and not before 1900. `visibility` is left out: `mergeVisibility`
 * turns it into the stored text.
 */
export function validateProfilePatch(patch: ProfilePatchWire, now: number): ProfilePatch {
  const out: ProfilePatch = {};
  for (const [field, rule] of Object.entries(PROFILE_RULES) as Array<
    [Exclude<keyof ProfilePatch, "visibility">, FieldRule]
  >) {
    const raw = patch[field];
    if (raw === undefined) continue;
    const value = raw === null ? "" : raw.trim();
    if (value === "") {
      out[field] = null;
      continue;
    }
    const chars = [...value].length;
    if (chars > rule.maxChars) {
      throw badField(field, `is at most ${rule.maxChars} characters (got ${chars})`);
    }
    if (CONTROL_CHARS.test(value)) throw badField(field, "must not contain control characters");
    if (rule.pattern && !rule.pattern.test(value)) throw badField(field, `must be ${rule.describe}`);
    if (field === "birthDate") checkBirthDate(value, now);
    out[field] = value;
  }
  return out;
}

function checkBirthDate(value: string, now: number): void {
  const day = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== value) {
    throw badField("birthDate", `${value} is not a day of the calendar`);
  }
  if (value > new Date(now).toISOString().slice(0, 10))
    throw badField("birthDate", "must not be in the future");
  if (value < EARLIEST_BIRTH_DATE) throw badField("birthDate", `must not be before ${EARLIEST_BIRTH_DATE}`);
}

/** Whole years from `birthDate` (YYYY-MM-DD) to the day of `now` (UTC). */
export function ageOn(birthDate: string, now: number): number {
  const today = new Date(now).toISOString().slice(0, 10);
  const years = Number(today.slice(0, 4)) - Number(birthDate.slice(0, 4));
  return today.slice(5) < birthDate.slice(5) ? years - 1 : years;
}

/** The stored visibility text: its settings, or none (everything visible to everyone). */
export function parseVisibility(stored: string | null): VisibilityMap {
  if (stored === null) return {};
  try {
    const parsed = visibilityMap.safeParse(JSON.parse(stored));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/** `stored` with `change` applied, as stored text; `everyone` is the default and not kept. */
export function mergeVisibility(stored: string | null, change: VisibilityMap): string | null {
  const merged: VisibilityMap = { ...parseVisibility(stored), ...change };
  const kept = Object.entries(merged).filter(([, who]) => who !== "everyone");
  return kept.length === 0 ? null : JSON.stringify(Object.fromEntries(kept));
}

/** Who may see a field: its owner always; others by its setting and their friendship. */
export function maySee(setting: Visibility | undefined, self: boolean, friends: boolean): boolean {
  if (self || setting === undefined || setting === "everyone") return true;
  return setting === "friends" && friends;
}

/** Whether any private field is hidden from someone (a cheap test before asking about friends). */
export function hidesAnything(stored: string | null): boolean {
  return PRIVATE_PROFILE_FIELDS.some((f) => parseVisibility(stored)[f] !== undefined);
}

/** A group description: trimmed, at most 500 characters, no control characters; empty clears it. */
export function validateGroupDescription(raw: string | null): string | null {
  const value = raw?.trim() ?? "";
  if (value === "") return null;
  const chars = [...value].length;
  if (chars > MAX_GROUP_DESCRIPTION_CHARS) {
    throw new HallwayError(
      "GROUP_BAD_DESCRIPTION",
      `a group description is at most ${MAX_GROUP_DESCRIPTION_CHARS} characters (got ${chars})`,
    );
  }
  if (CONTROL_CHARS.test(value)) {
    throw new HallwayError(
      "GROUP_BAD_DESCRIPTION",
      "a group description must not contain control characters",
    );
  }
  return value;
}

function badField(field: string, problem: string): HallwayError {
  return new HallwayError("PROFILE_BAD_FIELD", `${field} ${problem}`);
}

/**
 * Who becomes admin when `leaving` (the admin) leaves: the longest-standing other member
 * (earliest `joinedAt`, then name), or undefined when nobody is left and the group goes.
 */
export function nextAdmin(members: readonly GroupMember[], leaving: string): string | undefined {
  let best: GroupMember | undefined;
  for (const m of members) {
    if (m.name === leaving) continue;
    if (!best || m.joinedAt < best.joinedAt || (m.joinedAt === best.joinedAt && m.name < best.name)) best = m;
  }
  return best?.name;
}
