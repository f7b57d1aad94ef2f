#!/usr/bin/env node
/**
 * The `hallway` command: argument parsing only. Everything else lives in the composition
 * roots (server/index.ts, peer/index.ts) and the presenters (ui/).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import {
  intOption,
  limitsFile,
  logLevelOption,
  NEO4J_REGISTRY_HELP,
  neo4jRegistryOption,
  neo4jUriOption,
  officeRoomOption,
  officeRoomOptions,
  policyOption,
  type StoreArgs,
  serverOption,
  serverStore,
  serverText,
  storeKindOption,
} from "./cli/options.js";
import { asHallwayError, HallwayError } from "./errors.js";
import { defaultDataDir, ensureDataDir, PinStore } from "./net/data-dir.js";
import {
  createClient,
  defaultDownloadDir,
  findRegistry,
  isFingerprint,
  type PeerClient,
} from "./peer/index.js";
import { auditEvent, formatAuditLine, parseAuditEvents, parseAuditTime, readAudit } from "./server/audit.js";
import { describeCounts, exportOffice, importOffice, type TransferSummary } from "./server/export.js";
import {
  DEFAULT_OFFICE_BACKLOG,
  DEFAULT_PORT,
  DEFAULT_RELAY_BYTES_PER_SECOND,
  LOG_LEVELS,
  type LogLevel,
  type Policy,
  startServer,
} from "./server/index.js";
import {
  errorEvent,
  eventsFlushed,
  printEvent,
  printEventNow,
  printLineBreak,
  runJsonMode,
} from "./ui/json-mode.js";
import { runLineMode } from "./ui/line-mode.js";
import { readPassword } from "./ui/prompt.js";
import { runTui } from "./ui/tui/index.js";

let jsonOutput = process.argv.includes("--json");

/** One line for people, one JSON event for scripts; never a stack trace. */
function fatal(err: unknown): never {
  const e = asHallwayError(err);
  if (jsonOutput) printEventNow(errorEvent(e));
  else process.stderr.write(`hallway: ${e.message}\n`);
  process.exit(e.code === "CLI_BAD_ARGS" ? 2 : 1);
}

process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

/**
 * `hallway server export` and `hallway server import`: the same store options as the server,
 * and a file (or stdout/stdin). The summary is one line (a JSON event with `--json`), on stderr
 * when the export itself goes to stdout.
 */
function addStoreTransferCommands(server: Command): void {
  server.enablePositionalOptions();
  const withStoreOptions = (cmd: Command) =>
    cmd
      .option("--data <dir>", "data directory with registry.sqlite (default: the user's data dir)")
      .option("--store <kind>", "sqlite (in the data directory) or neo4j", storeKindOption, "sqlite")
      .option("--neo4j-uri <uri>", "Neo4j server: bolt://HOST:7687 or neo4j://HOST:7687", neo4jUriOption)
      .option("--neo4j-user <name>", "Neo4j user, password in HALLWAY_NEO4J_PASSWORD (default: neo4j)")
      .option("--neo4j-database <name>", "Neo4j database (default: the server's default database)")
      .option("--neo4j-registry <name>", NEO4J_REGISTRY_HELP, neo4jRegistryOption)
      .option("--json", "machine-readable summary and errors")
      .exitOverride();
  type TransferArgs = StoreArgs & { data?: string; json?: boolean };
  const report = (
    event: "exported" | "imported",
    summary: TransferSummary,
    json: boolean,
    toStderr: boolean,
  ) => {
    const line = json
      ? JSON.stringify({ event, records: summary.records, counts: summary.counts })
      : `${event} ${describeCounts(summary)}`;
    (toStderr ? process.stderr : process.stdout).write(`${line}\n`);
  };

  withStoreOptions(server.command("export").description("write every record of the store as JSON lines"))
    .option("--out <file>", "write to FILE instead of stdout")
    .action(async (opts: TransferArgs & { out?: string }) => {
      jsonOutput = Boolean(opts.json);
      const summary = await exportOffice({
        store: serverStore(opts, process.env),
        dataDir: opts.data ?? defaultDataDir("server"),
        ...(opts.out === undefined ? {} : { file: opts.out }),
      });
      report("exported", summary, jsonOutput, opts.out === undefined);
    });

  withStoreOptions(server.command("import").description("load an export into an empty store"))
    .option("--in <file>", "read from FILE instead of stdin")
    .action(async (opts: TransferArgs & { in?: string }) => {
      jsonOutput = Boolean(opts.json);
      const summary = await importOffice({
        store: serverStore(opts, process.env),
        dataDir: opts.data ?? defaultDataDir("server"),
        ...(opts.in === undefined ? {} : { file: opts.in }),
      });
      report("imported", summary, jsonOutput, false);
    });
}

