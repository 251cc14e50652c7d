/**
 * The protect loop end to end in the perimeter lab, as a user runs it (the built binary), through
 * a real forwarding firewall (root): `ringfence lab up --topology perimeter` builds rf-internet ⇄
 * rf-firewall ⇄ rf-dmz (+ rf-internal) on 198.51.100.0/24 and 203.0.113.0/24 inside namespaces
 * it creates; `lab down` removes them (afterAll, and on a failed start).
 *
 *   scan from the internet namespace (exposed) → shield plan → render → `lab firewall` loads it
 *   → verify-shield from the internet namespace (shielded, allowed services still open, controls
 *   recorded) → the offline auditor on the loaded ruleset agrees with the live probe on every
 *   (host, service, zone) it checks from the Internet and management zones → a ruleset with a
 *   hole fails verification and records nothing; the same with the iptables rendering.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditPlan,
  combinedTarget,
  parseIptablesSave,
  parseNftJson,
  readPlanFile,
  rulesetTarget,
  type AuditReport,
  type AuditStatus,
  type AuditTarget,
  type ShieldPlan,
} from "../../src/shield/index.js";
import { openStore } from "../../src/store/index.js";
import { parseAddress } from "../../src/targets/index.js";
import { BIN, scratchDir, type CliResult } from "../helpers/cli.js";
import {
  PERIMETER_CLIENTS as CLIENTS,
  PERIMETER_INTERFACES,
  PERIMETER_NAMESPACES as NS,
  perimeterHosts,
} from "../../src/lab/index.js";
import { IS_ROOT, must, NEEDS_ROOT, type Probe, type ProbeResult } from "./netns-topology.js";

const LAB_HOSTS = perimeterHosts(11);
/** w2k-sp4 (135, 139, 445) twice, and linux-server (22, 80): the hosts of the plan. */
const [W2K, W2K_2, WEB] = ["203.0.113.131", "203.0.113.132", "203.0.113.140"] as const;
const PROBE_SCRIPT = fileURLToPath(new URL("./fixtures/probe.mjs", import.meta.url));

async function probeFrom(ns: string, probes: readonly Probe[]): Promise<ProbeResult[]> {
  const out = await must(
    "ip",
    ["netns", "exec", ns, process.execPath, PROBE_SCRIPT],
    JSON.stringify({ timeoutMs: 400, probes }),
  );
  return JSON.parse(out) as ProbeResult[];
}

const listens = (host: string, proto: string, port: number) => {
  const h = LAB_HOSTS.find((x) => x.address === host)!;
  return (proto === "tcp" ? h.tcp : h.udp).includes(port);
};

