import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labUp, type LabState } from "../../src/lab/index.js";
import { runCli, scratchDir, spawnCli } from "../helpers/cli.js";

interface Row {
  address: string;
  protocol: string;
  port: number;
  state: string;
}

function observations(db: string, scanId: string): Row[] {
  const handle = new Database(db, { readonly: true });
  try {
    return handle
      .prepare(
        "select address, protocol, port, state from observations where scan_id = ? order by address, protocol, port",
      )
      .all(scanId) as Row[];
  } finally {
    handle.close();
  }
}

function scanRow(
  db: string,
  scanId: string,
): { status: string; probes_done: number; total_probes: number } {
  const handle = new Database(db, { readonly: true });
  try {
    return handle
      .prepare("select status, probes_done, total_probes from scans where id = ?")
      .get(scanId) as { status: string; probes_done: number; total_probes: number };
  } finally {
    handle.close();
  }
}

const key = (r: Row) => `${r.address} ${r.protocol}/${r.port} ${r.state}`;

describe("a scan killed with SIGKILL resumes to the same inventory as an uninterrupted scan", () => {
  const tmp = scratchDir();
  const labRef = { name: "resume-test", stateDir: join(tmp.dir, "lab") };
  let lab: LabState;
  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: 1024 });
  });
  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  it("kill -9 mid-scan, --resume, compare", async () => {
    const db = join(tmp.dir, "inventory.db");
    const common = [
      "--db",
      db,
      "--lab-dir",
      labRef.stateDir,
      "--lab-name",
      labRef.name,
      "--timeout",
      "1s",
    ];
    // Reference: the same scan, never interrupted.
    const reference = await runCli(["scan", lab.range, ...common, "--json", "--seed", "ref"]);
    expect(reference.code).toBe(0);
    const referenceId = JSON.parse(reference.stdout).scan.id as string;
    const expected = observations(db, referenceId).map(key);
    expect(expected.length).toBe(1024 * 6);

    // Slow enough (rate limit) that the kill lands in the middle of the TCP phase.
    const child = spawnCli([
      "scan",
      lab.range,
      ...common,
      "--rate",
      "1500",
      "--progress",
      "json",
      "--seed",
      "killed",
    ]);
    let scanId = "";
    await new Promise<void>((resolve, reject) => {
      let buffer = "";
      child.stderr!.on("data", (d: Buffer) => {
        buffer += d.toString();
        for (const line of buffer.split("\n").slice(0, -1)) {
          const event = JSON.parse(line) as { type: string; scanId?: string; done?: number };
          if (event.type === "start") scanId = event.scanId!;
          if (event.type === "progress" && event.done! > 1500) {
            child.kill("SIGKILL");
            resolve();
            return;
          }
        }
        buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
      });
      child.on("close", () => resolve());
      child.on("error", reject);
    });
    await new Promise((r) => child.on("close", r));
    expect(child.signalCode).toBe("SIGKILL");
    expect(scanId).not.toBe("");

    const beforeResume = observations(db, scanId);
    const killed = scanRow(db, scanId);
    expect(killed.status).toBe("running");
    expect(beforeResume.length).toBeGreaterThan(0);
    expect(beforeResume.length).toBeLessThan(killed.total_probes);

    // The new command line says nothing about targets or rate: they come from the store.
    const resumed = await runCli([
      "scan",
      "--resume",
      scanId,
      "--db",
      db,
      "--lab-dir",
      labRef.stateDir,
      "--json",
    ]);
    expect(resumed.stderr).not.toMatch(/error/i);
    expect(resumed.code).toBe(0);
    const after = observations(db, scanId);
    const finished = scanRow(db, scanId);
    expect(finished.status).toBe("completed");
    expect(finished.probes_done).toBe(finished.total_probes);
    // Nothing lost: every row seen before the kill is still there, with the same state.
    const afterKeys = new Set(after.map(key));
    for (const row of beforeResume) expect(afterKeys.has(key(row))).toBe(true);
    // The scan row's counts are exact too, although some probes were sent twice.
    const list = await runCli(["scans", "--db", db, "--json"]);
    const stored = (
      JSON.parse(list.stdout) as { id: string; counts: Record<string, number> }[]
    ).find((s) => s.id === scanId)!;
    expect(stored.counts.open).toBe(after.filter((r) => r.state === "open").length);
    expect(Object.values(stored.counts).reduce((a, b) => a + b, 0)).toBe(after.length);
    // Nothing written twice, nothing missing: the same inventory as the uninterrupted scan.
    expect(after.length).toBe(expected.length);
    const diff = after.map(key).filter((k, i) => k !== expected[i]);
    expect(diff.slice(0, 5)).toEqual([]);
    expect(after.map(key)).toEqual(expected);
  });

  it("Ctrl-C (SIGINT) stops cleanly: exit 130, status interrupted, and --resume finishes it", async () => {
    const db = join(tmp.dir, "sigint.db");
    const args = ["--db", db, "--lab-dir", labRef.stateDir, "--lab-name", labRef.name];
    const child = spawnCli(["scan", lab.range, ...args, "--rate", "1500", "--progress", "json"]);
    let stderr = "";
    let interrupted = false;
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (!interrupted && /"done":(\d{4,})/.test(stderr)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    expect(code).toBe(130);
    const scanId = /ringfence scan --resume (s-[a-z0-9]+)/.exec(stderr)?.[1];
    expect(scanId).toBeDefined();
    expect(scanRow(db, scanId!).status).toBe("interrupted");
    const resumed = await runCli(["scan", "--resume", scanId!, ...args, "--quiet"]);
    expect(resumed.code).toBe(0);
    const done = scanRow(db, scanId!);
    expect(done.status).toBe("completed");
    expect(observations(db, scanId!).length).toBe(done.total_probes);
  });

  it("refuses to resume a completed scan and an unknown one", async () => {
    const db = join(tmp.dir, "inventory.db");
    const list = await runCli(["scans", "--db", db, "--json"]);
    const done = (JSON.parse(list.stdout) as { id: string; status: string }[]).find(
      (s) => s.status === "completed",
    )!;
    const again = await runCli(["scan", "--resume", done.id, "--db", db]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already completed");
    const unknown = await runCli(["scan", "--resume", "s-nope", "--db", db]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("s-nope");
  });
});
