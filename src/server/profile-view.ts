/**
 * What one user may see of another's profile. The registry enforces it: `profile.get` answers
 * with the fields the viewer may see (their owner sees everything, and their own visibility
 * settings), and `search` leaves out a user whom the viewer could only have found by a field
 * hidden from them (a hidden school must not be learnt by searching for it).
 */

import { PRIVATE_PROFILE_FIELDS } from "../protocol/control.js";
import { ageOn, hidesAnything, maySee, parseVisibility } from "./social-rules.js";
import { searchNeedle, searchWords } from "./store/search-words.js";
import type { UserRecord } from "./store/store.js";

/** The `profile.get` answer for `viewer`; `friends`: whether viewer and owner are friends. */
export function profileFor(
  u: UserRecord,
  viewer: string,
  friends: boolean,
  now: number,
): Record<string, unknown> {
  const self = viewer === u.name;
  const settings = parseVisibility(u.visibility);
  const shown = (f: (typeof PRIVATE_PROFILE_FIELDS)[number]) =>
    maySee(settings[f], self, friends) ? u[f] : null;
  const birthDate = shown("birthDate");
  return {
    user: u.name,
    displayName: u.displayName,
    ...Object.fromEntries(PRIVATE_PROFILE_FIELDS.map((f) => [f, shown(f)])),
    age: birthDate === null ? null : ageOn(birthDate, now),
    updatedAt: u.profileUpdatedAt,
    ...(self ? { visibility: settings } : {}),
  };
}

/**
 * The users of a search page that `viewer` may find by `query`: matched again on the fields
 * visible to them. Friendship is asked only about users who hide a searchable field.
 */
export async function searchVisible(
  users: readonly UserRecord[],
  query: string,
  viewer: string,
  areFriends: (a: string, b: string) => Promise<boolean>,
): Promise<UserRecord[]> {
  const needle = searchNeedle(query);
  const kept: UserRecord[] = [];
  for (const u of users) {
    if (!hidesAnything(u.visibility) || u.name === viewer) {
      kept.push(u);
      continue;
    }
    const settings = parseVisibility(u.visibility);
    const friends = await areFriends(viewer, u.name);
    const field = (f: "department" | "school" | "profession") =>
      maySee(settings[f], false, friends) ? u[f] : null;
    const text = searchWords([
      u.name,
      u.displayName,
      field("department"),
      field("school"),
      field("profession"),
    ]);
    if (text.includes(needle)) kept.push(u);
  }
  return kept;
}
