/**
 * The terminal UI's /commands: what each one needs and what it asks of the client. Answers
 * come back as PeerEvents and go through the same reducers as pushed events; failures become
 * one error line with the stable code.
 */

import { asHallwayError, HallwayError } from "../../errors.js";
import type { PeerClient, PeerEvent } from "../../peer/index.js";
import { parseAddressed } from "../addressed-line.js";
import { openFile } from "../open-file.js";
import { completePath } from "../path-complete.js";
import { parseProfileCommand } from "../profile-command.js";
import { parseSend } from "../send-command.js";
import { transferRowText } from "../transfer-text.js";
import { ACTION_PREFIX, currentBuffer, type Model, type Prompt } from "./model.js";
import {
  applyEvent,
  dropPrompt,
  messageQueued,
  namesLine,
  noteGroups,
  noteProfile,
  openBuffer,
  ownMessage,
  promptKey,
  type Recalled,
  recall,
  switchTo,
  systemLine,
} from "./reducers.js";
import { toggleSimple } from "./simple.js";

export interface CommandContext {
  model: Model;
  client: PeerClient;
  now(): number;
  /** Something changed the model: draw it (throttled). */
  changed(): void;
  quit(): void;
}

interface Command {
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
function recallFromLog(ctx: CommandContext, kind: "user" | "group", name: string): void {
  const key = kind === "group" ? `#${name.toLowerCase()}` : name.toLowerCase();
  const entries: Recalled[] = [];
  for (const e of ctx.client.localHistory(key, 50)) {
    if (e.event === "delivered") continue;
    const seq = e.event === "groupMessage" ? { seq: e.seq } : {};
    entries.push({ id: e.id, from: e.from, text: e.text, sentAt: e.sentAt, ...seq });
  }
  recall(ctx.model, kind, name, entries);
}

function target(ctx: CommandContext): { kind: "user" | "group"; name: string } | undefined {
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
function pickPrompt(m: Model, arg: string | undefined): Prompt | undefined {
  if (arg === undefined) return m.prompts[0];
  const a = arg.toLowerCase();
  return m.prompts.find(
    (p) =>
      (p.kind === "friend" && p.from === a) ||
      (p.kind === "group" && (p.user === a || `${p.group}/${p.user}` === a)) ||
      (p.kind === "file" && (p.id === arg || p.name === arg)),
  );
}

async function answer(ctx: CommandContext, args: string[], yes: boolean): Promise<PeerEvent | undefined> {
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

function chat(
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
async function setStatus(ctx: CommandContext, text: string): Promise<PeerEvent> {
  const answer = await ctx.client.social.profileSet({ statusText: text === "" ? null : text });
  noteProfile(ctx.model, { ...emptyProfile(ctx.model.me), statusText: text === "" ? null : text });
  return answer;
}

/** `/away [TEXT]`: the presence state, and TEXT as the status note (which `/back` clears again). */
async function goAway(ctx: CommandContext, note: string): Promise<PeerEvent> {
  const answer = await ctx.client.setPresence("away");
  if (note !== "") {
    await setStatus(ctx, note);
    ctx.model.awayNote = ctx.model.statusText;
  }
  return answer;
}

/** `/back`: online again; the note `/away TEXT` set goes too, one set by /status stays. */
async function comeBack(ctx: CommandContext): Promise<PeerEvent> {
  const answer = await ctx.client.setPresence("online");
  const m = ctx.model;
  if (m.awayNote !== "" && m.statusText === m.awayNote) await setStatus(ctx, "");
  m.awayNote = "";
  return answer;
}

function emptyProfile(user: string): PeerEvent & { event: "profile" } {
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

export const COMMANDS: Record<string, Command> = {
  "/help": {
    usage: "/help",
    help: "this list",
    args: 0,
    run: (ctx) => {
      for (const c of Object.values(COMMANDS)) {
        systemLine(ctx.model, `${c.usage.padEnd(22)} ${c.help}`, ctx.now(), ctx.model.current);
      }
      systemLine(
        ctx.model,
        "keys: Alt+1…9, Ctrl+N/Ctrl+P buffers; Alt+A next unread; PageUp/PageDown scroll (older history past the top); Alt+Y/Alt+N answer a prompt; Alt+I image previews on/off; Tab completes; Ctrl+A/E/W/K/U edit as in a shell; Ctrl+L redraws",
        ctx.now(),
        ctx.model.current,
      );
      return undefined;
    },
  },
  "/msg": {
    usage: "/msg NAME TEXT",
    help: "send TEXT to NAME and open the conversation",
    args: 2,
    run: (ctx, [name = "", text = ""]) => {
      switchTo(ctx.model, openBuffer(ctx.model, "user", name));
      return chat(ctx, { kind: "user", name }, text);
    },
  },
  "/me": {
    usage: "/me TEXT",
    help: 'an action: shows as "* you TEXT"',
    args: 1,
    run: (ctx, [text = ""]) => {
      const to = target(ctx);
      return to ? chat(ctx, to, `${ACTION_PREFIX}${text}`) : undefined;
    },
  },
  "/query": {
    usage: "/query NAME",
    help: "open the conversation with NAME and load its history",
    args: 1,
    run: (ctx, [name = ""]) => {
      switchTo(ctx.model, openBuffer(ctx.model, "user", name));
      recallFromLog(ctx, "user", name);
      learnStatus(ctx, name);
      return ctx.client.history(name, 50);
    },
  },
  "/g": {
    usage: "/g GROUP",
    help: "open the group's buffer and load its history",
    args: 1,
    run: (ctx, [group = ""]) => {
      const name = group.replace(/^#/, "");
      switchTo(ctx.model, openBuffer(ctx.model, "group", name));
      recallFromLog(ctx, "group", name);
      return ctx.client.social.groupHistory(name, 50);
    },
  },
  "/away": {
    usage: "/away [TEXT]",
    help: "mark yourself away (◐ in everyone's contacts), TEXT as your status; /away alone toggles",
    args: 0,
    run: (ctx, words) =>
      words.length === 0 && ctx.model.away ? comeBack(ctx) : goAway(ctx, words.join(" ")),
  },
  "/back": {
    usage: "/back",
    help: "back from away: online again",
    args: 0,
    run: (ctx) => comeBack(ctx),
  },
  "/status": {
    usage: "/status [TEXT]",
    help: "set (or clear) your status text",
    args: 0,
    run: (ctx, words) => setStatus(ctx, words.join(" ")),
  },
  "/add": {
    usage: "/add NAME",
    help: "ask NAME to be your friend",
    args: 1,
    run: (ctx, [name = ""]) => ctx.client.social.friendRequest(name),
  },
  "/accept": {
    usage: "/accept [NAME|N]",
    help: "accept a friend request, join request or file offer N (the oldest if none named)",
    args: 0,
    run: (ctx, args) => answer(ctx, args, true),
  },
  "/decline": {
    usage: "/decline [NAME|N]",
    help: "decline it",
    args: 0,
    run: (ctx, args) => answer(ctx, args, false),
  },
  "/friends": {
    usage: "/friends",
    help: "your friends and waiting requests",
    args: 0,
    run: (ctx) => ctx.client.social.friends(),
  },
  "/create": {
    usage: "/create GROUP",
    help: "start a group with you as its admin",
    args: 1,
    run: (ctx, [group = ""]) => ctx.client.social.groupCreate(group.replace(/^#/, "")),
  },
  "/join": {
    usage: "/join GROUP",
    help: "ask the group's admin to let you in",
    args: 1,
    run: (ctx, [group = ""]) => ctx.client.social.groupJoin(group.replace(/^#/, "")),
  },
  "/leave": {
    usage: "/leave GROUP",
    help: "leave a group",
    args: 1,
    run: (ctx, [group = ""]) => ctx.client.social.groupLeave(group.replace(/^#/, "")),
  },
  "/names": {
    usage: "/names [GROUP]",
    help: "the members of a group (this buffer's without GROUP)",
    args: 0,
    run: async (ctx, [arg]) => {
      const b = currentBuffer(ctx.model);
      const group = arg?.replace(/^#/, "").toLowerCase() ?? (b.kind === "group" ? b.name : undefined);
      if (group === undefined) {
        systemLine(
          ctx.model,
          "usage: /names GROUP (or /names in a group buffer)",
          ctx.now(),
          ctx.model.current,
        );
        return undefined;
      }
      const e = await ctx.client.social.groups();
      if (e.event !== "groups") return e;
      noteGroups(ctx.model, e);
      systemLine(ctx.model, namesLine(ctx.model, e, group), ctx.now(), ctx.model.current);
      return undefined;
    },
  },
  "/groups": {
    usage: "/groups",
    help: "your groups",
    args: 0,
    run: (ctx) => ctx.client.social.groups(),
  },
  "/describe": {
    usage: "/describe GROUP [TEXT]",
    help: "say what your group is for (its admin only); no TEXT clears it",
    args: 1,
    run: (ctx, _args, rest) => {
      const [group = "", ...words] = rest.split(/\s+/);
      return ctx.client.social.groupDescribe(group.replace(/^#/, ""), words.join(" "));
    },
  },
  "/send": {
    usage: "/send [NAME,…] PATH…",
    help: "offer files or folders to this buffer's person or group, or to NAME,… or #GROUP ('quotes', ~, file:// work)",
    args: 1,
    run: async (ctx, _args, rest) => {
      const { to, paths } = parseSend(rest);
      let names = to;
      if (names === undefined) {
        const here = target(ctx);
        if (!here) return undefined;
        // A group's members get it through the registry's drop box.
        names = [here.kind === "group" ? `#${here.name}` : here.name];
      }
      const people = names;
      // Every offer is tried; the first failure is shown (the others name their own transfers).
      const results = await Promise.allSettled(paths.map((path) => ctx.client.sendFileTo(people, path)));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      return undefined;
    },
  },
  "/cancel": {
    usage: "/cancel N",
    help: "stop transfer N (a number from /files, or a transfer id)",
    args: 1,
    run: (ctx, [ref = ""]) => {
      ctx.client.cancelFile(ref);
      return undefined;
    },
  },
  "/open": {
    usage: "/open N",
    help: "open received file N with the desktop's opener (xdg-open)",
    args: 1,
    run: (ctx, [ref = ""]) => {
      const m = ctx.model;
      const n = Number(ref.replace(/^#/, ""));
      const t = m.transfers.find((x) => x.n === n && x.direction === "receive" && x.path !== undefined);
      if (!t?.path)
        throw new HallwayError(
          "FILE_UNKNOWN_TRANSFER",
          `no received file ${ref}: /open N takes the number of one that arrived`,
        );
      systemLine(m, `opening ${JSON.stringify(t.name)} with ${openFile(t.path)}`, ctx.now(), m.current);
      return undefined;
    },
  },
  "/drops": {
    usage: "/drops",
    help: "the drop box: files you sent that someone has not taken, and files waiting for you",
    args: 0,
    run: (ctx) => ctx.client.dropList(),
  },
  "/drop": {
    usage: "/drop cancel|decline ID",
    help: "withdraw a file you left in the drop box, or refuse one left for you (ID from /drops)",
    args: 2,
    run: (ctx, [verb = "", ref = ""]) => {
      if (verb === "cancel") return ctx.client.dropCancel(ref);
      if (verb === "decline") return ctx.client.dropDecline(ref);
      systemLine(ctx.model, "usage: /drop cancel|decline ID", ctx.now(), ctx.model.current);
      return undefined;
    },
  },
  "/files": {
    usage: "/files",
    help: "transfers and their numbers",
    args: 0,
    run: (ctx) => {
      const rows = ctx.client.fileTransfers();
      if (rows.length === 0) systemLine(ctx.model, "no transfers", ctx.now(), ctx.model.current);
      for (const r of rows) systemLine(ctx.model, transferRowText(r).trim(), ctx.now(), ctx.model.current);
      return undefined;
    },
  },
  "/profile": {
    usage: "/profile [NAME] | /profile set FIELD [VALUE] | /profile visibility FIELD everyone|friends|nobody",
    help: "show a profile (yours without NAME), set a field of yours (no VALUE clears it), or who sees it",
    args: 0,
    run: async (ctx, words) => {
      const cmd = parseProfileCommand(words);
      if (cmd.kind === "get") return ctx.client.social.profileGet(cmd.user);
      await ctx.client.social.profileSet(cmd.patch);
      // The registry's answer shows what it stored (and, for a status text, the title follows).
      return ctx.client.social.profileGet();
    },
  },
  "/simple": {
    usage: "/simple",
    help: "toggle simple mode: every message in one list; @name text or #group text answers (F2 too)",
    args: 0,
    run: (ctx) => {
      toggleSimple(ctx.model);
      return undefined;
    },
  },
  "/search": {
    usage: "/search TEXT",
    help: "messages with TEXT in your conversations and groups (on the registry); people and groups by name",
    args: 1,
    run: async (ctx, words) => {
      const text = words.join(" ");
      // People and groups by name too, when TEXT could be one.
      if (!/\s/.test(text)) {
        ctx.client.social.search(text, 20).then(
          (e) => {
            if (e.event === "search" && e.users.length + e.groups.length > 0)
              applyEvent(ctx.model, e, ctx.now());
            ctx.changed();
          },
          () => {},
        );
      }
      return ctx.client.searchMessages(text, 20);
    },
  },
  "/jump": {
    usage: "/jump N",
    help: "open search result N at its message",
    args: 1,
    run: (ctx, [n = ""]) => {
      const m = ctx.model;
      const hit = m.searchHits[Number(n) - 1];
      if (!/^\d+$/.test(n) || !hit) {
        systemLine(m, `no search result ${n}; /search TEXT first`, ctx.now(), m.current);
        return undefined;
      }
      const group = hit.group;
      const i =
        group === undefined ? openBuffer(m, "user", hit.with ?? hit.from) : openBuffer(m, "group", group);
      switchTo(m, i);
      const b = currentBuffer(m);
      b.focus = hit.id;
      b.scrollRows = 0;
      if (b.lines.some((l) => l.id === hit.id)) return undefined;
      // The page that ends with the message (same-millisecond neighbours included).
      return group === undefined
        ? ctx.client.history(b.name, 50, { sentAt: hit.sentAt + 1, id: "00000000" })
        : ctx.client.social.groupHistory(group, 50, (hit.seq ?? 0) + 1);
    },
  },
  "/users": {
    usage: "/users",
    help: "who is registered and who is online",
    args: 0,
    run: (ctx) => ctx.client.users(),
  },
  "/lan": {
    usage: "/lan",
    help: "who is on this LAN (found over mDNS), and whether this is LAN mode (no registry)",
    args: 0,
    run: (ctx) => ctx.client.lanPeers(),
  },
  "/close": {
    usage: "/close",
    help: "close this buffer",
    args: 0,
    run: (ctx) => {
      const m = ctx.model;
      if (m.current === 0) return undefined;
      m.buffers.splice(m.current, 1);
      switchTo(m, Math.min(m.current, m.buffers.length - 1));
      return undefined;
    },
  },
  "/quit": {
    usage: "/quit",
    help: "log out and leave",
    args: 0,
    run: (ctx) => {
      ctx.quit();
      return undefined;
    },
  },
};

export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Splits "/cmd a b rest of line" into the command and `args` words, the last taking the rest. */
export function parseCommand(line: string, args: number): string[] {
  const words = line.trim().split(/\s+/).slice(1);
  if (args <= 0 || words.length <= args) return words;
  return [...words.slice(0, args - 1), words.slice(args - 1).join(" ")];
}

/**
 * Tab after `/send`: completes the path being typed. Returns the new input text and, when
 * several entries fit, their names to show; undefined when the line is not a /send.
 */
export function completeArgument(text: string): { text: string; matches: string[] } | undefined {
  if (!/^\/send\s/.test(text)) return undefined;
  const c = completePath(text);
  return { text: c.line, matches: c.matches };
}

/** Runs one submitted input line: a /command, or a message to the current buffer. */
export function runInput(ctx: CommandContext, raw: string): void {
  const line = raw.trim();
  if (line === "") return;
  const m = ctx.model;
  const fail = (err: unknown): void => {
    const e = asHallwayError(err);
    applyEvent(m, { event: "error", code: e.code, message: e.message }, ctx.now());
    ctx.changed();
  };
  const done = (e: PeerEvent | undefined): void => {
    if (e) applyEvent(m, e, ctx.now());
    ctx.changed();
  };
  let pending: Promise<PeerEvent | undefined> | PeerEvent | undefined;
  try {
    if (line.startsWith("/") && !line.startsWith("//")) {
      const word = line.split(/\s+/)[0] ?? "";
      const cmd = Object.hasOwn(COMMANDS, word) ? COMMANDS[word] : undefined;
      if (!cmd) {
        systemLine(m, `unknown command ${word}; /help lists them`, ctx.now(), m.current);
        return;
      }
      const args = parseCommand(line, cmd.args);
      if (args.length < cmd.args) {
        systemLine(m, `usage: ${cmd.usage}`, ctx.now(), m.current);
        return;
      }
      pending = cmd.run(ctx, args, line.slice(word.length).trim());
    } else if (m.simple) {
      // Simple mode has no current conversation: a message says where it goes.
      const to = parseAddressed(line);
      if (!to) {
        systemLine(
          m,
          "simple mode: start with @name or #group (F2 goes back to the buffers)",
          ctx.now(),
          m.current,
        );
        return;
      }
      pending = chat(ctx, to, to.text);
    } else {
      const to = target(ctx);
      if (!to) return;
      pending = chat(ctx, to, line.startsWith("//") ? line.slice(1) : line);
    }
  } catch (err) {
    fail(err);
    return;
  }
  Promise.resolve(pending).then(done, fail);
}
