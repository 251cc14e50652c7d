/**
 * `ringfence shield plan | render | audit` as a user runs them (the built binary): plans from an
 * inventory and from an exposure list, rendering to files, the audit's exit status (1 when
 * something the plan blocks is exposed), and bad input as one line with exit status 2.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type CheckRunInput } from "../../src/store/index.js";
import { isOneLineError, runCli, scratchDir } from "../helpers/cli.js";

function run(address: string, port: number, checkId: string, advisory: string): CheckRunInput {
  return {
    scanId: null,
    address,
    protocol: "tcp",
    port,
    checkId,
    advisories: [advisory],
    verdict: "VULNERABLE",
    classification: null,
    reasonCode: "test",
    reason: "test fixture",
    evidence: [],
    startedAt: "2024-03-01T00:00:00.000Z",
    finishedAt: "2024-03-01T00:00:01.000Z",
  };
}

describe("ringfence shield", () => {
  const tmp = scratchDir("rf-shield-cli-");
  const at = (name: string) => join(tmp.dir, name);
  const db = at("inv.db");

  beforeAll(async () => {
    const store = await openStore(db);
    try {
      await store.recordCheckRuns([
        run("198.51.100.20", 135, "ms03-026-remote-activation", "ms03-026"),
        run("198.51.100.21", 135, "ms03-039-kb824146scan", "ms03-039"),
        run("198.51.100.21", 4444, "blaster-backdoor-4444", "blaster-backdoor"),
      ]);
    } finally {
      await store.close();
    }
    writeFileSync(
      at("exposed.yaml"),
      "exposures:\n  - { host: 203.0.113.10, proto: tcp, port: 135 }\n  - { host: 203.0.113.10, proto: tcp, port: 80 }\n  - { host: 203.0.113.11, proto: tcp, port: 445, role: domain-controller }\n",
    );
  });
  afterAll(() => tmp.cleanup());

  it("--help answers: subcommands, options, targets", async () => {
    const [help, render, plan] = await Promise.all([
      runCli(["shield", "--help"]),
      runCli(["shield", "render", "--help"]),
      runCli(["shield", "plan", "--help"]),
    ]);
    expect(help.code).toBe(0);
    for (const word of ["plan", "render", "audit", "--diff"]) expect(help.stdout).toContain(word);
    for (const target of [
      "nftables",
      "iptables",
      "pf",
      "cisco-ios",
      "junos",
      "windows-ps",
      "windows-netsh",
    ])
      expect(render.stdout).toContain(target);
    for (const option of [
      "--scope",
      "--allow",
      "--quarantine",
      "--exposures",
      "--dc",
      "--stance",
      "--stateless",
    ])
      expect(plan.stdout).toContain(option);
  });

  it("plans from the inventory: open findings, the Blaster host quarantined", async () => {
    const result = await runCli([
      "shield",
      "plan",
      "--db",
      db,
      "--zone",
      "mgmt=10.9.0.0/24",
      "--allow",
      "mgmt:tcp/445",
      "-o",
      at("db-plan.yaml"),
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`plan shield written to ${at("db-plan.yaml")}: 2 hosts`);
    const text = readFileSync(at("db-plan.yaml"), "utf8");
    expect(text).toContain("schema: ringfence.shield-plan/1");
    expect(text).toContain("quarantineReason: compromise indicator blaster-backdoor");
    expect(text).toMatch(/findings:\n\s+- 1\n/);
  });

  it("plans from an exposure list, renders every target or refuses with one line, and diffs", async () => {
    const plan = await runCli([
      "shield",
      "plan",
      "--exposures",
      at("exposed.yaml"),
      "--advisory",
      "ms03-026",
      "--zone",
      "mgmt=198.51.100.200",
      "--allow",
      "mgmt:tcp/445",
      "-o",
      at("plan.yaml"),
    ]);
    expect(plan.code).toBe(0);
    expect(plan.stderr).toContain("flagged 203.0.113.10 tcp/80 (ms03-026)");

    const dir = at("rules");
    const [nft, ipt, ps, ios, changed] = await Promise.all([
      runCli(["shield", "render", "--target", "nftables", at("plan.yaml")]),
      runCli(["shield", "render", "--target", "iptables", at("plan.yaml"), "-o", dir]),
      runCli([
        "shield",
        "render",
        "--target",
        "windows-ps",
        "--windows-profile",
        "domain",
        at("plan.yaml"),
        "-o",
        at("s.ps1"),
      ]),
      runCli(["shield", "render", "--target", "cisco-ios", at("plan.yaml")]),
      runCli([
        "shield",
        "plan",
        "--exposures",
        at("exposed.yaml"),
        "--advisory",
        "ms03-026",
        "--quarantine",
        "203.0.113.10",
        "--zone",
        "mgmt=198.51.100.200",
        "--allow",
        "mgmt:tcp/445",
        "--diff",
        at("plan.yaml"),
      ]),
    ]);
    expect(nft.code).toBe(0);
    expect(nft.stdout.startsWith("#!/usr/sbin/nft -f\n")).toBe(true);
    expect(ipt.code).toBe(0);
    expect(
      existsSync(join(dir, "iptables.rules")) && existsSync(join(dir, "ip6tables.rules")),
    ).toBe(true);
    expect(ps.code).toBe(0);
    expect(readFileSync(at("s.ps1"), "utf8")).toContain("(other profiles are NOT shielded)");
    expect(ios.code).toBe(2);
    expect(isOneLineError(ios.stderr)).toBe(true);
    expect(ios.stderr).toContain("cisco-ios cannot express term (stateful) exactly");
    expect(ios.stdout).toBe("");
    expect(changed.stdout).toContain("+ term quarantine-in");
  });

  it("audits: exit 0 when the rules hold the plan, 1 when something blocked is exposed", async () => {
    const dir = at("rules");
    const holed = readFileSync(join(dir, "iptables.rules"), "utf8")
      .split("\n")
      .filter((l) => !l.includes("-p udp"))
      .join("\n");
    writeFileSync(at("holed.rules"), holed);
    const [good, bad] = await Promise.all([
      runCli([
        "shield",
        "audit",
        join(dir, "iptables.rules"),
        join(dir, "ip6tables.rules"),
        "--plan",
        at("plan.yaml"),
      ]),
      runCli([
        "shield",
        "audit",
        at("holed.rules"),
        "--plan",
        at("plan.yaml"),
        "--format",
        "iptables-save",
      ]),
    ]);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/ 0 exposed, 0 unknown/);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^exposed\s+203\.0\.113\.10 udp\/135 from internet/m);
  });

  it("bad input is one line and exit 2", async () => {
    mkdirSync(at("empty"), { recursive: true });
    // One case per kind of failure; the API tests cover each message in detail.
    const cases: [string[], RegExp][] = [
      [["shield", "plan", "--db", at("empty/none.db")], /no inventory at/],
      [
        ["shield", "plan", "--exposures", at("exposed.yaml"), "--allow", "mgmt:445"],
        /--allow "mgmt:445"/,
      ],
      [
        [
          "shield",
          "audit",
          at("plan.yaml"),
          "--plan",
          at("plan.yaml"),
          "--format",
          "iptables-save",
        ],
        /ruleset file .*, line \d+: a line outside a table/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [index, [args, message]] of cases.entries()) {
      const result = results[index]!;
      expect({ args: args.join(" "), code: result.code }).toEqual({
        args: args.join(" "),
        code: 2,
      });
      expect(isOneLineError(result.stderr)).toBe(true);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(at("empty/none.db"))).toBe(false);
  });
});
