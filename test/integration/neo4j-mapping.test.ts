/**
 * The Neo4j adapter's pure translations: result maps into the port's records, and driver
 * failures into one-line STORE_FAILED messages. The failure fixtures are the driver's own
 * errors, with the wording neo4j-driver 6 produces (taken from runs against closed loopback
 * ports, a silent listener and an HTTP listener).
 */

import { int, Neo4jError } from "neo4j-driver";
import { describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import {
  describeNeo4jFailure,
  displayUri,
  toAuditEntry,
  toCount,
  toFlag,
  toFriendPair,
  toFriendRequest,
  toFriendship,
  toGroupMember,
  toGroupMessage,
  toGroupRecord,
  toJoinRequest,
  toMembership,
  toNotice,
  toQueueEntry,
  toStoredMessage,
  toSuggestion,
  toUserRecord,
} from "../../src/server/store/neo4j/mapping.js";
import { conversationKey, nameKey, rowLimit } from "../../src/server/store/port-rules.js";

function storeFailure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HallwayError);
    expect((err as HallwayError).code).toBe("STORE_FAILED");
    return (err as HallwayError).message;
  }
  throw new Error("expected STORE_FAILED");
}

describe("records into the port's types", () => {
  it("maps a user projection; absent optional properties are null", () => {
    expect(toUserRecord({ name: "alice", passwordHash: "scrypt$x", createdAt: 1234 })).toEqual({
      name: "alice",
      passwordHash: "scrypt$x",
      publicKey: null,
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
      createdAt: 1234,
      lastSeen: null,
      profileUpdatedAt: null,
    });
    expect(
      toUserRecord({
        name: "bob",
        passwordHash: "h",
        publicKey: "ab",
        displayName: "Bob",
        school: "MIT",
        createdAt: 1,
        lastSeen: 99,
        profileUpdatedAt: 98,
      }),
    ).toMatchObject({
      publicKey: "ab",
      displayName: "Bob",
      lastSeen: 99,
      school: "MIT",
      profileUpdatedAt: 98,
    });
  });

  it("accepts driver integers as well as numbers", () => {
    const m = toStoredMessage({
      id: "m1",
      from: "alice",
      to: "bob",
      body: "hi",
      sentAt: int(1_700_000_000_000),
      deliveredAt: int(1_700_000_000_500),
    });
    expect(m).toEqual({
      id: "m1",
      from: "alice",
      to: "bob",
      body: "hi",
      sentAt: 1_700_000_000_000,
      deliveredAt: 1_700_000_000_500,
    });
    expect(toStoredMessage({ ...m, deliveredAt: null }).deliveredAt).toBeNull();
    expect(toCount(int(3), "removed")).toBe(3);
  });

  it("maps an audit projection", () => {
    expect(toAuditEntry({ user: "alice", event: "timeout", at: 30, address: "10.0.0.1:4000" })).toEqual({
      user: "alice",
      event: "timeout",
      at: 30,
      address: "10.0.0.1:4000",
    });
  });

  it("refuses data of the wrong shape with STORE_FAILED naming the field", () => {
    expect(storeFailure(() => toUserRecord({ name: "a", passwordHash: "h" }))).toBe(
      "unexpected data from Neo4j: User.createdAt is not an integer",
    );
    expect(storeFailure(() => toUserRecord(null))).toMatch(/User is not a map/);
    expect(storeFailure(() => toUserRecord({ name: 7, passwordHash: "h", createdAt: 1 }))).toMatch(
      /User\.name is not a string/,
    );
    const message = { id: "m", from: "a", to: "b", body: "x", sentAt: 1, deliveredAt: null };
    expect(storeFailure(() => toStoredMessage({ ...message, sentAt: 1.5 }))).toMatch(/Message\.sentAt/);
    expect(storeFailure(() => toStoredMessage({ ...message, sentAt: "1" }))).toMatch(/Message\.sentAt/);
    expect(storeFailure(() => toStoredMessage({ ...message, body: undefined }))).toMatch(/Message\.body/);
    expect(storeFailure(() => toAuditEntry({ user: "a", event: "hack", at: 1, address: "x" }))).toMatch(
      /Audit\.event is "hack"/,
    );
    expect(storeFailure(() => toCount(undefined, "written"))).toMatch(/result\.written/);
  });
});

