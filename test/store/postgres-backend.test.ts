/**
 * What only the PostgreSQL backend does: refuse databases that are not ours or are newer, say
 * why it cannot connect without showing the password, order writers of separate sessions, and
 * read bigint columns as numbers. The portable behaviour is covered by the other store tests,
 * which the "postgres" project runs on PostgreSQL too. The database tests run in that project
 * only; the error mapping (a pure function) runs in both.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LATEST_SCHEMA_VERSION, openStore, type Store } from "../../src/store/index.js";
import { translatePostgresError } from "../../src/store/postgres/postgres-errors.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { freeLoopbackPort } from "../helpers/postgres.js";
import { isPostgresLocation, probe, sqlCount, sqlRows, tableNames } from "./store-test-helpers.js";

const onPostgres = isPostgresLocation(process.env["RINGFENCE_TEST_DB"] ?? "");

describe.skipIf(!onPostgres)("PostgreSQL backend", () => {
  let where: TestStoreLocation;
  let url: string;
  beforeEach(async () => {
    where = await createTestStoreLocation();
    url = where.location;
  });
  afterEach(async () => {
    await where.cleanup();
  });

  it("refuses a database with other tables and leaves it as it was", async () => {
    await sqlRows(url, "create table customers (id integer primary key, name text)");
    await sqlRows(url, "insert into customers values (1, 'acme')");
    await expect(openStore(url)).rejects.toMatchObject({
      code: "RINGFENCE_DB_FOREIGN",
      message: expect.stringContaining("customers"),
    });
    expect(await tableNames(url)).toEqual(["customers"]);
    expect(await sqlRows(url, "select * from customers")).toEqual([{ id: 1, name: "acme" }]);
  });

  it("refuses a ringfence_meta that names another application", async () => {
    await sqlRows(url, "create table ringfence_meta (key text primary key, value text not null)");
    await sqlRows(url, "insert into ringfence_meta values ('application', 'other')");
    await expect(openStore(url)).rejects.toMatchObject({ code: "RINGFENCE_DB_FOREIGN" });
    expect(await tableNames(url)).toEqual(["ringfence_meta"]);
  });

  it("refuses a schema written by a newer ringfence, writing nothing", async () => {
    await (await openStore(url)).close();
    const newer = String(LATEST_SCHEMA_VERSION + 1);
    await sqlRows(url, "update ringfence_meta set value = ? where key = 'schema_version'", [newer]);
    const before = await tableNames(url);
    await expect(openStore(url)).rejects.toMatchObject({
      code: "RINGFENCE_DB_VERSION",
      message: expect.stringContaining(`schema version ${newer}`),
    });
    expect(await tableNames(url)).toEqual(before);
    expect(
      await sqlRows(url, "select value from ringfence_meta where key = 'schema_version'"),
    ).toEqual([{ value: newer }]);
  });

  it("says why it cannot connect in one line, without the password", async () => {
    // A loopback port nobody listens on.
    const port = await freeLoopbackPort();
    const refused = openStore(`postgres://scanner:s3cret-pw@127.0.0.1:${port}/rf`);
    await expect(refused).rejects.toMatchObject({
      code: "RINGFENCE_DB_UNAVAILABLE",
      message: `cannot use postgres://scanner@127.0.0.1:${port}/rf: connect ECONNREFUSED 127.0.0.1:${port}`,
    });

    // The server is up, the database is not there.
    const missing = new URL(url);
    missing.password = "s3cret-pw";
    missing.pathname = "/no_such_database";
    const error = await openStore(missing.toString()).then(
      () => new Error("opened a database that does not exist"),
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: "RINGFENCE_DB_UNAVAILABLE" });
    expect(error.message).toContain('database "no_such_database" does not exist');
    expect(error.message).not.toContain("s3cret-pw");
    expect(error.message).not.toContain("\n");
  });

  it("orders writers of separate sessions: no duplicate assets, no lost rows", async () => {
    // Different URL texts: two stores that share no in-process lock, as two processes would.
    const other = new URL(url);
    other.searchParams.set("application_name", "ringfence-second");
    const stores: Store[] = [await openStore(url), await openStore(other.toString())];
    try {
      const scans = await Promise.all(
        stores.map((store, i) =>
          store.createScan({ command: "scan", params: { i }, totalProbes: 2000 }),
        ),
      );
      // Both scans see the same 400 hosts answer for the first time, batch by batch.
      const addresses = Array.from({ length: 400 }, (_, i) => `10.20.${i >> 8}.${i & 255}`);
      await Promise.all(
        stores.map(async (store, i) => {
          for (let start = 0; start < addresses.length; start += 50) {
            const batch = addresses
              .slice(start, start + 50)
              .flatMap((address) => [
                probe(address, 445, "open"),
                probe(address, 135 + i, i === 0 ? "closed" : "filtered"),
              ]);
            await store.recordBatch(scans[i]!.id, batch, {
              step: start / 50 + 1,
              probesDone: start + 100,
              counts: {},
            });
          }
        }),
      );
      expect(await sqlCount(url, "select count(*) from assets")).toBe(400);
      expect(await sqlCount(url, "select count(*) from observations")).toBe(1600);
      // 445 once per host whichever scan wrote it, 135 closed from the first, 136 filtered from
      // the second (a filtered probe of an asset still gets its service row).
      expect(await sqlCount(url, "select count(*) from services")).toBe(1200);
      expect((await stores[1]!.listHosts({ port: 445 })).length).toBe(400);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it("reads bigint columns back as numbers", async () => {
    const store = await openStore(url);
    try {
      // A /8 times 1000 ports: past PostgreSQL's 32-bit integer.
      const scan = await store.createScan({
        command: "scan",
        params: {},
        totalProbes: 16_777_216_000,
      });
      expect((await store.requireScan(scan.id)).totalProbes).toBe(16_777_216_000);
      await store.recordBatch(scan.id, [probe("10.0.0.1", 445, "open")], {
        step: 1,
        probesDone: 1,
        counts: {},
      });
      expect(await store.observationCounts(scan.id)).toEqual({
        open: 1,
        closed: 0,
        filtered: 0,
        "open|filtered": 0,
      });
      const [finding] = await (async () => {
        await store.recordCheckRuns([
          {
            scanId: scan.id,
            address: "10.0.0.1",
            protocol: "tcp",
            port: 445,
            checkId: "ms17-010-trans2",
            advisories: ["ms17-010"],
            verdict: "VULNERABLE",
            classification: null,
            reasonCode: "trans2-status",
            reason: "test",
            evidence: [],
            startedAt: "2026-01-01T00:00:00.000Z",
            finishedAt: "2026-01-01T00:00:01.000Z",
          },
        ]);
        return store.listFindings();
      })();
      expect(typeof finding!.id).toBe("number");
      expect(typeof finding!.assetId).toBe("number");
      expect(typeof finding!.lastRunId).toBe("number");
    } finally {
      await store.close();
    }
  });
});

describe("translatePostgresError", () => {
  const at = "postgres://scanner@db/rf";
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it("maps the SQLSTATEs a user can act on to RINGFENCE_DB_UNAVAILABLE", () => {
    for (const code of ["28P01", "3D000", "53300", "57P01", "08006", "55P03", "40P01", "25006"]) {
      expect(translatePostgresError(pgError(code, "server says no"), at)).toMatchObject({
        code: "RINGFENCE_DB_UNAVAILABLE",
        message: expect.stringContaining(at),
      });
    }
    expect(translatePostgresError(pgError("53100", "could not extend file"), at)).toMatchObject({
      message: `cannot use ${at}: the server's disk is full`,
    });
  });

  it("maps socket and pool failures, including each address of a multi-address host", () => {
    const refused = new AggregateError([
      Object.assign(new Error("connect ECONNREFUSED ::1:5432"), { code: "ECONNREFUSED" }),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
    ]);
    expect(translatePostgresError(refused, at)).toMatchObject({
      code: "RINGFENCE_DB_UNAVAILABLE",
      message: `cannot use ${at}: connect ECONNREFUSED ::1:5432`,
    });
    expect(
      translatePostgresError(new Error("timeout exceeded when trying to connect"), at),
    ).toMatchObject({ code: "RINGFENCE_DB_UNAVAILABLE" });
  });

  it("leaves our own bugs (constraint violations, syntax errors) as thrown", () => {
    const unique = pgError("23505", "duplicate key value violates unique constraint");
    expect(translatePostgresError(unique, at)).toBe(unique);
    const syntax = pgError("42601", "syntax error at or near");
    expect(translatePostgresError(syntax, at)).toBe(syntax);
  });
});
