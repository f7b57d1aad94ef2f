/**
 * Plain line-mode chat (`hallway client` in a terminal, and a bare `hallway` whose output
 * is not a terminal): find or host a registry, log in or register, then chat with /commands.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import { defaultDataDir } from "../net/data-dir.js";
import type { LanPeerView } from "../peer/events.js";
import { createClient, type PeerClient, type PeerEvent } from "../peer/index.js";
import type { Address } from "../protocol/address.js";
import { type AddressedLine, parseAddressed } from "./addressed-line.js";
import { dropLine, dropsText } from "./drop-text.js";
import { openFile } from "./open-file.js";
import { completePath } from "./path-complete.js";
import { presenceMark } from "./presence-mark.js";
import { LineInput } from "./prompt.js";
import { givenRegistry, type HostedRegistry, hostRegistry, searchRegistries } from "./registry-choice.js";
import { parseSend } from "./send-command.js";
import { FolderLines, mediaLine, progressLine, transferRowText } from "./transfer-text.js";

export interface LineModeOptions {
  server?: string;
  user?: string;
  dataDir?: string;
  /** Where accepted files go (default: the user's download folder). */
  downloadDir?: string;
  /** Announce this peer on the LAN (default on; `--no-announce` turns it off). */
  announce?: boolean;
}

const HELP = [
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

function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 5);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function render(e: PeerEvent, me: string): string | undefined {
  switch (e.event) {
    case "message":
      return `[${clock(e.sentAt)}] ${e.from}${e.via === "offline" ? " (while you were away)" : ""}: ${e.text}`;
    case "delivered":
      return undefined;
    case "sent":
      return e.via === "offline" ? `  (${e.to} is away; the registry will deliver it)` : undefined;
    case "presence":
      return e.user === me ? undefined : `* ${e.user} is ${e.status}`;
    case "registry":
      return e.status === "lost"
        ? "* lost the registry; reconnecting…"
        : `* connected to ${e.address} (${e.fingerprint})`;
    case "ready":
      return `* logged in as ${e.user}. Type /help for commands.`;
    case "users":
      return e.users.map((u) => `  ${presenceMark(u.status)} ${u.name}`).join("\n");
    case "history":
      return (
        e.messages.map((m) => `  [${clock(m.sentAt)}] ${m.from}: ${m.text}`).join("\n") ||
        "  (no messages yet)"
      );
    case "error":
      return `! ${e.message}`;
    case "bye":
      return "* bye";
    case "friend.request":
      return `* ${e.from} asks to be your friend (/accept ${e.from} or /decline ${e.from})`;
    case "friend.accepted":
      return `* ${e.by} is now your friend`;
    case "friend.declined":
      return `* ${e.by} declined your friend request`;
    case "friend.removed":
      return `* ${e.by} removed you from their friends`;
    case "friends":
      return (
        [
          ...e.friends.map((f) => `  ${presenceMark(f.status)} ${f.name}`),
          ...e.incoming.map((r) => `  ? ${r.from} asks to be your friend`),
          ...e.outgoing.map((r) => `  … waiting for ${r.to}`),
        ].join("\n") || "  (no friends yet: /add NAME)"
      );
    case "group.joinRequest":
      return `* ${e.user} asks to join ${e.group} (/approve ${e.group} ${e.user})`;
    case "group.joined":
      return e.user === me ? `* you joined ${e.group}` : `* ${e.user} joined ${e.group}`;
    case "group.declined":
      return `* your request to join ${e.group} was declined`;
    case "group.removed":
      return `* ${e.by} removed you from ${e.group}`;
    case "group.admin":
      return `* you are now the admin of ${e.group}`;
    case "groupMessage":
      return `[${clock(e.sentAt)}] #${e.group} ${e.from}: ${e.text}`;
    case "groups":
      return (
        e.groups.map((g) => `  #${g.name} (${g.members.length}, admin ${g.admin})`).join("\n") ||
        "  (no groups)"
      );
    case "ok":
      if (e.cmd === "presence") return e.status === "away" ? "* you are away" : "* you are back";
      return e.cmd === "group.join" ? `  (asked the admin of ${e.group})` : undefined;
    case "drop":
      return `* ${dropLine(e.drop)}`;
    case "drops":
      return dropsText(e.sent, e.received);
    case "transfer":
      // Told by `FolderLines` in the chat loop (it keeps what a folder already said).
      return undefined;
    case "lan.mode":
      return e.lan
        ? "* LAN mode: no registry. You can chat and send files to people on this LAN (/lan lists them); messages to others wait until they appear or the registry is back"
        : "* the registry is back: LAN mode ends";
    case "lan.peer":
      if (e.state === "down") return `* ${e.user} left the LAN`;
      if (e.state === "changed" && !e.conflicting) return undefined;
      return `* ${lanText(e)}`;
    case "lan.peers":
      return [
        `  ${e.lan ? "LAN mode (no registry)" : "registry mode"}; ${e.announcing ? "announcing" : "not announcing"} this peer on the LAN`,
        ...e.peers.map((p) => `  ${lanText(p)}`),
        ...(e.peers.length === 0 ? ["  (nobody else on the LAN yet)"] : []),
      ].join("\n");
    case "queued":
      return `  (${e.to} is not on the LAN; the message waits until they appear)`;
  }
}