/**
 * `hallway server audit`: the audit log, filtered, oldest first; one line per entry, or one
 * JSON event per entry with `--json`.
 */
function addAuditCommand(server: Command): void {
  server
    .command("audit")
    .description("read the audit log: logins, failed logins, replaced sessions, blocks")
    .option("--data <dir>", "data directory with registry.sqlite (default: the user's data dir)")
    .option("--store <kind>", "sqlite (in the data directory) or neo4j", storeKindOption, "sqlite")
    .option("--neo4j-uri <uri>", "Neo4j server: bolt://HOST:7687 or neo4j://HOST:7687", neo4jUriOption)
    .option("--neo4j-user <name>", "Neo4j user, password in HALLWAY_NEO4J_PASSWORD (default: neo4j)")
    .option("--neo4j-database <name>", "Neo4j database (default: the server's default database)")
    .option("--user <name>", "only this user's entries")
    .option("--since <time>", "from this time: a duration ago (30m, 12h, 7d) or a date")
    .option("--until <time>", "before this time: a duration ago or a date")
    .option("--event <list>", "only these events, comma-separated (login_failed,blocked,…)")
    .option("--limit <n>", "the newest N entries (default 1000)", intOption("--limit", 1, 1_000_000), 1000)
    .option("--json", "one JSON line per entry")
    .exitOverride()
    .action(
      async (
        opts: StoreArgs & {
          data?: string;
          user?: string;
          since?: string;
          until?: string;
          event?: string;
          limit: number;
          json?: boolean;
        },
      ) => {
        jsonOutput = Boolean(opts.json);
        const now = Date.now();
        const entries = await readAudit({
          store: serverStore(opts, process.env),
          dataDir: opts.data ?? defaultDataDir("server"),
          limit: opts.limit,
          ...(opts.user === undefined ? {} : { user: opts.user }),
          ...(opts.since === undefined ? {} : { since: parseAuditTime(opts.since, now, "--since") }),
          ...(opts.until === undefined ? {} : { until: parseAuditTime(opts.until, now, "--until") }),
          ...(opts.event === undefined ? {} : { events: parseAuditEvents(opts.event) }),
        });
        for (const e of entries) {
          process.stdout.write(`${opts.json ? JSON.stringify(auditEvent(e)) : formatAuditLine(e)}\n`);
        }
      },
    );
}

/** SIGINT and SIGTERM run `stop`, then exit; returns what removes the handlers again. */
function onSignals(stop: () => Promise<void>): () => void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

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
const SERVER_DATA_HELP = `data directory: identity key and registry.sqlite (default: ${defaultDataDir("server")})`;
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
      if (process.stdin.isTTY && process.stdout.isTTY) process.exit(await runTui(given));
      await runLineMode(given);
      process.exit(process.exitCode ?? 0);
    },
  );

