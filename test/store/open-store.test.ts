import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  LATEST_SCHEMA_VERSION,
  openStore,
  parseStoreLocation,
  RINGFENCE_APPLICATION_ID,
} from "../../src/store/index.js";
import { directorySnapshot, fileHash, probe, tempDirectory } from "./store-test-helpers.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDirectory();
});
afterEach(() => dir.cleanup());

/** A ringfence database with enough rows to span many pages, closed cleanly. */
async function populatedStore(path: string): Promise<void> {
  const store = await openStore(path);
  const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 2000 });
  const batch = Array.from({ length: 2000 }, (_, i) =>
    probe(`10.1.${i >> 8}.${i & 255}`, 445, i % 3 === 0 ? "open" : "filtered"),
  );
  await store.recordBatch(scan.id, batch, { step: 1, probesDone: 2000, counts: {} });
  await store.close();
}

async function expectRefused(path: string, code: string): Promise<void> {
  const before = directorySnapshot(dir.path);
  await expect(openStore(path)).rejects.toMatchObject({ code });
  expect(directorySnapshot(dir.path)).toEqual(before);
}

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare("select name from sqlite_schema where type = 'table' order by name")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
}

describe("parseStoreLocation", () => {
  it("accepts a path, sqlite: and file: URLs", () => {
    const pathOf = (location: string) => {
      const parsed = parseStoreLocation(location);
      return parsed.kind === "sqlite" ? parsed.path : undefined;
    };
    expect(parseStoreLocation("inv.db")).toEqual({ kind: "sqlite", path: resolve("inv.db") });
    expect(parseStoreLocation()).toEqual({ kind: "sqlite", path: resolve("ringfence.db") });
    expect(pathOf("sqlite:data/inv.db")).toBe(resolve("data/inv.db"));
    expect(pathOf("sqlite:///var/lib/inv.db")).toBe("/var/lib/inv.db");
    expect(pathOf("file:inv.db")).toBe(resolve("inv.db"));
    expect(pathOf("file:///var/lib/inv.db")).toBe("/var/lib/inv.db");
  });

  it("takes postgres:// and postgresql:// URLs, and shows them without the password", () => {
    expect(parseStoreLocation("postgres://scanner@db/ringfence")).toEqual({
      kind: "postgres",
      url: "postgres://scanner@db/ringfence",
      display: "postgres://scanner@db/ringfence",
    });
    expect(parseStoreLocation("postgresql://scanner:s3cret@db:5433/rf?sslmode=require")).toEqual({
      kind: "postgres",
      url: "postgresql://scanner:s3cret@db:5433/rf?sslmode=require",
      display: "postgresql://scanner@db:5433/rf?sslmode=require",
    });
    const hidden = parseStoreLocation("postgres://db/rf?user=scanner&password=s3cret");
    expect(hidden.kind === "postgres" && hidden.display).not.toContain("s3cret");
    // A URL that does not parse is refused without being echoed (it may hold a password).
    expect(() => parseStoreLocation("postgres://scanner:s3cret@db:99999999/rf")).toThrow(
      expect.objectContaining({
        code: "RINGFENCE_DB_UNAVAILABLE",
        message: expect.not.stringContaining("s3cret"),
      }),
    );
  });

  it("refuses other schemes by name", () => {
    expect(() => parseStoreLocation("file://fileserver/share/inv.db")).toThrow(
      expect.objectContaining({ code: "RINGFENCE_DB_UNAVAILABLE" }),
    );
    expect(() => parseStoreLocation("mysql://db/ringfence")).toThrow(
      expect.objectContaining({
        code: "RINGFENCE_DB_UNAVAILABLE",
        message: expect.stringContaining('"mysql:"'),
      }),
    );
  });
});

