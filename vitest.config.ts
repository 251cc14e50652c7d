import { defineConfig } from "vitest/config";
import { postgresUnavailableReason } from "./test/helpers/postgres.js";

/**
 * Two projects, one run (`npm test`):
 * - "default": every test, stores on SQLite (as RINGFENCE_TEST_DB says, SQLite when unset);
 * - "postgres": the tests that make their stores with createTestStoreLocation(), each store a
 *   fresh database on a PostgreSQL 15 cluster that the project's global setup starts (and
 *   removes afterwards). Skipped, with the reason, where that cluster cannot be started.
 * Files run one at a time across both (fileParallelism: false sets a single worker).
 */
const shared = {
  // Suites share loopback ports, the lab namespace and nftables tables: run files one at a time.
  fileParallelism: false,
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

const postgresSkipped = postgresUnavailableReason();
if (postgresSkipped !== undefined) {
  process.stderr.write(`vitest: the "postgres" project is skipped: ${postgresSkipped}\n`);
}

/** Test files on both backends: those whose stores come from createTestStoreLocation(). */
const POSTGRES_INCLUDE = [
  "test/store/**/*.test.ts",
  "test/workflow/**/*.test.ts",
  "test/api/**/*.test.ts",
  "test/reports/**/*.test.ts",
  "test/import/**/*.test.ts",
];

/**
 * Not run again on PostgreSQL:
 * - SQLite-only: the file format, its header guard, crash consistency, SQLite's own locks;
 * - files whose subject is not the store, where the backend only holds a scan or two: pure
 *   rules and renderers, parser limits (refused before anything is written), the lab's persona
 *   switch, the server process's life cycle, the OpenAPI document, the rate limiter, the lab
 *   reports (the same report renderers read the store in report-cli, which does run on both),
 *   and CLI/API paths whose store calls the files that do run on both already make.
 *   Each still runs on SQLite in the default project.
 */
const POSTGRES_EXCLUDE = [
  "test/store/address-key.test.ts",
  "test/store/batch-statement.test.ts",
  "test/store/crash-consistency.test.ts",
  "test/store/open-store.test.ts",
  "test/workflow/evidence-rules.test.ts",
  "test/workflow/lab-patch.test.ts",
  "test/reports/burndown.test.ts",
  "test/reports/escaping.test.ts",
  "test/reports/lab-reports.test.ts",
  "test/import/hostile-import.test.ts",
  "test/api/serve-cli.test.ts",
  "test/api/openapi.test.ts",
  "test/api/rate-limit.test.ts",
  // The CLI's and the event stream's use of the store is the same as full-loop's and
  // authorization-matrix's, which do run on PostgreSQL; the lab scan is a bind-mode lab check.
  "test/workflow/workflow-cli.test.ts",
  "test/api/scan-events.test.ts",
  "test/api/lab-scan.test.ts",
];

export default defineConfig({
  test: {
    ...shared,
    projects: [
      {
        test: {
          ...shared,
          name: "default",
          include: ["test/**/*.test.ts"],
          setupFiles: ["test/helpers/test-store-setup.ts"],
          provide: { ringfenceTestDb: process.env["RINGFENCE_TEST_DB"] ?? "sqlite" },
        },
      },
      ...(postgresSkipped === undefined
        ? [
            {
              test: {
                ...shared,
                name: "postgres",
                include: POSTGRES_INCLUDE,
                exclude: POSTGRES_EXCLUDE,
                globalSetup: ["test/helpers/postgres-global-setup.ts"],
                setupFiles: ["test/helpers/test-store-setup.ts"],
              },
            },
          ]
        : []),
    ],
  },
});
