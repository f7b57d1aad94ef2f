/**
 * The registry's social rules that need no store: what a group name and a profile may be,
 * and who inherits a group when its admin leaves. Pure functions, unit-tested directly.
 */

import { HallwayError } from "../errors.js";
import type { ProfilePatchWire } from "../protocol/control.js";
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
const PROFILE_RULES: Record<keyof ProfilePatch, FieldRule> = {
  displayName: { maxChars: 64 },
  statusText: { maxChars: 140 },
  email: { maxChars: 254, pattern: /^[^\s@]+@[^\s@]+$/, describe: "an address like name@example.com" },
  phone: { maxChars: 32, pattern: /^\+?[0-9][0-9 ()./-]*$/, describe: "digits, spaces, + ( ) . / -" },
  department: { maxChars: 64 },
  note: { maxChars: 500 },
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * The patch as the store takes it: values trimmed, an empty value clears the field. Throws
 * PROFILE_BAD_FIELD naming the first field that breaks its rule.
 */
export function validateProfilePatch(patch: ProfilePatchWire): ProfilePatch {
  const out: ProfilePatch = {};
  for (const [field, rule] of Object.entries(PROFILE_RULES) as Array<[keyof ProfilePatch, FieldRule]>) {
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
    out[field] = value;
  }
  return out;
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
