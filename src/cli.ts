#!/usr/bin/env node
/**
 * The `hallway` command: arguments in, exit code out. It parses and checks the arguments,
 * picks the output mode (JSON or lines, a terminal UI or not) and turns any failure into one
 * line or one JSON event; the processes themselves are built by the composition roots in
 * `main/` (`peer.ts`, `registry.ts`; docs/architecture.md).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { intOption, serverOption } from "./cli/options.js";
import { output } from "./cli/process.js";
import { addServerCommand } from "./cli/server-command.js";
import { asHallwayError, HallwayError } from "./errors.js";
import { forgetRegistry, runJsonPeer, runLinePeer, runTuiPeer } from "./main/peer.js";
import { stdoutLines } from "./main/process.js";
import { defaultDataDir } from "./net/data-dir.js";
import { defaultDownloadDir, isFingerprint } from "./peer/index.js";
import { errorEvent } from "./ui/json-mode.js";
import { readPassword } from "./ui/prompt.js";

/** One line for people, one JSON event for scripts; never a stack trace. */
function fatal(err: unknown): never {
  const e = asHallwayError(err);
  if (output.json) stdoutLines.writeNow(errorEvent(e));
  else process.stderr.write(`hallway: ${e.message}\n`);
  process.exit(e.code === "CLI_BAD_ARGS" ? 2 : 1);
}

process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    const version = typeof pkg === "object" && pkg !== null && "version" in pkg ? pkg.version : undefined;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

const CLIENT_DATA_HELP = `data directory: identity and pinned registry keys (default: ${defaultDataDir("client")})`;
const DOWNLOAD_DIR_HELP = `where accepted files go (default: ${defaultDownloadDir()})`;
const PASSWORD_HELP = `
Environment:
  HALLWAY_PASSWORD   the account's password (else a masked prompt; never an argument)
  HALLWAY_HOME       moves the default data directories
`;

const program = new Command()
  .name("hallway")
  .description("Peer-assisted LAN messenger: find or host a registry, then chat peer to peer.")
  .version(packageVersion(), "--version", "print the version")
  .helpCommand(false)
  .option("--server <host:port>", "registry address (default: find one with mDNS)", serverOption)
  .option("--user <name>", "user name")
  .option("--data <dir>", CLIENT_DATA_HELP)
  .option("--download-dir <dir>", DOWNLOAD_DIR_HELP)
  .option("--no-notify", "no desktop notifications (notify-send) for messages out of view")
  .option(
    "--simple",
    "simple mode: every message in one list; @name text or #group text answers (F2 toggles)",
  )
  .option("--no-announce", "do not announce this peer on the LAN over mDNS (other peers are still found)")
  .addHelpText("after", PASSWORD_HELP)
  .enablePositionalOptions()
  .showSuggestionAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: () => {} })
  .action(
    async (opts: {
      server?: string;
      user?: string;
      data?: string;
      downloadDir?: string;
      notify?: boolean;
      simple?: boolean;
      announce?: boolean;
    }) => {
      const given = {
        notify: opts.notify !== false,
        announce: opts.announce !== false,
        ...(opts.simple ? { simple: true } : {}),
        ...(opts.server ? { server: opts.server } : {}),
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.data ? { dataDir: opts.data } : {}),
        ...(opts.downloadDir ? { downloadDir: resolve(opts.downloadDir) } : {}),
      };
      // The terminal UI needs a terminal both ways; a pipe or a file gets line mode.
      if (process.stdin.isTTY && process.stdout.isTTY) process.exit(await runTuiPeer(given));
      await runLinePeer(given);
      process.exit(process.exitCode ?? 0);
    },
  );

addServerCommand(program);

/** What a peer is started with, the same for `client` (line or JSON mode) and `tui`. */
interface PeerCliOptions {
  acceptFiles?: string;
  downloadDir?: string;
  server?: string;
  user?: string;
  register?: boolean;
  registerIfMissing?: boolean;
  data?: string;
  heartbeatMs: number;
  directTimeoutMs: number;
  offerTimeoutMs: number;
  pathRetryMs: number;
  transferRate?: number;
  maxFileSize?: number;
  /** `--no-announce`: browse the LAN, but do not announce this peer. */
  announce: boolean;
}

