/** The workflow commands' edges without a lab: help, bad input, empty stores, the export file. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/audit/index.js";
import { openStore, type AuditEntry } from "../../src/store/index.js";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

let loc: TestStoreLocation;
const cli = (args: string[]) => runCli([...args, "--db", loc.location]);

beforeEach(async () => {
  loc = await createTestStoreLocation("rf-workflow-cli-");
});
afterEach(async () => {
  await loc.cleanup();
});

describe("workflow CLI", { timeout: 120_000 }, () => {
  it("answers --help with the actions and their evidence", async () => {
    const help = await runCli(["finding", "--help"]);
    expect(help.code).toBe(0);
    for (const word of [
      "quarantine",
      "shield",
      "patch",
      "reconnect",
      "accept-risk",
      "reopen",
      "--attest",
      "--control",
      "--approver",
      "--expires",
    ])
      expect(help.stdout).toContain(word);
    for (const command of [["status"], ["verify"], ["audit", "verify"], ["audit", "export"]]) {
      const result = await runCli([...command, "--help"]);
      expect(result.code, command.join(" ")).toBe(0);
    }
  });

  it("works on an empty store", async () => {
    const status = await cli(["status", "--json", "--as-of", "2026-01-01T00:00:00Z"]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      asOf: "2026-01-01T00:00:00.000Z",
      total: 0,
      overdue: [],
      next: [],
    });
    const audit = await cli(["audit", "verify"]);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/intact: 0 entries/);
    const verify = await cli(["verify"]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain("nothing open to verify");
  });

  it.each([
    [["finding", "1", "quarantine", "--attest", "a: b"], /no finding 1/],
    [["finding", "1", "frobnicate"], /frobnicate/],
    [["status", "--as-of", "yesterday-ish"], /not an ISO 8601 instant/],
    [["audit", "export", "--format", "xml"], /xml/],
    [["verify", "not-an-address"], /verify target not-an-address/],
  ])("refuses %j with one line and exit 2", async (args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr), result.stderr).toBe(true);
    expect(result.stderr).toMatch(message);
  });

  it("exports a JSONL audit trail that re-verifies outside the store", async () => {
    const store = await openStore(loc.location);
    try {
      await store.recordCheckRuns([
        {
          scanId: null,
          address: "127.20.0.9",
          protocol: "tcp",
          port: 135,
          checkId: "ms03-026-remote-activation",
          advisories: ["ms03-026"],
          verdict: "VULNERABLE",
          classification: "VULNERABLE_MS03_026",
          reasonCode: "x",
          reason: "x",
          evidence: {},
          startedAt: "2026-01-01T00:00:00.000Z",
          finishedAt: "2026-01-01T00:00:01.000Z",
        },
      ]);
    } finally {
      await store.close();
    }
    const q = await cli([
      "finding",
      "127.20.0.9",
      "quarantine",
      "--attest",
      "alice: port off",
      "--actor",
      "operator:alice",
    ]);
    expect(q.code, q.stderr).toBe(0);
    const a = await cli([
      "finding",
      "127.20.0.9/ms03-026",
      "accept-risk",
      "--approver",
      "ciso",
      "--reason",
      "legacy",
      "--expires",
      "2099-01-01T00:00:00Z",
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain(
      "quarantined → risk-accepted (risk accepted by ciso until 2099-01-01T00:00:00.000Z: legacy",
    );
    const file = join(loc.dir, "audit.jsonl");
    const exported = await cli(["audit", "export", "--out", file]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditEntry & { schema: string });
    expect(lines.map((l) => [l.schema, l.kind, l.actor])).toEqual([
      ["ringfence-audit/1", "transition", "operator:alice"],
      // Without --actor: the login of whoever runs the CLI.
      ["ringfence-audit/1", "transition", expect.stringMatching(/^operator:./)],
    ]);
    expect(verifyAuditChain(lines.map(({ schema: _schema, ...entry }) => entry))).toMatchObject({
      ok: true,
      entries: 2,
    });
    const status = JSON.parse((await cli(["status", "--json"])).stdout) as {
      counts: Record<string, Record<string, number>>;
    };
    expect(status.counts["risk-accepted"]!["unrated"]).toBe(1);
  });
});
