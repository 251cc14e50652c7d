/**
 * The offline auditor on rulesets captured from a real kernel (fixtures/edge-nft.json is
 * `nft -j list ruleset`, fixtures/edge-iptables.rules is `iptables-save`, both of rulesets
 * written by hand with the constructs people use) and on a Windows firewall export in the
 * documented shape. Each question has one right answer: the verdict and the rule that gives it,
 * or "unknown" with the reason; never a guess.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAddress, type AddressRange } from "../../src/targets/index.js";
import { windowsRules } from "../../src/shield/generators/windows-rules.js";
import { formatPortRange } from "../../src/shield/model/port-set.js";
import {
  addressSet,
  createPolicy,
  evaluate,
  evaluateWindows,
  parseIptablesSave,
  parseNftJson,
  parseWindowsExport,
  policyRuleset,
  service,
  term,
  zone,
  type Outcome,
  type Question,
  type Ruleset,
} from "../../src/shield/index.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
const read = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

function range(text: string): AddressRange[] {
  const [first, last] = text.split("-");
  const a = parseAddress(first!)!;
  const b = parseAddress(last ?? first!)!;
  return [{ family: a.family, first: a.value, last: b.value }];
}

function ask(
  ruleset: Ruleset,
  from: string,
  to: string,
  service: string,
  extra: Partial<Question> = {},
): Outcome[] {
  const [proto, port] = service.split("/") as ["tcp" | "udp", string];
  const src = range(from);
  return evaluate(ruleset, {
    path: "input",
    family: src[0]!.family,
    proto,
    port: Number(port),
    src,
    dst: range(to),
    ...extra,
  });
}

/** One outcome expected: "verdict by ref" or "unknown: reason". */
function one(outcomes: Outcome[]): string {
  expect(outcomes).toHaveLength(1);
  const o = outcomes[0]!;
  return o.verdict === "unknown" ? `unknown: ${o.reason}` : `${o.verdict} by ${o.ref}`;
}

