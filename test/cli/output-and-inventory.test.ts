import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labUp, type LabState } from "../../src/lab/index.js";
import { BIN, runCli, scratchDir } from "../helpers/cli.js";

describe("outputs, inventory queries and target forms", () => {
  const tmp = scratchDir();
  const labRef = { name: "outputs", stateDir: join(tmp.dir, "lab") };
  const db = join(tmp.dir, "inventory.db");
  const lab_ = ["--lab-dir", labRef.stateDir, "--lab-name", labRef.name, "--db", db];
  let lab: LabState;
  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: 32, mode: "bind" });
  });
  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  it("--jsonl streams one valid object per probe, then a summary line", async () => {
    const result = await runCli(["scan", lab.range, ...lab_, "--jsonl", "--progress", "none"]);
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const observations = lines.filter((l) => l.type === "observation");
    expect(observations.length).toBe(32 * 6);
    expect(lines.at(-1).type).toBe("summary");
    for (const o of observations) {
      expect(o.scan).toBe(lines.at(-1).scan.id);
      expect(["open", "closed", "filtered", "open|filtered"]).toContain(o.state);
      expect(typeof o.reason).toBe("string");
    }
    const open = observations.filter((o) => o.state === "open").length;
    expect(lines.at(-1).counts.open).toBe(open);
  });

  it("--progress json writes machine-readable events on stderr only", async () => {
    const result = await runCli(["scan", lab.range, ...lab_, "--progress", "json", "--quiet"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    // --quiet wins over --progress: nothing on stderr either.
    expect(result.stderr).toBe("");
    const loud = await runCli(["scan", lab.range, ...lab_, "--progress", "json", "--json"]);
    const events = loud.stderr
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === "start")).toBe(true);
    const last = events.filter((e) => e.type === "progress").at(-1);
    expect(last.done).toBe(last.total);
  });

  it("hosts and services answer from the inventory with filters", async () => {
    const hosts = await runCli(["hosts", "--db", db, "--port", "135", "--json"]);
    expect(hosts.code).toBe(0);
    const rows = JSON.parse(hosts.stdout) as { address: string; openPorts: string[] }[];
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.openPorts).toContain("tcp/135");
    const services = await runCli([
      "services",
      "--db",
      db,
      "--state",
      "open",
      "--protocol",
      "udp",
      "--json",
    ]);
    const udp = JSON.parse(services.stdout) as { protocol: string; port: number; state: string }[];
    expect(udp.length).toBeGreaterThan(0);
    for (const s of udp) expect([s.protocol, s.port, s.state]).toEqual(["udp", 137, "open"]);
    const table = await runCli(["hosts", "--db", db]);
    expect(table.stdout).toMatch(/\d+ hosts/);
    const scans = await runCli(["scans", "--db", db, "--json"]);
    expect((JSON.parse(scans.stdout) as unknown[]).length).toBeGreaterThanOrEqual(3);
  });

  it("--fail-on-open exits 1 when something is exposed", async () => {
    const result = await runCli(["scan", lab.range, ...lab_, "--quiet", "--fail-on-open"]);
    expect(result.code).toBe(1);
  });

  it("-iL files and --exclude shape the target space", async () => {
    const list = join(tmp.dir, "targets.txt");
    writeFileSync(list, `# lab hosts\n127.20.0.0-127.20.0.15\n127.20.0.16/29, 127.20.0.30\n`);
    const result = await runCli([
      "scan",
      "-iL",
      list,
      "--exclude",
      "127.20.0.4-127.20.0.7",
      "-p",
      "T:135",
      ...lab_,
      "--jsonl",
      "--progress",
      "none",
    ]);
    expect(result.code).toBe(0);
    const addresses = new Set(
      result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .filter((l) => l.type === "observation")
        .map((l) => l.address as string),
    );
    expect(addresses.size).toBe(16 + 8 + 1 - 4);
    expect(addresses.has("127.20.0.5")).toBe(false);
    expect(addresses.has("127.20.0.30")).toBe(true);
  });

  it("refuses targets that straddle a running lab's range", async () => {
    const result = await runCli(["scan", "127.20.0.0/26", "-p", "T:135", ...lab_]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`overlap lab "${labRef.name}" (${lab.range})`);
    const outside = await runCli([
      "scan",
      "127.20.0.0/26",
      "-p",
      "T:135",
      ...lab_,
      "--no-lab",
      "--quiet",
    ]);
    expect(outside.code).toBe(0);
  });

  it("--dry-run walks every probe of the space through the scope check", () => {
    const scope = join(tmp.dir, "wide.yaml");
    writeFileSync(scope, "allow: [127.0.0.0/8]\n");
    const result = spawnSync(
      process.execPath,
      [BIN, "scan", "127.64.0.0/12", "-p", "T:135,445", "--dry-run", "--scope", scope],
      { encoding: "utf8" },
    );
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.addresses).toBe(2 ** 20);
    expect(report.probes).toBe(2 ** 21);
    expect(report.refusedByScope).toBe(0);
  });
});

describe("IPv6 and hostnames (connect scan)", () => {
  const tmp = scratchDir();
  const servers: Server[] = [];
  const PORT = 41299;
  beforeAll(async () => {
    for (const host of ["127.0.0.1", "::1"]) {
      const server = createServer((s) => s.destroy());
      await new Promise<void>((r) => server.listen(PORT, host, () => r()));
      servers.push(server);
    }
  });
  afterAll(() => {
    for (const s of servers) s.close();
    tmp.cleanup();
  });

  it("scans an IPv6 literal and a hostname whose addresses are all in scope", async () => {
    const scope = join(tmp.dir, "scope.yaml");
    writeFileSync(scope, "name: local\nallow:\n  - 127.0.0.1\n  - ::1\n");
    const db = join(tmp.dir, "v6.db");
    const v6 = await runCli([
      "scan",
      "::1",
      "-p",
      `T:${PORT}`,
      "--scope",
      scope,
      "--db",
      db,
      "--json",
      "--progress",
      "none",
    ]);
    expect(v6.code).toBe(0);
    expect(JSON.parse(v6.stdout).exposedHosts).toEqual([
      { address: "::1", open: [`tcp/${PORT}`], details: {} },
    ]);
    const named = await runCli([
      "scan",
      "localhost",
      "-p",
      `T:${PORT}`,
      "--scope",
      scope,
      "--db",
      db,
      "--jsonl",
      "--progress",
      "none",
    ]);
    expect(named.code).toBe(0);
    const observations = named.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === "observation");
    expect(observations.length).toBeGreaterThan(0);
    for (const o of observations) {
      expect(o.state).toBe("open");
      expect(o.hostnames).toEqual(["localhost"]);
    }
  });

  it("refuses a hostname that resolves outside the scope", async () => {
    const scope = join(tmp.dir, "v4only.yaml");
    writeFileSync(scope, "allow:\n  - 127.20.0.0/16\n");
    const result = await runCli([
      "scan",
      "localhost",
      "-p",
      `T:${PORT}`,
      "--scope",
      scope,
      "--db",
      join(tmp.dir, "x.db"),
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/127\.0\.0\.1|::1/);
  });

  it("says SYN probes are IPv4-only", async () => {
    const scope = join(tmp.dir, "scope.yaml");
    const result = await runCli([
      "scan",
      "::1",
      "-p",
      `T:${PORT}`,
      "--engine",
      "syn",
      "--scope",
      scope,
      "--db",
      join(tmp.dir, "y.db"),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("IPv4-only");
  });
});
