/**
 * What the terminal UI's /commands share: the context they run in, the shape of a command,
 * and the helpers several of them use (the conversation of the current buffer, sending a
 * message, answering a prompt, the status text and presence, recalling the local log).
 */

import type { PeerClient, PeerEvent } from "../../peer/index.js";
import { currentBuffer, type Model, type Prompt } from "./model.js";
import {
  dropPrompt,
  messageQueued,
  noteProfile,
  ownMessage,
  promptKey,
  type Recalled,
  recall,
  systemLine,
} from "./reducers.js";

export interface CommandContext {
  model: Model;
  client: PeerClient;
  now(): number;
  /** Something changed the model: draw it (throttled). */
  changed(): void;
  quit(): void;
}

export interface Command {
  usage: string;
  help: string;
  /** Words needed after the command; the last word takes the rest of the line. */
  args: number;
  /** `rest`: the line after the command word, as typed (for paths, which keep their spaces). */
  run(
    ctx: CommandContext,
    args: string[],
    rest: string,
  ): Promise<PeerEvent | undefined> | PeerEvent | undefined;
}

/** The user (or group) the current buffer talks to, or an error line when it is the status buffer. */
/** What the local log kept of the conversation, shown before the registry's page arrives. */
export function recallFromLog(ctx: CommandContext, kind: "user" | "group", name: string): void {
  const key = kind === "group" ? `#${name.toLowerCase()}` : name.toLowerCase();
  const entries: Recalled[] = [];
  for (const e of ctx.client.localHistory(key, 50)) {
    if (e.event === "delivered") continue;
    const seq = e.event === "groupMessage" ? { seq: e.seq } : {};
    entries.push({ id: e.id, from: e.from, text: e.text, sentAt: e.sentAt, ...seq });
  }
  recall(ctx.model, kind, name, entries);
}

export function target(ctx: CommandContext): { kind: "user" | "group"; name: string } | undefined {
  const b = currentBuffer(ctx.model);
  if (b.kind === "status") {
    systemLine(
      ctx.model,
      "this is the status buffer: /msg NAME TEXT or /query NAME opens a conversation",
      ctx.now(),
      0,
    );
    return undefined;
  }
  return { kind: b.kind, name: b.name };
}

/** The prompt /accept or /decline answers: the one named, else the oldest. */
export function pickPrompt(m: Model, arg: string | undefined): Prompt | undefined {
  if (arg === undefined) return m.prompts[0];
  const a = arg.toLowerCase();
  return m.prompts.find(
    (p) =>
      (p.kind === "friend" && p.from === a) ||
      (p.kind === "group" && (p.user === a || `${p.group}/${p.user}` === a)) ||
      (p.kind === "file" && (p.id === arg || p.name === arg)),
  );
}

export async function answer(
  ctx: CommandContext,
  args: string[],
  yes: boolean,
): Promise<PeerEvent | undefined> {
  const c = ctx.client;
  // A transfer's number (`/accept 3`): a file offer, or a whole folder.
  const n = /^#?\d{1,9}$/.test(args[0] ?? "") ? (args[0] as string).replace(/^#/, "") : undefined;
  if (n !== undefined) {
    if (yes) c.acceptFile(n);
    else c.declineFile(n);
    return undefined;
  }
  const p = pickPrompt(ctx.model, args[0]);
  if (!p) {
    // No prompt by that name: still a friend request the registry may know about.
    if (args[0]) return yes ? c.social.friendAccept(args[0]) : c.social.friendDecline(args[0]);
    systemLine(ctx.model, "nothing to answer", ctx.now(), ctx.model.current);
    return undefined;
  }
  if (p.kind === "friend") return yes ? c.social.friendAccept(p.from) : c.social.friendDecline(p.from);
  if (p.kind === "group")
    return c.social.groupAnswer(yes ? "group.approve" : "group.decline", p.group, p.user);
  dropPrompt(ctx.model, promptKey(p));
  if (yes) c.acceptFile(p.id);
  else c.declineFile(p.id);
  return undefined;
}

export function chat(
  ctx: CommandContext,
  to: { kind: "user" | "group"; name: string },
  text: string,
): Promise<PeerEvent | undefined> | undefined {
  if (to.kind === "group") return ctx.client.social.groupSend(to.name, text);
  const line = ownMessage(ctx.model, to.name, text, ctx.now());
  return ctx.client.send(to.name, text).then((id) => {
    messageQueued(ctx.model, line, id);
    return undefined;
  });
}

/** Own status text in the profile; the model follows once the registry has it. */
export async function setStatus(ctx: CommandContext, text: string): Promise<PeerEvent> {
  const answer = await ctx.client.social.profileSet({ statusText: text === "" ? null : text });
  noteProfile(ctx.model, { ...emptyProfile(ctx.model.me), statusText: text === "" ? null : text });
  return answer;
}

/** `/away [TEXT]`: the presence state, and TEXT as the status note (which `/back` clears again). */
export async function goAway(ctx: CommandContext, note: string): Promise<PeerEvent> {
  const answer = await ctx.client.setPresence("away");
  if (note !== "") {
    await setStatus(ctx, note);
    ctx.model.awayNote = ctx.model.statusText;
  }
  return answer;
}

/** `/back`: online again; the note `/away TEXT` set goes too, one set by /status stays. */
export async function comeBack(ctx: CommandContext): Promise<PeerEvent> {
  const answer = await ctx.client.setPresence("online");
  const m = ctx.model;
  if (m.awayNote !== "" && m.statusText === m.awayNote) await setStatus(ctx, "");
  m.awayNote = "";
  return answer;
}

export function emptyProfile(user: string): PeerEvent & { event: "profile" } {
  return {
    event: "profile",
    user,
    displayName: null,
    statusText: null,
    email: null,
    phone: null,
    department: null,
    note: null,
  };
}

/** Learns NAME's status text for the buffer title, quietly: a failure only means none is shown. */
export function learnStatus(ctx: { model: Model; client: PeerClient; changed(): void }, name?: string): void {
  ctx.client.social.profileGet(name).then(
    (e) => {
      if (e.event === "profile") noteProfile(ctx.model, e);
      ctx.changed();
    },
    () => {},
  );
}
