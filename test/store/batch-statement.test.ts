import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BatchStatement } from "../../src/store/batch-statement.js";
import type { StoreDatabase } from "../../src/store/schema.js";

let sqlite: Database.Database;
let db: Kysely<StoreDatabase>;
/** Every SQL text prepared, in order. */
let prepared: string[];

beforeEach(() => {
  sqlite = new Database(":memory:");
  sqlite.exec("create table ringfence_meta (key text primary key, value text not null)");
  prepared = [];
  const prepare = sqlite.prepare.bind(sqlite);
  const database = Object.assign(Object.create(sqlite) as Database.Database, {
    prepare: (text: string) => {
      prepared.push(text);
      return prepare(text);
    },
  });
  db = new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database }) });
});
afterEach(async () => {
  await db.destroy();
});

function insertMeta(chunk: number) {
  return new BatchStatement({
    chunk,
    columns: ["key", "value"],
    args: [],
    build: (kysely, rows: { key: string; value: string }[]) =>
      kysely.insertInto("ringfence_meta").values(rows).returning("key"),
  });
}

function flat(rows: number, offset = 0): string[] {
  return Array.from({ length: rows }, (_, i) => [`k${offset + i}`, `v${offset + i}`]).flat();
}

describe("BatchStatement", () => {
  it("writes every row of any count, in chunks and power-of-two remainders", async () => {
    const statement = insertMeta(8);
    let written = 0;
    for (let rows = 0; rows <= 40; rows++) {
      const returned = await statement.execute(db, flat(rows, written), {});
      expect(returned).toHaveLength(rows);
      written += rows;
    }
    const keys = sqlite.prepare("select key from ringfence_meta").pluck().all() as string[];
    expect(new Set(keys)).toEqual(new Set(Array.from({ length: written }, (_, i) => `k${i}`)));
    expect(sqlite.prepare("select value from ringfence_meta where key = 'k99'").pluck().get()).toBe(
      "v99",
    );
    // One text per row count: 8, 4, 2 and 1 rows.
    const texts = new Set(prepared.filter((text) => text.startsWith("insert")));
    expect([...texts].map((text) => text.split("(?, ?)").length - 1).sort()).toEqual([1, 2, 4, 8]);
  });

  it("binds per-call arguments wherever the build puts them", async () => {
    sqlite.exec("insert into ringfence_meta values ('a', '1'), ('b', '2'), ('c', '3'), ('d', '4')");
    const update = new BatchStatement({
      chunk: 2,
      columns: ["key"],
      args: ["value"],
      build: (kysely, rows: { key: string }[], args: { value: string }) =>
        kysely
          .updateTable("ringfence_meta")
          .set({ value: args.value })
          .where(
            "key",
            "in",
            rows.map((row) => row.key),
          )
          .returning(["key", "value"]),
    });
    const rows = await update.execute(db, ["a", "c", "d"], { value: "x" });
    expect(rows.map((row) => `${row.key}=${row.value}`).sort()).toEqual(["a=x", "c=x", "d=x"]);
    expect(sqlite.prepare("select value from ringfence_meta where key = 'b'").pluck().get()).toBe(
      "2",
    );
  });

  it("refuses a build that compiles a value of its own into the statement", async () => {
    const statement = new BatchStatement({
      chunk: 4,
      columns: ["key"],
      args: [],
      build: (kysely, rows: { key: string }[]) =>
        kysely.insertInto("ringfence_meta").values(rows.map((row) => ({ ...row, value: "fixed" }))),
    });
    await expect(statement.execute(db, ["a"], {})).rejects.toThrow(/not a row value/);
  });
});