/** The CLI, in the current namespace or (ns) inside a namespace of the topology. */
function cli(args: string[], ns?: string): Promise<CliResult> {
  const [command, argv] =
    ns === undefined
      ? [process.execPath, [BIN, ...args]]
      : ["ip", ["netns", "exec", ns, process.execPath, BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function single(address: string) {
  const parsed = parseAddress(address)!;
  return [{ family: parsed.family, first: parsed.value, last: parsed.value }];
}

const SCAN_PORTS = "T:80,135,139,445,593,4444,U:135,137";
const PROBE = ["--engine", "connect", "--timeout", "300ms", "--retries", "0"];

describe.skipIf(!IS_ROOT)(`the protect loop through a real firewall [${NEEDS_ROOT}]`, () => {
  const tmp = scratchDir("rf-protect-");
  const at = (name: string) => join(tmp.dir, name);
  const db = at("inv.db");
  let plan: ShieldPlan;
  const fw = (command: string, args: string[]) =>
    must("ip", ["netns", "exec", NS.firewall, command, ...args]);

  beforeAll(async () => {
    writeFileSync(at("scope.yaml"), "allow: [203.0.113.128/25]\n");
    const up = await cli(["lab", "up", "--topology", "perimeter", "--hosts", "11"]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    const down = await cli(["lab", "down", "--topology", "perimeter"]);
    tmp.cleanup();
    expect(down.code).toBe(0);
    for (const ns of Object.values(NS)) expect(existsSync(`/run/netns/${ns}`)).toBe(false);
  });

  async function load(files: readonly string[]): Promise<void> {
    const loaded = await cli(["lab", "firewall", ...files]);
    expect(loaded.stderr).toBe("");
    expect(loaded.code).toBe(0);
  }

  async function loaded(kind: "nft" | "iptables"): Promise<AuditTarget> {
    if (kind === "nft")
      return rulesetTarget(parseNftJson(await fw("nft", ["-j", "list", "ruleset"]), "nft"));
    return combinedTarget([
      rulesetTarget(parseIptablesSave(await fw("iptables-save", []), "iptables-save")),
      rulesetTarget(parseIptablesSave(await fw("ip6tables-save", []), "ip6tables-save", 6)),
    ]);
  }

  const verify = () =>
    cli([
      "verify-shield",
      "--plan",
      at("plan.yaml"),
      "--from",
      NS.internet,
      "--db",
      db,
      "--scope",
      at("scope.yaml"),
      ...PROBE,
    ]);

  async function controlCount(): Promise<number> {
    const store = await openStore(db);
    try {
      return (await store.listControls()).length;
    } finally {
      await store.close();
    }
  }

  /**
   * The offline auditor on the loaded ruleset against a live probe from a client address of each
   * zone, for every (host, service, zone) the audit checks: the ruleset's verdict for that packet
   * predicts the probe, and the audit's status (where the plan decides) says the same.
   */
  async function auditAgreesWithProbe(kind: "nft" | "iptables"): Promise<AuditReport> {
    const target = await loaded(kind);
    const zones: Record<string, string> = { internet: CLIENTS.internet, mgmt: CLIENTS.mgmt };
    // Both zones enter the firewall by its outside interface.
    const outside = PERIMETER_INTERFACES.outside;
    const report = auditPlan(plan, target, {
      zoneInterfaces: { internet: outside, mgmt: outside },
    });
    const checked = report.findings.filter((f) => f.direction === "in" && f.zone in zones);
    expect(checked.length).toBeGreaterThan(10);
    const probes = checked.map((f) => {
      const [proto, port] = f.service.split("/") as ["tcp" | "udp", string];
      return { src: zones[f.zone]!, dst: f.host, proto, port: Number(port) };
    });
    const results = await probeFrom(NS.internet, probes);
    const wrong: string[] = [];
    checked.forEach((f, i) => {
      const p = probes[i]!;
      const live = results[i]!.result;
      const outcomes = target.evaluate({
        path: "forward",
        family: 4,
        proto: p.proto,
        port: p.port,
        src: single(p.src),
        dst: single(p.dst),
        iif: outside,
      });
      const verdicts = outcomes.map((o) => o.verdict).join(",");
      const where = `${f.host} ${f.service} from ${f.zone} (${p.src})`;
      if (outcomes.length !== 1 || verdicts === "unknown") {
        wrong.push(`${where}: auditor cannot decide (${verdicts})`);
        return;
      }
      if (f.status === "unknown") wrong.push(`${where}: audit unknown (${f.reason})`);
      const accepted = verdicts === "accept" || verdicts === "unset";
      const planned: Partial<Record<AuditStatus, boolean>> = {
        shielded: false,
        "blocked-allowed": false,
        reachable: true,
        exposed: true,
      };
      if (planned[f.status] !== undefined && planned[f.status] !== accepted)
        wrong.push(`${where}: audit ${f.status}, but the ruleset says ${verdicts}`);
      if (listens(p.dst, p.proto, p.port)) {
        // A listening service: open exactly when the ruleset lets the packet through.
        if ((live === "open") !== accepted)
          wrong.push(`${where}: ruleset says ${verdicts}, probe ${live}`);
      } else {
        // Nothing listens: never open; silence only when the ruleset drops.
        if (live === "open") wrong.push(`${where}: open, but nothing listens`);
        if (live === "timeout" && accepted) wrong.push(`${where}: accepted, but no answer`);
      }
    });
    expect(wrong).toEqual([]);
    return report;
  }

  it("scans exposed, plans, renders nftables, loads it, verifies and records controls; the auditor agrees with the probes", async () => {
    const scan = await cli(
      [
        "scan",
        "203.0.113.130-140",
        "-p",
        SCAN_PORTS,
        "--scope",
        at("scope.yaml"),
        "--db",
        db,
        "--progress",
        "none",
        "-q",
        ...PROBE,
      ],
      NS.internet,
    );
    expect(scan.stderr).toBe("");
    expect(scan.code).toBe(0);
    const store = await openStore(db);
    let open: string[];
    try {
      open = (await store.listServices({ state: "open" })).map(
        (s) => `${s.address} ${s.protocol}/${s.port}`,
      );
    } finally {
      await store.close();
    }
    // Exposed: from the Internet, before any firewall rule.
    for (const host of [W2K, W2K_2])
      for (const port of [135, 139, 445]) expect(open).toContain(`${host} tcp/${port}`);
    expect(open).toContain(`${WEB} tcp/80`);

    const exposures = open
      .filter(
        (s) => [W2K, W2K_2].some((h) => s.startsWith(`${h} `)) && /tcp\/(135|139|445)$/.test(s),
      )
      .map((s) => {
        const [host, svc] = s.split(" ") as [string, string];
        return `  - { host: ${host}, proto: tcp, port: ${svc.split("/")[1]} }`;
      });
    exposures.push(`  - { host: ${WEB}, proto: tcp, port: 80 }`);
    writeFileSync(at("exposed.yaml"), `exposures:\n${exposures.join("\n")}\n`);
    const planned = await cli([
      "shield",
      "plan",
      "--exposures",
      at("exposed.yaml"),
      "--advisory",
      "ms03-026",
      "--placement",
      "network",
      "--zone",
      `mgmt=${CLIENTS.mgmt}`,
      "--allow",
      "mgmt:tcp/445",
      "--allow",
      `internet:tcp/80@${WEB}`,
      "-o",
      at("plan.yaml"),
    ]);
    expect(planned.stderr).toContain("3 hosts");
    expect(planned.code).toBe(0);
    plan = await readPlanFile(at("plan.yaml"));
    const rendered = await cli([
      "shield",
      "render",
      "--target",
      "nftables",
      at("plan.yaml"),
      "-o",
      at("shield.nft"),
    ]);
    expect(rendered.code).toBe(0);
    await load([at("shield.nft")]);

    const verified = await verify();
    expect(verified.stderr).toBe("");
    expect(verified.stdout).toContain("verified: 3/3 hosts as planned");
    expect(verified.code).toBe(0);
    const reader = await openStore(db);
    try {
      const controls = await reader.listControls();
      expect(controls.map((c) => c.appliesTo.ranges)).toEqual([[W2K], [W2K_2], [WEB]]);
      for (const c of controls) {
        expect(c.kind).toBe("perimeter-block");
        expect(c.method).toBe("rescan-external");
        expect(c.covers).toContainEqual({ proto: "tcp", port: 135 });
        expect(c.covers).toContainEqual({ proto: "tcp", port: 445 });
        // The policy's perimeter-block TTL: 7 days.
        expect(Date.parse(c.expiresAt!) - Date.parse(c.verifiedAt!)).toBe(7 * 86_400_000);
      }
    } finally {
      await reader.close();
    }
    await auditAgreesWithProbe("nft");
  }, 120_000);

  it("a ruleset with a hole (445 forwarded from anywhere) fails verification, records nothing, and the auditor sees the same hole", async () => {
    expect(plan).toBeDefined();
    const before = await controlCount();
    writeFileSync(
      at("hole.nft"),
      `table inet hole {\n  chain forward {\n    type filter hook forward priority filter; policy drop;\n    ct state established,related accept\n    iifname "${PERIMETER_INTERFACES.dmz}" accept\n    tcp dport { 80, 445 } accept\n  }\n}\n`,
    );
    await load([at("hole.nft")]);
    const result = await verify();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/EXPOSED +203\.0\.113\.131 tcp\/445: open/);
    expect(result.stdout).toContain("NOT verified");
    expect(await controlCount()).toBe(before);
    const report = await auditAgreesWithProbe("nft");
    expect(
      report.findings
        .filter((f) => f.status === "exposed" && f.zone === "internet")
        .map((f) => `${f.host} ${f.service}`),
    ).toEqual([`${W2K} tcp/445`, `${W2K_2} tcp/445`, `${WEB} tcp/445`]);
  }, 120_000);

  it.skipIf(!existsSync("/usr/sbin/iptables-restore"))(
    "the iptables rendering verifies too, and the auditor agrees with the probes",
    async () => {
      expect(plan).toBeDefined();
      const rendered = await cli([
        "shield",
        "render",
        "--target",
        "iptables",
        at("plan.yaml"),
        "-o",
        at("rules"),
      ]);
      expect(rendered.code).toBe(0);
      await load([join(at("rules"), "iptables.rules")]);
      const result = await verify();
      expect(result.stdout).toContain("verified: 3/3 hosts as planned");
      expect(result.code).toBe(0);
      await auditAgreesWithProbe("iptables");
    },
    120_000,
  );
});
