/**
 * The `hallway` command's option values: each parser turns one argument into its value or
 * throws `InvalidArgumentError` (commander prints it as a usage error), and the server's
 * store, office room and limits are assembled from its options here. No side effects beyond
 * reading the `--limits` file.
 */

import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";
import { asHallwayError, HallwayError } from "../errors.js";
import { parseServerAddress } from "../peer/index.js";
import {
  type Limits,
  LOG_LEVELS,
  type LogLevel,
  type OfficeRoomOptions,
  POLICIES,
  type Policy,
  resolveLimits,
  type ServerStore,
} from "../server/index.js";

export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** HOST:PORT or HOST; a colon left in the host is a mistyped port, not part of a host name. */
export function serverOption(value: string): string {
  let host: string;
  try {
    host = parseServerAddress(value).host;
  } catch (err) {
    throw new InvalidArgumentError(asHallwayError(err).message);
  }
  if (host.includes(":") && !value.trim().startsWith("[")) {
    throw new InvalidArgumentError(`'${value}' is not HOST:PORT`);
  }
  return value;
}

const NEO4J_SCHEMES = ["bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"];

export function storeKindOption(value: string): "sqlite" | "neo4j" {
  if (value === "sqlite" || value === "neo4j") return value;
  throw new InvalidArgumentError("--store must be sqlite or neo4j");
}

export function logLevelOption(value: string): LogLevel | "off" {
  const level = [...LOG_LEVELS, "off" as const].find((l) => l === value);
  if (level === undefined)
    throw new InvalidArgumentError(`--log-level must be ${LOG_LEVELS.join(", ")} or off`);
  return level;
}

export function policyOption(value: string): Policy {
  const policy = POLICIES.find((p) => p === value);
  if (policy === undefined) throw new InvalidArgumentError(`--policy must be ${POLICIES.join(" or ")}`);
  return policy;
}

export function officeRoomOption(value: string): "open" | "announce" {
  if (value === "open" || value === "announce") return value;
  throw new InvalidArgumentError("--office-room must be open or announce (--no-office-room turns it off)");
}

/** The office room from `--office-room`, `--no-office-room`, `--admin` and `--office-backlog`. */
export function officeRoomOptions(opts: {
  officeRoom: "open" | "announce" | false;
  admin?: string;
  officeBacklog: number;
}): OfficeRoomOptions {
  const admin = opts.admin?.trim().toLowerCase();
  if (opts.officeRoom === "announce" && !admin) {
    throw new HallwayError(
      "CLI_BAD_ARGS",
      "--office-room announce needs --admin NAME: who may write in #all",
    );
  }
  return {
    mode: opts.officeRoom === false ? "off" : opts.officeRoom,
    ...(admin ? { admin } : {}),
    backlogWindow: opts.officeBacklog,
  };
}

export function neo4jUriOption(value: string): string {
  const scheme = /^([a-z0-9+]+):\/\/[^/]/i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined || !NEO4J_SCHEMES.includes(scheme)) {
    throw new InvalidArgumentError("expected bolt://HOST[:PORT] or neo4j://HOST[:PORT] (+s for TLS)");
  }
  return value;
}

export const NEO4J_REGISTRY_HELP =
  "this registry's data in a Neo4j database shared with others (default: hallway)";

export function neo4jRegistryOption(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw new InvalidArgumentError("expected 1-64 letters, digits, '.', '_' or '-'");
  }
  return value;
}

export interface StoreArgs {
  store: "sqlite" | "neo4j";
  init?: boolean;
  neo4jUri?: string;
  neo4jUser?: string;
  neo4jDatabase?: string;
  neo4jRegistry?: string;
}

/** The server's store from its options; the Neo4j password only ever comes from the environment. */
export function serverStore(args: StoreArgs, env: NodeJS.ProcessEnv): ServerStore {
  const neo4jFlags = [
    ["--neo4j-uri", args.neo4jUri],
    ["--neo4j-user", args.neo4jUser],
    ["--neo4j-database", args.neo4jDatabase],
    ["--neo4j-registry", args.neo4jRegistry],
  ].filter(([, v]) => v !== undefined);
  if (args.store === "sqlite") {
    if (neo4jFlags.length > 0) {
      throw new HallwayError("CLI_BAD_ARGS", `${neo4jFlags.map(([f]) => f).join(", ")} needs --store neo4j`);
    }
    return { kind: "sqlite", ...(args.init ? { init: true } : {}) };
  }
  if (args.neo4jUri === undefined) {
    throw new HallwayError(
      "CLI_BAD_ARGS",
      "--store neo4j needs --neo4j-uri (bolt://HOST:7687 or neo4j://HOST:7687)",
    );
  }
  const password = env.HALLWAY_NEO4J_PASSWORD;
  if (password === undefined || password === "") {
    throw new HallwayError(
      "AUTH_NO_PASSWORD",
      "set HALLWAY_NEO4J_PASSWORD for --store neo4j (passwords are never taken from arguments)",
    );
  }
  return {
    kind: "neo4j",
    uri: args.neo4jUri,
    user: args.neo4jUser ?? "neo4j",
    password,
    ...(args.neo4jDatabase === undefined ? {} : { database: args.neo4jDatabase }),
    ...(args.neo4jRegistry === undefined ? {} : { registry: args.neo4jRegistry }),
  };
}

/** `--limits FILE`: the abuse limits of docs/security.md, from a JSON file of overrides. */
export function limitsFile(path: string): Limits {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new HallwayError(
      "CLI_BAD_ARGS",
      `cannot read --limits ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HallwayError("CLI_BAD_ARGS", `--limits ${path} is not JSON`);
  }
  return resolveLimits(json);
}
