import { describe, expect, it } from "vitest";
import type { PeerEvent } from "../../../src/peer/events.js";
import { frame, plainText } from "../../../src/ui/tui/frame.js";
import {
  bufferRows,
  type ChatBuffer,
  createModel,
  currentBuffer,
  hotlist,
  type Model,
  totalUnread,
  UNREAD_MARKER,
  visibleRows,
} from "../../../src/ui/tui/model.js";
import {
  applyEvent,
  cycleBuffer,
  EVENT_REDUCERS,
  type EventName,
  flushPresenceNews,
  inputComplete,
  inputDelete,
  inputInsert,
  inputKill,
  inputMove,
  inputPaste,
  inputRecall,
  inputSubmit,
  messageQueued,
  nextUnread,
  noteDirectory,
  openBuffer,
  ownMessage,
  PRESENCE_NEWS_LINES,
  PRESENCE_NEWS_WINDOW_MS,
  recall,
  scroll,
  switchTo,
} from "../../../src/ui/tui/reducers.js";

const T0 = 1_800_000_000_000;
const ID = "0123456789abcdef";

function model(): Model {
  return createModel("alice");
}

function texts(m: Model, name = "status"): string[] {
  return (m.buffers.find((b) => b.name === name)?.lines ?? []).map((l) => l.text);
}

type Case<K extends EventName> = {
  event: PeerEvent & { event: K };
  setup?: (m: Model) => void;
  check: (m: Model) => void;
};

/**
 * One case per event type. The mapped type makes a missing event name a type error, and the
 * test below checks the keys against the reducer table at run time too.
 */