function withPeerOptions(cmd: Command): Command {
  return cmd
    .option("--server <host:port>", "registry address (default: find one with mDNS)", serverOption)
    .option("--user <name>", "user name")
    .option("--register", "create the account first")
    .option("--data <dir>", CLIENT_DATA_HELP)
    .option("--download-dir <dir>", DOWNLOAD_DIR_HELP)
    .option("--no-announce", "do not announce this peer on the LAN over mDNS (other peers are still found)")
    .option("--heartbeat-ms <n>", "heartbeat interval", intOption("--heartbeat-ms", 100, 600_000), 10_000)
    .option(
      "--direct-timeout-ms <n>",
      "wait this long for a receipt before storing a message at the registry",
      intOption("--direct-timeout-ms", 100, 60_000),
      3_000,
    )
    .option("--accept-files <dir>", "accept every file offer into DIR (else offers wait for an answer)")
    .option(
      "--offer-timeout-ms <n>",
      "a file offer nobody answers expires after this long",
      intOption("--offer-timeout-ms", 100, 86_400_000),
      600_000,
    )
    .option(
      "--path-retry-ms <n>",
      "while a peer is reached through the registry's relay, look for a direct path this often",
      intOption("--path-retry-ms", 500, 3_600_000),
      15_000,
    )
    .option(
      "--transfer-rate <bytes>",
      "send each file at most this many bytes per second (default: as fast as the path allows)",
      intOption("--transfer-rate", 10_000, 100_000_000_000),
    )
    .option(
      "--max-file-size <bytes>",
      "refuse offers of larger files with FILE_TOO_LARGE (default: 1 TiB)",
      intOption("--max-file-size", 1, Number.MAX_SAFE_INTEGER),
    )
    .addHelpText("after", PASSWORD_HELP);
}

withPeerOptions(
  program
    .command("client")
    .description("chat in plain lines in the terminal; --json for the headless mode used by scripts")
    .option("--json", "headless: JSON-line commands on stdin, JSON-line events on stdout")
    .option(
      "--register-if-missing",
      "with --json: log in, or create the account if there is none by that name",
    )
    .option(
      "--registry <name|fingerprint>",
      "of the registries mDNS finds, the one with this name or key fingerprint (a fingerprint is also checked in the handshake)",
    )
    .option(
      "--forget-registry <host:port>",
      "forget the key pinned for that registry (or every pin, if the pin file is damaged), then exit",
    ),
)
  .exitOverride()
  .action(async (opts: PeerCliOptions & { json?: boolean; registry?: string; forgetRegistry?: string }) => {
    output.json = Boolean(opts.json);
    if (opts.forgetRegistry !== undefined) {
      const name = opts.forgetRegistry.trim();
      const forgotten = forgetRegistry(name, opts.data);
      if (output.json)
        stdoutLines.writeNow({ event: "ok", cmd: "forget-registry", registry: name, forgotten });
      else
        process.stdout.write(
          forgotten
            ? `forgot the key of ${name}: the next connection pins the key it finds\n`
            : `no key pinned for ${name}\n`,
        );
      process.exit(0);
    }
    const want = opts.registry?.trim();
    if (want !== undefined && opts.server && !isFingerprint(want)) {
      throw new HallwayError(
        "CLI_BAD_ARGS",
        "--registry NAME picks among the registries mDNS finds; with --server, give a key fingerprint to check",
      );
    }
    const registryFingerprint = want !== undefined && isFingerprint(want) ? want.toLowerCase() : undefined;
    if (!opts.json) {
      await runLinePeer({
        announce: opts.announce,
        ...(opts.server ? { server: opts.server } : {}),
        ...(want === undefined ? {} : { want }),
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.data ? { dataDir: opts.data } : {}),
        ...(opts.downloadDir ? { downloadDir: resolve(opts.downloadDir) } : {}),
      });
      process.exit(process.exitCode ?? 0);
    }
    if (!opts.user) throw new HallwayError("CLI_BAD_ARGS", "--user is required with --json");
    const password = await readPassword();
    if (password === undefined) {
      throw new HallwayError(
        "AUTH_NO_PASSWORD",
        "set HALLWAY_PASSWORD (passwords are never taken from arguments)",
      );
    }
    if (opts.register && opts.registerIfMissing) {
      throw new HallwayError("CLI_BAD_ARGS", "--register and --register-if-missing: choose one");
    }
    process.exit(
      await runJsonPeer({
        ...(opts.data === undefined ? {} : { dataDir: opts.data }),
        ...(opts.server === undefined ? {} : { server: opts.server }),
        ...(want === undefined ? {} : { want }),
        lan: { announce: opts.announce, registerIfMissing: Boolean(opts.registerIfMissing) },
        ...(registryFingerprint === undefined ? {} : { registryFingerprint }),
        user: opts.user,
        password,
        register: Boolean(opts.register),
        registerIfMissing: Boolean(opts.registerIfMissing),
        heartbeatMs: opts.heartbeatMs,
        directTimeoutMs: opts.directTimeoutMs,
        offerTimeoutMs: opts.offerTimeoutMs,
        pathRetryMs: opts.pathRetryMs,
        ...(opts.transferRate === undefined ? {} : { maxTransferRate: opts.transferRate }),
        ...(opts.maxFileSize === undefined ? {} : { maxFileBytes: opts.maxFileSize }),
        ...(opts.acceptFiles === undefined ? {} : { autoAcceptDir: resolve(opts.acceptFiles) }),
        ...(opts.downloadDir === undefined ? {} : { downloadDir: resolve(opts.downloadDir) }),
      }),
    );
  });

