/**
 * Issue 7 acceptance: the full protect-then-fix loop on a running lab, through the real CLI —
 * scan → assess → quarantine → shield → patch (the lab persona switched to its patched state) →
 * verify by rescan → reconnect → closed — with every transition in the audit trail, `audit
 * verify` passing, and a tampered entry failing it. Also: a VULNERABLE rescan reopens (also a
 * closed finding), a rescan of a host that is down verifies nothing, refusals change nothing.
 *
 * The shield step is an operator attestation (recorded as such): the perimeter lab firewall path
 * is covered by test/shield's protect-loop test, and `--control` evidence by the unit tests.
 * The lab runs in bind mode so that the scanning CLI never leaves the initial network namespace
 * and a PostgreSQL store on 127.0.0.1 stays reachable from it.
 */
import { readFile } from "node:fs/promises";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSONAS, labAddress } from "../../src/lab/index.js";
import { isOneLineError, runCli, type CliResult } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { cleanupLab, tempStateDir, uniqueLabName } from "../lab/helpers.js";

const LAB = uniqueLabName("wf");
const HOSTS = 8;
// Catalogue layout: host i is PERSONAS[i].
const A = labAddress(PERSONAS.findIndex((p) => p.id === "xp-sp1"));
const B = labAddress(PERSONAS.findIndex((p) => p.id === "w2k-sp4"));

let loc: TestStoreLocation;
let labDir: string;

async function cli(args: string[]): Promise<CliResult> {
  return runCli([...args, "--db", loc.location], {
    env: { RINGFENCE_LAB_DIR: labDir },
    timeoutMs: 120_000,
  });
}

