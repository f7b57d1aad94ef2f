/**
 * The client's social API: friends, groups and group chat, profiles and suggestions, as
 * requests to the registry, and the registry's social pushes turned into events.
 *
 * Receiving: friend and join requests are shown each time the registry pushes them (live,
 * and at every login while they wait). Notices (answers, outcomes) and group messages are
 * shown once per id and acknowledged, so the registry stops re-sending them; group messages
 * are acknowledged by the highest seq received per group, in one `group.ack` per burst.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import {
  type Control,
  FRIEND_LISTS,
  friendRequestData,
  friendsData,
  type GroupMessageEntry,
  groupHistoryData,
  groupLeaveData,
  groupSendData,
  groupsData,
  MAX_NAME_CHARS,
  MAX_PAGE,
  type NoticeNote,
  type ProfilePatchWire,
  parseAnswer as parse,
  profileData,
  type RequestBody,
  searchData,
  suggestData,
} from "../protocol/control.js";
import { MAX_TEXT_BYTES } from "../protocol/limits.js";
import { uuid } from "../protocol/random-ids.js";
import type { Runtime } from "../runtime.js";
import type { PeerEvent } from "./events.js";
import type { InboxEvent } from "./message-log.js";

export interface SocialHost {
  /** The end of the turn (acks per burst), group message ids and send times. */
  runtime: Runtime;
  /** The logged-in user's name. */
  me(): string;
  request(body: RequestBody): Promise<unknown>;
  /** Resolves at the next login after the registry was lost; rejects if the client stops. */
  nextLogin(): Promise<void>;
  emit(event: PeerEvent): void;
  /** Records `events` in the local log, then runs `then` (never when the log refuses). */
  receive(events: readonly InboxEvent[], then: () => void): void;
  /** Records what the user sent in the local log, as history. */
  recordSent(event: InboxEvent): void;
  /** Someone is no longer a friend: a direct session with them must not outlive that. */
  unfriended(user: string): void;
}

const SEEN_LIMIT = 50_000;
const utf8 = new TextEncoder();

/** A name a control message can carry; the registry could not even read a request with another. */
export function fitsWire(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_CHARS;
}

/** The stored form of a typed user or group name, or `notFound` when the wire cannot carry it. */
function wireName(raw: string, notFound: () => HallwayError): string {
  const name = raw.trim().toLowerCase();
  if (!fitsWire(name)) throw notFound();
  return name;
}

const noUser = () => new HallwayError("AUTH_UNKNOWN_USER", "no user by that name");
const noGroup = () => new HallwayError("GROUP_UNKNOWN", "no group by that name");

/** Remembers the last `SEEN_LIMIT` ids. */
class SeenIds {
  private readonly ids = new Set<string>();
  /** True the first time an id is offered. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > SEEN_LIMIT) {
      const first = this.ids.values().next().value;
      if (first !== undefined) this.ids.delete(first);
    }
    return true;
  }
}

export class SocialClient {
  private readonly seenNotices = new SeenIds();
  private readonly groupAcks = new Map<string, number>();
  private ackScheduled = false;

  constructor(private readonly host: SocialHost) {}

  /** Handle a social push from the registry; false if `msg` is not one. */
  handlePush(msg: Control): boolean {
    switch (msg.t) {
      case "friend.incoming":
        this.host.emit({ event: "friend.request", from: msg.from, at: msg.at });
        return true;
      case "group.joinRequest":
        this.host.emit({ event: "group.joinRequest", group: msg.group, user: msg.user, at: msg.at });
        return true;
      case "group.joined":
        this.host.emit({ event: "group.joined", group: msg.group, user: msg.user });
        return true;
      case "group.message":
        this.onGroupMessages(msg.msgs);
        return true;
      case "notice":
        if (this.seenNotices.add(msg.id)) {
          if (msg.note.kind === "friend.removed") this.host.unfriended(msg.note.by);
          this.host.emit(noticeEvent(msg.note, this.host.me()));
        }
        this.host.request({ t: "notice.ack", ids: [msg.id] }).catch(() => {});
        return true;
      default:
        return false;
    }
  }