describe("schema and migrations", () => {
  it("creates the schema, stamps the header and uses WAL", async () => {
    const path = join(dir.path, "new.db");
    const store = await openStore(`sqlite:${path}`);
    expect(store.location).toBe(path);
    await store.close();

    expect(tables(path)).toEqual([
      "api_tokens",
      "assessments",
      "assets",
      "audit_log",
      "check_runs",
      "controls",
      "finding_states",
      "finding_transitions",
      "findings",
      "observations",
      "ringfence_meta",
      "scans",
      "services",
    ]);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("application_id", { simple: true })).toBe(RINGFENCE_APPLICATION_ID);
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST_SCHEMA_VERSION);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      const meta = Object.fromEntries(
        (
          db.prepare("select key, value from ringfence_meta").all() as {
            key: string;
            value: string;
          }[]
        ).map((row) => [row.key, row.value]),
      );
      expect(meta).toMatchObject({
        application: "ringfence",
        schema_version: String(LATEST_SCHEMA_VERSION),
      });
      // Every index costs the batch writer: the tables it writes have their unique keys only.
      const indexes = db
        .prepare(
          "select name from sqlite_schema where type = 'index' and sql is not null order by name",
        )
        .pluck()
        .all();
      expect(indexes).toEqual([
        "assessments_finding_idx",
        "audit_log_kind_idx",
        "audit_log_subject_idx",
        "check_runs_asset_check_idx",
        "check_runs_scan_idx",
        "controls_control_idx",
        "finding_transitions_finding_idx",
        "findings_advisory_idx",
        "scans_created_idx",
      ]);
      // New files get 16 KiB pages (see sqlite-backend.ts).
      expect(db.pragma("page_size", { simple: true })).toBe(16384);
      const uniques = (table: string) =>
        (db.prepare(`pragma index_list(${table})`).all() as { name: string; unique: number }[])
          .filter((index) => index.unique === 1)
          .map((index) =>
            (db.prepare(`pragma index_info(${index.name})`).all() as { name: string }[]).map(
              (column) => column.name,
            ),
          );
      expect(uniques("observations")).toEqual([["scan_seq", "address_key", "protocol", "port"]]);
      expect(uniques("services")).toEqual([["asset_id", "protocol", "port"]]);
      expect(uniques("assets")).toEqual([["address_key"]]);
      expect(uniques("scans")).toEqual(expect.arrayContaining([["id"], ["seq", "id"]]));
      // observations.scan_id and scan_seq are one scan: a foreign key holds the pair.
      expect(
        (
          db.prepare("pragma foreign_key_list(observations)").all() as {
            table: string;
            from: string;
            to: string;
          }[]
        )
          .filter((key) => key.table === "scans")
          .map((key) => `${key.from}->${key.to}`),
      ).toEqual(["scan_seq->seq", "scan_id->id"]);
      expect(uniques("findings")).toContainEqual([
        "asset_id",
        "protocol",
        "port",
        "advisory",
        "check_id",
      ]);
    } finally {
      db.close();
    }
  });

  it("reopens idempotently and keeps the data", async () => {
    const path = join(dir.path, "inv.db");
    await populatedStore(path);
    const schemaOf = () => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare("select type, name, sql from sqlite_schema order by name").all();
      } finally {
        db.close();
      }
    };
    const schema = schemaOf();
    for (let i = 0; i < 3; i++) {
      const store = await openStore(path);
      const [scan] = await store.listScans();
      expect(scan?.probesDone).toBe(2000);
      expect(await store.listHosts()).toHaveLength(667);
      await store.close();
    }
    expect(schemaOf()).toEqual(schema);
  });

  it("refuses a database from a newer ringfence, closed cleanly", async () => {
    const path = join(dir.path, "newer.db");
    await populatedStore(path);
    const db = new Database(path);
    db.prepare("update ringfence_meta set value = '99' where key = 'schema_version'").run();
    db.pragma("user_version = 99");
    db.close();
    await expectRefused(path, "RINGFENCE_DB_VERSION");
  });

  it("refuses a database from a newer ringfence while another process writes to it", async () => {
    const path = join(dir.path, "newer-live.db");
    await populatedStore(path);
    // A connection that stays open keeps a -wal file, so the inspection has to look inside.
    const writer = new Database(path);
    try {
      writer.pragma("wal_autocheckpoint = 0");
      writer.prepare("update ringfence_meta set value = '99' where key = 'schema_version'").run();
      writer.pragma("user_version = 99");
      expect(existsSync(`${path}-wal`)).toBe(true);
      const before = [fileHash(path), fileHash(`${path}-wal`)];
      await expect(openStore(path)).rejects.toMatchObject({ code: "RINGFENCE_DB_VERSION" });
      expect([fileHash(path), fileHash(`${path}-wal`)]).toEqual(before);
    } finally {
      writer.close();
    }
  });
});

describe("refuses files that are not ringfence databases, leaving them untouched", () => {
  it("random bytes", async () => {
    const path = join(dir.path, "random.db");
    writeFileSync(path, randomBytes(8192));
    await expectRefused(path, "RINGFENCE_DB_CORRUPT");
  });

  it("a text file, naming the path", async () => {
    const path = join(dir.path, "notes.txt");
    writeFileSync(path, "# my notes\nnot a database at all\n".repeat(50));
    await expectRefused(path, "RINGFENCE_DB_CORRUPT");
    await expect(openStore(path)).rejects.toThrow(path);
  });

  it("a ringfence database cut in half", async () => {
    const path = join(dir.path, "truncated.db");
    await populatedStore(path);
    truncateSync(path, Math.floor(statSync(path).size / 2));
    await expectRefused(path, "RINGFENCE_DB_CORRUPT");
  });

  it("a ringfence database cut inside its header", async () => {
    const path = join(dir.path, "stub.db");
    await populatedStore(path);
    truncateSync(path, 60);
    await expectRefused(path, "RINGFENCE_DB_CORRUPT");
  });

  it("a ringfence database with a damaged page", async () => {
    const path = join(dir.path, "damaged.db");
    await populatedStore(path);
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16);
    const pages = bytes.length / pageSize;
    expect(pages).toBeGreaterThan(8);
    // Overwrite a page in the middle of the file: the header and schema still read fine.
    bytes.fill(0xa5, Math.floor(pages / 2) * pageSize, (Math.floor(pages / 2) + 1) * pageSize);
    writeFileSync(path, bytes);
    await expectRefused(path, "RINGFENCE_DB_CORRUPT");
  });

  it("another program's SQLite database (rollback journal)", async () => {
    const path = join(dir.path, "app.sqlite");
    const db = new Database(path);
    db.exec(
      "create table notes (id integer primary key, body text); insert into notes values (1, 'x')",
    );
    db.close();
    await expectRefused(path, "RINGFENCE_DB_FOREIGN");
  });

  it("another program's SQLite database in WAL mode, without creating -wal/-shm files", async () => {
    const path = join(dir.path, "app-wal.sqlite");
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.exec(
      "create table notes (id integer primary key, body text); insert into notes values (1, 'x')",
    );
    db.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    await expectRefused(path, "RINGFENCE_DB_FOREIGN");
  });

  it("another program's SQLite database with its own application id and no tables", async () => {
    const path = join(dir.path, "fossil.db");
    const db = new Database(path);
    db.pragma("application_id = 252006673"); // Fossil's
    db.close();
    await expectRefused(path, "RINGFENCE_DB_FOREIGN");
  });

  it("another program's SQLite database while that program is writing to it", async () => {
    const path = join(dir.path, "busy.sqlite");
    const writer = new Database(path);
    try {
      writer.pragma("journal_mode = WAL");
      writer.pragma("wal_autocheckpoint = 0");
      writer.exec("create table notes (id integer primary key); insert into notes values (1)");
      const before = [fileHash(path), fileHash(`${path}-wal`)];
      await expect(openStore(path)).rejects.toMatchObject({ code: "RINGFENCE_DB_FOREIGN" });
      expect([fileHash(path), fileHash(`${path}-wal`)]).toEqual(before);
    } finally {
      writer.close();
    }
  });
});

