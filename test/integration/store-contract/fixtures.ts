/** What the parts of the store contract share: fixtures, records of every kind, helpers. */

import type { HallwayError } from "../../../src/errors.js";
import type { Store, StoredMessage } from "../../../src/server/store/index.js";

/** A user's profile fields before anyone set them. */
export const NO_PROFILE = {
  displayName: null,
  statusText: null,
  email: null,
  phone: null,
  department: null,
  note: null,
  birthDate: null,
  gender: null,
  country: null,
  region: null,
  school: null,
  profession: null,
  visibility: null,
  profileUpdatedAt: null,
};

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export async function* replay<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

export interface StoreFixture {
  store: Store;
  reopen?: () => Promise<Store>;
  /** A second store over separate, empty data, not yet initialised: the target of a load. */
  another: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

/**
 * At least one record of every kind, some fields at their unusual values (a queue whose order
 * differs from sentAt, an acknowledged message, a moved admin, a member behind on acks).
 */
export async function populateEveryKind(t: Store): Promise<void> {
  for (const [i, n] of ["alice", "bob", "carol", "dave"].entries()) {
    await t.createUser({
      name: n,
      passwordHash: `scrypt$15$8$1$salt${i}$hash${i}`,
      createdAt: 1_000 + i,
    });
  }
  await t.setPublicKey("alice", "ab".repeat(32));
  await t.setProfile("alice", { displayName: "Alice L", statusText: "busy", email: "a@x", note: "n" });
  await t.setProfile("bob", { phone: "123", department: "ops", birthDate: "1980-01-02", school: "MIT" }, 900);
  await t.flushLastSeen([{ name: "bob", at: 5_000 }]);
  await t.appendAudit({ user: "alice", event: "register", at: 10, address: "10.0.0.1:1" });
  await t.appendAudit({ user: "bob", event: "login", at: 10, address: "10.0.0.2:1" });
  await t.appendAudit({ user: "alice", event: "logout", at: 9, address: "10.0.0.1:1" });
  await t.appendAudit({
    user: "ghost",
    event: "login_failed",
    at: 8,
    address: "10.0.0.9:1",
    detail: "unknown user",
  });
  await t.appendHistory({ ...message("h1", "alice", "bob", 100), deliveredAt: 150 });
  await t.enqueueOffline(message("q2", "carol", "bob", 300));
  await t.enqueueOffline(message("q1", "alice", "bob", 200));
  await t.enqueueOffline(message("q3", "alice", "carol", 250));
  await t.enqueueOffline(message("q4", "alice", "bob", 260));
  await t.ackOffline("bob", ["q4"]);
  await t.putFriendRequest({ from: "dave", to: "alice", at: 40 });
  await t.addFriendship("bob", "alice", 30);
  await t.addFriendship("carol", "bob", 31);
  await t.createGroup({ name: "ops", admin: "alice", createdAt: 60 });
  await t.createGroup({ name: "dev", admin: "bob", createdAt: 61 });
  await t.addMember("ops", "bob", 62);
  await t.putJoinRequest({ group: "ops", user: "carol", at: 63 });
  await t.appendGroupMessage({ id: "gm1", group: "ops", from: "alice", body: "one", sentAt: 70 });
  await t.appendGroupMessage({ id: "gm2", group: "ops", from: "bob", body: "two", sentAt: 71 });
  await t.addMember("ops", "dave", 72);
  await t.appendGroupMessage({ id: "gm3", group: "ops", from: "dave", body: "three", sentAt: 73 });
  await t.ackGroup("ops", "bob", 1);
  await t.setGroupAdmin("ops", "bob");
  await t.setGroupDescription("dev", "builds things");
  await t.enqueueNotice({ id: "n2", to: "dave", kind: "friend.declined", body: "{}", at: 80 });
  await t.enqueueNotice({
    id: "n1",
    to: "dave",
    kind: "group.joined",
    body: '{"group":"ops"}',
    at: 79,
  });
}

function message(id: string, from: string, to: string, sentAt: number): StoredMessage {
  return { id, from, to, body: `body ${id}`, sentAt, deliveredAt: null };
}

/** What each part of the contract gets: the store under test and the helpers they share. */
export interface ContractContext {
  /** Opened and initialised before each test, closed after it. */
  readonly store: Store;
  readonly fixture: StoreFixture;
  /** Creates users with these names, `createdAt` 1000, 1001, … */
  users(...names: string[]): Promise<void>;
  msg(id: string, from: string, to: string, sentAt: number, body?: string): StoredMessage;
  /** Expects a one-line `HallwayError` with `code`, and returns it. */
  rejectsWith(promise: Promise<unknown>, code: HallwayError["code"]): Promise<HallwayError>;
}
