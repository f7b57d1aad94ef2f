/**
 * The terminal UI's /commands: what each one needs and what it asks of the client. Answers
 * come back as PeerEvents and go through the same reducers as pushed events; failures become
 * one error line with the stable code.
 */

import { asHallwayError } from "../../errors.js";
import type { PeerEvent } from "../../peer/index.js";
import { parseAddressed } from "../addressed-line.js";
import { completePath } from "../path-complete.js";
import { CHAT_COMMANDS } from "./chat-commands.js";
import { type Command, type CommandContext, chat, target } from "./command-kit.js";
import { FILE_COMMANDS } from "./file-commands.js";
import { applyEvent, systemLine } from "./reducers.js";
import { VIEW_COMMANDS } from "./view-commands.js";

export { type CommandContext, learnStatus } from "./command-kit.js";

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
  ...CHAT_COMMANDS,
  ...FILE_COMMANDS,
  ...VIEW_COMMANDS,
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