  /**
   * Group messages are recorded in the local log (once per group and seq) before their seq
   * is acknowledged: after any crash the registry's backlog starts at a seq the log has.
   */
  private onGroupMessages(msgs: readonly GroupMessageEntry[]): void {
    const events = msgs.map(
      (m): InboxEvent => ({
        event: "groupMessage",
        id: m.id,
        group: m.group,
        from: m.from,
        text: m.text,
        seq: m.seq,
        sentAt: m.sentAt,
      }),
    );
    this.host.receive(events, () => {
      for (const m of msgs)
        if (m.seq > (this.groupAcks.get(m.group) ?? 0)) this.groupAcks.set(m.group, m.seq);
      if (this.ackScheduled) return;
      this.ackScheduled = true;
      // One ack per group for a burst (a login backlog arrives in batches of many messages).
      this.host.runtime.soon(() => {
        this.ackScheduled = false;
        for (const [group, seq] of this.groupAcks) {
          this.host.request({ t: "group.ack", group, seq }).catch(() => {});
        }
        this.groupAcks.clear();
      });
    });
  }

  // ---- friends ------------------------------------------------------------------------

  async friendRequest(toRaw: string): Promise<PeerEvent> {
    const to = wireName(toRaw, noUser);
    const data = parse(
      friendRequestData,
      await this.host.request({ t: "friend.request", to }),
      "friend.request",
    );
    return { event: "ok", cmd: "friend.request", to, friends: data.friends };
  }

  async friendAccept(fromRaw: string): Promise<PeerEvent> {
    const from = wireName(fromRaw, noRequest);
    await this.host.request({ t: "friend.accept", from });
    return { event: "ok", cmd: "friend.accept", from };
  }

  async friendDecline(fromRaw: string): Promise<PeerEvent> {
    const from = wireName(fromRaw, noRequest);
    await this.host.request({ t: "friend.decline", from });
    return { event: "ok", cmd: "friend.decline", from };
  }

  async friendRemove(userRaw: string): Promise<PeerEvent> {
    const user = wireName(userRaw, () => new HallwayError("FRIEND_NOT_FRIENDS", "not a friend of yours"));
    await this.host.request({ t: "friend.remove", user });
    this.host.unfriended(user);
    return { event: "ok", cmd: "friend.remove", user };
  }

  /**
   * Friends, and friend requests both ways: every page of each list (the registry answers
   * at most `MAX_PAGE` of each per request), put together into one event.
   */
  async friends(): Promise<PeerEvent> {
    const first = parse(friendsData, await this.host.request({ t: "friends", limit: MAX_PAGE }), "friends");
    const { friends, incoming, outgoing } = first;
    for (let next = first.next; next !== undefined && Object.keys(next).length > 0; ) {
      const only = FRIEND_LISTS.filter((l) => next?.[l] !== undefined);
      const page = parse(
        friendsData,
        await this.host.request({ t: "friends", limit: MAX_PAGE, after: next, only }),
        "friends",
      );
      friends.push(...page.friends);
      incoming.push(...page.incoming);
      outgoing.push(...page.outgoing);
      next = page.next;
    }
    return { event: "friends", friends, incoming, outgoing };
  }

  /** The first `limit` users and groups matching `query` (one page is at most 500 of each). */
  async search(query: string, limit: number): Promise<PeerEvent> {
    const prefix = query.trim().toLowerCase().slice(0, MAX_NAME_CHARS);
    const { users, groups } = parse(
      searchData,
      await this.host.request({ t: "search", prefix, limit }),
      "search",
    );
    return { event: "search", query: prefix, users, groups };
  }

  // ---- groups -------------------------------------------------------------------------

  async groupCreate(groupRaw: string): Promise<PeerEvent> {
    const group = wireName(
      groupRaw,
      () => new HallwayError("GROUP_BAD_NAME", "group name must be 3–32 characters"),
    );
    await this.host.request({ t: "group.create", group });
    return { event: "ok", cmd: "group.create", group };
  }

