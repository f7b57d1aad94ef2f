/**
 * What the global setup hands the Neo4j tests (`inject("neo4j")`). No runtime import of
 * Vitest here: the global setup, which runs outside the test workers, imports this too.
 */

import type { Neo4jConnection } from "../../src/server/store/index.js";

export type TestNeo4jContext =
  | {
      kind: "ready";
      /** Where it came from, for titles: "test server" or "HALLWAY_NEO4J_URI". */
      source: string;
      connection: Neo4jConnection;
    }
  | {
      kind: "unavailable";
      reason: string;
      /** Only a missing Java or Maven, outside CI, may skip. */
      maySkip: boolean;
    };

declare module "vitest" {
  export interface ProvidedContext {
    neo4j: TestNeo4jContext;
  }
}

export const NEO4J_TEST_FILE = /neo4j/i;
