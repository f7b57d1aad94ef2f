/**
 * The registry on Neo4j through the real CLI: `hallway server --store neo4j` with the run's
 * Neo4j (`test/neo4j/`), each test in a registry of its own (`--neo4j-registry`), which
 * `dropRegistries` deletes afterwards and nothing else, so the database may be shared.
 */

import { auth as neo4jAuth, driver as neo4jDriver } from "neo4j-driver";
import type { Neo4jConnection } from "../../src/server/store/index.js";
import { CYPHER } from "../../src/server/store/neo4j/cypher.js";
import { testNeo4jConnection } from "../neo4j/test-neo4j.js";
import { hallway, type Json, type Proc } from "./harness.js";

let registries = 0;
const made: Array<{ connection: Neo4jConnection; registry: string }> = [];

/** A registry name no other test or run uses; dropped by `dropRegistries`. */
export function newRegistryName(connection: Neo4jConnection = testNeo4jConnection()): string {
  const registry = `it-${process.pid}-${Date.now().toString(36)}-${++registries}`;
  made.push({ connection, registry });
  return registry;
}

/** The store options of `hallway server` (and export/import) for this registry. */
export function neo4jStoreArgs(
  registry: string,
  connection: Neo4jConnection = testNeo4jConnection(),
): string[] {
  return [
    "--store",
    "neo4j",
    "--neo4j-uri",
    connection.uri,
    "--neo4j-user",
    connection.user,
    "--neo4j-registry",
    registry,
    ...(connection.database === undefined ? [] : ["--neo4j-database", connection.database]),
  ];
}

/** The environment those commands need: the password, never on the command line. */
export function neo4jEnv(connection: Neo4jConnection = testNeo4jConnection()): Record<string, string> {
  return { HALLWAY_NEO4J_PASSWORD: connection.password };
}

export interface Neo4jRegistry {
  proc: Proc;
  port: number;
  registry: string;
}

/** `hallway server --store neo4j` on loopback; resolves once it listens. */
export async function startNeo4jRegistry(
  dataDir: string,
  opts: { registry: string; port?: number; connection?: Neo4jConnection; name?: string; extra?: string[] },
): Promise<Neo4jRegistry> {
  const connection = opts.connection ?? testNeo4jConnection();
  const proc = hallway(
    opts.name ?? "registry",
    [
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(opts.port ?? 0),
      "--data",
      dataDir,
      "--no-mdns",
      "--json",
      ...neo4jStoreArgs(opts.registry, connection),
      ...(opts.extra ?? []),
    ],
    neo4jEnv(connection),
  );
  const listening: Json = await proc.waitFor((e) => e.event === "listening", "listening", 60_000);
  return { proc, port: listening.port as number, registry: opts.registry };
}

/** Deletes every registry `newRegistryName` handed out (and only those). */
export async function dropRegistries(): Promise<void> {
  for (const { connection, registry } of made.splice(0)) {
    const driver = neo4jDriver(connection.uri, neo4jAuth.basic(connection.user, connection.password));
    try {
      const session = driver.session(
        connection.database === undefined ? {} : { database: connection.database },
      );
      try {
        await session.executeWrite((tx) => tx.run(CYPHER.deleteRegistry.text, { registry }));
      } finally {
        await session.close();
      }
    } catch {
      // A server that a test stopped for good has nothing left to clean.
    } finally {
      await driver.close();
    }
  }
}
