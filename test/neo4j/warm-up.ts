/**
 * Runs the adapter's statements once on a Neo4j that has just started, in a registry of its
 * own that is deleted afterwards. A fresh server plans each statement on first use, and on a
 * loaded 2-core machine that took a second or more per statement: enough for the first
 * registration through a registry to miss the client's 5 s request timeout. Tests that drive
 * a registry through clients on a fresh server warm it first; the global setup warms the
 * run's server. (A real office's Neo4j has long been warm, and a cold one only makes the
 * first requests slow.)
 */

import { auth as neo4jAuth, driver as neo4jDriver } from "neo4j-driver";
import { CYPHER } from "../../src/server/store/neo4j/cypher.js";
import { type Neo4jConnection, Neo4jStore } from "../../src/server/store/neo4j/neo4j-store.js";

export async function warmUpNeo4j(connection: Neo4jConnection): Promise<void> {
  const registry = `warm-up-${process.pid}-${Date.now().toString(36)}`;
  const store = await Neo4jStore.connect({ ...connection, registry });
  try {
    // A record of every kind (no Vitest imports here: the global setup runs this too).
    for (const [i, name] of ["alice", "bob", "carol", "dave"].entries()) {
      await store.createUser({ name, passwordHash: `hash${i}`, createdAt: i });
    }
    await store.setPublicKey("alice", "ab".repeat(32));
    await store.setProfile("alice", { displayName: "Alice", statusText: "here" });
    await store.appendAudit({ user: "alice", event: "login", at: 1, address: "127.0.0.1:1" });
    await store.appendHistory({
      id: "h1",
      from: "alice",
      to: "bob",
      body: "h",
      sentAt: 100,
      deliveredAt: 150,
    });
    await store.enqueueOffline({
      id: "q1",
      from: "carol",
      to: "bob",
      body: "q",
      sentAt: 200,
      deliveredAt: null,
    });
    await store.putFriendRequest({ from: "dave", to: "alice", at: 1 });
    await store.addFriendship("bob", "alice", 2);
    await store.addFriendship("carol", "bob", 3);
    await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
    await store.addMember("ops", "bob", 2);
    await store.addMember("ops", "dave", 2);
    await store.putJoinRequest({ group: "ops", user: "carol", at: 3 });
    await store.appendGroupMessage({ id: "gm1", group: "ops", from: "alice", body: "1", sentAt: 4 });
    await store.appendGroupMessage({ id: "gm2", group: "ops", from: "bob", body: "2", sentAt: 5 });
    await store.ackGroup("ops", "bob", 1);
    await store.setGroupAdmin("ops", "bob");
    await store.enqueueNotice({ id: "n1", to: "dave", kind: "k", body: "{}", at: 6 });
    await store.listUsers();
    await store.getUser("alice");
    await store.searchUsers("a", 10);
    await store.listAudit({ user: "alice", limit: 10 });
    await store.pendingOffline("bob", 100);
    await store.ackOffline("bob", ["q1"]);
    await store.history("alice", "bob", { limit: 10 });
    await store.history("alice", "bob", { limit: 10, before: { sentAt: 100, id: "h1" } });
    await store.markDelivered("h1", 1);
    await store.friendsOf("bob");
    await store.areFriends("alice", "bob");
    await store.friendRequestsTo("alice");
    await store.friendRequestsFrom("dave");
    await store.deleteFriendRequest("dave", "alice");
    await store.groupsOf("bob");
    await store.groupMembers("ops");
    await store.joinRequests("ops");
    await store.deleteJoinRequest("ops", "carol");
    await store.groupBacklog("ops", "bob", 100);
    await store.groupHistory("ops", { limit: 10 });
    await store.groupHistory("ops", { limit: 10, beforeSeq: 2 });
    await store.pendingNotices("dave", 100);
    await store.ackNotices("dave", ["n1"]);
    await store.suggest("alice", 10);
    await store.removeMember("ops", "dave");
    await store.removeFriendship("alice", "bob");
    await store.flushLastSeen([{ name: "alice", at: 1 }]);
  } finally {
    await store.close();
    const driver = neo4jDriver(connection.uri, neo4jAuth.basic(connection.user, connection.password));
    try {
      await driver.executeQuery(CYPHER.deleteRegistry.text, { registry });
    } finally {
      await driver.close();
    }
  }
}