describe("nft -j list ruleset", () => {
  const ruleset = parseNftJson(read("edge-nft.json"), "edge-nft.json");
  const handle = (n: number, chain = "input") => `table inet edge chain ${chain} handle ${n}`;
  const host = "203.0.113.7";

  it("decides what it understands, with the deciding rule", () => {
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/135"))).toBe(`drop by ${handle(23, "rpc")}`);
    expect(one(ask(ruleset, "10.10.0.1", host, "tcp/135"))).toBe(`reject by ${handle(24, "rpc")}`);
    // The jump returns, nothing else matches: the input chain's policy.
    expect(one(ask(ruleset, "10.20.0.1", host, "tcp/135"))).toBe(
      "drop by chain inet edge input policy drop",
    );
    // goto: rpc's return leaves input altogether, so its policy decides.
    expect(one(ask(ruleset, "10.20.0.1", host, "udp/137"))).toBe(
      "drop by chain inet edge input policy drop",
    );
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/80"))).toBe(`accept by ${handle(17)}`);
    expect(one(ask(ruleset, "2001:db8::1", "2001:db8:1::7", "tcp/80"))).toBe(
      `accept by ${handle(15)}`,
    );
    expect(one(ask(ruleset, "10.9.0.5", host, "tcp/22"))).toBe(`accept by ${handle(10)}`);
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/22"))).toBe(
      "drop by chain inet edge input policy drop",
    );
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/5000"))).toBe(`accept by ${handle(21)}`);
    expect(one(ask(ruleset, "127.0.0.1", host, "tcp/4444"))).toBe(`accept by ${handle(8)}`);
  });

  it("splits a zone where the rules split it", () => {
    const outcomes = ask(ruleset, "10.9.0.0-10.10.0.255", host, "tcp/135");
    const summary = outcomes
      .map((o) => `${o.verdict} ${o.src.map((r) => `${r.first}-${r.last}`).join(",")}`)
      .sort();
    // 10.9.0.0/24 and 10.10.0.1 (mgmt) are rejected, the rest of 10/8 falls to the policy.
    expect(outcomes.map((o) => o.verdict).sort()).toEqual(["drop", "reject"]);
    expect(summary).toHaveLength(2);
    const rejected = outcomes.find((o) => o.verdict === "reject")!;
    expect(rejected.src).toEqual([...range("10.9.0.0-10.9.0.255"), ...range("10.10.0.1")]);
  });

  it("says unknown, with the reason, for what it cannot evaluate", () => {
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/8080"))).toBe(
      "unknown: limit: matches depending on the traffic rate",
    );
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/8081"))).toBe(
      "unknown: set @seen is updated at run time",
    );
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/9999"))).toBe(
      "unknown: tests the source port, which a client picks",
    );
    expect(one(ask(ruleset, "198.51.100.2", "203.0.113.8", "tcp/6000"))).toBe("unknown: meta mark");
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/8443"))).toBe("unknown: statement dnat");
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/3389"))).toMatch(
      /^unknown: tests the input interface \(eth1\)/,
    );
  });

  it("uses the interface a zone enters by, when given", () => {
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/3389", { iif: "eth1" }))).toBe(
      `accept by ${handle(18)}`,
    );
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/3389", { iif: "eth0" }))).toBe(
      "drop by chain inet edge input policy drop",
    );
  });

  it("treats RELATED as unknown only when the ruleset attaches conntrack helpers", () => {
    const doc = (helper: boolean) =>
      JSON.stringify({
        nftables: [
          { table: { family: "inet", name: "h", handle: 1 } },
          {
            chain: {
              family: "inet",
              table: "h",
              name: "in",
              handle: 1,
              type: "filter",
              hook: "input",
              prio: 0,
              policy: "drop",
            },
          },
          ...(helper
            ? [
                {
                  rule: {
                    family: "inet",
                    table: "h",
                    chain: "in",
                    handle: 2,
                    expr: [
                      {
                        match: {
                          op: "==",
                          left: { payload: { protocol: "tcp", field: "dport" } },
                          right: 21,
                        },
                      },
                      { "ct helper": "ftp-standard" },
                    ],
                  },
                },
              ]
            : []),
          {
            rule: {
              family: "inet",
              table: "h",
              chain: "in",
              handle: 3,
              expr: [
                { match: { op: "in", left: { ct: { key: "state" } }, right: "related" } },
                { accept: null },
              ],
            },
          },
        ],
      });
    expect(one(ask(parseNftJson(doc(false), "h"), "198.51.100.2", host, "tcp/445"))).toBe(
      "drop by chain inet h in policy drop",
    );
    expect(one(ask(parseNftJson(doc(true), "h"), "198.51.100.2", host, "tcp/445"))).toBe(
      "unknown: tests ct state related, and the ruleset assigns conntrack helpers",
    );
  });

  it("refuses a file that is not nft JSON, in one line", () => {
    expect(() => parseNftJson("table inet x {}", "x.nft")).toThrow(
      /^ruleset file x\.nft: not JSON/,
    );
    expect(() => parseNftJson('{"rules": []}', "x.json")).toThrow(/"nftables" array/);
  });
});

