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
 *   hole fails verification and records nothing; the same with the iptables rendering and with a
 *   hand-written iptables ruleset with a hole.
 *
 * Inside: the LAN (rf-internal) reaches its hosts (each in its own namespace) without crossing
 * the perimeter firewall, so only the host-firewall part of a plan can shield them there:
 *   scan from the LAN (exposed) → host-placement plan → render → `lab firewall --host` loads it
 *   into every internal host → verify-shield from rf-internal (shielded, the LAN's allowed file
 *   share still open, host-firewall controls recorded) → the auditor on each host's own ruleset
 *   agrees with live probes from the LAN, the admin workstation and the Internet → hand-written
 *   host rulesets with a hole (nftables and iptables) fail and the auditor names the hole.
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
  type AuditFinding,
  type AuditStatus,
  type AuditTarget,
  type ShieldPlan,
} from "../../src/shield/index.js";
import { openStore } from "../../src/store/index.js";
import { parseAddress } from "../../src/targets/index.js";
import { BIN, scratchDir, type CliResult } from "../helpers/cli.js";
import {
  PERIMETER_CLIENTS as CLIENTS,
  PERIMETER_HOST_INTERFACE,
  PERIMETER_INTERFACES,
  PERIMETER_LAN_CLIENTS as LAN_CLIENTS,
  PERIMETER_NAMESPACES as NS,
  perimeterHosts,
  perimeterInternalHosts,
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

const INTERNAL_HOSTS = perimeterInternalHosts();
/** xp-sp1 (135, 139, 445), w2k3-rtm (also 593; the LAN's file server), w2k-sp4. */
const [DESKTOP, FILE_SERVER, SERVER] = INTERNAL_HOSTS.map((h) => h.address) as [
  string,
  string,
  string,
];
const listens = (host: string, proto: string, port: number) => {
  const h = [...LAB_HOSTS, ...INTERNAL_HOSTS].find((x) => x.address === host)!;
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

  beforeAll(async () => {
    writeFileSync(at("scope.yaml"), "allow: [203.0.113.128/25, 203.0.113.32/27]\n");
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

  async function load(files: readonly string[], host?: string): Promise<void> {
    const loaded = await cli([
      "lab",
      "firewall",
      ...(host === undefined ? [] : ["--host", host]),
      ...files,
    ]);
    expect(loaded.stderr).toBe("");
    expect(loaded.code).toBe(0);
  }

  /** The ruleset loaded in a namespace of the lab, as the auditor reads it. */
  async function loaded(kind: "nft" | "iptables", ns: string): Promise<AuditTarget> {
    const inNs = (command: string, args: string[]) =>
      must("ip", ["netns", "exec", ns, command, ...args]);
    if (kind === "nft")
      return rulesetTarget(parseNftJson(await inNs("nft", ["-j", "list", "ruleset"]), "nft"));
    return combinedTarget([
      rulesetTarget(parseIptablesSave(await inNs("iptables-save", []), "iptables-save")),
      rulesetTarget(parseIptablesSave(await inNs("ip6tables-save", []), "ip6tables-save", 6)),
    ]);
  }

  const verify = (planFile = at("plan.yaml"), from: string = NS.internet) =>
    cli([
      "verify-shield",
      "--plan",
      planFile,
      "--from",
      from,
      "--db",
      db,
      "--scope",
      at("scope.yaml"),
      // From inside, the vantage is a peer on the hosts' own network.
      ...(from === NS.internet ? [] : ["--method", "peer"]),
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
   * zone, for every inbound (host, service, zone) the audit checks: the ruleset's verdict for that
   * packet predicts the probe, and the audit's status (where the plan decides) says the same.
   * Perimeter plans are read from the firewall (forward path, entering by its outside interface);
   * host plans from each internal host's own namespace (input path, entering by its LAN port).
   */
  async function auditAgreesWithProbe(
    kind: "nft" | "iptables",
    against: { plan: ShieldPlan; zones: Record<string, { ns: string; src: string }> } = {
      plan,
      zones: {
        internet: { ns: NS.internet, src: CLIENTS.internet },
        mgmt: { ns: NS.internet, src: CLIENTS.mgmt },
      },
    },
  ): Promise<AuditFinding[]> {
    const host = against.plan.placement === "host";
    const iif = host ? PERIMETER_HOST_INTERFACE : PERIMETER_INTERFACES.outside;
    const where = host
      ? INTERNAL_HOSTS.filter((h) => against.plan.hosts.some((p) => p.address === h.address)).map(
          (h) => ({ ns: h.namespace, only: h.address }),
        )
      : [{ ns: NS.firewall, only: undefined }];
    // Each host's own ruleset decides for that host only.
    const decided: AuditFinding[] = [];
    const wrong: string[] = [];
    let checkedCount = 0;
    for (const { ns, only } of where) {
      const target = await loaded(kind, ns);
      const zoneInterfaces = Object.fromEntries(Object.keys(against.zones).map((z) => [z, iif]));
      const report = auditPlan(against.plan, target, { zoneInterfaces });
      decided.push(...report.findings.filter((f) => only === undefined || f.host === only));
      const checked = report.findings.filter(
        (f) =>
          f.direction === "in" &&
          f.zone in against.zones &&
          (only === undefined || f.host === only),
      );
      checkedCount += checked.length;
      const probes = checked.map((f) => {
        const [proto, port] = f.service.split("/") as ["tcp" | "udp", string];
        return { src: against.zones[f.zone]!.src, dst: f.host, proto, port: Number(port) };
      });
      const results = new Map<number, ProbeResult>();
      for (const probeNs of new Set(Object.values(against.zones).map((z) => z.ns))) {
        const mine = checked.flatMap((f, i) => (against.zones[f.zone]!.ns === probeNs ? [i] : []));
        const answers = await probeFrom(
          probeNs,
          mine.map((i) => probes[i]!),
        );
        mine.forEach((i, k) => results.set(i, answers[k]!));
      }
      checked.forEach((f, i) => {
        const p = probes[i]!;
        const live = results.get(i)!.result;
        const outcomes = target.evaluate({
          path: host ? "input" : "forward",
          family: 4,
          proto: p.proto,
          port: p.port,
          src: single(p.src),
          dst: single(p.dst),
          iif,
        });
        const verdicts = outcomes.map((o) => o.verdict).join(",");
        const at = `${f.host} ${f.service} from ${f.zone} (${p.src})`;
        if (outcomes.length !== 1 || verdicts === "unknown") {
          wrong.push(`${at}: auditor cannot decide (${verdicts})`);
          return;
        }
        if (f.status === "unknown") wrong.push(`${at}: audit unknown (${f.reason})`);
        const accepted = verdicts === "accept" || verdicts === "unset";
        const planned: Partial<Record<AuditStatus, boolean>> = {
          shielded: false,
          "blocked-allowed": false,
          reachable: true,
          exposed: true,
        };
        if (planned[f.status] !== undefined && planned[f.status] !== accepted)
          wrong.push(`${at}: audit ${f.status}, but the ruleset says ${verdicts}`);
        if (listens(p.dst, p.proto, p.port)) {
          // A listening service: open exactly when the ruleset lets the packet through.
          if ((live === "open") !== accepted)
            wrong.push(`${at}: ruleset says ${verdicts}, probe ${live}`);
        } else {
          // Nothing listens: never open; silence only when the ruleset drops.
          if (live === "open") wrong.push(`${at}: open, but nothing listens`);
          if (live === "timeout" && accepted) wrong.push(`${at}: accepted, but no answer`);
        }
      });
    }
    expect(checkedCount).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
    return decided;
  }

  const exposedIn = (findings: readonly AuditFinding[], zone: string) =>
    findings
      .filter((f) => f.status === "exposed" && f.zone === zone && f.direction === "in")
      .map((f) => `${f.host} ${f.service}`)
      .sort();

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
    const reports = await auditAgreesWithProbe("nft");
    expect(exposedIn(reports, "internet")).toEqual([
      `${W2K} tcp/445`,
      `${W2K_2} tcp/445`,
      `${WEB} tcp/445`,
    ]);
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

  it.skipIf(!existsSync("/usr/sbin/iptables-restore"))(
    "a hand-written iptables ruleset with a hole (445 forwarded from anywhere) fails verification, records nothing, and the auditor sees the same hole",
    async () => {
      expect(plan).toBeDefined();
      const before = await controlCount();
      writeFileSync(
        at("hole.rules"),
        [
          "*filter",
          ":INPUT ACCEPT [0:0]",
          ":FORWARD DROP [0:0]",
          ":OUTPUT ACCEPT [0:0]",
          "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
          `-A FORWARD -i ${PERIMETER_INTERFACES.dmz} -j ACCEPT`,
          "-A FORWARD -p tcp -m multiport --dports 80,445 -j ACCEPT",
          "COMMIT",
          "",
        ].join("\n"),
      );
      await load([at("hole.rules")]);
      const result = await verify();
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/EXPOSED +203\.0\.113\.131 tcp\/445: open/);
      expect(result.stdout).toContain("NOT verified");
      expect(await controlCount()).toBe(before);
      const reports = await auditAgreesWithProbe("iptables");
      expect(exposedIn(reports, "internet")).toEqual([
        `${W2K} tcp/445`,
        `${W2K_2} tcp/445`,
        `${WEB} tcp/445`,
      ]);
    },
    120_000,
  );

  describe("inside: internal hosts shielded by the host-firewall part", () => {
    let hostPlan: ShieldPlan;
    const hostZones = {
      lan: { ns: NS.internal, src: LAN_CLIENTS.lan },
      admin: { ns: NS.internal, src: LAN_CLIENTS.admin },
      internet: { ns: NS.internet, src: CLIENTS.internet },
    };
    const loadEveryHost = async (file: string) => {
      for (const host of INTERNAL_HOSTS) await load([file], host.address);
    };

    it("the LAN reaches the internal hosts past the perimeter; a host plan rendered for nftables and loaded into each host verifies from inside, and the auditor agrees with the probes", async () => {
      // The perimeter firewall lets everything through: what shields the hosts here is theirs.
      writeFileSync(at("open.nft"), "# nothing: forward everything\n");
      await load([at("open.nft")]);
      const scan = await cli(
        [
          "scan",
          `${DESKTOP}-${SERVER}`,
          "-p",
          SCAN_PORTS,
          "--scope",
          at("scope.yaml"),
          "--db",
          at("inside.db"),
          "--progress",
          "none",
          "-q",
          ...PROBE,
        ],
        NS.internal,
      );
      expect(scan.stderr).toBe("");
      expect(scan.code).toBe(0);
      const store = await openStore(at("inside.db"));
      let open: string[];
      try {
        open = (await store.listServices({ state: "open", protocol: "tcp" })).map(
          (s) => `${s.address} ${s.protocol}/${s.port}`,
        );
      } finally {
        await store.close();
      }
      // Exposed on the LAN: every persona's RPC and SMB ports, 593 on the 2003 server.
      for (const host of [DESKTOP, FILE_SERVER, SERVER])
        for (const port of [135, 139, 445]) expect(open).toContain(`${host} tcp/${port}`);
      expect(open).toContain(`${FILE_SERVER} tcp/593`);
      writeFileSync(
        at("inside.yaml"),
        `exposures:\n${open
          .map((s) => s.split(" ") as [string, string])
          .map(([host, svc]) => `  - { host: ${host}, proto: tcp, port: ${svc.split("/")[1]} }`)
          .join("\n")}\n`,
      );
      const planned = await cli([
        "shield",
        "plan",
        "--exposures",
        at("inside.yaml"),
        "--advisory",
        "ms03-026",
        "--placement",
        "host",
        "--name",
        "lan-hosts",
        "--zone",
        "lan=203.0.113.32/28",
        "--zone",
        "admin=203.0.113.48/28",
        // The admin workstation keeps managing every host; the LAN keeps its file share.
        "--allow",
        "admin:tcp/445",
        "--allow",
        `lan:tcp/445@${FILE_SERVER}`,
        "-o",
        at("host-plan.yaml"),
      ]);
      expect(planned.stderr).toContain("3 hosts");
      expect(planned.code).toBe(0);
      hostPlan = await readPlanFile(at("host-plan.yaml"));
      expect(hostPlan.placement).toBe("host");
      const rendered = await cli([
        "shield",
        "render",
        "--target",
        "nftables",
        at("host-plan.yaml"),
        "-o",
        at("host.nft"),
      ]);
      expect(rendered.code).toBe(0);
      await loadEveryHost(at("host.nft"));

      const verified = await verify(at("host-plan.yaml"), NS.internal);
      expect(verified.stderr).toBe("");
      expect(verified.stdout).toContain(
        `verified: 3/3 hosts as planned from ${NS.internal} (${LAN_CLIENTS.lan})`,
      );
      expect(verified.code).toBe(0);
      const reader = await openStore(db);
      try {
        const controls = (await reader.listControls()).filter((c) => c.kind === "host-firewall");
        expect(controls.map((c) => c.appliesTo.ranges)).toEqual([
          [DESKTOP],
          [FILE_SERVER],
          [SERVER],
        ]);
        for (const c of controls) {
          expect(c.method).toBe("rescan-peer");
          expect(c.covers).toContainEqual({ proto: "tcp", port: 135 });
        }
      } finally {
        await reader.close();
      }
      const reports = await auditAgreesWithProbe("nft", { plan: hostPlan, zones: hostZones });
      const statusOf = (host: string, zone: string, service: string) =>
        reports.find(
          (f) =>
            f.host === host && f.zone === zone && f.service === service && f.direction === "in",
        )?.status;
      expect(statusOf(FILE_SERVER, "lan", "tcp/445")).toBe("reachable");
      expect(statusOf(DESKTOP, "lan", "tcp/445")).toBe("shielded");
      expect(statusOf(DESKTOP, "admin", "tcp/445")).toBe("reachable");
      expect(statusOf(SERVER, "lan", "tcp/135")).toBe("shielded");
      expect(exposedIn(reports, "lan")).toEqual([]);
      expect(exposedIn(reports, "internet")).toEqual([]);
    }, 120_000);

    it("a hand-written host firewall with a hole (135 accepted from the LAN first) fails from inside, records nothing, and the auditor names the hole", async () => {
      expect(hostPlan).toBeDefined();
      const before = await controlCount();
      writeFileSync(
        at("host-hole.nft"),
        `table inet pc {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    ct state established,related accept\n    ip saddr 203.0.113.32/27 tcp dport 135 accept\n    tcp dport { 135, 139, 445, 593, 4444 } drop\n    udp dport { 69, 135, 137, 138, 445 } drop\n  }\n}\n`,
      );
      await loadEveryHost(at("host-hole.nft"));
      const result = await verify(at("host-plan.yaml"), NS.internal);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(`EXPOSED +${DESKTOP.replaceAll(".", "\\.")} tcp/135: open`),
      );
      expect(result.stdout).toContain("NOT verified");
      expect(await controlCount()).toBe(before);
      const reports = await auditAgreesWithProbe("nft", { plan: hostPlan, zones: hostZones });
      expect(exposedIn(reports, "lan")).toEqual([
        `${DESKTOP} tcp/135`,
        `${FILE_SERVER} tcp/135`,
        `${SERVER} tcp/135`,
      ]);
      // From the admin workstation too (it is on the LAN), and not from the Internet.
      expect(exposedIn(reports, "admin")).toEqual(exposedIn(reports, "lan"));
      expect(exposedIn(reports, "internet")).toEqual([]);
    }, 120_000);

    it.skipIf(!existsSync("/usr/sbin/iptables-restore"))(
      "the host plan's iptables rendering verifies from inside; a hand-written iptables host ruleset with a hole fails; the auditor agrees with the probes on both",
      async () => {
        expect(hostPlan).toBeDefined();
        const rendered = await cli([
          "shield",
          "render",
          "--target",
          "iptables",
          at("host-plan.yaml"),
          "-o",
          at("host-rules"),
        ]);
        expect(rendered.code).toBe(0);
        await loadEveryHost(join(at("host-rules"), "iptables.rules"));
        const verified = await verify(at("host-plan.yaml"), NS.internal);
        expect(verified.stdout).toContain("verified: 3/3 hosts as planned");
        expect(verified.code).toBe(0);
        await auditAgreesWithProbe("iptables", { plan: hostPlan, zones: hostZones });

        const before = await controlCount();
        writeFileSync(
          at("host-hole.rules"),
          [
            "*filter",
            ":INPUT ACCEPT [0:0]",
            ":FORWARD ACCEPT [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -p tcp -m multiport --dports 135,139,593,4444 -j DROP",
            // The hole: 445 was meant for the admin workstation only.
            "-A INPUT -p tcp --dport 445 -j ACCEPT",
            "-A INPUT -p udp -m multiport --dports 69,135,137,138,445 -j DROP",
            "COMMIT",
            "",
          ].join("\n"),
        );
        await loadEveryHost(at("host-hole.rules"));
        const holed = await verify(at("host-plan.yaml"), NS.internal);
        expect(holed.code).toBe(1);
        expect(holed.stdout).toMatch(
          new RegExp(`EXPOSED +${DESKTOP.replaceAll(".", "\\.")} tcp/445: open`),
        );
        expect(await controlCount()).toBe(before);
        const reports = await auditAgreesWithProbe("iptables", {
          plan: hostPlan,
          zones: hostZones,
        });
        expect(exposedIn(reports, "lan")).toEqual([`${DESKTOP} tcp/445`, `${SERVER} tcp/445`]);
        expect(exposedIn(reports, "internet")).toEqual([
          `${DESKTOP} tcp/445`,
          `${FILE_SERVER} tcp/445`,
          `${SERVER} tcp/445`,
        ]);
      },
      120_000,
    );
  });
});