describe("social records into the port's types", () => {
  it("maps every social projection, accepting driver integers", () => {
    expect(toFriendRequest({ from: "bob", to: "alice", at: int(2) })).toEqual({
      from: "bob",
      to: "alice",
      at: 2,
    });
    expect(toFriendship({ name: "bob", since: 7 })).toEqual({ name: "bob", since: 7 });
    expect(toGroupRecord({ name: "ops", admin: "alice", createdAt: 1, lastSeq: int(3) })).toEqual({
      name: "ops",
      admin: "alice",
      createdAt: 1,
      lastSeq: 3,
      description: null,
    });
    expect(toGroupMember({ name: "bob", joinedAt: 4, ackedSeq: 0 })).toEqual({
      name: "bob",
      joinedAt: 4,
      ackedSeq: 0,
    });
    expect(toMembership({ group: "ops", name: "bob", joinedAt: 4, ackedSeq: 2 })).toEqual({
      group: "ops",
      name: "bob",
      joinedAt: 4,
      ackedSeq: 2,
    });
    expect(toJoinRequest({ group: "ops", user: "carol", at: 5 })).toEqual({
      group: "ops",
      user: "carol",
      at: 5,
    });
    const gm = { id: "g1", group: "ops", from: "alice", body: "hi", sentAt: 9, seq: 1 };
    expect(toGroupMessage(gm)).toEqual(gm);
    const notice = { id: "n1", to: "bob", kind: "friend.accepted", body: "{}", at: 3 };
    expect(toNotice(notice)).toEqual(notice);
    expect(toSuggestion({ name: "carol", mutualFriends: int(2), sharedGroups: 0 })).toEqual({
      name: "carol",
      mutualFriends: 2,
      sharedGroups: 0,
    });
    expect(toQueueEntry({ id: "m1", to: "bob" })).toEqual({ id: "m1", to: "bob" });
    expect(toFriendPair({ a: "alice", b: "bob", since: 1 })).toEqual({ a: "alice", b: "bob", since: 1 });
    expect(toFlag(true, "friends")).toBe(true);
  });

  it("refuses social data of the wrong shape with STORE_FAILED naming the field", () => {
    expect(storeFailure(() => toGroupRecord({ name: "ops", admin: null, createdAt: 1, lastSeq: 0 }))).toBe(
      "unexpected data from Neo4j: Group.admin is not a string",
    );
    expect(
      storeFailure(() => toGroupMessage({ id: "g", group: "o", from: "a", body: "b", sentAt: 1 })),
    ).toMatch(/GroupMessage\.seq is not an integer/);
    expect(storeFailure(() => toNotice({ id: "n", to: "b", body: "{}", at: 1 }))).toMatch(/Notice\.kind/);
    expect(storeFailure(() => toFlag(null, "friends"))).toMatch(/result\.friends is not a boolean/);
    expect(storeFailure(() => toSuggestion([]))).toMatch(/Suggestion is not a map/);
  });
});

describe("rules both adapters share", () => {
  it("compares names by their lower-case key and keys a conversation the same both ways", () => {
    expect(nameKey("Alice")).toBe("alice");
    expect(conversationKey("Bob", "alice")).toBe("alice\u001fbob");
    expect(conversationKey("alice", "bob")).toBe(conversationKey("bob", "ALICE"));
    expect(conversationKey("ab", "c")).not.toBe(conversationKey("a", "bc"));
  });

  it("reads a limit of zero or less, or not a number, as nothing", () => {
    expect([rowLimit(5), rowLimit(2.9), rowLimit(0), rowLimit(-3), rowLimit(Number.NaN)]).toEqual([
      5, 2, 0, 0, 0,
    ]);
    expect(rowLimit(Number.POSITIVE_INFINITY)).toBe(0);
  });
});

