/**
 * Line mode's chat loop: the prompt, its /commands (registry shortcuts, file commands, /open
 * of what arrived), Tab completion, and messages by `NAME: TEXT`, `@NAME` or `#GROUP`.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { PeerClient, PeerEvent } from "../peer/index.js";
import { type AddressedLine, parseAddressed } from "./addressed-line.js";
import { render, say } from "./line-mode-render.js";
import { openFile } from "./open-file.js";
import { completePath } from "./path-complete.js";
import type { LineInput } from "./prompt.js";
import { parseSend } from "./send-command.js";
import { transferRowText } from "./transfer-text.js";

export const HELP = [
  "  /msg NAME TEXT    send a message (or just type NAME: TEXT, or @NAME TEXT)",
  "  #GROUP TEXT       write to a group (as /g GROUP TEXT)",
  "  /users            who is registered and who is online (● online, ◐ away, ○ offline)",
  "  /away, /back      mark yourself away (still reachable), and back",
  "  /history NAME     the last 20 messages with NAME",
  "  /add NAME         ask NAME to be your friend (/accept NAME, /decline NAME answer)",
  "  /friends          your friends and waiting requests",
  "  /create GROUP     start a group; /join GROUP asks its admin to let you in",
  "  /approve GROUP NAME  let NAME into your group",
  "  /g GROUP TEXT     write to a group; /groups lists yours",
  "  /send NAME[,NAME…] PATH…  offer files or folders ('quotes', \\ escapes, ~ and file:// work; Tab completes)",
  "  /files            transfers and their numbers",
  "  /drops            the drop box (files to groups and to people offline: /send #GROUP PATH)",
  "  /drop cancel|decline ID  withdraw a file you left there, or refuse one left for you",
  "  /lan              who is on this LAN; LAN mode (no registry) says so",
  "  /accept N         accept file offer N (/decline N declines it; no N: the oldest)",
  "  /cancel N         stop transfer N",
  "  /open N           open received file N with the desktop's opener (xdg-open)",
  "  /help             this list",
  "  /quit             log out and leave",
].join("\n");

/** Line-mode shortcuts for registry commands (social, presence): how many words they need, and what they run. */
export const SOCIAL_COMMANDS: Record<
  string,
  { args: number; run(c: PeerClient, a: string[]): Promise<PeerEvent> }
> = {
  "/add": { args: 1, run: (c, a) => c.social.friendRequest(a[0] ?? "") },
  "/friends": { args: 0, run: (c) => c.social.friends() },
  "/create": { args: 1, run: (c, a) => c.social.groupCreate(a[0] ?? "") },
  "/join": { args: 1, run: (c, a) => c.social.groupJoin(a[0] ?? "") },
  "/approve": { args: 2, run: (c, a) => c.social.groupAnswer("group.approve", a[0] ?? "", a[1] ?? "") },
  "/groups": { args: 0, run: (c) => c.social.groups() },
  // The group's own groupMessage shows it; the answer needs no line.
  "/g": { args: 2, run: (c, a) => c.social.groupSend(a[0] ?? "", a.slice(1).join(" ")) },
  "/away": { args: 0, run: (c) => c.setPresence("away") },
  "/back": { args: 0, run: (c) => c.setPresence("online") },
};

type FileCommand = (
  client: PeerClient,
  rest: string,
  out: (text: string | undefined) => void,
  fail: (err: unknown) => void,
) => void;

/** A transfer's number (`3`, `#3`), else undefined (a name: a friend request). */
export function transferNumber(arg: string): string | undefined {
  return /^#?\d{1,9}$/.test(arg) ? arg.replace(/^#/, "") : undefined;
}

/** `/accept` and `/decline`: a file offer by number (the oldest without one), else a friend request. */
export function answer(yes: boolean): FileCommand {
  return (client, rest, out, fail) => {
    const n = rest === "" ? oldestOffer(client) : transferNumber(rest);
    if (n === undefined && rest !== "") {
      const run = yes ? client.social.friendAccept(rest) : client.social.friendDecline(rest);
      run.then((e) => out(render(e, client.user)), fail);
      return;
    }
    if (n === undefined) {
      out("  (nothing to answer)");
      return;
    }
    if (yes) client.acceptFile(n);
    else client.declineFile(n);
  };
}

export function oldestOffer(client: PeerClient): string | undefined {
  const row = client.fileTransfers().find((r) => r.direction === "receive" && r.state === "offered");
  return row === undefined ? undefined : String(row.n);
}

