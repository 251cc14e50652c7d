import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PERSONAS,
  SMB_CHECK_IDS,
  labDown,
  labUp,
  readGroundTruth,
  type GroundTruth,
  type LabState,
} from "../../src/lab/index.js";
import type { ScanSummary } from "../../src/reports/index.js";
import type { SmbFingerprint } from "../../src/smb/fingerprint.js";
import { openStore, type CheckRunRow, type HostRow } from "../../src/store/index.js";
import { runCli, scratchDir } from "../helpers/cli.js";

/**
 * The acceptance test of the SMB fingerprint and checks (issue 4): a catalogue lab (one host per
 * persona, the hostile SMB peers included) scanned with the default safe checks. For every host
 * with 139 or 445 open, the stored fingerprint (OS product, accepted dialects, signing) and the
 * four SMB verdicts must equal the lab's hand-written `expected.smb`; hosts without SMB get
 * none; hostile hosts end UNKNOWN with a specific reason inside the per-host budget, and the
 * scan lives through all of them. `ringfence host` and `ringfence hosts` show what was stored.
 */

const HOST_BUDGET_MS = 30_000;

describe("every persona's SMB fingerprint and SMB verdicts equal the lab's ground truth", () => {
  const tmp = scratchDir("rf-smb-verdicts-");
  const labRef = { name: `smb${process.pid.toString(36)}`, stateDir: join(tmp.dir, "lab") };
  const db = join(tmp.dir, "inv.db");
  let lab: LabState;
  let truth: GroundTruth;
  let scan: Awaited<ReturnType<typeof runCli>>;
  let summary: ScanSummary;
  let runs: CheckRunRow[];
  let hosts: Map<string, HostRow>;

  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: PERSONAS.length, layout: "catalogue" });
    truth = await readGroundTruth(lab);
    scan = await runCli(
      [
        "scan",
        lab.range,
        "--db",
        db,
        "--json",
        "--progress",
        "none",
        "--timeout",
        "1s",
        "--check-timeout",
        "1s",
        "--lab-dir",
        labRef.stateDir,
        "--lab-name",
        labRef.name,
      ],
      { timeoutMs: 180_000 },
    );
    summary = JSON.parse(scan.stdout) as ScanSummary;
    const store = await openStore(db);
    try {
      runs = await store.listCheckRuns({ scanId: summary.scan.id });
      hosts = new Map((await store.listHosts()).map((h) => [h.address, h]));
    } finally {
      await store.close();
    }
  }, 240_000);

  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  const fingerprintOf = (address: string): SmbFingerprint | null =>
    (hosts.get(address)?.detail?.smb as SmbFingerprint | undefined) ?? null;

  it("the scan completes (the process survived every hostile SMB persona)", () => {
    expect(scan.code).toBe(0);
    expect(summary.scan.status).toBe("completed");
  });

  it("fingerprints every host with SMB as its persona expects (OS, dialects, signing), and no other", () => {
    const disagreements: string[] = [];
    for (const host of truth.hosts) {
      const expected = host.expected.smb;
      const fp = fingerprintOf(host.address);
      const got =
        fp === null
          ? null
          : { os: fp.os.product, dialects: fp.acceptedDialects, signing: fp.signing.state };
      const want =
        expected === null
          ? null
          : { os: expected.os, dialects: expected.dialects, signing: expected.signing };
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        disagreements.push(
          `${host.address} ${host.persona}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`,
        );
      }
    }
    expect(disagreements).toEqual([]);
    // The catalogue covers SMB1-only, SMB1+2.x, SMB2/3-only with and without compression, Samba.
    const shapes = new Set(
      truth.hosts.flatMap((h) => (h.expected.smb ? [h.expected.smb.dialects.join(",")] : [])),
    );
    expect(shapes.size).toBeGreaterThanOrEqual(4);
  });

  it("reaches every SMB verdict the persona expects", () => {
    const byHost = new Map<string, Map<string, CheckRunRow>>();
    for (const run of runs) {
      const mine = byHost.get(run.address) ?? new Map<string, CheckRunRow>();
      mine.set(run.checkId, run);
      byHost.set(run.address, mine);
    }
    const disagreements: string[] = [];
    for (const host of truth.hosts) {
      const expected = host.expected.smb;
      for (const checkId of SMB_CHECK_IDS) {
        const run = byHost.get(host.address)?.get(checkId);
        const want = expected === null ? undefined : expected.checks[checkId];
        if (run?.verdict !== want) {
          disagreements.push(
            `${host.address} ${host.persona} ${checkId}: expected ${want}, got ${run?.verdict} (${run?.reason ?? "no run"})`,
          );
        }
      }
    }
    expect(disagreements).toEqual([]);
    const verdicts = new Set(
      runs.filter((r) => SMB_CHECK_IDS.includes(r.checkId as never)).map((r) => r.verdict),
    );
    expect(verdicts).toEqual(
      new Set(["VULNERABLE", "NOT_VULNERABLE", "NOT_APPLICABLE", "UNKNOWN"]),
    );
  });

  it("reports SMBGhost's capability as POTENTIALLY_VULNERABLE_SMBGHOST with the build", () => {
    const ghost = truth.hosts.find((h) => h.persona === "win10-1903");
    expect(ghost).toBeDefined();
    const run = runs.find(
      (r) => r.address === ghost!.address && r.checkId === "smbghost-compression-capability",
    );
    expect(run?.verdict).toBe("VULNERABLE");
    expect(run?.classification).toBe("POTENTIALLY_VULNERABLE_SMBGHOST");
    expect(run?.reason).toMatch(/^capability: potentially vulnerable, build 18362/);
  });

  it("ends every hostile SMB host UNKNOWN with a specific reason, within the per-host budget", () => {
    const hostile = truth.hosts.filter((h) => h.persona.startsWith("smb-"));
    expect(hostile.length).toBeGreaterThanOrEqual(5);
    for (const host of hostile) {
      const hostRuns = runs.filter(
        (r) => r.address === host.address && SMB_CHECK_IDS.includes(r.checkId as never),
      );
      expect([host.persona, hostRuns.length]).toEqual([host.persona, SMB_CHECK_IDS.length]);
      for (const run of hostRuns) {
        expect([host.persona, run.checkId, run.verdict]).toEqual([
          host.persona,
          run.checkId,
          "UNKNOWN",
        ]);
        expect(run.reason.length).toBeGreaterThan(20);
        expect(run.reasonCode).not.toBe("");
        const took = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
        expect(took).toBeLessThanOrEqual(HOST_BUDGET_MS);
      }
      // The failures are in the stored fingerprint too, each with its reason.
      expect(fingerprintOf(host.address)?.failures.length ?? 0).toBeGreaterThan(0);
    }
  });

  it("records each SMB exchange as evidence: connection, step, status", () => {
    const xp = truth.hosts.find((h) => h.persona === "xp-sp1")!;
    const run = runs.find(
      (r) => r.address === xp.address && r.checkId === "ms17-010-peeknamedpipe",
    );
    expect(run?.verdict).toBe("VULNERABLE");
    const steps = run!.evidence as { step: string; connection: number; status?: string }[];
    expect(steps.map((s) => s.step)).toEqual(
      expect.arrayContaining([
        "SMB1 NEGOTIATE (NT LM 0.12, extended security)",
        expect.stringMatching(/^SMB1 TREE_CONNECT_ANDX .*IPC\$$/),
        "SMB1 TRANSACTION PeekNamedPipe FID 0 (MS17-010)",
      ]),
    );
    expect(steps.find((s) => s.step.includes("PeekNamedPipe"))?.status).toBe(
      "STATUS_INSUFF_SERVER_RESOURCES (0xc0000205)",
    );
  });

  it("runs the RPCSS checks over \\pipe\\epmapper (445, or 139 for NT 4.0) to the TCP 135 verdicts", async () => {
    const lab = ["--lab-dir", labRef.stateDir, "--lab-name", labRef.name, "--no-store", "--json"];
    const personas = [
      "nt4-sp6a",
      "w2k-sp4",
      "w2k-sp4-kb823980",
      "w2k-sp4-patched",
      "xp-sp1",
      "w2k3-rtm",
    ];
    for (const persona of personas) {
      const host = truth.hosts.find((h) => h.persona === persona)!;
      const port = persona.startsWith("nt4") ? "139" : "445";
      const result = await runCli([
        "check",
        "ms03-026-remote-activation",
        host.address,
        "--port",
        port,
        ...lab,
      ]);
      const report = JSON.parse(result.stdout) as {
        hosts: { rpcss: { protseq: string; classification: string } }[];
      };
      expect([persona, report.hosts[0]?.rpcss]).toEqual([
        persona,
        {
          protseq: "ncacn_np",
          port: Number(port),
          classification: host.expected.rpcss,
          reason: expect.anything(),
        },
      ]);
    }
    // The endpoint map over the pipe is the one on TCP 135.
    const w2k = truth.hosts.find((h) => h.persona === "w2k-sp4")!;
    const dump = async (target: string) =>
      (
        JSON.parse((await runCli(["rpc", "dump", target, ...lab])).stdout) as {
          entries: { binding: string }[];
        }
      ).entries
        .map((e) => e.binding)
        .sort();
    expect(await dump(`ncacn_np:${w2k.address}[\\pipe\\epmapper]`)).toEqual(
      await dump(w2k.address),
    );
  });

  it("stores the OS on the asset: `hosts` shows it, `host <ip>` shows the fingerprint and verdicts", async () => {
    const xp = truth.hosts.find((h) => h.persona === "xp-sp1")!;
    expect(hosts.get(xp.address)?.os).toMatch(/^Windows XP/);
    const list = await runCli(["hosts", "--db", db, "--port", "445"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${xp.address.replace(/\./g, "\\.")}.*Windows XP`));
    const one = await runCli(["host", xp.address, "--db", db]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("SMB / NetBIOS fingerprint:");
    expect(one.stdout).toMatch(/NativeOS\s+Windows 5\.1/);
    expect(one.stdout).toMatch(/ms17-010-peeknamedpipe \(tcp\/445\): VULNERABLE/);
    expect(one.stdout).toMatch(/ms17-010 tcp\/445 vulnerable \(open\)/);
    const json = await runCli(["host", xp.address, "--db", db, "--json"]);
    const view = JSON.parse(json.stdout) as { fingerprint: SmbFingerprint; checks: CheckRunRow[] };
    expect(view.fingerprint.acceptedDialects).toEqual(["NT LM 0.12"]);
    expect(view.checks.map((c) => c.checkId)).toEqual(expect.arrayContaining([...SMB_CHECK_IDS]));
  });
});