describe("iptables-save", () => {
  const ruleset = parseIptablesSave(read("edge-iptables.rules"), "edge.rules");
  const at = (line: number, chain = "INPUT") => `edge.rules:${line} (-A ${chain})`;
  const host = "203.0.113.7";

  it("reads the family, the tables and the chains", () => {
    expect(ruleset.families).toEqual([4]);
    expect(ruleset.notrack).toBe(true);
    expect(ruleset.chains.map((c) => c.id).sort()).toEqual([
      "filter FORWARD",
      "filter INPUT",
      "filter MGMT",
      "filter OUTPUT",
      "raw OUTPUT",
      "raw PREROUTING",
    ]);
  });

  it("decides what it understands, with the file line", () => {
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/445"))).toBe(`accept by ${at(15)}`);
    expect(one(ask(ruleset, "192.168.1.1", host, "tcp/445"))).toBe(`drop by ${at(14)}`);
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/137"))).toBe(`reject by ${at(16)}`);
    expect(one(ask(ruleset, "10.9.0.5", host, "tcp/22"))).toBe(`accept by ${at(23, "MGMT")}`);
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/80"))).toBe(`accept by ${at(18)}`);
    expect(one(ask(ruleset, "203.0.113.15", host, "udp/138"))).toBe(`accept by ${at(20)}`);
  });

  it("says unknown for modules and targets it does not model", () => {
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/3389"))).toBe("unknown: match module limit");
    expect(one(ask(ruleset, "198.51.100.2", host, "udp/137"))).toBe(
      "unknown: match module addrtype",
    );
    expect(one(ask(ruleset, "198.51.100.2", host, "tcp/22"))).toBe("unknown: match module mark");
    expect(one(ask(ruleset, "198.51.100.2", host, "udp/5353"))).toBe("unknown: target CT");
  });

  it("reads quoted comments and refuses a broken file with its line", () => {
    expect(ruleset.chains.find((c) => c.id === "filter INPUT")!.rules[4]!.comment).toBe(
      'smb "quoted" from the lab',
    );
    expect(() =>
      parseIptablesSave("*filter\n:INPUT ACCEPT [0:0]\n-A OUTPUT -j DROP\nCOMMIT\n", "bad.rules"),
    ).toThrow("ruleset file bad.rules, line 3: rule for undeclared chain OUTPUT");
    expect(() => parseIptablesSave("*filter\n:INPUT ACCEPT [0:0]\n", "open.rules")).toThrow(
      /has no COMMIT/,
    );
    expect(
      parseIptablesSave("# Generated by ip6tables-save v1.8.9\n*filter\nCOMMIT\n", "v6").families,
    ).toEqual([6]);
  });

  it("answers unknown for a family it was not given", () => {
    expect(one(ask(ruleset, "2001:db8::1", "2001:db8::2", "tcp/445"))).toBe(
      "unknown: no IPv6 ruleset was given",
    );
  });
});

describe("Windows firewall export", () => {
  const firewall = parseWindowsExport(read("windows-export.json"), "windows-export.json");
  const asked = (from: string, svc: string) => {
    const [proto, port] = svc.split("/") as ["tcp" | "udp", string];
    return evaluateWindows(firewall, {
      path: "input",
      family: 4,
      proto,
      port: Number(port),
      src: range(from),
      dst: range("10.0.0.5"),
    }).map((o) => `${o.verdict}: ${o.ref}${o.reason === undefined ? "" : ` [${o.reason}]`}`);
  };

  it("a block rule wins over an allow rule, in every profile", () => {
    expect(asked("198.51.100.2", "tcp/445")).toEqual([
      "drop: profile Domain: block rule RF-block-445",
      "drop: profile Private: block rule RF-block-445",
      "drop: profile Public: block rule RF-block-445",
    ]);
  });

  it("reads numeric enums and dotted masks", () => {
    expect(asked("10.9.0.5", "tcp/135")).toEqual([
      "accept: profile Domain: allow rule mgmt-135",
      "accept: profile Private: allow rule mgmt-135",
      "accept: profile Public: allow rule mgmt-135",
    ]);
  });

  it("keywords, program conditions and NotConfigured defaults are unknown", () => {
    expect(asked("198.51.100.2", "tcp/135")).toEqual([
      "unknown: profile Domain: allow rule RPC-EPMAP [Program %SystemRoot%\\system32\\svchost.exe (applies only to that program); Service RpcSs (applies only to that service)]",
      "drop: profile Private default inbound action Block",
      "unknown: profile Public [the export has no default action for this profile (NotConfigured or missing)]",
    ]);
  });

  it("a roaming laptop is exposed if any profile exposes it", () => {
    expect(asked("198.51.100.2", "tcp/3389")).toEqual([
      "drop: profile Domain default inbound action Block",
      "drop: profile Private default inbound action Block",
      "accept: profile Public: allow rule public-rdp",
    ]);
  });
});