const CASES: { [K in EventName]: Case<K> } = {
  found: {
    event: {
      event: "found",
      query: "lunch",
      hits: [
        { id: ID, from: "bob", with: "bob", text: "lunch\nat 12", sentAt: T0 },
        { id: "g123456789", from: "carol", group: "ops", seq: 4, text: "lunch?", sentAt: T0 },
      ],
    },
    check: (m) => {
      expect(m.searchHits).toHaveLength(2);
      expect(texts(m).slice(-3)).toEqual([
        '2 messages contain "lunch"; /jump N opens one:',
        expect.stringMatching(/^\[1\] \d\d:\d\d bob: lunch at 12$/),
        expect.stringMatching(/^\[2\] \d\d:\d\d #ops carol: lunch\?$/),
      ]);
    },
  },
  "lan.mode": {
    event: { event: "lan.mode", lan: true, code: "REGISTRY_NOT_FOUND", message: "no registry" },
    check: (m) => {
      expect(m.lan.mode).toBe(true);
      expect(texts(m)[0]).toMatch(/^LAN mode: no registry/);
    },
  },
  "lan.peer": {
    event: {
      event: "lan.peer",
      state: "changed",
      user: "bob",
      fingerprint: "aaaa-bbbb",
      address: "10.0.0.2:4000",
      presence: "online",
      conflicting: true,
    },
    check: (m) => {
      expect(m.lan.peers).toEqual([expect.objectContaining({ user: "bob", conflicting: true })]);
      expect(m.directory).toEqual(["bob"]);
      expect(texts(m)[0]).toContain("CONFLICT");
    },
  },
  "lan.peers": {
    event: {
      event: "lan.peers",
      lan: true,
      announcing: true,
      peers: [
        { user: "bob", fingerprint: "aaaa", address: "10.0.0.2:4000", presence: "away", conflicting: false },
      ],
      dropped: { malformed: 1, otherVersion: 0, foreign: 0, evicted: 0 },
    },
    check: (m) => {
      expect(m.lan.peers).toHaveLength(1);
      expect(texts(m).slice(-2)).toEqual([
        "LAN mode; this peer announces itself on the LAN. On the LAN: ",
        "  bob is on the LAN at 10.0.0.2:4000 (away, key aaaa)",
      ]);
    },
  },
  queued: {
    event: { event: "queued", id: ID, to: "bob", code: "PEER_QUEUED", message: "waits" },
    check: (m) => {
      expect(m.marks[ID]).toBe("queued");
      expect(texts(m)[0]).toContain("bob is not on the LAN");
    },
  },
  ready: {
    event: { event: "ready", user: "alice" },
    check: (m) => expect(texts(m)[0]).toContain("logged in as alice"),
  },
  registry: {
    event: { event: "registry", status: "lost", address: "10.0.0.1:7777", fingerprint: "ab-cd" },
    check: (m) => {
      expect(m.registry).toEqual({ status: "lost", address: "10.0.0.1:7777", fingerprint: "ab-cd" });
      expect(texts(m)[0]).toContain("lost the registry");
    },
  },
  message: {
    event: { event: "message", id: ID, from: "bob", to: "alice", text: "hi", via: "relay", sentAt: T0 },
    check: (m) => {
      expect(texts(m, "bob")).toEqual(["hi"]);
      expect(m.buffers[1]?.unread).toBe(1);
      expect(m.paths.bob).toBe("relay");
      expect(m.bells).toBe(1);
    },
  },
  sent: {
    event: { event: "sent", id: ID, to: "bob", via: "offline" },
    check: (m) => {
      expect(m.marks[ID]).toBe("stored");
      expect(m.paths.bob).toBeUndefined();
    },
  },
  delivered: {
    event: { event: "delivered", id: ID },
    setup: (m) => applyEvent(m, { event: "sent", id: ID, to: "bob", via: "direct" }, T0),
    check: (m) => expect(m.marks[ID]).toBe("delivered"),
  },
  path: {
    event: { event: "path", peer: "bob", kind: "punched", ms: 150 },
    setup: (m) => {
      m.paths.bob = "direct";
    },
    check: (m) => expect(m.paths.bob).toBe("punched"),
  },
  presence: {
    event: { event: "presence", user: "bob", status: "offline" },
    setup: (m) => {
      openBuffer(m, "user", "bob");
      m.presence.bob = "online";
    },
    check: (m) => {
      expect(m.presence.bob).toBe("offline");
      expect(texts(m, "bob")).toEqual(["bob went offline"]);
    },
  },
  users: {
    event: { event: "users", users: [{ name: "bob", status: "online", lastSeen: null }] },
    check: (m) => {
      expect(m.presence.bob).toBe("online");
      expect(texts(m)[0]).toBe("users: ● bob");
    },
  },
  history: {
    event: {
      event: "history",
      with: "bob",
      messages: [
        { id: "a".repeat(16), from: "alice", to: "bob", text: "first", sentAt: T0, deliveredAt: T0 + 1 },
        { id: "b".repeat(16), from: "bob", to: "alice", text: "second", sentAt: T0 + 2, deliveredAt: null },
      ],
    },
    setup: (m) =>
      applyEvent(
        m,
        {
          event: "message",
          id: "c".repeat(16),
          from: "bob",
          to: "alice",
          text: "live",
          via: "direct",
          sentAt: T0 + 3,
        },
        T0,
      ),
    check: (m) => {
      expect(texts(m, "bob")).toEqual(["first", "second", "live"]);
      expect(m.marks["a".repeat(16)]).toBe("delivered");
    },
  },
  error: {
    event: { event: "error", code: "MSG_EMPTY", message: "message is empty", cmd: "send" },
    check: (m) => {
      expect(m.buffers[0]?.lines[0]).toMatchObject({ kind: "error", text: "message is empty (MSG_EMPTY)" });
    },
  },
  bye: {
    event: { event: "bye" },
    check: (m) => expect(texts(m)).toEqual(["logged out"]),
  },
  "friend.request": {
    event: { event: "friend.request", from: "bob", at: T0 },
    check: (m) => {
      expect(m.prompts).toEqual([{ kind: "friend", from: "bob" }]);
      expect(m.bells).toBe(1);
    },
  },
  "friend.accepted": {
    event: { event: "friend.accepted", by: "bob" },
    check: (m) => expect(m.friends).toEqual(["bob"]),
  },
  "friend.declined": {
    event: { event: "friend.declined", by: "bob" },
    check: (m) => expect(texts(m)).toEqual(["bob declined your friend request"]),
  },
  "friend.removed": {
    event: { event: "friend.removed", by: "bob" },
    setup: (m) => m.friends.push("bob", "carol"),
    check: (m) => expect(m.friends).toEqual(["carol"]),
  },
  "group.joinRequest": {
    event: { event: "group.joinRequest", group: "ops", user: "bob", at: T0 },
    check: (m) => {
      expect(m.prompts).toEqual([{ kind: "group", group: "ops", user: "bob" }]);
      expect(texts(m, "ops")[0]).toContain("bob asks to join #ops");
    },
  },
  "group.joined": {
    event: { event: "group.joined", group: "ops", user: "alice" },
    check: (m) => {
      expect(m.groups).toEqual(["ops"]);
      expect(m.groupMembers.ops).toEqual(["alice"]);
      expect(texts(m, "ops")).toEqual(["you joined #ops"]);
    },
  },
  "group.declined": {
    event: { event: "group.declined", group: "ops" },
    check: (m) => expect(texts(m)).toEqual(["your request to join #ops was declined"]),
  },
  "group.removed": {
    event: { event: "group.removed", group: "ops", by: "bob" },
    setup: (m) => m.groups.push("ops"),
    check: (m) => {
      expect(m.groups).toEqual([]);
      expect(texts(m)).toEqual(["bob removed you from #ops"]);
    },
  },
  "group.admin": {
    event: { event: "group.admin", group: "ops", user: "alice" },
    check: (m) => expect(texts(m, "ops")).toEqual(["you are now the admin of #ops"]),
  },
  groupMessage: {
    event: { event: "groupMessage", id: ID, group: "ops", from: "bob", text: "standup", seq: 1, sentAt: T0 },
    check: (m) => {
      applyEvent(m, CASES.groupMessage.event, T0);
      expect(texts(m, "ops")).toEqual(["standup"]);
      expect(m.buffers[1]).toMatchObject({ kind: "group", unread: 1 });
    },
  },
  ok: {
    event: { event: "ok", cmd: "friend.accept", from: "bob" },
    setup: (m) => applyEvent(m, { event: "friend.request", from: "bob", at: T0 }, T0),
    check: (m) => {
      expect(m.prompts).toEqual([]);
      expect(m.friends).toEqual(["bob"]);
      expect(texts(m).at(-1)).toBe("friend.accept: done (from bob)");
    },
  },
  friends: {
    event: {
      event: "friends",
      friends: [{ name: "bob", since: T0, status: "online" }],
      incoming: [{ from: "carol", at: T0 }],
      outgoing: [{ to: "dave", at: T0 }],
    },
    check: (m) => {
      expect(m.friends).toEqual(["bob"]);
      expect(m.presence.bob).toBe("online");
      expect(m.prompts).toEqual([{ kind: "friend", from: "carol" }]);
    },
  },
  search: {
    event: {
      event: "search",
      query: "bo",
      users: [{ name: "bob", displayName: "Bob B" }],
      groups: [{ name: "boats", admin: "bob" }],
    },
    check: (m) => expect(texts(m)).toEqual(['search "bo": bob (Bob B)  #boats']),
  },
  groups: {
    event: {
      event: "groups",
      groups: [{ name: "ops", admin: "bob", lastSeq: 3, members: ["alice", "bob"] }],
    },
    check: (m) => {
      expect(m.groups).toEqual(["ops"]);
      expect(texts(m)).toEqual(["groups: #ops (2, admin bob)"]);
    },
  },
  "group.sent": {
    event: { event: "group.sent", group: "ops", id: ID, seq: 4 },
    check: (m) => expect(m.marks[ID]).toBe("delivered"),
  },
  "group.history": {
    event: {
      event: "group.history",
      group: "ops",
      messages: [{ id: ID, group: "ops", from: "alice", text: "old", sentAt: T0, seq: 1 }],
    },
    check: (m) => expect(m.buffers[1]?.lines[0]).toMatchObject({ kind: "own", text: "old" }),
  },
  profile: {
    event: {
      event: "profile",
      user: "alice",
      displayName: "Alice",
      statusText: "lunch",
      email: null,
      phone: null,
      department: null,
      note: null,
    },
    check: (m) => {
      expect(m.statusText).toBe("lunch");
      // The text is only the note: away is a presence state the registry confirms.
      expect(m.away).toBe(false);
      expect(texts(m)).toEqual(["profile of alice: displayName: Alice, statusText: lunch"]);
    },
  },
  suggest: {
    event: { event: "suggest", suggestions: [{ name: "carol", mutualFriends: 2, sharedGroups: 1 }] },
    check: (m) => expect(texts(m)[0]).toContain("carol (2 mutual, 1 groups)"),
  },
  drop: {
    event: {
      event: "drop",
      drop: {
        id: "0123456789abcdef01234567",
        from: "bob",
        to: "#ops",
        name: "plan\u001b[2J.pdf",
        size: 2048,
        sha256: "a".repeat(64),
        at: T0,
        state: "stored",
      },
    },
    check: (m) => {
      const line = texts(m).at(-1) ?? "";
      expect(line).toContain("bob left");
      expect(line).toContain("in #ops in the drop box (01234567)");
      // The sender's name for the file cannot reach the terminal raw.
      expect(line).not.toContain("\u001b");
    },
  },
  drops: {
    event: {
      event: "drops",
      sent: [
        {
          id: "89abcdef0123456789abcdef",
          from: "alice",
          to: "#ops",
          name: "a.bin",
          size: 10,
          sha256: "b".repeat(64),
          at: T0,
          state: "stored",
          waiting: ["carol"],
        },
      ],
      received: [],
    },
    check: (m) =>
      expect(texts(m).slice(-2)).toEqual(["drop box:", '  89abcdef → #ops "a.bin" 10 B waiting for carol']),
  },
  transfer: {
    event: {
      event: "transfer",
      id: "t1",
      n: 1,
      direction: "receive",
      state: "offered",
      peer: "bob",
      name: "report.pdf",
      size: 1000,
      bytes: 0,
      sha256: "0".repeat(64),
    },
    check: (m) => {
      expect(m.prompts).toEqual([
        { kind: "file", id: "t1", n: 1, peer: "bob", name: "report.pdf", size: 1000 },
      ]);
      expect(m.transfers).toMatchObject([{ id: "t1", n: 1, state: "offered", bytes: 0 }]);
      expect(texts(m)).toEqual(['#1 bob offers "report.pdf" (1000 B): /accept 1 or /decline 1']);
    },
  },
};

describe("view-model reducers", () => {
  it("have a case for every event type, and the test table covers each one", () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(EVENT_REDUCERS).sort());
  });

  for (const [name, c] of Object.entries(CASES) as Array<[EventName, Case<EventName>]>) {
    it(`reduce ${name}`, () => {
      const m = model();
      c.setup?.(m);
      applyEvent(m, c.event, T0);
      c.check(m);
    });
  }

  it("away is a presence of its own: a line on each change, its mark in lists, own state from the answer", () => {
    const m = model();
    openBuffer(m, "user", "bob");
    const presence = (status: "online" | "away" | "offline") =>
      applyEvent(m, { event: "presence", user: "bob", status }, T0);
    presence("online");
    presence("away");
    presence("away");
    presence("online");
    presence("away");
    presence("offline");
    expect(texts(m, "bob")).toEqual([
      "bob is online",
      "bob is away",
      "bob is back",
      "bob is away",
      "bob went offline",
    ]);
    applyEvent(
      m,
      {
        event: "users",
        users: [
          { name: "bob", status: "away", lastSeen: null },
          { name: "carol", status: "online", lastSeen: null },
        ],
      },
      T0,
    );
    expect(m.presence.bob).toBe("away");
    expect(texts(m).at(-1)).toBe("users: ◐ bob  ● carol");
    applyEvent(m, { event: "ok", cmd: "presence", status: "away" }, T0);
    expect(m.away).toBe(true);
    expect(texts(m).at(-1)).toBe("you are away (still reachable; /back returns)");
    applyEvent(m, { event: "ok", cmd: "presence", status: "online" }, T0);
    expect(m.away).toBe(false);
    expect(texts(m).at(-1)).toBe("you are back");
  });

  it("a request repeated after a re-login is one prompt and one line", () => {
    const m = model();
    applyEvent(m, { event: "friend.request", from: "bob", at: T0 }, T0);
    applyEvent(m, { event: "friend.request", from: "bob", at: T0 }, T0 + 1);
    expect(m.prompts).toHaveLength(1);
    expect(texts(m)).toHaveLength(1);
    expect(m.bells).toBe(1);
  });

  it("a peer's control characters never reach the screen", () => {
    const m = model();
    applyEvent(
      m,
      {
        event: "message",
        id: ID,
        from: "bob",
        to: "alice",
        text: "a\u001b[2Jb",
        via: "direct",
        sentAt: T0,
      },
      T0,
    );
    expect(texts(m, "bob")).toEqual(["a\uFFFD[2Jb"]);
  });

  it("recall fills a conversation from the local log once, in time order, and leaves older paging alone", () => {
    const m = createModel("bob");
    applyEvent(
      m,
      { event: "message", id: "m3", from: "alice", to: "bob", text: "new", via: "direct", sentAt: 3 },
      3,
    );
    recall(m, "user", "alice", [
      { id: "m1", from: "bob", text: "hi \u001b[31malice", sentAt: 1 },
      { id: "m2", from: "alice", text: "hi bob", sentAt: 2 },
      { id: "m3", from: "alice", text: "new", sentAt: 3 },
    ]);
    recall(m, "user", "alice", [{ id: "m2", from: "alice", text: "hi bob", sentAt: 2 }]);
    const b = m.buffers.find((x) => x.name === "alice") as ChatBuffer;
    expect(b.lines.map((l) => [l.id, l.kind])).toEqual([
      ["m1", "own"],
      ["m2", "other"],
      ["m3", "other"],
    ]);
    expect(b.lines[0]?.text).not.toContain("\u001b");
    expect(b.older).toBeUndefined();
    // The registry's newest page is what the log had: that says nothing of older pages.
    applyEvent(
      m,
      {
        event: "history",
        with: "alice",
        messages: [{ id: "m2", from: "alice", to: "bob", text: "hi bob", sentAt: 2, deliveredAt: 2 }],
      },
      4,
    );
    expect(b.older).toBeUndefined();
    applyEvent(m, { event: "history", with: "alice", messages: [] }, 5);
    expect(b.older).toBe("none");
    recall(m, "group", "ops", [{ id: "g1", from: "carol", text: "standup", sentAt: 5, seq: 7 }]);
    expect(m.buffers.find((x) => x.name === "ops")?.lines[0]?.seq).toBe(7);
  });

  it("own messages show sending, then the marks that sent and delivered bring", () => {
    const m = model();
    const line = ownMessage(m, "bob", "hello", T0);
    expect(m.buffers[1]?.unread).toBe(0);
    messageQueued(m, line, ID);
    expect(m.marks[ID]).toBe("sending");
    applyEvent(m, { event: "sent", id: ID, to: "bob", via: "direct" }, T0);
    expect(m.marks[ID]).toBe("sent");
    expect(m.paths.bob).toBe("direct");
    applyEvent(m, { event: "delivered", id: ID }, T0);
    // A late `sent` (the receipt raced it) does not take the delivered mark back.
    applyEvent(m, { event: "sent", id: ID, to: "bob", via: "direct" }, T0);
    expect(m.marks[ID]).toBe("delivered");
  });

  it("transfer progress yields a smoothed rate; done rings and clears the prompt", () => {
    const m = model();
    const base = CASES.transfer.event;
    applyEvent(m, base, T0);
    applyEvent(m, { ...base, state: "accepted" }, T0);
    expect(m.prompts).toEqual([]);
    applyEvent(m, { ...base, state: "progress", bytes: 100 }, T0 + 100);
    expect(m.transfers[0]?.rateBps).toBe(0);
    applyEvent(m, { ...base, state: "progress", bytes: 500 }, T0 + 1000);
    expect(m.transfers[0]?.rateBps).toBe(500);
    applyEvent(m, { ...base, state: "progress", bytes: 900 }, T0 + 2000);
    expect(m.transfers[0]?.rateBps).toBeCloseTo(500 * 0.7 + 400 * 0.3);
    const bells = m.bells;
    applyEvent(m, { ...base, state: "done", bytes: 1000, path: "/tmp/x/report.pdf" }, T0 + 2100);
    expect(m.bells).toBe(bells + 1);
    expect(texts(m).at(-1)).toBe('#1 saved "report.pdf" from bob to /tmp/x/report.pdf');
  });

  it("a failed transfer says why; a declined or cancelled one says who, in plain words", () => {
    const m = model();
    const base = { ...CASES.transfer.event, direction: "send" as const };
    applyEvent(
      m,
      { ...base, state: "failed", code: "FILE_PEER_UNREACHABLE", message: "no path", by: "peer" },
      T0,
    );
    applyEvent(m, { ...base, id: "t2", n: 2, state: "failed", code: "FILE_DECLINED", by: "peer" }, T0);
    const got = { ...CASES.transfer.event, id: "t3", n: 3 };
    applyEvent(m, { ...got, state: "failed", code: "FILE_DECLINED", by: "local" }, T0);
    applyEvent(m, { ...got, id: "t4", n: 4, state: "cancelled", code: "FILE_CANCELLED", by: "peer" }, T0);
    expect(texts(m)).toEqual([
      '#1 "report.pdf" to bob failed: no path (FILE_PEER_UNREACHABLE)',
      '#2 bob declined "report.pdf"',
      '#3 you declined "report.pdf" from bob',
      '#4 "report.pdf" cancelled by bob',
    ]);
    expect(m.transfers.map((t) => `#${t.n} ${t.state}`)).toEqual([
      "#1 failed",
      "#2 failed",
      "#3 failed",
      "#4 cancelled",
    ]);
  });

  it("a folder is one row, one prompt and one line per step, not one per file", () => {
    const m = model();
    const batch = {
      id: "b1",
      name: "photos",
      files: 2,
      bytes: 3000,
      filesDone: 0,
      filesEnded: 0,
      bytesDone: 0,
    };
    const file = (id: string, name: string, size: number) => ({
      ...CASES.transfer.event,
      id,
      n: 5,
      name,
      size,
      batch,
    });
    const a = file("f1", "a.jpg", 1000);
    const b = { ...file("f2", "b.jpg", 2000), dir: "2024" };
    applyEvent(m, a, T0);
    applyEvent(m, b, T0);
    expect(m.prompts).toEqual([
      { kind: "file", id: "f1", n: 5, peer: "bob", name: "photos", size: 3000, files: 2 },
    ]);
    expect(m.transfers).toMatchObject([
      { id: "b1", n: 5, state: "offered", size: 3000, files: { total: 2 } },
    ]);
    applyEvent(m, { ...a, state: "accepted" }, T0);
    applyEvent(m, { ...b, state: "accepted" }, T0);
    expect(m.prompts).toEqual([]);
    applyEvent(m, { ...a, state: "progress", bytes: 500, batch: { ...batch, bytesDone: 500 } }, T0 + 300);
    expect(m.transfers[0]).toMatchObject({ state: "progress", bytes: 500 });
    const bells = m.bells;
    const oneDone = { ...batch, filesDone: 1, filesEnded: 1, bytesDone: 1000, path: "/dl/photos" };
    applyEvent(m, { ...a, state: "done", bytes: 1000, batch: oneDone }, T0 + 400);
    expect(m.transfers[0]).toMatchObject({ state: "progress", bytes: 1000, files: { total: 2, done: 1 } });
    const allDone = { ...batch, filesDone: 2, filesEnded: 2, bytesDone: 3000, path: "/dl/photos" };
    applyEvent(m, { ...b, state: "done", bytes: 2000, batch: allDone }, T0 + 500);
    expect(m.transfers[0]).toMatchObject({ state: "done", bytes: 3000 });
    expect(m.bells).toBe(bells + 1);
    expect(texts(m)).toEqual([
      '#5 bob offers folder "photos" (2 files, 2.9 KB): /accept 5 or /decline 5',
      '#5 receiving folder "photos" from bob',
      '#5 saved folder "photos" from bob to /dl/photos',
    ]);
    expect(plainText(frame(m, 80, 24, T0))).toContain("#5 ← bob photos/ 2.9 KB 2/2 files");
  });

  it("a folder cancelled by its sender ends with one line, whatever its files say after", () => {
    const m = model();
    const batch = { id: "b2", name: "docs", files: 3, bytes: 30, filesDone: 0, filesEnded: 0, bytesDone: 0 };
    const e = { ...CASES.transfer.event, id: "g1", n: 7, name: "x", size: 10, batch };
    applyEvent(m, e, T0);
    for (const id of ["g1", "g2", "g3"]) {
      applyEvent(m, { ...e, id, state: "cancelled", code: "FILE_CANCELLED", by: "peer" }, T0);
    }
    expect(texts(m)).toEqual([
      '#7 bob offers folder "docs" (3 files, 30 B): /accept 7 or /decline 7',
      '#7 folder "docs" cancelled by bob',
    ]);
    expect(m.transfers).toMatchObject([{ id: "b2", state: "cancelled" }]);
    expect(m.prompts).toEqual([]);
  });
});