async function ok(args: string[]): Promise<string> {
  const result = await cli(args);
  expect(result.stderr, `ringfence ${args.join(" ")}`).not.toMatch(/ringfence: /);
  expect(result.code, `ringfence ${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

interface FindingJson {
  findingId: number;
  state: string;
  advisory: string;
  checkId: string;
  transitions: { from: string; to: string; auditSeq: number; actor: string }[];
}

async function finding(selector: string): Promise<FindingJson[]> {
  return JSON.parse(await ok(["finding", selector, "--json"])) as FindingJson[];
}

async function auditLines(): Promise<Record<string, unknown>[]> {
  return (await ok(["audit", "export"]))
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** What a refusal must leave alone: the audit trail and host A's workflow rows and history. */
async function workflowSnapshot(): Promise<string> {
  return JSON.stringify([await ok(["audit", "export"]), await finding(A)]);
}

async function rawSql(text: string): Promise<void> {
  if (loc.dialect === "sqlite") {
    const db = new Database(loc.location);
    try {
      db.exec(text);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: loc.location });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  loc = await createTestStoreLocation("rf-full-loop-");
  labDir = await tempStateDir();
  const up = await runCli(
    [
      "lab",
      "up",
      "--name",
      LAB,
      "--hosts",
      String(HOSTS),
      "--layout",
      "catalogue",
      "--mode",
      "bind",
    ],
    { env: { RINGFENCE_LAB_DIR: labDir } },
  );
  expect(up.code, up.stderr).toBe(0);
});

afterAll(async () => {
  await cleanupLab(LAB, labDir, null);
  await loc.cleanup();
});

// Each step runs the CLI several times (about a second each): generous per-test limits.
describe("the full remediation loop on the lab", { timeout: 240_000 }, () => {
  let idA: number;
  let idB: number;

  it("scans (default checks) and assesses: MS03-026 findings start detected", async () => {
    await ok(["scan", "--lab-name", LAB, "--progress", "none", "-q", A, B]);
    await ok(["assess"]);
    const [a] = (await finding(A)).filter((f) => f.advisory === "ms03-026");
    const [b] = (await finding(B)).filter((f) => f.advisory === "ms03-026");
    expect(a).toMatchObject({ state: "detected", checkId: "ms03-026-remote-activation" });
    expect(b).toMatchObject({ state: "detected" });
    idA = a!.findingId;
    idB = b!.findingId;
    const status = JSON.parse(await ok(["status", "--json"])) as {
      counts: Record<string, Record<string, number>>;
      next: { findingId: number; clock: string }[];
    };
    expect(status.counts["detected"]!["very-high"]).toBeGreaterThanOrEqual(2);
    expect(status.next.some((d) => d.findingId === idA && d.clock === "protectBy")).toBe(true);
    // Assessments are in the audit trail.
    const audit = await auditLines();
    expect(audit.some((e) => e["kind"] === "assessment" && e["subject"] === `finding:${idA}`)).toBe(
      true,
    );
  });

  it("quarantines the host on an operator attestation; refusals change nothing", async () => {
    const out = await ok([
      "finding",
      A,
      "quarantine",
      "--attest",
      "alice: switch port 12 disabled",
    ]);
    expect(out).toContain(`finding ${idA} ${A} tcp/135 ms03-026: detected → quarantined`);
    expect((await finding(A)).every((f) => f.state === "quarantined")).toBe(true);

    const before = await workflowSnapshot();
    const refusals: [string[], RegExp][] = [
      [
        ["finding", String(idA), "reconnect", "--attest", "alice: back"],
        /cannot become closed: .*only from verified/,
      ],
      [
        ["finding", String(idA), "shield", "--control", "no-such-control"],
        /no stored control no-such-control/,
      ],
      [["finding", String(idA), "shield"], /needs --control <id> or --attest/],
      [
        [
          "finding",
          String(idA),
          "accept-risk",
          "--approver",
          "ciso",
          "--reason",
          "x",
          "--expires",
          "2001-01-01T00:00:00Z",
        ],
        /expiry .* is not after/,
      ],
      [
        ["finding", String(idA), "patch", "--attest", "alice: done", "--at", "not-a-date"],
        /not an ISO 8601 instant/,
      ],
      [["finding", "999999", "patch", "--attest", "alice: done"], /no finding 999999/],
    ];
    for (const [args, message] of refusals) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
      expect(result.stderr).toMatch(message);
    }
    expect(await workflowSnapshot()).toBe(before);
  });

  it("shields, switches the lab persona to its patched state, records the patch", async () => {
    expect(
      await ok([
        "finding",
        `${A}/ms03-026`,
        "shield",
        "--attest",
        "alice: host firewall blocks 135",
      ]),
    ).toContain("quarantined → shielded");
    const patched = JSON.parse(
      (
        await runCli(["lab", "patch", A, "--name", LAB, "--json"], {
          env: { RINGFENCE_LAB_DIR: labDir },
        })
      ).stdout,
    ) as { from: string; to: string };
    expect(patched).toMatchObject({ from: "xp-sp1", to: "xp-sp1-patched" });
    // The ground truth follows the switch.
    const state = JSON.parse(
      (
        await runCli(["lab", "status", "--name", LAB, "--json"], {
          env: { RINGFENCE_LAB_DIR: labDir },
        })
      ).stdout,
    ) as { state: { groundTruthFile: string } };
    const truth = JSON.parse(await readFile(state.state.groundTruthFile, "utf8")) as {
      hosts: { address: string; persona: string }[];
    };
    expect(truth.hosts.find((h) => h.address === A)?.persona).toBe("xp-sp1-patched");
    expect(
      await ok([
        "finding",
        `${A}/ms03-026`,
        "patch",
        "--attest",
        "wsus: KB824146 installed",
        "--source",
        "patch-system",
      ]),
    ).toContain("shielded → patched (attestation by wsus (patch-system)");
  });

  it("verify rescans and verifies only what the evidence supports", async () => {
    const out = await ok(["verify", "--lab-name", LAB, A]);
    expect(out).toContain(`finding ${idA} ${A} tcp/135 ms03-026: patched → verified (check run`);
    // The SMB flaws were never fixed: the rescan finds them again and reopens them.
    expect(out).toMatch(/ms17-010: quarantined → reopened/);
    expect((await finding(String(idA)))[0]!.state).toBe("verified");
  });

  it("closing needs the reconnect; reconnect closes", async () => {
    const before = await workflowSnapshot();
    const refused = await cli(["finding", String(idA), "close", "--attest", "alice: done"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/was quarantined: closing needs a reconnect record/);
    expect(await workflowSnapshot()).toBe(before);
    expect(
      await ok(["finding", String(idA), "reconnect", "--attest", "alice: switch port 12 enabled"]),
    ).toContain("verified → closed (reconnect recorded by alice");
  });

  it("every transition is in the audit trail and the chain verifies", async () => {
    const [a] = await finding(String(idA));
    expect(a!.transitions.map((t) => `${t.from}→${t.to}`)).toEqual([
      "detected→quarantined",
      "quarantined→shielded",
      "shielded→patched",
      "patched→verified",
      "verified→closed",
    ]);
    const audit = await auditLines();
    for (const t of a!.transitions) {
      const entry = audit.find((e) => e["seq"] === t.auditSeq);
      expect(entry).toMatchObject({
        kind: "transition",
        subject: `finding:${idA}`,
        actor: t.actor,
        payload: { from: t.from, to: t.to },
      });
    }
    expect(await ok(["audit", "verify"])).toMatch(/^audit trail intact: \d+ entries/);
  });

  it("a VULNERABLE rescan reopens: a wrongly attested patch, and a closed finding found again", async () => {
    await ok(["finding", `${B}/ms03-026`, "patch", "--attest", "bob: patched (he thought)"]);
    const outB = await ok(["verify", "--lab-name", LAB, B]);
    expect(outB).toContain(`finding ${idB} ${B} tcp/135 ms03-026: patched → reopened`);

    // The host is rolled back to its unpatched image: closed is reopened.
    await runCli(["lab", "patch", A, "--name", LAB, "--to", "none"], {
      env: { RINGFENCE_LAB_DIR: labDir },
    });
    const outA = await ok(["verify", "--lab-name", LAB, A]);
    expect(outA).toContain(`finding ${idA} ${A} tcp/135 ms03-026: closed → reopened`);
  });

  it("a rescan of a host that is down verifies and closes nothing", async () => {
    await ok(["finding", `${B}/ms03-026`, "patch", "--attest", "bob: patched, really"]);
    const down = await runCli(["lab", "down", "--name", LAB], {
      env: { RINGFENCE_LAB_DIR: labDir },
    });
    expect(down.code, down.stderr).toBe(0);
    const out = await ok(["verify", "--lab-name", LAB, B]);
    expect(out).toMatch(new RegExp(`finding ${idB} .*patched since .*: unchanged`));
    expect(out).toContain("0 transition(s) applied");
    expect((await finding(String(idB)))[0]!.state).toBe("patched");
  });

  it("tampering with one entry makes audit verify fail, naming it", async () => {
    const [a] = await finding(String(idA));
    const seq = a!.transitions.find((t) => t.to === "verified")!.auditSeq;
    await rawSql(`update audit_log set actor = 'mallory' where seq = ${seq}`);
    const result = await cli(["audit", "verify"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`audit entry ${seq} (transition finding:${idA})`);
    expect(result.stderr).toMatch(/altered/);
  });
});
