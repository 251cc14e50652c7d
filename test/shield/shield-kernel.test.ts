/**
 * The shield against a real kernel (root): every generated nftables and iptables ruleset is
 * loaded into a firewall namespace and probed from a client namespace (netns-topology.ts). For
 * every (client, host, service):
 *   1. the probe gets what the plan says (accepted: open; drop: timeout; reject: TCP reset or
 *      ICMP port unreachable);
 *   2. the offline auditor, reading `nft -j list ruleset` or `iptables-save` of the same
 *      namespace, predicts exactly what the probe got.
 * Two hand-written rulesets with deliberate holes must be called exposed by the auditor, and
 * the probes must get through those holes. Every nftables and iptables file of the conformance
 * suite must also load (`nft -c -f`, `iptables-restore --test`). IPv6 rules are loaded and
 * audited but not probed: the tests send traffic on 198.51.100.0/24 and 203.0.113.0/24 only.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAdvisoryCatalog, type AdvisoryCatalog } from "../../src/advisories/index.js";
import { parseAddress } from "../../src/targets/index.js";
import {
  auditPlan,
  buildShieldPlan,
  evaluate,
  GENERATORS,
  parseAllowSpec,
  parseIptablesSave,
  parseNftJson,
  parseZoneSpec,
  policyRuleset,
  rulesetTarget,
  type AuditTarget,
  type Exposure,
  type Outcome,
  type PlanOptions,
  type Ruleset,
  type ShieldPlan,
} from "../../src/shield/index.js";
import {
  allProbes,
  CLIENTS,
  HOSTS,
  IS_ROOT,
  NEEDS_ROOT,
  Topology,
  type Probe,
  type ProbeResult,
} from "./netns-topology.js";

const EXPECTED = join(import.meta.dirname, "expected");
const LEGACY = existsSync("/usr/sbin/iptables-legacy-restore");

const EXPOSURES: Exposure[] = [
  { address: HOSTS[0], advisory: "ms03-026", findingId: 1 },
  { address: HOSTS[1], advisory: "ms03-039", findingId: 2, role: "domain-controller" },
  {
    address: HOSTS[2],
    advisory: "blaster-backdoor",
    findingId: 3,
    quarantine: "compromise indicator",
  },
];

function plan(catalog: AdvisoryCatalog, options: Partial<PlanOptions>): ShieldPlan {
  return buildShieldPlan(catalog, EXPOSURES, [], {
    source: "exposures",
    scope: "affected",
    zones: [parseZoneSpec(`mgmt=${CLIENTS.mgmt}`)],
    allows: [parseAllowSpec("mgmt:tcp/445"), parseAllowSpec(`mgmt:tcp/3389@${HOSTS[2]}`)],
    ...options,
  });
}

function single(address: string) {
  const parsed = parseAddress(address)!;
  return [{ family: parsed.family, first: parsed.value, last: parsed.value }];
}

/** What a probe sees for a verdict. */
function seen(outcomes: readonly Outcome[], proto: "tcp" | "udp"): string {
  if (outcomes.length !== 1) return `ambiguous (${outcomes.map((o) => o.verdict).join(", ")})`;
  const verdict = outcomes[0]!.verdict;
  if (verdict === "accept" || verdict === "unset") return "open";
  if (verdict === "drop") return "timeout";
  if (verdict === "reject") return proto === "tcp" ? "reset" : "refused";
  return `unknown: ${outcomes[0]!.reason}`;
}

function predict(
  target: { evaluate(q: Parameters<typeof evaluate>[1]): Outcome[] },
  path: "input" | "forward",
  p: Probe,
): string {
  return seen(
    target.evaluate({
      path,
      family: 4,
      proto: p.proto,
      port: p.port,
      src: single(p.src),
      dst: single(p.dst),
    }),
    p.proto,
  );
}

const line = (p: ProbeResult | Probe, result: string) =>
  `${p.src} -> ${p.dst} ${p.proto}/${p.port}: ${result}`;

