import type { TestProject } from "vitest/node";
import { startPostgresCluster } from "./postgres.js";

/**
 * Global setup of the "postgres" test project: one PostgreSQL cluster for the whole run. Tests
 * get its URL as RINGFENCE_TEST_DB (test-store-setup.ts), and createTestStoreLocation() makes a
 * fresh database on it for every store.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPostgresCluster({ prefix: "rf-pg-test-" });
  project.provide("ringfenceTestDb", cluster.serverUrl);
  return () => cluster.stop();
}
