/**
 * /commands of what the screen shows: profiles, simple mode, searching and jumping through
 * history, the user and LAN directories, closing a buffer, and quitting.
 */

import { parseProfileCommand } from "../profile-command.js";
import type { Command } from "./command-kit.js";
import { currentBuffer } from "./model.js";
import { applyEvent, openBuffer, switchTo, systemLine } from "./reducers.js";
import { toggleSimple } from "./simple.js";

export const VIEW_COMMANDS: Record<string, Command> = {
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
