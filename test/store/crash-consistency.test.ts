import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { tempDirectory } from "./store-test-helpers.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const fixture = join(repoRoot, "test/store/fixtures/record-loop.ts");

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDirectory();
});
afterEach(() => dir.cleanup());

const BATCH = 1000;

interface Recorder {
  /** Resolves once the child has created its scan and waits for go(). */
  scanId: Promise<string>;
  go(): void;
  /** Resolves once the child has committed its first batch. */
  started: Promise<void>;
  kill(): Promise<void>;
}

/** Starts the recording loop in a child process (see fixtures/record-loop.ts). */
function startRecorder(path: string): Recorder {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, path, String(BATCH)], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let stdout = "";
  const scanId = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const id = /^scan (\S+)$/m.exec(stdout)?.[1];
      if (id !== undefined) resolve(id);
    });
    void exited.then(() => reject(new Error(`recorder exited early: ${stderr}`)));
  });
  const started = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => {
      if (/^batch 1$/m.test(stdout)) resolve();
    });
    void exited.then(() => reject(new Error(`recorder exited early: ${stderr}`)));
  });
  return {
    scanId,
    started,
    go: () => child.stdin.write("go\n"),
    async kill() {
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
    },
  };
}

function rowCounts(path: string): Map<string, number> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare("select scan_id, count(*) as n from observations group by scan_id")
      .all() as { scan_id: string; n: number }[];
    return new Map(rows.map((row) => [row.scan_id, row.n]));
  } finally {
    db.close();
  }
}

/**
 * Three processes record into one database at once (so they also wait on each other's write
 * locks) and are SIGKILLed at staggered instants. They spend nearly all their time inside
 * recordBatch, so most kills land mid-transaction or between two of them. After every round the
 * database must open, and every scan's rows must be exactly what its checkpoint counts.
 */
it(
  "leaves rows and checkpoints from the same transactions after kill -9",
  { timeout: 180_000 },
  async () => {
    const path = join(dir.path, "crash.db");
    // Created up front so that three children do not race to create the schema.
    await (await openStore(path)).close();
    const scans: string[] = [];
    for (let round = 0; round < 4; round++) {
      const recorders = [0, 1, 2].map(() => startRecorder(path));
      scans.push(...(await Promise.all(recorders.map((recorder) => recorder.scanId))));
      for (const recorder of recorders) recorder.go();
      await Promise.all(recorders.map((recorder) => recorder.started));
      for (const [index, recorder] of recorders.entries()) {
        // Staggered, varying delays: different points of the batch cycle each time.
        await new Promise((resolve) => setTimeout(resolve, (round * 7 + index * 13) % 29));
        await recorder.kill();
      }

      // The store reopens after every crash: inspection, quick_check and WAL recovery pass.
      const store = await openStore(path);
      const rowsByScan = rowCounts(path);
      for (const id of scans) {
        const scan = await store.requireScan(id);
        expect(rowsByScan.get(id) ?? 0, id).toBe(scan.probesDone);
        expect(scan.probesDone).toBe(scan.checkpointStep * BATCH);
        expect(scan.counts).toEqual({ total: scan.probesDone });
        expect(scan.checkpointStep).toBeGreaterThanOrEqual(1);
      }
      await store.close();
    }

    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      expect(db.pragma("foreign_key_check")).toEqual([]);
      // Foreign keys hold, and every host that answered in any committed batch is an asset.
      const orphanAnswers = db
        .prepare(
          `select count(*) from observations
          where state in ('open', 'closed') and asset_id is null`,
        )
        .pluck()
        .get();
      expect(orphanAnswers).toBe(0);
    } finally {
      db.close();
    }
  },
);