export const FILE_COMMANDS: Record<string, FileCommand> = {
  "/send": (client, rest, _out, fail) => {
    const { to, paths } = parseSend(rest);
    if (to === undefined) throw new HallwayError("CLI_BAD_COMMAND", "usage: /send NAME[,NAME…] PATH…");
    for (const path of paths) client.sendFileTo(to, path).catch(fail);
  },
  "/files": (client, _rest, out) => {
    const rows = client.fileTransfers();
    out(rows.length === 0 ? "  (no transfers)" : rows.map(transferRowText).join("\n"));
  },
  "/drops": (client, _rest, out, fail) => {
    client.dropList().then((e) => out(render(e, client.user)), fail);
  },
  "/drop": (client, rest, out, fail) => {
    const [verb, ref = ""] = rest.split(/\s+/);
    if (verb !== "cancel" && verb !== "decline")
      throw new HallwayError("CLI_BAD_COMMAND", "usage: /drop cancel|decline ID (/drops lists them)");
    (verb === "cancel" ? client.dropCancel(ref) : client.dropDecline(ref)).then(
      () => out(`  (${verb === "cancel" ? "withdrawn" : "declined"})`),
      fail,
    );
  },
  "/accept": answer(true),
  "/decline": answer(false),
  "/cancel": (client, rest) => {
    if (rest === "") throw new HallwayError("CLI_BAD_COMMAND", "usage: /cancel N (/files lists the numbers)");
    client.cancelFile(transferNumber(rest) ?? rest);
  },
};

/** Where each received file (or folder) is, by its number, for `/open N`; the newest 256. */
export class ReceivedFiles {
  private readonly paths = new Map<number, { name: string; path: string }>();

  note(e: PeerEvent & { event: "transfer" }): void {
    const path = e.batch?.path ?? e.path;
    if (e.direction !== "receive" || e.state !== "done" || path === undefined) return;
    this.paths.set(e.n, { name: e.batch?.name ?? e.name, path });
    if (this.paths.size > 256) this.paths.delete(this.paths.keys().next().value as number);
  }

  /** `/open N`: the line that says what was opened with what. */
  open(arg: string | undefined): string {
    const n = transferNumber(arg ?? "");
    const file = n === undefined ? undefined : this.paths.get(Number(n));
    if (!file)
      throw new HallwayError(
        "FILE_UNKNOWN_TRANSFER",
        `no received file ${arg ?? ""}: /open N takes the number of one that arrived`,
      );
    return `  opening ${JSON.stringify(file.name)} with ${openFile(file.path)}`;
  }
}

export const COMMAND_WORDS = [
  "/msg",
  "/open",
  "/users",
  "/lan",
  "/away",
  "/back",
  "/history",
  "/help",
  "/quit",
  ...Object.keys(FILE_COMMANDS),
];

/** Tab: a command name, or a path after /send. */
export function complete(line: string): [string[], string] {
  if (/^\/send\s/.test(line)) {
    const c = completePath(line);
    return [c.words, c.typed];
  }
  if (/^\/\S*$/.test(line)) {
    const words = [...COMMAND_WORDS, ...Object.keys(SOCIAL_COMMANDS)].filter((w) => w.startsWith(line));
    return [words.sort().map((w) => (words.length === 1 ? `${w} ` : w)), line];
  }
  return [[], line];
}

export function chatLoop(client: PeerClient, term: LineInput, received: ReceivedFiles): Promise<void> {
  return new Promise<void>((resolve) => {
    term.onClose(resolve);
    // A client that gave up (registry key changed, login refused) has printed why; leave.
    void client.failed.then(() => {
      process.exitCode = 1;
      term.close();
    });
    const out = (text: string | undefined) => {
      if (text) term.print(text);
    };
    const fail = (err: unknown) => out(`! ${asHallwayError(err).message}`);
    term.startPrompt("> ", (raw) => {
      const line = raw.trim();
      const [word, ...rest] = line.split(/\s+/);
      if (word !== undefined && Object.hasOwn(FILE_COMMANDS, word)) {
        try {
          (FILE_COMMANDS[word] as FileCommand)(client, line.slice(word.length).trim(), out, fail);
        } catch (err) {
          fail(err);
        }
        return term.prompt();
      }
      const social = Object.hasOwn(SOCIAL_COMMANDS, word ?? "") ? SOCIAL_COMMANDS[word ?? ""] : undefined;
      if (word === "/quit" || word === "/exit") return term.close();
      if (line === "") return term.prompt();
      if (word === "/help") say(HELP);
      else if (word === "/open") {
        try {
          out(received.open(rest[0]));
        } catch (err) {
          fail(err);
        }
      } else if (word === "/users") client.users().then((e) => out(render(e, client.user)), fail);
      else if (word === "/lan") out(render(client.lanPeers(), client.user));
      else if (word === "/history" && rest[0])
        client.history(rest[0], 20).then((e) => out(render(e, client.user)), fail);
      else if (social && rest.length >= social.args)
        social.run(client, rest).then((e) => out(render(e, client.user)), fail);
      else if (word === "/msg" && rest.length >= 2)
        client.send(rest[0] as string, rest.slice(1).join(" ")).catch(fail);
      else if (parseAddressed(line)) {
        const to = parseAddressed(line) as AddressedLine;
        if (to.kind === "group") client.social.groupSend(to.name, to.text).catch(fail);
        else client.send(to.name, to.text).catch(fail);
      } else if (/^[A-Za-z][\w.-]*:\s/.test(line)) {
        const i = line.indexOf(":");
        client.send(line.slice(0, i), line.slice(i + 1).trim()).catch(fail);
      } else say("! unknown command; /help lists them");
      term.prompt();
    });
  });
}