describe.skipIf(!IS_ROOT)(`shield rulesets in a real kernel [${NEEDS_ROOT}]`, () => {
  let catalog: AdvisoryCatalog;
  let host: Topology;
  let router: Topology;
  let scratch: string;

  beforeAll(async () => {
    catalog = await loadAdvisoryCatalog();
    scratch = await mkdtemp(join(tmpdir(), "rf-shield-"));
    [host, router] = await Promise.all([
      Topology.create("host", "h"),
      Topology.create("router", "r"),
    ]);
  });

  afterAll(async () => {
    await Promise.all([host?.destroy(), router?.destroy()]);
    await rm(scratch, { recursive: true, force: true });
  });

  async function load(
    topology: Topology,
    kind: "nft" | "iptables" | "iptables-legacy",
    files: Record<string, string>,
  ) {
    await topology.resetFirewall();
    for (const [name, content] of Object.entries(files)) {
      const path = join(scratch, `${topology.kind}-${name}`);
      await writeFile(path, content);
      const tool =
        kind === "nft"
          ? ["nft", ["-f", path]]
          : [
              `${name.startsWith("ip6") ? "ip6" : "ip"}tables${kind === "iptables-legacy" ? "-legacy" : ""}-restore`,
              [path],
            ];
      await topology.exec(tool[0] as string, tool[1] as string[]);
    }
  }

  /** The auditor's view of the firewall namespace, read back as an administrator would. */
  async function dump(
    topology: Topology,
    kind: "nft" | "iptables" | "iptables-legacy",
  ): Promise<Ruleset[]> {
    if (kind === "nft")
      return [
        parseNftJson(await topology.exec("nft", ["-j", "list", "ruleset"]), "nft -j list ruleset"),
      ];
    const suffix = kind === "iptables-legacy" ? "-legacy" : "";
    return [
      parseIptablesSave(await topology.exec(`iptables${suffix}-save`, []), "iptables-save"),
      parseIptablesSave(await topology.exec(`ip6tables${suffix}-save`, []), "ip6tables-save", 6),
    ];
  }

  /** Probes every service; the plan's policy and the auditor must both predict every result. */
  async function check(
    topology: Topology,
    kind: "nft" | "iptables" | "iptables-legacy",
    shield: ShieldPlan,
  ) {
    const path = topology.kind === "host" ? "input" : "forward";
    const files =
      kind === "nft"
        ? { "shield.nft": GENERATORS.nftables.render(shield.policy)[0]!.content }
        : Object.fromEntries(
            GENERATORS.iptables.render(shield.policy).map((f) => [f.name, f.content]),
          );
    await load(topology, kind, files);
    const results = await topology.probe(allProbes());
    const planned = rulesetTarget(policyRuleset(shield.policy));
    const rulesets = await dump(topology, kind);
    const audited = rulesetTarget(rulesets[0]!);
    const wrong: string[] = [];
    for (const r of results) {
      const expected = predict(planned, path, r);
      if (r.result !== expected) wrong.push(`${line(r, r.result)}, plan says ${expected}`);
      const audit = predict(audited, path, r);
      if (r.result !== audit) wrong.push(`${line(r, r.result)}, auditor says ${audit}`);
    }
    expect(wrong).toEqual([]);
    return { results, rulesets };
  }

  it("host placement, nftables: plan, probes and auditor agree on every (client, host, service)", async () => {
    const shield = plan(catalog, {});
    const { results } = await check(host, "nft", shield);
    const result = (src: string, dst: string, proto: string, port: number) =>
      results.find((r) => r.src === src && r.dst === dst && r.proto === proto && r.port === port)
        ?.result;
    // The shape of the shield, spelled out: blocks, the management allow, the DC's clients, quarantine.
    expect(result(CLIENTS.internet, HOSTS[0], "tcp", 135)).toBe("timeout");
    expect(result(CLIENTS.mgmt, HOSTS[0], "tcp", 445)).toBe("open");
    expect(result(CLIENTS.mgmt, HOSTS[0], "tcp", 139)).toBe("timeout");
    expect(result(CLIENTS.mgmt, HOSTS[1], "tcp", 135)).toBe("open");
    expect(result(CLIENTS.internet, HOSTS[1], "tcp", 135)).toBe("timeout");
    expect(result(CLIENTS.internet, HOSTS[2], "tcp", 80)).toBe("timeout");
    expect(result(CLIENTS.mgmt, HOSTS[2], "tcp", 3389)).toBe("open");
    expect(result(CLIENTS.internet, HOSTS[0], "tcp", 80)).toBe("open");
  });

  it("host placement, iptables-restore with reject: TCP resets and ICMP port unreachables", async () => {
    const shield = plan(catalog, { action: "reject" });
    const { results, rulesets } = await check(host, "iptables", shield);
    expect(results.some((r) => r.result === "reset")).toBe(true);
    expect(results.some((r) => r.result === "refused")).toBe(true);
    // The IPv6 file was loaded too and reads back as the same policy (no v6 hosts: no v6 terms).
    expect(rulesets[1]!.families).toEqual([6]);
  });

  it.skipIf(!LEGACY)(
    "host placement, iptables-legacy-restore: the same files, the other backend",
    async () => {
      await check(host, "iptables-legacy", plan(catalog, {}));
    },
  );

  it("network placement, nftables, perimeter scope with default deny: only what is allowed passes", async () => {
    const shield = plan(catalog, {
      scope: "perimeter",
      stance: "deny",
      log: true,
      allows: [parseAllowSpec("mgmt:tcp/445"), parseAllowSpec("internet:tcp/80")],
    });
    const { results } = await check(router, "nft", shield);
    const open = results
      .filter((r) => r.result === "open")
      .map((r) => `${r.src} ${r.proto}/${r.port}`);
    expect([...new Set(open)].sort()).toEqual([
      `${CLIENTS.internet} tcp/80`,
      `${CLIENTS.mgmt} tcp/445`,
      `${CLIENTS.other} tcp/80`,
    ]);
  });

  it("network placement, iptables-restore, perimeter scope: the Internet is blocked, management is not", async () => {
    // The hosts' own zone: without it their public addresses count as the Internet, and the egress
    // block toward the Internet would apply to management's traffic to them.
    const shield = plan(catalog, {
      scope: "perimeter",
      allows: [],
      zones: [parseZoneSpec(`mgmt=${CLIENTS.mgmt}`), parseZoneSpec("dmz=203.0.113.128/25")],
    });
    const { results } = await check(router, "iptables", shield);
    expect(
      results
        .filter((r) => r.src === CLIENTS.mgmt && r.result !== "open")
        .map((r) => line(r, r.result)),
    ).toEqual([]);
    expect(
      results.find((r) => r.src === CLIENTS.internet && r.port === 445 && r.proto === "tcp")
        ?.result,
    ).toBe("timeout");
  });

  /** A hand-written ruleset: the auditor must find the hole, and the probe must get through it. */
  async function handWritten(kind: "nft" | "iptables", text: string) {
    const shield = plan(catalog, {});
    await load(host, kind, { [kind === "nft" ? "hand.nft" : "iptables.rules"]: text });
    const results = await host.probe(allProbes());
    const rulesets = await dump(host, kind);
    const audited: AuditTarget = rulesetTarget(rulesets[0]!);
    const wrong = results
      .map((r) => ({ r, audit: predict(audited, "input", r) }))
      .filter(({ r, audit }) => r.result !== audit)
      .map(({ r, audit }) => `${line(r, r.result)}, auditor says ${audit}`);
    expect(wrong).toEqual([]);
    const report = auditPlan(shield, audited);
    return { results, report };
  }

  it("a hand-written nftables ruleset with a hole: audited exposed, and the probe gets through", async () => {
    const { results, report } = await handWritten(
      "nft",
      `table inet handmade {
	set rpc { type inet_service; elements = { 135, 139, 593, 4444 } }
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		iifname "lo" accept
		ip saddr ${CLIENTS.mgmt} tcp dport { 445, 3389 } accept
		ip daddr ${HOSTS[1]} jump dc
		tcp dport @rpc drop
		udp dport { 135, 137-138 } drop comment "forgot 69 and 445"
	}
	chain dc {
		ip saddr ${CLIENTS.mgmt} return
		tcp dport 445 drop comment "445 closed on the DC only"
	}
}
`,
    );
    const hole = report.findings.find(
      (f) => f.host === HOSTS[0] && f.service === "tcp/445" && f.zone === "internet",
    );
    expect(hole?.status).toBe("exposed");
    expect(hole?.decidedBy).toBe("chain inet handmade input policy accept");
    expect(
      results.find(
        (r) =>
          r.src === CLIENTS.internet && r.dst === HOSTS[0] && r.proto === "tcp" && r.port === 445,
      )?.result,
    ).toBe("open");
    const dc = report.findings.find(
      (f) => f.host === HOSTS[1] && f.service === "tcp/445" && f.zone === "internet",
    );
    expect(dc?.status).toBe("shielded");
    expect(dc?.decidedBy).toMatch(/^table inet handmade chain dc handle \d+$/);
    expect(report.counts.exposed).toBeGreaterThan(0);
  });

  it("a hand-written iptables ruleset with a user chain and a hole: audited exposed, probe gets through", async () => {
    const { results, report } = await handWritten(
      "iptables",
      `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:SHIELD - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -d 203.0.113.128/25 -j SHIELD
-A SHIELD -s ${CLIENTS.mgmt}/32 -p tcp -m multiport --dports 445,3389 -j ACCEPT
-A SHIELD -p tcp -m multiport --dports 135,139,445,593 -j DROP
-A SHIELD -p udp -m multiport --dports 135,137,138,445 -j REJECT --reject-with icmp-port-unreachable
-A SHIELD -p tcp --syn -m tcp --dport 4444 -j REJECT --reject-with tcp-reset
COMMIT
`,
    );
    const hole = report.findings.find(
      (f) => f.host === HOSTS[0] && f.service === "udp/69" && f.zone === "internet",
    );
    expect(hole?.status).toBe("exposed");
    expect(
      results.find(
        (r) =>
          r.src === CLIENTS.internet && r.dst === HOSTS[0] && r.proto === "udp" && r.port === 69,
      )?.result,
    ).toBe("open");
    const quarantine = report.findings.find(
      (f) => f.host === HOSTS[2] && f.service === "tcp/80" && f.zone === "internet",
    );
    expect(quarantine?.status).toBe("exposed");
    const shielded = report.findings.find(
      (f) => f.host === HOSTS[0] && f.service === "tcp/4444" && f.zone === "internet",
    );
    expect(shielded).toMatchObject({
      status: "shielded",
      decidedBy: expect.stringMatching(/^iptables-save:\d+ \(-A SHIELD\)$/),
    });
  });

  it("every nftables and iptables file of the conformance suite loads", async () => {
    const failures: string[] = [];
    for (const dir of readdirSync(EXPECTED, { withFileTypes: true }).filter((d) =>
      d.isDirectory(),
    )) {
      for (const name of readdirSync(join(EXPECTED, dir.name))) {
        const path = join(EXPECTED, dir.name, name);
        const command = name.startsWith("nftables--")
          ? ["nft", ["-c", "-f", path]]
          : name.startsWith("iptables--")
            ? [
                name.includes("ip6tables") ? "ip6tables-restore" : "iptables-restore",
                ["--test", path],
              ]
            : undefined;
        if (command === undefined) continue;
        try {
          await host.exec(command[0] as string, command[1] as string[]);
        } catch (error) {
          failures.push(`${dir.name}/${name}: ${(error as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
