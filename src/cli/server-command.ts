/**
 * `hallway server`: its options, turned into a running registry by the registry process's
 * composition root (`main/registry.ts`: a log on stderr, a stop on SIGINT/SIGTERM), and its
 * subcommands `export`, `import` (moving between stores) and `audit` (reading the audit log).
 */

import type { Command } from "commander";
import { runRegistry } from "../main/registry.js";
import { defaultDataDir } from "../net/data-dir.js";
import {
  auditEvent,
  DEFAULT_OFFICE_BACKLOG,
  DEFAULT_PORT,
  DEFAULT_RELAY_BYTES_PER_SECOND,
  describeCounts,
  exportOffice,
  formatAuditLine,
  importOffice,
  type LogLevel,
  type Policy,
  parseAuditEvents,
  parseAuditTime,
  readAudit,
  type TransferSummary,
} from "../server/index.js";
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
  serverStore,
  storeKindOption,
} from "./options.js";
import { output } from "./process.js";

const SERVER_DATA_HELP = `data directory: identity key and registry.sqlite (default: ${defaultDataDir("server")})`;

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
      output.json = Boolean(opts.json);
      const summary = await exportOffice({
        store: serverStore(opts, process.env),
        dataDir: opts.data ?? defaultDataDir("server"),
        ...(opts.out === undefined ? {} : { file: opts.out }),
      });
      report("exported", summary, output.json, opts.out === undefined);
    });

  withStoreOptions(server.command("import").description("load an export into an empty store"))
    .option("--in <file>", "read from FILE instead of stdin")
    .action(async (opts: TransferArgs & { in?: string }) => {
      output.json = Boolean(opts.json);
      const summary = await importOffice({
        store: serverStore(opts, process.env),
        dataDir: opts.data ?? defaultDataDir("server"),
        ...(opts.in === undefined ? {} : { file: opts.in }),
      });
      report("imported", summary, output.json, false);
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
        output.json = Boolean(opts.json);
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

/** `hallway server` and its subcommands (export, import, audit). */
export function addServerCommand(program: Command): void {
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
        output.json = Boolean(opts.json);
        const officeRoom = officeRoomOptions(opts);
        const store = serverStore(opts, process.env);
        const limits = opts.limits === undefined ? undefined : limitsFile(opts.limits);
        // The signal handlers go in before `listening` is printed (main/registry.ts).
        const running = await runRegistry({
          host: opts.host,
          port: opts.port,
          ...(opts.data === undefined ? {} : { dataDir: opts.data }),
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
          logLevel: opts.logLevel,
          officeRoom,
        });
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
}
