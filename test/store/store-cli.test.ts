/**
 * The CLI on whichever backend the project gives (SQLite by default, PostgreSQL in the
 * "postgres" project): a connect scan of a listener on loopback is stored, and `hosts` reads it
 * back, through `--db` as a user would pass it. Needs `npm run build` (bin/ringfence.js runs dist/).
 */
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { freeLoopbackPort } from "../helpers/postgres.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

describe("CLI with --db from createTestStoreLocation()", () => {
  let where: TestStoreLocation;
  let server: Server;
  let openPort: number;
  let closedPort: number;
  let scope: string;

  beforeAll(async () => {
    where = await createTestStoreLocation("rf-store-cli-");
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    openPort = (server.address() as { port: number }).port;
    closedPort = await freeLoopbackPort();
    scope = join(where.dir, "scope.yaml");
    writeFileSync(scope, "allow:\n  - 127.0.0.1/32\n");
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await where.cleanup();
  });

  it("scans a loopback listener into the store and lists it with hosts", async () => {
    const scan = await runCli([
      "scan",
      "127.0.0.1",
      "-p",
      `${openPort},${closedPort}`,
      "--engine",
      "connect",
      "--scope",
      scope,
      "--checks",
      "none",
      "--progress",
      "none",
      "--json",
      "--db",
      where.location,
    ]);
    expect(scan.stderr).toBe("");
    expect(scan.code).toBe(0);
    const summary = JSON.parse(scan.stdout) as {
      scan: { id: string; status: string; probesDone: number };
      counts: Record<string, number>;
    };
    expect(summary.scan).toMatchObject({ status: "completed", probesDone: 2 });
    expect(summary.counts).toEqual({ open: 1, closed: 1, filtered: 0, "open|filtered": 0 });

    const hosts = await runCli(["hosts", "--json", "--db", where.location]);
    expect(hosts.code).toBe(0);
    expect(JSON.parse(hosts.stdout)).toEqual([
      expect.objectContaining({ address: "127.0.0.1", openPorts: [`tcp/${openPort}`] }),
    ]);
    const scans = await runCli(["scans", "--json", "--db", where.location]);
    expect(scans.code).toBe(0);
    expect(JSON.parse(scans.stdout)).toEqual([
      expect.objectContaining({ id: summary.scan.id, status: "completed", probesDone: 2 }),
    ]);
  });

  it("reports an unreachable PostgreSQL server in one line, exit 4, without the password", async () => {
    const port = await freeLoopbackPort();
    const result = await runCli([
      "hosts",
      "--db",
      `postgres://scanner:s3cret-pw@127.0.0.1:${port}/rf`,
    ]);
    expect(result.code).toBe(4);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain(`cannot use postgres://scanner@127.0.0.1:${port}/rf`);
    expect(result.stderr).not.toContain("s3cret-pw");
    expect(result.stdout).toBe("");
  });
});