function lanText(p: LanPeerView): string {
  const conflict = p.conflicting
    ? " CONFLICT: another device announces this name with another key; neither is trusted"
    : "";
  return `${p.user} is on the LAN at ${p.address} (${p.presence}, key ${p.fingerprint})${conflict}`;
}

/** A registry to talk to (none: LAN mode), and the one this process hosts if it had to start one. */
interface Found {
  address?: Address;
  hosted?: HostedRegistry;
}

/** Undefined when input ended before the user answered. */
async function hostOrFind(
  server: string | undefined,
  term: LineInput,
  dataDir: string | undefined,
): Promise<Found | undefined> {
  if (server) return { address: givenRegistry(server).address };
  const [first] = await searchRegistries({ firstOnly: true });
  if (first) return { address: first.address };
  term.print("* No registry found on this network. Answer l to chat without one (LAN mode).");
  const answer = await term.ask("No registry found on this network. Host one on this machine? [Y/n] ");
  if (answer === undefined) return undefined;
  if (/^\s*l/i.test(answer)) return {};
  if (/^\s*n/i.test(answer)) throw new HallwayError("REGISTRY_NOT_FOUND", "no registry to connect to");
  const hosted = await hostRegistry(dataDir);
  term.print(
    `* hosting a registry on UDP port ${hosted.address.port}, key fingerprint ${hosted.fingerprint}`,
  );
  return { address: hosted.address, hosted };
}

/**
 * Runs until /quit, end of input, SIGTERM or SIGHUP. Whatever it started (the client, an
 * embedded registry) is stopped before it returns or throws, so the registry closes its
 * store and says goodbye over mDNS instead of vanishing with the process.
 */
export async function runLineMode(opts: LineModeOptions): Promise<void> {
  const term = new LineInput(process.stdin, process.stdout, complete);
  const leave = (): void => term.close();
  process.on("SIGTERM", leave);
  process.on("SIGHUP", leave);
  let hosted: HostedRegistry | undefined;
  let client: PeerClient | undefined;
  try {
    const found = await hostOrFind(opts.server, term, opts.dataDir);
    if (!found) return;
    hosted = found.hosted;
    const user = (opts.user ?? (await term.ask("User name: ")))?.trim();
    if (user === undefined) return;
    const password = process.env.HALLWAY_PASSWORD || (await term.askSecret("Password: "));
    if (password === undefined) return;
    // Registering after a refused login connects a second time; say "connected" once
    // unless the registry was lost in between.
    let connectedShown = false;
    const folders = new FolderLines();
    const received = new ReceivedFiles();
    const onEvent = (e: PeerEvent, handedOver?: () => void) => {
      if (e.event === "registry") {
        if (e.status === "connected" && connectedShown) return handedOver?.();
        connectedShown = e.status === "connected";
      }
      if (e.event === "transfer") {
        const told = folders.line(e);
        if (told) term.print(`* ${told}`);
        const media = mediaLine(e);
        if (media) term.print(`* ${media}`);
        received.note(e);
        if (client) term.status(progressLine(client.fileTransfers()));
        return handedOver?.();
      }
      const line = render(e, user.toLowerCase());
      if (line) term.print(line);
      handedOver?.();
    };
    const dataDir = opts.dataDir ?? defaultDataDir("client");
    const setup = {
      dataDir,
      ...(found.address === undefined ? {} : { server: found.address }),
      lan: { announce: opts.announce !== false },
      user,
      password,
      onEvent,
      ...(opts.downloadDir === undefined ? {} : { downloadDir: opts.downloadDir }),
    };
    client = createClient(setup);
    try {
      await client.start();
    } catch (err) {
      const e = asHallwayError(err);
      await client.stop();
      if (e.code !== "AUTH_UNKNOWN_USER") throw e;
      const yes = await term.ask(`No account '${user}' yet. Register it? [Y/n] `);
      if (yes === undefined) return;
      if (/^\s*n/i.test(yes)) throw e;
      client = createClient({ ...setup, register: true });
      await client.start();
    }
    await chatLoop(client, term, received);
  } finally {
    process.off("SIGTERM", leave);
    process.off("SIGHUP", leave);
    term.close();
    await client?.stop().catch(() => {});
    if (hosted) {
      await hosted.running.stop().catch(() => {});
      say("* stopped the registry");
    }
  }
  say("* bye");
}

/** Line-mode shortcuts for registry commands (social, presence): how many words they need, and what they run. */
const SOCIAL_COMMANDS: Record<string, { args: number; run(c: PeerClient, a: string[]): Promise<PeerEvent> }> =
  {
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
function transferNumber(arg: string): string | undefined {
  return /^#?\d{1,9}$/.test(arg) ? arg.replace(/^#/, "") : undefined;
}

/** `/accept` and `/decline`: a file offer by number (the oldest without one), else a friend request. */
function answer(yes: boolean): FileCommand {
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

function oldestOffer(client: PeerClient): string | undefined {
  const row = client.fileTransfers().find((r) => r.direction === "receive" && r.state === "offered");
  return row === undefined ? undefined : String(row.n);
}

const FILE_COMMANDS: Record<string, FileCommand> = {
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
class ReceivedFiles {
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

const COMMAND_WORDS = [
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
function complete(line: string): [string[], string] {
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

function chatLoop(client: PeerClient, term: LineInput, received: ReceivedFiles): Promise<void> {
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