describe("user actions", () => {
  function withBuffers(): Model {
    const m = model();
    for (const [i, who] of ["bob", "carol", "dave"].entries()) {
      applyEvent(
        m,
        {
          event: "message",
          id: `${ID}${i}`,
          from: who,
          to: "alice",
          text: "hey",
          via: "direct",
          sentAt: T0,
        },
        T0,
      );
    }
    return m;
  }

  it("Alt+N switches and reads; the hotlist and the title count follow", () => {
    const m = withBuffers();
    expect(hotlist(m)).toEqual([2, 3, 4]);
    expect(totalUnread(m)).toBe(3);
    switchTo(m, 2);
    expect(currentBuffer(m).name).toBe("carol");
    expect(hotlist(m)).toEqual([2, 4]);
    switchTo(m, 9);
    expect(m.current).toBe(2);
  });

  it("Ctrl+N/Ctrl+P wrap around; Alt+A visits unread buffers after the current one", () => {
    const m = withBuffers();
    cycleBuffer(m, -1);
    expect(currentBuffer(m).name).toBe("dave");
    cycleBuffer(m, 1);
    expect(m.current).toBe(0);
    expect(hotlist(m)).toEqual([2, 3]);
    switchTo(m, 2);
    expect(nextUnread(m)).toBe(true);
    expect(currentBuffer(m).name).toBe("bob");
    expect(nextUnread(m)).toBe(false);
    expect(currentBuffer(m).name).toBe("bob");
  });

  it("scrolling stays within the scrollback; new lines keep a scrolled reader in place", () => {
    const m = model();
    scroll(m, 10, 30, 20);
    expect(currentBuffer(m).scrollRows).toBe(10);
    scroll(m, 10, 30, 20);
    expect(currentBuffer(m).scrollRows).toBe(10);
    applyEvent(m, { event: "bye" }, T0);
    expect(currentBuffer(m).scrollRows).toBe(11);
    scroll(m, -50, 31, 20);
    expect(currentBuffer(m).scrollRows).toBe(0);
  });

  it("the input line edits by code point and remembers what was sent", () => {
    const m = model();
    inputInsert(m, "hi 🎉");
    inputMove(m, "left");
    inputInsert(m, "x");
    expect(m.input.text).toBe("hi x🎉");
    inputMove(m, "end");
    inputDelete(m, -1);
    expect(m.input.text).toBe("hi x");
    inputMove(m, "home");
    inputDelete(m, 1);
    expect(m.input).toMatchObject({ text: "i x", cursor: 0 });
    expect(inputSubmit(m)).toBe("i x");
    expect(m.input.text).toBe("");
    inputRecall(m, -1);
    expect(m.input).toMatchObject({ text: "i x", cursor: 3 });
    inputRecall(m, 1);
    expect(m.input.text).toBe("");
  });

  it("Tab completes commands at the start and names elsewhere", () => {
    const m = model();
    m.friends.push("bob", "bobby");
    m.groups.push("ops");
    inputInsert(m, "/ac");
    expect(inputComplete(m, ["/accept", "/add", "/away"])).toEqual([]);
    expect(m.input.text).toBe("/accept ");
    inputInsert(m, "b");
    expect(inputComplete(m, [])).toEqual(["bob", "bobby"]);
    expect(m.input.text).toBe("/accept bob");
    inputInsert(m, "b");
    inputComplete(m, []);
    expect(m.input.text).toBe("/accept bobby ");
    inputSubmit(m);
    inputInsert(m, "/zz");
    expect(inputComplete(m, ["/accept"])).toEqual([]);
    expect(m.input.text).toBe("/zz");
  });

  it("scrollback is bounded", () => {
    const m = createModel("alice", 5);
    for (let i = 0; i < 9; i++) applyEvent(m, { event: "bye" }, T0 + i);
    expect(m.buffers[0]?.lines.map((l) => l.at)).toEqual([4, 5, 6, 7, 8].map((i) => T0 + i));
  });

  it("readline keys: Ctrl+W a word, Ctrl+K to the end, Ctrl+U to the start; clusters are one step", () => {
    const m = model();
    inputInsert(m, "say hello  to bob");
    inputKill(m, "wordLeft");
    expect(m.input).toMatchObject({ text: "say hello  to ", cursor: 14 });
    inputKill(m, "wordLeft");
    expect(m.input.text).toBe("say hello  ");
    inputMove(m, "wordLeft");
    inputMove(m, "wordLeft");
    expect(m.input.cursor).toBe(0);
    inputMove(m, "wordRight");
    inputKill(m, "end");
    expect(m.input).toMatchObject({ text: "say", cursor: 3 });
    inputKill(m, "home");
    expect(m.input).toMatchObject({ text: "", cursor: 0 });
    const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
    inputInsert(m, `a${family}🇫🇷`);
    inputMove(m, "left");
    inputDelete(m, -1);
    expect(m.input.text).toBe("a🇫🇷");
  });

  it("a multi-line paste stays in the input line and goes as one message with the next Enter", () => {
    const m = model();
    inputPaste(m, "one\r\ntwo\r\nthree\r\n", T0);
    expect(m.input.text).toBe("one\ntwo\nthree");
    expect(texts(m).at(-1)).toMatch(/pasted 3 lines: Enter sends them as one message/);
    expect(inputSubmit(m)).toBe("one\ntwo\nthree");
    const i = openBuffer(m, "user", "bob");
    applyEvent(
      m,
      { event: "message", id: ID, from: "bob", to: "alice", text: "a\nb", via: "direct", sentAt: T0 },
      T0,
    );
    switchTo(m, i);
    const rows = bufferRows(m, currentBuffer(m), 60).map((r) => r.text);
    expect(rows.slice(-2)).toEqual([expect.stringMatching(/bob │ a$/), expect.stringMatching(/^ +b$/)]);
  });

  it("marks where unread lines start until the reader leaves the buffer", () => {
    const m = model();
    const i = openBuffer(m, "user", "bob");
    switchTo(m, i);
    applyEvent(
      m,
      { event: "message", id: "m1", from: "bob", to: "alice", text: "seen", via: "direct", sentAt: T0 },
      T0,
    );
    switchTo(m, 0);
    applyEvent(
      m,
      {
        event: "message",
        id: "m2",
        from: "bob",
        to: "alice",
        text: "new one",
        via: "direct",
        sentAt: T0 + 1,
      },
      T0,
    );
    applyEvent(
      m,
      {
        event: "message",
        id: "m3",
        from: "bob",
        to: "alice",
        text: "new\ntwo",
        via: "direct",
        sentAt: T0 + 2,
      },
      T0,
    );
    expect(m.notifications).toEqual([
      { title: "bob", body: "new one" },
      { title: "bob", body: "new two" },
    ]);
    switchTo(m, i);
    const rows = bufferRows(m, currentBuffer(m), 40);
    expect(rows.map((r) => r.kind)).toEqual(["other", "marker", "other", "other", "other"]);
    expect(rows[1]?.text).toContain(UNREAD_MARKER);
    switchTo(m, 0);
    switchTo(m, i);
    expect(bufferRows(m, currentBuffer(m), 40).map((r) => r.kind)).not.toContain("marker");
  });

  it("/me shows as an action", () => {
    const m = model();
    applyEvent(
      m,
      { event: "message", id: ID, from: "bob", to: "alice", text: "/me waves", via: "direct", sentAt: T0 },
      T0,
    );
    const rows = bufferRows(m, m.buffers[1] as ChatBuffer, 60).map((r) => r.text);
    expect(rows.at(-1)).toMatch(/ \* │ bob waves$/);
  });

  it("the directory fills silently; presence news goes to the status buffer, rate-limited", () => {
    const m = model();
    noteDirectory(m, [
      { name: "alice", status: "online" },
      { name: "bob", status: "offline" },
    ]);
    expect(m.directory).toEqual(["bob"]);
    expect(texts(m)).toEqual([]);
    const names = ["bob", "carol", "dave", "erin", "frank", "gina"];
    for (const name of names) applyEvent(m, { event: "presence", user: name, status: "online" }, T0);
    expect(m.directory).toEqual(names);
    expect(texts(m)).toEqual(names.slice(0, PRESENCE_NEWS_LINES).map((n) => `${n} is online`));
    expect(flushPresenceNews(m, T0 + 1)).toBe(false);
    expect(flushPresenceNews(m, T0 + PRESENCE_NEWS_WINDOW_MS)).toBe(true);
    expect(texts(m).at(-1)).toBe("3 presence changes: erin is online, frank is online, gina is online");
    applyEvent(m, { event: "presence", user: "bob", status: "offline" }, T0 + PRESENCE_NEWS_WINDOW_MS + 1);
    expect(texts(m).at(-1)).toBe("bob went offline");
    // A later answer is the list (under --policy friends, a friend removed leaves it).
    noteDirectory(m, [{ name: "carol", status: "online" }]);
    expect(m.directory).toEqual(["carol"]);
  });

  it("the pane wraps only the lines it shows, and shows the same rows as the whole scrollback would", () => {
    const m = model();
    for (let i = 0; i < 300; i++) {
      const text = `${i} 你好 👨‍👩‍👧 ${"word ".repeat(i % 17)}`;
      applyEvent(
        m,
        {
          event: "message",
          id: `id${i}xxxxxx`,
          from: "bob",
          to: "alice",
          text,
          via: "direct",
          sentAt: T0 + i,
        },
        T0,
      );
    }
    const b = m.buffers[1] as ChatBuffer;
    const all = bufferRows(m, b, 50);
    for (const scrollRows of [0, 7, 120]) {
      b.scrollRows = scrollRows;
      const end = all.length - scrollRows;
      expect(visibleRows(m, b, 50, 20)).toEqual(all.slice(end - 20, end));
    }
  });

  it("a search result in focus sits in the middle of the pane, highlighted", () => {
    const m = model();
    for (let i = 0; i < 100; i++) {
      applyEvent(
        m,
        {
          event: "message",
          id: `id${i}xxxxxx`,
          from: "bob",
          to: "alice",
          text: `line ${i}`,
          via: "direct",
          sentAt: T0 + i,
        },
        T0,
      );
    }
    const b = m.buffers[1] as ChatBuffer;
    b.focus = "id30xxxxxx";
    const shown = visibleRows(m, b, 60, 10);
    expect(shown.findIndex((r) => r.kind === "focus")).toBe(5);
    expect(shown[5]?.text).toMatch(/bob │ line 30$/);
  });
});
