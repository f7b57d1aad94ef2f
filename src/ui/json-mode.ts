/**
 * Headless mode: commands are JSON lines on stdin, events JSON lines on stdout.
 * Every failure is an `error` event with a stable code; nothing else is ever printed on
 * stdout. See docs/cli.md.
 *
 * Request ids: any command may carry `"id"` (a string of at most 128 characters, or an
 * integer), which comes back as `"id"` on its answer and on its error. The file answers
 * (`acceptFile`, `declineFile`, `cancelFile`) are the exception: their `id` names the
 * transfer, as before. Commands whose answer names a message or transfer of its own (`send`,
 * `sendFile`, `group.send`), or that had no answer (`connect`), answer an `ok` event
 * carrying the echo when given one.
 */

import { createInterface } from "node:readline";
import { z } from "zod";
import { asHallwayError, HallwayError } from "../errors.js";
import type { PeerClient, PeerEvent } from "../peer/index.js";
import { profilePatch, settablePresence } from "../protocol/control.js";
import type { JsonLineWriter } from "./json-lines.js";

const transferId = z.string().min(8).max(64);
const name = z.string().min(1).max(64);
const limit = (byDefault: number) => z.number().int().min(1).max(500).default(byDefault);

const command = z.discriminatedUnion("cmd", [
  z.object({ cmd: z.literal("send"), to: z.string().min(1).max(64), text: z.string() }),
  z.object({ cmd: z.literal("users") }),
  z.object({ cmd: z.literal("lan") }),
  z.object({
    cmd: z.literal("history"),
    with: z.string().min(1).max(64),
    limit: z.number().int().min(1).max(500).default(50),
    before: z.object({ sentAt: z.number().int().min(0), id: z.string().min(8).max(64) }).optional(),
  }),
  z.object({
    cmd: z.literal("sendFile"),
    // A person, or `#group` (through the registry's drop box).
    to: z.string().min(1).max(65),
    path: z.string().min(1).max(4096),
    // Hidden: the name to offer instead of the file's base name (tests of hostile names).
    as: z.string().min(1).max(255).optional(),
    // Through the registry's drop box even to people online (and to a group's members).
    via: z.literal("registry").optional(),
  }),
  z.object({ cmd: z.literal("acceptFile"), id: transferId, dir: z.string().min(1).max(4096).optional() }),
  z.object({ cmd: z.literal("declineFile"), id: transferId }),
  z.object({ cmd: z.literal("cancelFile"), id: transferId }),
  z.object({ cmd: z.literal("connect"), to: z.string().min(1).max(64) }),
  // The registry's drop box (files to groups and to people offline): list, withdraw, refuse.
  z.object({ cmd: z.literal("drops") }),
  z.object({ cmd: z.literal("dropCancel"), drop: z.string().min(1).max(64) }),
  z.object({ cmd: z.literal("dropDecline"), drop: z.string().min(1).max(64) }),
  z.object({ cmd: z.literal("presence"), status: settablePresence }),
  z.object({ cmd: z.literal("friend.request"), to: name }),
  z.object({ cmd: z.literal("friend.accept"), from: name }),
  z.object({ cmd: z.literal("friend.decline"), from: name }),
  z.object({ cmd: z.literal("friend.remove"), user: name }),
  z.object({ cmd: z.literal("friends") }),
  z.object({ cmd: z.literal("search"), query: z.string().max(64), limit: limit(20) }),
  z.object({ cmd: z.literal("group.create"), group: name }),
  z.object({ cmd: z.literal("group.join"), group: name }),
  z.object({ cmd: z.literal("group.approve"), group: name, user: name }),
  z.object({ cmd: z.literal("group.decline"), group: name, user: name }),
  z.object({ cmd: z.literal("group.leave"), group: name }),
  z.object({ cmd: z.literal("group.remove"), group: name, user: name }),
  z.object({ cmd: z.literal("group.admin"), group: name, user: name }),
  z.object({ cmd: z.literal("group.describe"), group: name, description: z.string().nullable() }),
  z.object({ cmd: z.literal("group.send"), group: name, text: z.string() }),
  z.object({
    cmd: z.literal("group.history"),
    group: name,
    limit: limit(50),
    beforeSeq: z.number().int().min(1).optional(),
  }),
  z.object({ cmd: z.literal("groups") }),
  profilePatch.extend({ cmd: z.literal("profile.set") }),
  z.object({ cmd: z.literal("profile.get"), user: name.optional() }),
  z.object({ cmd: z.literal("suggest"), limit: limit(10) }),
  z.object({ cmd: z.literal("quit") }),
]);