withPeerOptions(
  program
    .command("tui")
    .description("the full-screen terminal UI (what a bare `hallway` opens in a terminal)"),
)
  .option("--no-notify", "no desktop notifications (notify-send) for messages out of view")
  .option(
    "--simple",
    "simple mode: every message in one list; @name text or #group text answers (F2 toggles)",
  )
  .exitOverride()
  .action(async (opts: PeerCliOptions & { notify?: boolean; simple?: boolean }) => {
    const code = await runTuiPeer({
      notify: opts.notify !== false,
      ...(opts.simple ? { simple: true } : {}),
      announce: opts.announce,
      ...(opts.server ? { server: opts.server } : {}),
      ...(opts.user ? { user: opts.user } : {}),
      ...(opts.data ? { dataDir: opts.data } : {}),
      ...(opts.acceptFiles === undefined ? {} : { autoAcceptDir: resolve(opts.acceptFiles) }),
      ...(opts.downloadDir === undefined ? {} : { downloadDir: resolve(opts.downloadDir) }),
      register: Boolean(opts.register),
      heartbeatMs: opts.heartbeatMs,
      directTimeoutMs: opts.directTimeoutMs,
      offerTimeoutMs: opts.offerTimeoutMs,
      pathRetryMs: opts.pathRetryMs,
      ...(opts.transferRate === undefined ? {} : { maxTransferRate: opts.transferRate }),
    });
    process.exit(code);
  });

program
  .command("help [command...]")
  .description("help for a command: hallway help server export")
  .action((words: string[]) => {
    let cmd: Command = program;
    for (const word of words) {
      const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
      if (sub === undefined) {
        const where = cmd === program ? "hallway" : `hallway ${cmd.name()}`;
        throw new HallwayError("CLI_BAD_ARGS", `${where} has no command '${word}' (hallway help lists them)`);
      }
      cmd = sub;
    }
    cmd.outputHelp();
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (["commander.helpDisplayed", "commander.help", "commander.version"].includes(err.code))
      process.exit(0);
    fatal(new HallwayError("CLI_BAD_ARGS", err.message.replace(/^error: /, "")));
  }
  fatal(err);
}
