import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and bind real ports; two workers fit a 2-core box.
    maxWorkers: 2,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
