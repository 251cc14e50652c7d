import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSONAS, labDown, labUp, readGroundTruth, type LabState } from "../../src/lab/index.js";
import { runCli, scratchDir, spawnCli } from "../helpers/cli.js";

/**
 * Ctrl-C during the check phase: the scan stops at once (hosts in progress are abandoned, not
 * recorded half-done), and `--resume` checks exactly the hosts that were not, so every host ends
 * with one run per check. The slow-drip hostile persona keeps the phase busy long enough to be
 * interrupted in it.
 */
describe("interrupting and resuming the check phase", () => {
  const tmp = scratchDir("rf-check-resume-");
  const labRef = { name: `cr${process.pid.toString(36)}`, stateDir: join(tmp.dir, "lab") };
  const db = join(tmp.dir, "inv.db");
  let lab: LabState;

  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: PERSONAS.length * 2, layout: "catalogue" });
  }, 60_000);

  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  it("Ctrl-C in the check phase exits 130 promptly; --resume checks each remaining host once", async () => {
    const args = ["--db", db, "--lab-dir", labRef.stateDir, "--lab-name", labRef.name];
    const child = spawnCli([
      "scan",
      lab.range,
      ...args,
      "--progress",
      "json",
      "--timeout",
      "1s",
      "--check-timeout",
      "6s",
    ]);
    let stderr = "";
    let interruptedAt = 0;
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (interruptedAt === 0 && stderr.includes('"type":"check-progress"')) {
        interruptedAt = performance.now();
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    expect(interruptedAt).toBeGreaterThan(0);
    expect(code).toBe(130);
    const scanId = /ringfence scan --resume (s-[a-z0-9]+)/.exec(stderr)?.[1];
    expect(scanId).toBeDefined();

    const countRuns = () => {
      const sqlite = new Database(db, { readonly: true });
      try {
        return sqlite
          .prepare(
            "SELECT address, check_id, count(*) AS n FROM check_runs WHERE scan_id = ? GROUP BY address, check_id",
          )
          .all(scanId) as { address: string; check_id: string; n: number }[];
      } finally {
        sqlite.close();
      }
    };
    const before = countRuns();
    const truth = await readGroundTruth(lab);
    const withRpc = truth.hosts.filter((h) => h.expected.rpcss !== null);
    // Interrupted for real: the slow-drip hosts (6 s read deadline) cannot have finished.
    expect(new Set(before.map((r) => r.address)).size).toBeLessThan(withRpc.length);

    // The resumed scan runs with its stored options (the same 6 s deadline).
    const resumed = await runCli(["scan", "--resume", scanId!, ...args, "--quiet"]);
    expect(resumed.code).toBe(0);
    const after = countRuns();
    expect(after.every((r) => r.n === 1)).toBe(true);
    const checked = new Set(
      after.filter((r) => r.check_id.startsWith("ms03-")).map((r) => r.address),
    );
    expect(withRpc.filter((h) => !checked.has(h.address)).map((h) => h.address)).toEqual([]);
  }, 120_000);
});