export type JsonCommand = z.infer<typeof command>;
const COMMAND_NAMES: ReadonlySet<string> = new Set(command.options.map((o) => o.shape.cmd.value));

export function errorEvent(err: unknown, extra: { cmd?: string; id?: string | number } = {}): PeerEvent {
  const e = asHallwayError(err);
  const retry = e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs };
  return { event: "error", code: e.code, message: e.message, ...retry, ...extra };
}

/** Commands whose `id` names a transfer, not the request. */
const TRANSFER_ID_COMMANDS: ReadonlySet<string> = new Set(["acceptFile", "declineFile", "cancelFile"]);
const requestId = z.union([
  z.string().max(128),
  z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
]);

/**
 * `{cmd, id}` of a line, as far as they can be read: so that the error of a line that
 * failed to parse still says which command and request it was.
 */
function commandNameOf(line: string): { cmd?: string; id?: string | number } {
  try {
    const raw: unknown = JSON.parse(line);
    if (typeof raw !== "object" || raw === null) return {};
    const cmd =
      "cmd" in raw && typeof raw.cmd === "string" && COMMAND_NAMES.has(raw.cmd) ? raw.cmd : undefined;
    const id = "id" in raw ? requestId.safeParse(raw.id) : undefined;
    return { ...(cmd === undefined ? {} : { cmd }), ...(id?.success ? { id: id.data } : {}) };
  } catch {
    return {};
  }
}

/** The request id of a parsed line (none for the file answers, whose `id` is the transfer). */
function requestIdOf(line: string): { id?: string | number } {
  const { cmd, id } = commandNameOf(line);
  return id === undefined || (cmd !== undefined && TRANSFER_ID_COMMANDS.has(cmd)) ? {} : { id };
}

/** Parse one input line into a command, or a CLI_BAD_COMMAND error. */
export function parseCommand(line: string): JsonCommand {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new HallwayError("CLI_BAD_COMMAND", "input is not a JSON object");
  }
  if (typeof raw === "object" && raw !== null && "id" in raw) {
    const cmd = "cmd" in raw ? raw.cmd : undefined;
    if (!(typeof cmd === "string" && TRANSFER_ID_COMMANDS.has(cmd)) && !requestId.safeParse(raw.id).success) {
      throw new HallwayError("CLI_BAD_COMMAND", "id: a string of at most 128 characters or an integer");
    }
  }
  const parsed = command.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HallwayError(
      "CLI_BAD_COMMAND",
      `${issue?.path.join(".") || "cmd"}: ${issue?.message ?? "invalid"}`,
    );
  }
  return parsed.data;
}

type SocialCommand = Exclude<
  JsonCommand,
  {
    cmd:
      | "send"
      | "users"
      | "lan"
      | "history"
      | "sendFile"
      | "acceptFile"
      | "declineFile"
      | "cancelFile"
      | "connect"
      | "drops"
      | "dropCancel"
      | "dropDecline"
      | "presence"
      | "quit";
  }
>;

/** The answer event of a social command (src/peer/social.ts). */
function runSocial(client: PeerClient, c: SocialCommand): Promise<PeerEvent> {
  const s = client.social;
  switch (c.cmd) {
    case "friend.request":
      return s.friendRequest(c.to);
    case "friend.accept":
      return s.friendAccept(c.from);
    case "friend.decline":
      return s.friendDecline(c.from);
    case "friend.remove":
      return s.friendRemove(c.user);
    case "friends":
      return s.friends();
    case "search":
      return s.search(c.query, c.limit);
    case "group.create":
      return s.groupCreate(c.group);
    case "group.join":
      return s.groupJoin(c.group);
    case "group.approve":
    case "group.decline":
      return s.groupAnswer(c.cmd, c.group, c.user);
    case "group.leave":
      return s.groupLeave(c.group);
    case "group.remove":
    case "group.admin":
      return s.groupMember(c.cmd, c.group, c.user);
    case "group.send":
      return s.groupSend(c.group, c.text);
    case "group.history":
      return s.groupHistory(c.group, c.limit, c.beforeSeq);
    case "groups":
      return s.groups();
    case "group.describe":
      return s.groupDescribe(c.group, c.description);
    case "profile.set": {
      const { cmd: _cmd, ...patch } = c;
      return s.profileSet(patch);
    }
    case "profile.get":
      return s.profileGet(c.user);
    case "suggest":
      return s.suggest(c.limit);
  }
}

