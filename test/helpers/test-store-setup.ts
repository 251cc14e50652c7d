import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** "sqlite", or the PostgreSQL server URL createTestStoreLocation() makes databases on. */
    ringfenceTestDb: string;
  }
}

// Set in each test worker from what its project provides (vitest.config.ts), never inherited:
// the two projects share one main process and its environment.
process.env["RINGFENCE_TEST_DB"] = inject("ringfenceTestDb");