describe("Windows rendering: block-wins compilation equals the ordered policy", () => {
  // Random small policies: the Windows rules (as an export) and the policy itself must give the
  // same verdict for every address the policy decides.
  const port = fc.integer({ min: 130, max: 140 });
  const block = fc
    .tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }))
    .map(([a, b]) => `10.0.0.${Math.min(a, b) * 4}-10.0.0.${Math.max(a, b) * 4 + 3}`);
  const termArb = fc.record({
    action: fc.constantFrom("accept" as const, "drop" as const),
    from: fc.option(block, { nil: undefined }),
    ports: fc.option(fc.tuple(port, port), { nil: undefined }),
    proto: fc.constantFrom("tcp" as const, "udp" as const),
  });

  it("for random policies and packets", () => {
    fc.assert(
      fc.property(
        fc.array(termArb, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 63 }),
        port,
        (terms, last, p) => {
          const zones = terms.flatMap((t, i) =>
            t.from === undefined ? [] : [zone(`z${i}`, [t.from])],
          );
          const services = terms.map((t, i) => {
            const [a, b] = t.ports ?? [0, 65535];
            return service(`s${i}`, t.proto, [`${Math.min(a, b)}-${Math.max(a, b)}`]);
          });
          const policy = createPolicy({
            name: "w",
            stance: { in: "unset", out: "unset", forward: "unset" },
            zones,
            addressSets: [addressSet("host", ["203.0.113.5"])],
            services,
            terms: terms.map((t, i) =>
              term({
                name: `t${i}`,
                action: t.action,
                direction: "in",
                ...(t.from === undefined ? {} : { from: [`z${i}`] }),
                to: ["host"],
                services: [`s${i}`],
              }),
            ),
          });
          const exported = {
            profiles: ["Domain", "Private", "Public"].map((Name) => ({
              Name,
              Enabled: "True",
              DefaultInboundAction: "NotConfigured",
            })),
            rules: windowsRules(policy, "windows-ps", 1000).map((r, i) => ({
              Name: `r${i}`,
              Enabled: "True",
              Direction: r.direction,
              Action: r.action,
              Profile: "Any",
              Protocol: r.protocol,
              LocalPort: r.ports === undefined ? ["Any"] : r.ports.map((x) => formatPortRange(x)),
              LocalAddress: r.local ?? ["Any"],
              RemoteAddress: r.remote ?? ["Any"],
            })),
          };
          const firewall = parseWindowsExport(JSON.stringify(exported), "generated");
          for (const proto of ["tcp", "udp"] as const) {
            const q: Question = {
              path: "input",
              family: 4,
              proto,
              port: p,
              src: range(`10.0.0.${last}`),
              dst: range("203.0.113.5"),
            };
            const expected = evaluate(policyRuleset(policy), q)[0]!.verdict;
            if (expected === "unset") continue;
            const seen = evaluateWindows(firewall, q).map((o) => o.verdict);
            expect(seen).toEqual([expected, expected, expected]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the evaluator", () => {
  it("partitions the zone it is asked about: every address once", () => {
    const ruleset = parseNftJson(read("edge-nft.json"), "edge-nft.json");
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xfffffff0 }),
        fc.integer({ min: 0, max: 1 << 24 }),
        fc.constantFrom(22, 80, 135, 137, 445, 5000),
        (start, size, p) => {
          const src = [
            {
              family: 4 as const,
              first: BigInt(start),
              last: BigInt(Math.min(start + size, 0xffffffff)),
            },
          ];
          const outcomes = evaluate(ruleset, {
            path: "input",
            family: 4,
            proto: "tcp",
            port: p,
            src,
            dst: range("203.0.113.7"),
          });
          const total = outcomes.reduce(
            (n, o) => n + o.src.reduce((m, r) => m + (r.last - r.first + 1n), 0n),
            0n,
          );
          expect(total).toBe(src[0]!.last - src[0]!.first + 1n);
        },
      ),
      { numRuns: 100 },
    );
  });
});
