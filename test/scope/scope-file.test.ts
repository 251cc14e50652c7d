import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import { defaultScope, loadScope } from "../../src/scope/index.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ringfence-scope-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scopeFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(path: string): Promise<RingfenceError> {
  const error = await loadScope(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RingfenceError);
  expect((error as RingfenceError).code).toBe("RINGFENCE_SCOPE_FILE");
  expect((error as RingfenceError).message).not.toContain("\n");
  return error as RingfenceError;
}

describe("loadScope", () => {
  it("returns the built-in lab scope without a path", async () => {
    const scope = await loadScope();
    expect(scope.source).toBe("default");
    expect(scope.digest).toBe(defaultScope().digest);
    expect(scope.allows("127.99.0.1")).toBe(false);
  });

  it("reads name, allow and deny", async () => {
    const path = await scopeFile(
      "office.yaml",
      "name: office\nallow:\n  - 127.20.0.0/16\n  - 127.30.0.1-127.30.0.9\n  - ::1\n  - fd00::/120\ndeny: [127.20.9.0/24]\n",
    );
    const scope = await loadScope(path);
    expect(scope.name).toBe("office");
    expect(scope.source).toBe(path);
    expect(scope.allows("127.20.0.1")).toBe(true);
    expect(scope.allows("127.20.9.1")).toBe(false);
    expect(scope.allows("127.30.0.9")).toBe(true);
    expect(scope.allows("127.30.0.10")).toBe(false);
    expect(scope.allows("::1")).toBe(true);
    expect(scope.allows("fd00::ff")).toBe(true);
    expect(scope.allows("fd00::100")).toBe(false);
    expect(scope.describe()).toBe(
      `scope "office" (127.20.0.0-127.20.8.255, 127.20.10.0-127.20.255.255, 127.30.0.1-127.30.0.9, ::1 and 1 more) from ${path}`,
    );
  });

  it("names the scope after the file when name is absent", async () => {
    const scope = await loadScope(await scopeFile("branch-7.yml", "allow: [127.20.0.0/24]\n"));
    expect(scope.name).toBe("branch-7");
  });

  it("reports YAML syntax errors with their line", async () => {
    const error = await loadError(
      await scopeFile("syntax.yaml", "name: x\nallow: [127.20.0.1\ndeny: [\n"),
    );
    expect(error.message).toMatch(/^scope file .*syntax\.yaml, line \d+: YAML syntax error: /);
  });

  it("reports unknown keys with their line", async () => {
    const error = await loadError(
      await scopeFile("typo.yaml", "name: x\nallow: [127.20.0.1]\nalow: [127.20.0.2]\n"),
    );
    expect(error.message).toMatch(
      /typo\.yaml, line 3: unknown key "alow" \(expected name, allow, deny\)$/,
    );
  });

  it("reports bad range tokens with their line and the token", async () => {
    const error = await loadError(
      await scopeFile("bad.yaml", "allow:\n  - 127.20.0.0/16\n  - 127.20.0.0/33\n"),
    );
    expect(error.message).toMatch(
      /bad\.yaml, line 3: allow\[1\]: bad range "127\.20\.0\.0\/33": invalid prefix length \/33/,
    );
    const deny = await loadError(
      await scopeFile("deny.yaml", "allow: [127.20.0.0/16]\ndeny:\n  - 127.20.0.9-127.20.0.1\n"),
    );
    expect(deny.message).toMatch(
      /line 3: deny\[0\]: bad range "127\.20\.0\.9-127\.20\.0\.1": range end is below its start/,
    );
  });

  it("refuses hostnames", async () => {
    const error = await loadError(await scopeFile("host.yaml", "allow: [lab.example]\n"));
    expect(error.message).toMatch(
      /allow\[0\]: bad range "lab\.example": hostnames are not allowed/,
    );
  });

  it("refuses structurally wrong files", async () => {
    expect((await loadError(await scopeFile("empty.yaml", ""))).message).toMatch(
      /empty\.yaml: the file is empty/,
    );
    expect((await loadError(await scopeFile("none.yaml", "allow: []\n"))).message).toMatch(
      /line 1: allow: must list at least one range/,
    );
    expect((await loadError(await scopeFile("missing.yaml", "name: x\n"))).message).toMatch(
      /allow: .*expected array/,
    );
    expect((await loadError(await scopeFile("list.yaml", "- 127.20.0.1\n"))).message).toMatch(
      /expected a mapping with an allow: list/,
    );
    expect(
      (await loadError(await scopeFile("number.yaml", "allow:\n  - 127.20.0.1\n  - 5\n"))).message,
    ).toMatch(/line 3: allow\[1\]: .*expected string/);
    expect(
      (await loadError(await scopeFile("dup.yaml", "allow: [127.20.0.1]\nallow: [127.20.0.2]\n")))
        .message,
    ).toMatch(/line 2: YAML syntax error: Map keys must be unique/);
  });

  it("reports unreadable files with path and reason", async () => {
    const missing = join(dir, "absent.yaml");
    expect((await loadError(missing)).message).toBe(
      `cannot read scope file ${missing}: no such file or directory (ENOENT)`,
    );
    expect((await loadError(dir)).message).toBe(
      `cannot read scope file ${dir}: it is a directory (EISDIR)`,
    );
  });
});
