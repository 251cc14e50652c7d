import { rmSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "./cli.js";

/**
 * A fresh, empty store location for one test: a SQLite file in a scratch directory by default.
 * When RINGFENCE_TEST_DB names a PostgreSQL server (the "postgres" test project sets it), the
 * location is a new database on that server instead, so the same test runs on both backends.
 */
export interface TestStoreLocation {
  /** What `--db` and openStore() take. */
  readonly location: string;
  readonly dialect: "sqlite" | "postgres";
  /** A directory the test may also use for its own files. */
  readonly dir: string;
  cleanup(): Promise<void>;
}

export async function createTestStoreLocation(prefix = "rf-store-"): Promise<TestStoreLocation> {
  const { dir, cleanup } = scratchDir(prefix);
  const server = process.env["RINGFENCE_TEST_DB"];
  if (server === undefined || server === "" || server === "sqlite") {
    return {
      location: join(dir, "ringfence.db"),
      dialect: "sqlite",
      dir,
      cleanup: async () => {
        cleanup();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  // Filled in by the PostgreSQL backend work: a new database per call on RINGFENCE_TEST_DB.
  throw new Error(`RINGFENCE_TEST_DB=${server}: PostgreSQL test databases are not wired up yet`);
}
