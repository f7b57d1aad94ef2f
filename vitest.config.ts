import { defineConfig } from "vitest/config";

/**
 * The tests by layer, each a Vitest project (`npx vitest run --project unit --project sim` runs
 * the fast ones from source, without a build):
 *
 * - `unit`: cores, codecs, files on temporary directories; no process, no build.
 * - `sim`: protocol cores and the session host on the seeded simulated network.
 * - `integration`: the built code as real processes on loopback (the CLI, `export`/`import`,
 *   SQLite stores killed mid-commit), and everything Neo4j: the tests against the test Neo4j
 *   (whose server the global setup starts once for the run) and Neo4j's Cypher linter over
 *   the catalogue (a minute of parsing).
 * - `netlab`: network namespaces, NAT and tmux (root and tools; they say why when they skip).
 *
 * `npm test` runs them all.
 *
 * The unit and sim projects share modules between the test files of a worker (`isolate:
 * false`): their tests build what they use and keep no state in modules, and loading the
 * source tree once per file was a third of their CPU time.
 */
const SIM = ["test/**/*.sim.test.ts", "test/sim/**/*.test.ts"];
const INTEGRATION = [
  "test/integration/**/*.test.ts",
  "test/**/*neo4j*.test.ts",
  "test/server/cypher-lint.test.ts",
  // These start the built CLI or kill a child running the built code.
  "test/server/export-import.test.ts",
  "test/server/sqlite-store.test.ts",
  "test/server/sqlite-group-commit.test.ts",
  "test/ui/default-command.test.ts",
  "test/peer/folder-send.test.ts",
  "test/media/preview-runner.test.ts",
];
const NETLAB = ["test/netlab/**/*.test.ts", "test/ui/tui-*.test.ts"];

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
          include: ["test/**/*.test.ts"],
          exclude: [...SIM, ...INTEGRATION, ...NETLAB],
        },
      },
      { extends: true, test: { name: "sim", isolate: false, include: SIM } },
      {
        extends: true,
        test: {
          name: "integration",
          include: INTEGRATION,
          exclude: NETLAB,
          // One Neo4j for the run when it has Neo4j tests (or the one HALLWAY_NEO4J_URI names).
          globalSetup: ["test/neo4j/global-setup.ts"],
        },
      },
      { extends: true, test: { name: "netlab", include: NETLAB } },
    ],
  },
});
