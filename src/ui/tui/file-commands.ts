/**
 * /commands of files: sending files and folders, cancelling, opening what arrived, the drop
 * box, the list of transfers.
 */

import { HallwayError } from "../../errors.js";
import { openFile } from "../open-file.js";
import { parseSend } from "../send-command.js";
import { transferRowText } from "../transfer-text.js";
import { type Command, target } from "./command-kit.js";
import { systemLine } from "./reducers.js";

export const FILE_COMMANDS: Record<string, Command> = {
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
};