describe("adopts files with nothing in them", () => {
  // Documented choice: SQLite treats a 0-byte file as an empty database and there is nothing to
  // lose, so `touch ringfence.db` then a scan works. The file becomes a ringfence database.
  it("a 0-byte file", async () => {
    const path = join(dir.path, "touched.db");
    writeFileSync(path, "");
    const store = await openStore(path);
    await store.close();
    expect(tables(path)).toContain("ringfence_meta");
  });

  it("a valid SQLite database with no tables and no application id", async () => {
    const path = join(dir.path, "empty.sqlite");
    const db = new Database(path);
    db.exec("create table t (x); drop table t; vacuum");
    db.close();
    expect(statSync(path).size).toBeGreaterThan(0);
    const store = await openStore(path);
    await store.close();
    expect(tables(path)).toContain("ringfence_meta");
  });
});

describe("unwritable locations", () => {
  it("a directory that does not exist", async () => {
    const path = join(dir.path, "missing", "inv.db");
    await expectRefused(path, "RINGFENCE_DB_UNAVAILABLE");
    expect(existsSync(join(dir.path, "missing"))).toBe(false);
  });

  it("a parent that is a file", async () => {
    writeFileSync(join(dir.path, "plain"), "x");
    await expectRefused(join(dir.path, "plain", "inv.db"), "RINGFENCE_DB_UNAVAILABLE");
  });

  it("a directory given as the database", async () => {
    mkdirSync(join(dir.path, "folder"));
    await expectRefused(join(dir.path, "folder"), "RINGFENCE_DB_UNAVAILABLE");
  });

  // Root ignores file modes, so when the suite runs as root the opening runs in a child process
  // as nobody; otherwise as ourselves.
  it("read-only files and directories", async () => {
    const asRoot = process.getuid?.() === 0;
    chmodSync(dir.path, 0o755);
    const openDir = join(dir.path, "open");
    const lockedDir = join(dir.path, "locked");
    mkdirSync(openDir);
    mkdirSync(lockedDir);
    await populatedStore(join(openDir, "readonly.db"));
    await populatedStore(join(lockedDir, "inv.db"));
    chmodSync(join(openDir, "readonly.db"), 0o444);
    chmodSync(openDir, 0o777);
    chmodSync(join(lockedDir, "inv.db"), 0o666);
    chmodSync(lockedDir, 0o555);

    try {
      const before = directorySnapshot(openDir);
      const lockedBefore = directorySnapshot(lockedDir);
      const cases = [
        join(openDir, "readonly.db"),
        join(lockedDir, "inv.db"),
        join(lockedDir, "new.db"),
      ];
      for (const path of cases) {
        const child = spawnSync(
          process.execPath,
          ["--import", "tsx", join(repoRoot, "test/store/fixtures/open-store-probe.ts"), path],
          {
            cwd: repoRoot,
            encoding: "utf8",
            ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
            env: { ...process.env, HOME: dir.path },
          },
        );
        if (child.error !== undefined) throw child.error;
        expect(child.stderr).toBe("");
        expect(JSON.parse(child.stdout), path).toMatchObject({
          ok: false,
          code: "RINGFENCE_DB_UNAVAILABLE",
        });
      }
      expect(directorySnapshot(openDir)).toEqual(before);
      expect(directorySnapshot(lockedDir)).toEqual(lockedBefore);
    } finally {
      // Lets the cleanup remove it when the suite does not run as root.
      chmodSync(lockedDir, 0o755);
    }
  });
});
