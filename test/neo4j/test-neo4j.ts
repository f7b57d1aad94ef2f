/**
 * What a Neo4j test file uses to reach the run's Neo4j: the server the global setup started
 * (`global-setup.ts`) or the one `HALLWAY_NEO4J_URI` names, and `describeNeo4j`, which gates a
 * suite on it:
 *
 * - a server is there: the suite runs, its title says where;
 * - no server, and CI=true or the cause is anything but a missing Java or Maven: every test of
 *   the suite fails with the reason (a Neo4j test that skips in CI tests nothing);
 * - Java or Maven is missing outside CI: the suite is skipped, its title and a warning say why.
 *
 * Neo4j test files have `neo4j` in their file name: that is how the global setup knows whether
 * a run needs the server at all.
 */

import { beforeEach, describe, inject } from "vitest";
import type { Neo4jConnection } from "../../src/server/store/index.js";
import type { TestNeo4jContext } from "./context.js";

/** The run's Neo4j, as the global setup left it. */
export function testNeo4j(): TestNeo4jContext {
  const provided = inject("neo4j") as TestNeo4jContext | undefined;
  return (
    provided ?? {
      kind: "unavailable",
      reason: "the global setup test/neo4j/global-setup.ts did not run (is vitest.config.ts in use?)",
      maySkip: false,
    }
  );
}

/** The connection of a ready Neo4j; throws the reason otherwise. */
export function testNeo4jConnection(): Neo4jConnection {
  const neo4j = testNeo4j();
  if (neo4j.kind !== "ready") throw new Error(`no Neo4j for this test: ${neo4j.reason}`);
  return neo4j.connection;
}

/** A `describe` that runs against the run's Neo4j, or fails or skips as the header says. */
export function describeNeo4j(title: string, body: () => void): void {
  const neo4j = testNeo4j();
  if (neo4j.kind === "ready") {
    describe(`${title} (${neo4j.source} at ${neo4j.connection.uri})`, body);
    return;
  }
  if (neo4j.maySkip && process.env.CI !== "true") {
    console.warn(`SKIPPED ${title}: ${neo4j.reason}`);
    describe.skip(`${title} (SKIPPED: ${neo4j.reason})`, body);
    return;
  }
  describe(`${title} (no Neo4j: ${neo4j.reason})`, () => {
    beforeEach(() => {
      const why = neo4j.maySkip
        ? `${neo4j.reason}; CI=true, so this fails instead of skipping`
        : neo4j.reason;
      throw new Error(`no Neo4j for this test: ${why}`);
    });
    body();
  });
}
