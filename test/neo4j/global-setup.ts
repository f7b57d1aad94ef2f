/**
 * Vitest global setup: one Neo4j for the whole run, shared by every Neo4j test file (each test
 * works in a registry or an office of its own, so they do not collide).
 *
 * - `HALLWAY_NEO4J_URI` set: the tests use that server (`HALLWAY_NEO4J_USER`, default neo4j;
 *   `HALLWAY_NEO4J_PASSWORD`; optional `HALLWAY_NEO4J_DATABASE`); nothing is started.
 * - Otherwise, if the run has a Neo4j test file (`neo4j` in its name), the test server
 *   (`test/neo4j-server/`) is built if needed, started with a new password, warmed up
 *   (`warm-up.ts`), and stopped when the run ends.
 *
 * What the tests get is `inject("neo4j")` (see `test-neo4j.ts`); a server that cannot start is
 * reported there, not thrown here, so that the other tests still run and the Neo4j tests fail
 * (or, outside CI without Java or Maven, skip) with the reason.
 */

import { basename } from "node:path";
import type { TestProject } from "vitest/node";
import { NEO4J_TEST_FILE, type TestNeo4jContext } from "./context.js";
import { startTestNeo4j, type TestNeo4j, TestNeo4jUnavailable } from "./test-server.js";
import { warmUpNeo4j } from "./warm-up.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: TestNeo4j | undefined;
  project.provide("neo4j", await prepare(project, (s) => (server = s)));
  return async () => {
    await server?.stop();
  };
}

async function prepare(project: TestProject, started: (s: TestNeo4j) => void): Promise<TestNeo4jContext> {
  const uri = process.env.HALLWAY_NEO4J_URI;
  if (uri) {
    const password = process.env.HALLWAY_NEO4J_PASSWORD;
    if (!password) {
      return {
        kind: "unavailable",
        reason: "HALLWAY_NEO4J_URI is set but HALLWAY_NEO4J_PASSWORD is not",
        maySkip: false,
      };
    }
    const database = process.env.HALLWAY_NEO4J_DATABASE;
    return {
      kind: "ready",
      source: "HALLWAY_NEO4J_URI",
      connection: {
        uri,
        user: process.env.HALLWAY_NEO4J_USER || "neo4j",
        password,
        ...(database ? { database } : {}),
      },
    };
  }
  if (!(await runHasNeo4jTests(project))) {
    return { kind: "unavailable", reason: "no Neo4j test file in this run", maySkip: false };
  }
  const since = performance.now();
  try {
    const server = await startTestNeo4j();
    started(server);
    const connection = { uri: server.uri, user: server.user, password: server.password };
    await warmUpNeo4j(connection);
    const seconds = ((performance.now() - since) / 1000).toFixed(1);
    console.log(`test Neo4j on ${server.uri}, ready and warm after ${seconds} s`);
    return { kind: "ready", source: "test server", connection };
  } catch (err) {
    const unavailable = err instanceof TestNeo4jUnavailable;
    const reason = `the test Neo4j did not start: ${err instanceof Error ? err.message : String(err)}`;
    console.warn(reason);
    return { kind: "unavailable", reason, maySkip: unavailable };
  }
}

/**
 * Whether the files this run will execute include a Neo4j test, so that running one SQLite
 * test file does not start a JVM. The CLI's file filters are not public API in Vitest 4
 * (`filenamePattern`); without them every file counts, which errs towards starting the server.
 */
async function runHasNeo4jTests(project: TestProject): Promise<boolean> {
  const filters = (project.vitest as unknown as { filenamePattern?: unknown }).filenamePattern;
  const { testFiles } = await project.globTestFiles(
    Array.isArray(filters) && filters.every((f) => typeof f === "string") ? filters : undefined,
  );
  return testFiles.some((file) => NEO4J_TEST_FILE.test(basename(file)));
}
