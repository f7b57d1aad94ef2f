/**
 * /commands of conversations and people: messages, presence and status text, friends and
 * their requests, groups and their members.
 */

import {
  answer,
  type Command,
  chat,
  comeBack,
  goAway,
  learnStatus,
  recallFromLog,
  setStatus,
  target,
} from "./command-kit.js";
import { ACTION_PREFIX, currentBuffer } from "./model.js";
import { namesLine, noteGroups, openBuffer, switchTo, systemLine } from "./reducers.js";

export const CHAT_COMMANDS: Record<string, Command> = {
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
};
