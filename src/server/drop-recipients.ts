/**
 * Who a drop is for and what its sender and recipients are told of it: the recipients of a
 * `drop.put` (a person the sender may talk to, or the other members of a group the sender is
 * in) and an entry as the wire shows it (`protocol/drop.ts`).
 */

import { HallwayError } from "../errors.js";
import { type DropInfo, GROUP_PREFIX } from "../protocol/drop.js";
import { normalizeUsername } from "./accounts.js";
import type { DropEntry } from "./drop-rules.js";
import type { Store } from "./store/store.js";

/** The recipients of `raw` (a user, or `#group`) as `user` may send to them. */
export async function dropRecipients(
  store: Pick<Store, "getGroup" | "groupMembers" | "getUser">,
  mayTalk: (from: string, to: string) => Promise<void>,
  user: string,
  raw: string,
): Promise<{ to: string; recipients: string[] }> {
  if (raw.startsWith(GROUP_PREFIX)) {
    const group = raw.slice(GROUP_PREFIX.length).trim().toLowerCase();
    const g = group === "" ? undefined : await store.getGroup(group);
    if (!g) throw new HallwayError("GROUP_UNKNOWN", `no group named '${group}'`);
    const members = (await store.groupMembers(g.name)).map((m) => m.name);
    if (!members.includes(user))
      throw new HallwayError("GROUP_NOT_MEMBER", `you are not a member of ${g.name}`);
    const recipients = members.filter((m) => m !== user);
    if (recipients.length === 0)
      throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `${g.name} has no other member to send to`);
    return { to: `${GROUP_PREFIX}${g.name}`, recipients };
  }
  const to = normalizeUsername(raw);
  if (to === user || !(await store.getUser(to))) {
    throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `no user named '${to}' to send to`);
  }
  await mayTalk(user, to);
  return { to, recipients: [to] };
}

/** What a client is told of an entry: `waiting` only for its sender. */
export function dropInfo(e: DropEntry, forSender: boolean): DropInfo {
  return {
    id: e.id,
    from: e.from,
    to: e.to,
    name: e.name,
    size: e.size,
    sha256: e.sha256,
    at: e.at,
    state: e.state,
    ...(forSender ? { waiting: e.waiting } : {}),
  };
}
