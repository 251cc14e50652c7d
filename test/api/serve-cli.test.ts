/**
 * The real binary: `ringfence token create|list|revoke` and `ringfence serve` on loopback.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { isOneLineError, runCli, spawnCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { SCOPE_RANGE } from "./api-helpers.js";

let location: TestStoreLocation;
let db: string;

/** Starts `ringfence serve` and waits for its "listening" line; returns the base URL. */
async function serve(args: string[], env: Record<string, string> = {}) {
  const child = spawnCli(["serve", "--port", "0", "--db", db, ...args], { env });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const match = /API listening on (http:\/\/[^\s]+) /.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

beforeAll(async () => {
  location = await createTestStoreLocation("rf-api-cli-");
  db = location.location;
});
afterAll(() => location.cleanup());

describe("ringfence token and ringfence serve", () => {
  let admin = "";
  let viewer = "";

  it("token create prints the token once, alone on stdout", async () => {
    const created = await runCli([
      "token",
      "create",
      "--role",
      "admin",
      "--name",
      "boot",
      "--db",
      db,
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^rft_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toContain('token "boot" (admin) created');
    admin = created.stdout.trim();
    const second = await runCli([
      "token",
      "create",
      "--role",
      "viewer",
      "--name",
      "watcher",
      "--db",
      db,
    ]);
    expect(second.code).toBe(0);
    viewer = second.stdout.trim();
    expect(viewer).not.toBe(admin);
  });

  it("token create refuses a taken name, an unknown role and a past expiry, in one line", async () => {
    for (const args of [
      ["--role", "admin", "--name", "boot"],
      ["--role", "root", "--name", "x"],
      ["--role", "viewer", "--name", "y", "--expires", "2001-01-01T00:00:00Z"],
      ["--role", "viewer", "--name", "bad name!"],
    ]) {
      const result = await runCli(["token", "create", ...args, "--db", db]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
      expect(result.stdout).toBe("");
    }
  });

  it("token list shows names and roles, never a secret", async () => {
    const list = await runCli(["token", "list", "--json", "--db", db]);
    expect(list.code).toBe(0);
    const tokens = JSON.parse(list.stdout) as { name: string; role: string }[];
    expect(tokens.map((t) => [t.name, t.role])).toEqual([
      ["boot", "admin"],
      ["watcher", "viewer"],
    ]);
    expect(list.stdout).not.toContain(admin);
    expect(list.stdout).not.toMatch(/[0-9a-f]{64}/);
  });

  it("serve answers on loopback with the tokens; revocation takes effect at once; SIGTERM stops it", async () => {
    const scope = join(location.dir, "scope.yaml");
    writeFileSync(scope, `allow: [${SCOPE_RANGE}]\n`);
    const { child, url } = await serve(["--scope", scope]);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const doc = await fetch(`${url}/openapi.json`);
      expect(doc.status).toBe(200);
      expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\./);
      const asAdmin = await fetch(`${url}/tokens`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(asAdmin.status).toBe(200);
      const asViewer = await fetch(`${url}/tokens`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(asViewer.status).toBe(403);
      expect(asViewer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      const scopeView = await fetch(`${url}/scope`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(((await scopeView.json()) as { authorized: string[] }).authorized).toEqual([
        SCOPE_RANGE,
      ]);

      const revoked = await runCli(["token", "revoke", "watcher", "--db", db]);
      expect(revoked.code, revoked.stderr).toBe(0);
      const afterRevoke = await fetch(`${url}/scans`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(afterRevoke.status).toBe(401);
      expect(((await afterRevoke.json()) as { detail: string }).detail).toContain("revoked");
    } finally {
      expect(await stop(child)).toBe(0);
    }
    const list = await runCli(["token", "list", "--db", db]);
    expect(list.stdout).toMatch(/watcher\tviewer\tcreated \S+\trevoked /);
    // The CLI's token changes are in the audit trail too.
    const store = await openStore(db);
    try {
      const entries = await store.listAuditEntries();
      expect(entries.map((e) => [e.kind, e.subject, e.actor])).toEqual([
        ["token-create", "token:boot", "ringfence token"],
        ["token-create", "token:watcher", "ringfence token"],
        ["token-revoke", "token:watcher", "ringfence token"],
      ]);
    } finally {
      await store.close();
    }
  });

  it("SIGTERM interrupts a running scan, which stays resumable", async () => {
    const scope = join(location.dir, "scope-sigterm.yaml");
    writeFileSync(scope, `allow: [${SCOPE_RANGE}]\n`);
    const { child, url } = await serve(["--scope", scope]);
    let id = "";
    try {
      const started = await fetch(`${url}/scans`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        // 256 addresses at 10 probes a second: still running when the server is stopped.
        body: JSON.stringify({
          targets: ["127.91.7.0/24"],
          ports: "T:9",
          checks: "none",
          engine: "connect",
          rate: 10,
          retries: 0,
        }),
      });
      expect(started.status).toBe(202);
      id = ((await started.json()) as { id: string }).id;
    } finally {
      expect(await stop(child)).toBe(0);
    }
    const store = await openStore(db);
    try {
      const scan = await store.requireScan(id);
      expect(scan.status).toBe("interrupted");
      expect(scan.probesDone).toBeLessThan(256);
    } finally {
      await store.close();
    }
  });

  it("refuses a non-loopback bind that was not asked for with --host", async () => {
    const result = await runCli(["serve", "--port", "0", "--db", db], {
      env: { RINGFENCE_API_HOST: "0.0.0.0" },
    });
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr), result.stderr).toBe(true);
    expect(result.stderr).toContain("not loopback");
  });

  it("binds another loopback address given with --host", async () => {
    const { child, url } = await serve(["--host", "127.0.0.2"]);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
      expect((await fetch(`${url}/scans`)).status).toBe(401);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});
