import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "schemas/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/global-setup.ts"],
          setupFiles: ["test/support/quiet-warnings.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Integration files share one Kafka, one ElasticMQ and one PostgreSQL; two cores.
          maxWorkers: 2,
        },
      },
    ],
  },
});