  async groupJoin(groupRaw: string): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    await this.host.request({ t: "group.join", group });
    return { event: "ok", cmd: "group.join", group };
  }

  async groupAnswer(
    cmd: "group.approve" | "group.decline",
    groupRaw: string,
    userRaw: string,
  ): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    const user = wireName(userRaw, () => new HallwayError("GROUP_NO_REQUEST", "no such join request"));
    await this.host.request({ t: cmd, group, user });
    return { event: "ok", cmd, group, user };
  }

  async groupLeave(groupRaw: string): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    const data = parse(groupLeaveData, await this.host.request({ t: "group.leave", group }), "group.leave");
    return { event: "ok", cmd: "group.leave", group, deleted: data.deleted };
  }

  async groupMember(
    cmd: "group.remove" | "group.admin",
    groupRaw: string,
    userRaw: string,
  ): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    const user = wireName(userRaw, () => new HallwayError("GROUP_NOT_MEMBER", "not a member"));
    await this.host.request({ t: cmd, group, user });
    return { event: "ok", cmd, group, user };
  }

  /**
   * Resolves once the registry has stored the message and given it its seq. A lost registry
   * does not lose the message: it is sent again, with the same id, after the next login.
   */
  async groupSend(groupRaw: string, text: string): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    if (text.length === 0) throw new HallwayError("MSG_EMPTY", "message is empty");
    const bytes = utf8.encode(text).length;
    if (bytes > MAX_TEXT_BYTES) {
      throw new HallwayError("MSG_TOO_LARGE", `message is ${bytes} bytes; the limit is ${MAX_TEXT_BYTES}`);
    }
    const body = {
      t: "group.send",
      group,
      id: uuid(this.host.runtime),
      text,
      sentAt: this.host.runtime.wall(),
    } as const;
    for (;;) {
      try {
        const data = parse(groupSendData, await this.host.request(body), "group.send");
        const { id, text: sent, sentAt } = body;
        this.host.recordSent({
          event: "groupMessage",
          id,
          group,
          from: this.host.me(),
          text: sent,
          seq: data.seq,
          sentAt,
        });
        return { event: "group.sent", group, id: body.id, seq: data.seq };
      } catch (err) {
        const e = asHallwayError(err);
        if (e.code !== "REGISTRY_LOST" && e.code !== "REGISTRY_UNREACHABLE") throw e;
        await this.host.nextLogin();
      }
    }
  }

  async groupHistory(groupRaw: string, limit: number, beforeSeq?: number): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    // A page the registry cut to fit its message limit names where the rest continues.
    const messages: GroupMessageEntry[] = [];
    let before = beforeSeq;
    while (messages.length < limit) {
      const data = parse(
        groupHistoryData,
        await this.host.request({
          t: "group.history",
          group,
          limit: limit - messages.length,
          ...(before === undefined ? {} : { beforeSeq: before }),
        }),
        "group.history",
      );
      messages.unshift(...data.messages);
      if (data.nextBeforeSeq === undefined || data.messages.length === 0) break;
      before = data.nextBeforeSeq;
    }
    return { event: "group.history", group, messages };
  }

  /** Sets (text) or clears (null or empty) a group's description; its admin only. */
  async groupDescribe(groupRaw: string, description: string | null): Promise<PeerEvent> {
    const group = wireName(groupRaw, noGroup);
    await this.host.request({ t: "group.describe", group, description });
    return { event: "ok", cmd: "group.describe", group };
  }

  async groups(): Promise<PeerEvent> {
    const data = parse(groupsData, await this.host.request({ t: "groups" }), "groups");
    return { event: "groups", groups: data.groups };
  }

  // ---- profiles and suggestions -------------------------------------------------------

  async profileSet(patch: ProfilePatchWire): Promise<PeerEvent> {
    await this.host.request({ t: "profile.set", patch });
    return { event: "ok", cmd: "profile.set" };
  }

  async profileGet(userRaw?: string): Promise<PeerEvent> {
    const user = userRaw === undefined ? this.host.me() : wireName(userRaw, noUser);
    const data = parse(profileData, await this.host.request({ t: "profile.get", user }), "profile.get");
    return { event: "profile", ...data };
  }

  async suggest(limit: number): Promise<PeerEvent> {
    const data = parse(suggestData, await this.host.request({ t: "suggest", limit }), "suggest");
    return { event: "suggest", suggestions: data.suggestions };
  }
}

const noRequest = () => new HallwayError("FRIEND_NO_REQUEST", "no such friend request");

function noticeEvent(note: NoticeNote, me: string): PeerEvent {
  switch (note.kind) {
    case "friend.accepted":
    case "friend.declined":
    case "friend.removed":
      return { event: note.kind, by: note.by };
    case "group.joined":
      return { event: "group.joined", group: note.group, user: me };
    case "group.declined":
      return { event: "group.declined", group: note.group };
    case "group.removed":
      return { event: "group.removed", group: note.group, by: note.by };
    case "group.admin":
      return { event: "group.admin", group: note.group, user: me };
  }
}
