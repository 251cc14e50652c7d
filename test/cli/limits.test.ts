import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labUp, type LabState } from "../../src/lab/index.js";
import { BIN, runCli, scratchDir } from "../helpers/cli.js";

describe("limits: open files and --rate", () => {
  const tmp = scratchDir();
  const labRef = { name: "limits", stateDir: join(tmp.dir, "lab") };
  let lab: LabState;
  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: 256, mode: "bind" });
  });
  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  it("says when the open-file limit caps concurrency, and how to lift it, and still scans correctly", () => {
    const args = [
      BIN,
      "scan",
      lab.range,
      "-p",
      "T:135,445",
      "--engine",
      "connect",
      "--concurrency",
      "4096",
      "--lab-dir",
      labRef.stateDir,
      "--lab-name",
      labRef.name,
      "--db",
      join(tmp.dir, "fd.db"),
      "--json",
      "--progress",
      "plain",
    ];
    const result = spawnSync(
      "sh",
      ["-c", `ulimit -n 700 && exec "$0" "$@"`, process.execPath, ...args],
      {
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(
      /open-file limit 700 .*caps concurrent connects at \d+; raise it with `ulimit -n/,
    );
    const report = JSON.parse(result.stdout);
    expect(report.scan.status).toBe("completed");
    expect(report.scan.probesDone).toBe(512);
  });

  it("--rate is an upper bound on attempts per second", async () => {
    // 600 probes at 1,000/s cannot finish in less than ~0.59 s of the scanner's own clock
    // (the bucket starts with at most 10 ms of burst). A lower bound only: load can slow a scan,
    // never speed it up.
    const loud = await runCli([
      "scan",
      "127.20.0.0-127.20.0.199",
      "-p",
      "T:135,139,445",
      "--rate",
      "1000",
      "--lab-dir",
      labRef.stateDir,
      "--lab-name",
      labRef.name,
      "--db",
      join(tmp.dir, "rate.db"),
      "--progress",
      "json",
    ]);
    expect(loud.code).toBe(0);
    const progress = loud.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === "progress");
    const last = progress.at(-1);
    expect(last.done).toBe(600);
    expect(last.elapsedMs).toBeGreaterThanOrEqual(580);
    expect(last.sent).toBe(600);
  });
});
