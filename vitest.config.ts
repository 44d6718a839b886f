import { defineConfig } from "vitest/config";

// The projects mirror the source tree (CONVENTIONS.md §7):
// - unit: pure code, no servers, fast;
// - integration: real Kafka (SASL_SSL/SCRAM-SHA-512) and DynamoDB Local, started once by the
//   global setup through localstack/ and shared by every test file (each test makes its own
//   topics and tables with a random suffix);
// - spark: our from_json/to_json compared with real PySpark (installed on the first run);
// - infra: CDK template assertions, synthesized offline.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Differential tests against real PySpark: one Spark run (global setup) over the parity
        // corpus, then our parser and encoder compared with what it wrote.
        test: {
          name: "spark",
          include: ["test/spark/**/*.test.ts"],
          globalSetup: ["test/spark/global-setup.ts"],
        },
      },
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          testTimeout: 120_000,
          // Synthesizing both stacks (esbuild bundles included) takes seconds, more on a busy machine.
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