const serverCommand = program
  .command("server")
  .description("run a registry on this machine")
  .option("--host <addr>", "address to bind", "0.0.0.0")
  .option("--port <n>", "UDP port (0: any free one)", intOption("--port", 0, 65535), DEFAULT_PORT)
  .option("--data <dir>", SERVER_DATA_HELP)
  .option("--name <name>", "name advertised over mDNS", "Hallway registry")
  .option("--no-mdns", "do not advertise over mDNS")
  .option(
    "--policy <policy>",
    "open: anyone may message anyone; friends: only friends may message or connect",
    policyOption,
    "open",
  )
  .option(
    "--store <kind>",
    "durable state: sqlite (in the data directory) or neo4j",
    storeKindOption,
    "sqlite",
  )
  .option(
    "--neo4j-uri <uri>",
    "Neo4j server: bolt://HOST:7687, or neo4j://HOST:7687 for a cluster",
    neo4jUriOption,
  )
  .option("--neo4j-user <name>", "Neo4j user, password in HALLWAY_NEO4J_PASSWORD (default: neo4j)")
  .option("--neo4j-database <name>", "Neo4j database (default: the server's default database)")
  .option("--neo4j-registry <name>", NEO4J_REGISTRY_HELP, neo4jRegistryOption)
  .option(
    "--relay-rate <bytes>",
    "bytes per second each user may send through the relay when no direct path works; 0 turns it off",
    intOption("--relay-rate", 0, 1_000_000_000),
    DEFAULT_RELAY_BYTES_PER_SECOND,
  )
  .option("--limits <file>", "JSON file overriding the abuse limits (docs/security.md)")
  .option(
    "--office-room <mode>",
    "#all, the room every user is in: open (everyone writes) or announce (only --admin writes)",
    officeRoomOption,
    "open",
  )
  .option("--no-office-room", "no #all room")
  .option("--admin <name>", "the registry's admin: the one who writes in #all under --office-room announce")
  .option(
    "--office-backlog <n>",
    "most #all messages a returning user gets at login (older ones stay in history)",
    intOption("--office-backlog", 0, 100_000),
    DEFAULT_OFFICE_BACKLOG,
  )
  .option(
    "--log-level <level>",
    "log lines on stderr from this level up: info (logins, logouts), warn (failed logins, replaced sessions, blocks), error, or off",
    logLevelOption,
    "info",
  )
  .option("--init", "an empty registry.sqlite is a deliberately new store (else STORE_CORRUPT)")
  .option(
    "--drop-max-file <bytes>",
    "drop box: largest file (default 256 MiB)",
    intOption("--drop-max-file", 0, 2 ** 50),
  )
  .option(
    "--drop-user-quota <bytes>",
    "drop box: what one sender's files may hold (default 2 GiB)",
    intOption("--drop-user-quota", 0, 2 ** 50),
  )
  .option(
    "--drop-total-quota <bytes>",
    "drop box: what it may hold in all (default 20 GiB)",
    intOption("--drop-total-quota", 0, 2 ** 50),
  )
  .option(
    "--drop-retention-days <n>",
    "drop box: days a file is kept for whoever has not taken it (default 14)",
    intOption("--drop-retention-days", 1, 3650),
  )
  .option(
    "--drop-rate <bytes>",
    "drop box: bytes per second each download from it may take (default: as fast as the path)",
    intOption("--drop-rate", 10_000, 100_000_000_000),
  )
  .option("--json", "machine-readable output")
  .exitOverride()
  .action(
    async (
      opts: {
        host: string;
        port: number;
        data?: string;
        name: string;
        mdns: boolean;
        policy: Policy;
        relayRate: number;
        limits?: string;
        logLevel: LogLevel | "off";
        json?: boolean;
        dropMaxFile?: number;
        dropUserQuota?: number;
        dropTotalQuota?: number;
        dropRetentionDays?: number;
        dropRate?: number;
        officeRoom: "open" | "announce" | false;
        admin?: string;
        officeBacklog: number;
      } & StoreArgs,
    ) => {
      jsonOutput = Boolean(opts.json);
      const officeRoom = officeRoomOptions(opts);
      const store = serverStore(opts, process.env);
      const limits = opts.limits === undefined ? undefined : limitsFile(opts.limits);
      const shown = opts.logLevel === "off" ? 0 : LOG_LEVELS.indexOf(opts.logLevel) + 1;
      const log = (line: string, level: LogLevel = "info") => {
        if (shown === 0 || LOG_LEVELS.indexOf(level) + 1 < shown) return;
        process.stderr.write(`${new Date().toISOString()} ${level} ${line}\n`);
      };
      // The handlers go in before `listening` is printed: a supervisor may stop the registry
      // the moment it says so, and a signal while it starts waits for the start to finish.
      const starting = startServer({
        host: opts.host,
        port: opts.port,
        dataDir: opts.data ?? defaultDataDir("server"),
        store,
        mdns: opts.mdns,
        name: opts.name,
        policy: opts.policy,
        relayBytesPerSecond: opts.relayRate,
        ...(limits === undefined ? {} : { limits }),
        dropLimits: {
          ...(opts.dropMaxFile === undefined ? {} : { maxFileBytes: opts.dropMaxFile }),
          ...(opts.dropUserQuota === undefined ? {} : { perUserBytes: opts.dropUserQuota }),
          ...(opts.dropTotalQuota === undefined ? {} : { totalBytes: opts.dropTotalQuota }),
          ...(opts.dropRetentionDays === undefined
            ? {}
            : { retentionMs: opts.dropRetentionDays * 86_400_000 }),
        },
        ...(opts.dropRate === undefined ? {} : { dropSendBytesPerSecond: opts.dropRate }),
        log,
        officeRoom,
      });
      onSignals(async () => {
        const started = await starting.catch(() => undefined);
        await started?.stop();
      });
      const running = await starting;
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ event: "listening", port: running.port, fingerprint: running.fingerprint, policy: running.policy })}\n`,
        );
      } else {
        process.stdout.write(
          `Hallway registry listening on UDP ${opts.host}:${running.port} (policy: ${running.policy})\nKey fingerprint: ${running.fingerprint}\n`,
        );
      }
    },
  );

addStoreTransferCommands(serverCommand);
addAuditCommand(serverCommand);

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
    jsonOutput = Boolean(opts.json);
    if (opts.forgetRegistry !== undefined) {
      const name = opts.forgetRegistry.trim();
      const pins = new PinStore(ensureDataDir(opts.data ?? defaultDataDir("client")));
      const forgotten = pins.forget(name);
      if (jsonOutput) printEventNow({ event: "ok", cmd: "forget-registry", registry: name, forgotten });
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
      // Line mode asks which registry when it finds several; --registry answers that up front.
      const chosen =
        want === undefined || opts.server ? opts.server : await findRegistry(undefined, { want });
      await runLineMode({
        announce: opts.announce,
        ...(chosen === undefined ? {} : { server: typeof chosen === "string" ? chosen : serverText(chosen) }),
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
    // No registry on the LAN (and none asked for by name): LAN mode (docs/discovery.md).
    const server = await findRegistry(opts.server, want === undefined ? {} : { want }).catch((err) => {
      if (want === undefined && asHallwayError(err).code === "REGISTRY_NOT_FOUND") return undefined;
      throw err;
    });
    const make = (register: boolean): PeerClient =>
      createClient({
        dataDir: opts.data ?? defaultDataDir("client"),
        ...(server === undefined ? {} : { server }),
        lan: { announce: opts.announce, registerIfMissing: Boolean(opts.registerIfMissing) },
        ...(registryFingerprint === undefined ? {} : { registryFingerprint }),
        user: opts.user as string,
        password,
        register,
        heartbeatMs: opts.heartbeatMs,
        directTimeoutMs: opts.directTimeoutMs,
        offerTimeoutMs: opts.offerTimeoutMs,
        pathRetryMs: opts.pathRetryMs,
        ...(opts.transferRate === undefined ? {} : { maxTransferRate: opts.transferRate }),
        ...(opts.maxFileSize === undefined ? {} : { maxFileBytes: opts.maxFileSize }),
        ...(opts.acceptFiles === undefined ? {} : { autoAcceptDir: resolve(opts.acceptFiles) }),
        ...(opts.downloadDir === undefined ? {} : { downloadDir: resolve(opts.downloadDir) }),
        onEvent: printEvent,
        onHandOverAgain: printLineBreak,
      });
    let client = make(Boolean(opts.register));
    // Lines still buffered go out first (a reader that stopped reading gets a second).
    const flushed = () => Promise.race([eventsFlushed(), new Promise<void>((r) => setTimeout(r, 1000))]);
    const bye = async () => {
      await flushed();
      await client.stop();
      printEvent({ event: "bye" });
      await flushed();
    };
    const unhook = onSignals(bye);
    try {
      await client.start();
    } catch (err) {
      await client.stop().catch(() => {});
      if (!opts.registerIfMissing || asHallwayError(err).code !== "AUTH_UNKNOWN_USER") throw err;
      client = make(true);
      try {
        await client.start();
      } catch (again) {
        await client.stop().catch(() => {});
        throw again;
      }
    }
    unhook();
    process.exit(await runJsonMode(client, { signals: true }));
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
    const code = await runTui({
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