/**
 * Run commands from stdin until `quit` or end of input, or until the client gives up by
 * itself; resolves with the exit status (1 if it gave up) once the client stopped. Events go
 * to `out` (stdout's writer, which the client's own events use too; `json-lines.ts`).
 */
export async function runJsonMode(
  client: PeerClient,
  out: JsonLineWriter,
  opts: { signals?: boolean } = {},
): Promise<number> {
  const printEvent = (e: PeerEvent): void => out.write(e);
  const eventsFlushed = (): Promise<void> => out.flushed();
  const rl = createInterface({ input: process.stdin, terminal: false });
  let quitting = false;
  let quitNow: () => void = () => {};
  // SIGTERM and SIGINT end the session like `quit`: logged out, then `bye`.
  const onSignal = (): void => quitNow();
  if (opts.signals) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
  const done = new Promise<number>((resolve) => {
    const quit = async (echo: { id?: string | number } = {}) => {
      if (quitting) return;
      quitting = true;
      rl.close();
      // Written first, so that what the presenter hands over is marked in the log.
      await eventsFlushed();
      await client.stop();
      printEvent({ event: "bye", ...echo });
      await eventsFlushed();
      resolve(0);
    };
    quitNow = () => void quit();
    // The client already printed the error event and stopped.
    void client.failed.then(() => {
      if (quitting) return;
      quitting = true;
      rl.close();
      void eventsFlushed().then(() => resolve(1));
    });
    rl.on("line", (line) => {
      if (quitting || line.trim() === "") return;
      let cmd: JsonCommand;
      try {
        cmd = parseCommand(line);
      } catch (err) {
        printEvent(errorEvent(err, commandNameOf(line)));
        return;
      }
      const echo = requestIdOf(line);
      const reply = (e: PeerEvent): void => printEvent({ ...e, ...echo } as PeerEvent);
      const failed =
        (name: string) =>
        (err: unknown): void =>
          printEvent(errorEvent(err, { cmd: name, ...echo }));
      /** The `ok` answer of a command that names what it made, when the command had an id. */
      const ok = (name: string, made: Record<string, string | number> = {}): void => {
        if (echo.id !== undefined) printEvent({ event: "ok", cmd: name, ...made, ...echo } as PeerEvent);
      };
      switch (cmd.cmd) {
        case "send":
          client.send(cmd.to, cmd.text).then((message) => ok("send", { message }), failed("send"));
          return;
        case "users":
          client.users().then(reply, failed("users"));
          return;
        case "lan":
          reply(client.lanPeers());
          return;
        case "history":
          client.history(cmd.with, cmd.limit, cmd.before).then(reply, failed("history"));
          return;
        case "sendFile":
          client
            .sendFile(cmd.to, cmd.path, cmd.as, cmd.via === undefined ? {} : { via: cmd.via })
            .then((n) => ok("sendFile", { n }), failed("sendFile"));
          return;
        case "acceptFile":
        case "declineFile":
        case "cancelFile":
          try {
            if (cmd.cmd === "acceptFile") client.acceptFile(cmd.id, cmd.dir);
            else if (cmd.cmd === "declineFile") client.declineFile(cmd.id);
            else client.cancelFile(cmd.id);
          } catch (err) {
            printEvent(errorEvent(err, { cmd: cmd.cmd, id: cmd.id }));
          }
          return;
        case "connect":
          client.connect(cmd.to).then(() => ok("connect"), failed("connect"));
          return;
        case "drops":
          client.dropList().then(reply, failed("drops"));
          return;
        case "dropCancel":
          client.dropCancel(cmd.drop).then(reply, failed("dropCancel"));
          return;
        case "dropDecline":
          client.dropDecline(cmd.drop).then(reply, failed("dropDecline"));
          return;
        case "presence":
          client.setPresence(cmd.status).then(reply, failed("presence"));
          return;
        case "quit":
          void quit(echo);
          return;
        case "group.send":
          runSocial(client, cmd).then((e) => {
            if (echo.id === undefined || e.event !== "group.sent") printEvent(e);
            else ok("group.send", { group: e.group, message: e.id, seq: e.seq });
          }, failed("group.send"));
          return;
        default:
          runSocial(client, cmd).then(reply, failed(cmd.cmd));
          return;
      }
    });
    rl.on("close", () => void quit());
  });
  const status = await done;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return status;
}
