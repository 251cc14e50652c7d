import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { isOneLineError, runCli, scratchDir } from "../helpers/cli.js";

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("bad input: one clear line, non-zero exit, nothing damaged", () => {
  const tmp = scratchDir();
  afterAll(() => tmp.cleanup());
  const db = join(tmp.dir, "inventory.db");
  const base = ["--db", db, "--no-lab", "--engine", "connect"];

  it.each([
    ["a malformed address", ["scan", "127.20.0.300", ...base], 2, "127.20.0.300"],
    ["a malformed CIDR", ["scan", "127.20.0.0/33", ...base], 2, "127.20.0.0/33"],
    ["a reversed range", ["scan", "127.20.0.9-127.20.0.1", ...base], 2, "127.20.0.9-127.20.0.1"],
    ["a port out of range", ["scan", "127.20.0.1", "-p", "70000", ...base], 2, "70000"],
    ["a garbage port list", ["scan", "127.20.0.1", "-p", "135,abc", ...base], 2, "abc"],
    ["a missing -iL file", ["scan", "-iL", join(tmp.dir, "nope.txt"), ...base], 2, "nope.txt"],
    ["a bad rate", ["scan", "127.20.0.1", "--rate", "fast", ...base], 2, "fast"],
    ["an unknown command", ["scna"], 2, "scna"],
  ])("%s", async (_what, args, code, mention) => {
    const result = await runCli(args as string[]);
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(mention as string);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("an unreadable -iL file (a directory)", async () => {
    const result = await runCli(["scan", "-iL", tmp.dir, ...base]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
  });

  it("a malformed scope file names the file and the problem", async () => {
    const scope = join(tmp.dir, "scope.yaml");
    writeFileSync(scope, "allow:\n  - 127.20.0.0/16\n  - not-a-range!\n");
    const result = await runCli(["scan", "127.20.0.1", "--scope", scope, ...base]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain("scope.yaml");
    expect(result.stderr).toContain("not-a-range!");
  });

  it("a YAML syntax error in the scope file", async () => {
    const scope = join(tmp.dir, "broken.yaml");
    writeFileSync(scope, "allow: [127.20.0.0/16\n");
    const result = await runCli(["scan", "127.20.0.1", "--scope", scope, ...base]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
  });

  it("a corrupt database file is refused and left byte-for-byte as it was", async () => {
    const corrupt = join(tmp.dir, "corrupt.db");
    writeFileSync(corrupt, Buffer.from("SQLite format 3\0" + "garbage".repeat(300)));
    const before = sha(corrupt);
    for (const args of [
      ["scan", "127.20.0.1", "--db", corrupt, "--no-lab"],
      ["hosts", "--db", corrupt],
      ["scans", "--db", corrupt],
    ]) {
      const result = await runCli(args);
      expect(result.code).toBe(4);
      expect(isOneLineError(result.stderr)).toBe(true);
      expect(result.stderr).toContain("corrupt.db");
    }
    expect(sha(corrupt)).toBe(before);
  });

  it("a foreign SQLite database is refused and left untouched", async () => {
    const foreign = join(tmp.dir, "foreign.db");
    const other = new Database(foreign);
    other.exec(
      "create table invoices (id integer primary key, total real); insert into invoices values (1, 9.5);",
    );
    other.close();
    const before = sha(foreign);
    const result = await runCli(["scan", "127.20.0.1", "--db", foreign, "--no-lab"]);
    expect(result.code).toBe(4);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain("foreign.db");
    expect(sha(foreign)).toBe(before);
  });

  it("an existing inventory survives a failed scan unchanged", async () => {
    const good = join(tmp.dir, "good.db");
    const first = await runCli(["scans", "--db", good]);
    expect(first.code).toBe(0);
    const before = sha(good);
    const result = await runCli(["scan", "127.99.0.1", "--db", good, "--no-lab"]);
    expect(result.code).toBe(3);
    expect(sha(good)).toBe(before);
  });
});