describe("driver failures as one line", () => {
  const target = { uri: "bolt://127.0.0.1:7687", user: "neo4j" };
  const CONNECT_ADVICE =
    "Failed to connect to server. Please ensure that your database is listening on the correct host and port and that you have compatible encryption settings both on Neo4j server and driver. Note that the default encryption setting has changed in Neo4j 4.0.";

  function neo4jError(message: string, code: string, cause?: Error): Neo4jError {
    return new Neo4jError(
      message,
      code as never,
      "50N42",
      "error: general processing exception",
      undefined,
      cause,
    );
  }

  function describeFailure(err: unknown, t: Parameters<typeof describeNeo4jFailure>[2] = target): string {
    const e = describeNeo4jFailure("init", err, t);
    expect(e.code).toBe("STORE_FAILED");
    expect(e.message).not.toContain("\n");
    expect(e.cause).toBe(err);
    return e.message;
  }

  it("says why a server cannot be reached", () => {
    expect(
      describeFailure(
        neo4jError(`${CONNECT_ADVICE} Caused by: connect ECONNREFUSED 127.0.0.1:7687`, "ServiceUnavailable"),
      ),
    ).toBe("cannot reach Neo4j at bolt://127.0.0.1:7687: connection refused");
    expect(
      describeFailure(
        neo4jError(`${CONNECT_ADVICE} Caused by: getaddrinfo ENOTFOUND db.invalid`, "ServiceUnavailable"),
      ),
    ).toMatch(/: host not found$/);
    expect(
      describeFailure(
        neo4jError(
          "Connection acquisition timed out in 5000 ms. Pool status: Active conn count = 0, Idle conn count = 0.",
          "N/A",
        ),
      ),
    ).toMatch(/: no answer within 5000 ms$/);
    expect(
      describeFailure(
        neo4jError(
          "Server responded HTTP. Make sure you are not trying to connect to the http endpoint (HTTP defaults to port 7474 whereas BOLT defaults to port 7687)",
          "N/A",
        ),
      ),
    ).toMatch(/speaks HTTP, not Bolt/);
  });

  it("looks through routing discovery to the cause", () => {
    const routing = neo4jError(
      "Could not perform discovery. No routing servers available. Known routing table: RoutingTable[database=default database, expirationTime=0, currentTime=1, routers=[], readers=[], writers=[]]",
      "ServiceUnavailable",
      neo4jError(`${CONNECT_ADVICE} Caused by: connect ECONNREFUSED 10.1.2.3:7687`, "SessionExpired"),
    );
    expect(describeFailure(routing, { uri: "neo4j://cluster.example:7687", user: "neo4j" })).toBe(
      "cannot reach Neo4j at neo4j://cluster.example:7687: connection refused",
    );
    const closed = neo4jError(
      "Could not perform discovery.",
      "ServiceUnavailable",
      neo4jError("Connection was closed by server", "SessionExpired"),
    );
    expect(describeFailure(closed)).toMatch(/: the server closed the connection$/);
    expect(describeFailure(neo4jError("Something new\nwith detail", "ServiceUnavailable"))).toBe(
      "cannot reach Neo4j at bolt://127.0.0.1:7687: Something new",
    );
  });

  it("names the user whose credentials were refused, and the missing database", () => {
    const unauthorized = neo4jError(
      "The client is unauthorized due to authentication failure.",
      "Neo.ClientError.Security.Unauthorized",
    );
    expect(describeFailure(unauthorized, { ...target, user: "ops" })).toBe(
      'Neo4j at bolt://127.0.0.1:7687 refused the credentials for user "ops"',
    );
    expect(
      describeFailure(
        neo4jError(
          "The client has provided incorrect authentication details too many times in a row.",
          "Neo.ClientError.Security.AuthenticationRateLimit",
        ),
      ),
    ).toMatch(/refusing logins for user "neo4j"/);
    expect(
      describeFailure(
        neo4jError(
          "Database does not exist. Database name: 'office'.",
          "Neo.ClientError.Database.DatabaseNotFound",
        ),
        {
          ...target,
          database: "office",
        },
      ),
    ).toBe('Neo4j at bolt://127.0.0.1:7687 has no database "office"');
    expect(
      describeFailure(
        neo4jError(
          "Schema operation 'create_constraint' on database 'neo4j' is not allowed for user 'ro'.",
          "Neo.ClientError.Security.Forbidden",
        ),
        { ...target, user: "ro" },
      ),
    ).toMatch(/^Neo4j user "ro" may not init: Schema operation 'create_constraint'/);
  });

  it("keeps other errors' first line and code, and passes HallwayErrors through", () => {
    expect(
      describeFailure(neo4jError("Invalid input 'x'\n  ^ here", "Neo.ClientError.Statement.SyntaxError")),
    ).toBe("store init failed: Invalid input 'x' (Neo.ClientError.Statement.SyntaxError)");
    expect(describeFailure(new Error(`${"x".repeat(500)}\nmore`)).length).toBeLessThan(260);
    const own = new HallwayError("AUTH_USER_EXISTS", "user exists");
    expect(describeNeo4jFailure("createUser", own, target)).toBe(own);
  });

  it("never shows credentials written into a URI", () => {
    expect(displayUri("bolt://neo4j:secret@db.example:7687")).toBe("bolt://db.example:7687");
    expect(displayUri("neo4j+s://db.example:7687/x@y")).toBe("neo4j+s://db.example:7687/x@y");
    expect(
      describeFailure(neo4jError("Connection was closed by server", "ServiceUnavailable"), {
        uri: "bolt://neo4j:secret@db.example:7687",
        user: "neo4j",
      }),
    ).not.toContain("secret");
  });
});
