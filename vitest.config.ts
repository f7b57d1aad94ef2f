import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and bind real ports; two workers fit a 2-core box.
    maxWorkers: 2,
    // One Neo4j for the run when it has Neo4j tests (or the one HALLWAY_NEO4J_URI names).
    globalSetup: ["test/neo4j/global-setup.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
