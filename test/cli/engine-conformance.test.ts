import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectedObservations,
  labDown,
  labUp,
  readGroundTruth,
  type LabState,
} from "../../src/lab/index.js";
import { DEFAULT_PORTS } from "../../src/targets/index.js";
import { IS_ROOT, runCli, scratchDir } from "../helpers/cli.js";

/**
 * One suite, every engine (hono's runTest idea): each must report exactly what the lab's ground
 * truth says for every probe of the advisory's ports, TCP and UDP.
 */
async function expectMatchesGroundTruth(lab: LabState, db: string, scanId: string) {
  const truth = await readGroundTruth(lab);
  const expected = expectedObservations(truth, {
    tcpPorts: DEFAULT_PORTS.tcp,
    udpPorts: DEFAULT_PORTS.udp,
  })
    .map((e) => `${e.address} ${e.protocol}/${e.port} ${e.state}`)
    .sort();
  const handle = new Database(db, { readonly: true });
  const rows = handle
    .prepare("select address, protocol, port, state from observations where scan_id = ?")
    .all(scanId) as { address: string; protocol: string; port: number; state: string }[];
  handle.close();
  const found = rows.map((r) => `${r.address} ${r.protocol}/${r.port} ${r.state}`).sort();
  expect(found.length).toBe(expected.length);
  expect(found).toEqual(expected);
}

function engineSuite(mode: "netns" | "bind", engines: string[], hosts: number) {
  describe.skipIf(mode === "netns" && !IS_ROOT)(`engines against a ${mode} lab`, () => {
    const tmp = scratchDir();
    const labRef = { name: `engines-${mode}`, stateDir: join(tmp.dir, "lab") };
    let lab: LabState;
    beforeAll(async () => {
      await labDown(labRef);
      lab = await labUp({ ...labRef, hosts, mode });
    });
    afterAll(async () => {
      await labDown(labRef);
      tmp.cleanup();
    });

    it.each(engines)("%s engine reports every probe as the ground truth says", async (engine) => {
      const db = join(tmp.dir, `${engine}.db`);
      const result = await runCli([
        "scan",
        lab.range,
        "--engine",
        engine,
        "--db",
        db,
        "--lab-dir",
        labRef.stateDir,
        "--lab-name",
        labRef.name,
        "--timeout",
        "1s",
        "--json",
        "--progress",
        "none",
      ]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout) as {
        scan: { id: string; status: string };
        exposedHosts: { address: string; details: Record<string, { names?: unknown[] }> }[];
      };
      expect(report.scan.status).toBe("completed");
      await expectMatchesGroundTruth(lab, db, report.scan.id);
      // NBSTAT answers carry the NetBIOS names into the results.
      const withNames = report.exposedHosts.filter((h) => h.details["udp/137"]?.names?.length);
      expect(withNames.length).toBeGreaterThan(0);
    });
  });
}

engineSuite("netns", ["syn", "connect", "js"], 512);
engineSuite("bind", IS_ROOT ? ["syn", "connect", "js"] : ["connect", "js"], 48);
