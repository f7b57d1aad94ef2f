import { defineConfig } from "vitest/config";

/**
 * The tests by layer, a folder and a Vitest project each (`npx vitest run --project unit
 * --project sim` runs the fast ones from source, without a build):
 *
 * - `test/unit/` (mirroring `src/`): cores, codecs, parts, files on temporary directories; no
 *   process, no build.
 * - `test/sim/`: the cores, the session host, the file transfers and the roles themselves
 *   (registry and peer clients) on seeded simulated networks in virtual time.
 * - `test/integration/`: the built code as real processes on loopback (the CLI, `export`/`import`,
 *   SQLite stores killed mid-commit), and everything Neo4j: the tests against the test Neo4j
 *   (whose server the global setup starts once for the run) and Neo4j's Cypher linter over
 *   the catalogue (a minute of parsing).
 * - `test/netlab/`: network namespaces, NAT and tmux (root and tools; they say why when they skip).
 *
 * `npm test` runs them all.
 *
 * The unit and sim projects share modules between the test files of a worker (`isolate:
 * false`): their tests build what they use and keep no state in modules, and loading the
 * source tree once per file was a third of their CPU time.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and bind real ports; two workers fit a 2-core box.
    maxWorkers: 2,
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          isolate: false,
          include: ["test/unit/**/*.test.ts"],
        },
      },
      { extends: true, test: { name: "sim", isolate: false, include: ["test/sim/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One Neo4j for the run when it has Neo4j tests (or the one HALLWAY_NEO4J_URI names).
          globalSetup: ["test/neo4j/global-setup.ts"],
        },
      },
      { extends: true, test: { name: "netlab", include: ["test/netlab/**/*.test.ts"] } },
    ],
  },
});
