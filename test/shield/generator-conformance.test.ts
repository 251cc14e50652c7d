/**
 * One suite, every firewall generator (the hono way: src/router/common.case.test.ts runs the same
 * cases against each router). Each case of conformance-cases.ts goes through each generator and
 * must give exactly the expected files of test/shield/expected/<case>/, or be refused with an
 * UnrenderableTermError naming the expected term and the target (expected/refusals.json). Then,
 * for every target: the output does not depend on the order addresses were written in, and no
 * comment (any text, fast-check) can break out of its string, add a line or lose its content.
 *
 * The nftables and iptables outputs are also loaded into a real kernel (shield-kernel.test.ts).
 * After a deliberate generator change, `npx tsx test/shield/update-golden.ts` rewrites the files.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addressSet,
  createPolicy,
  GENERATORS,
  service,
  TARGETS,
  term,
  UnrenderableTermError,
  zone,
  type PolicyNode,
  type TargetId,
} from "../../src/shield/index.js";
import { tokenize } from "../../src/shield/audit/iptables-save-parser.js";
import { CASES } from "./conformance-cases.js";

const EXPECTED = join(import.meta.dirname, "expected");
const refusals = JSON.parse(readFileSync(join(EXPECTED, "refusals.json"), "utf8")) as Record<
  string,
  { term: string; reason: string }
>;

function expectedFiles(caseName: string, target: TargetId): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(join(EXPECTED, caseName)).sort()) {
    if (name.startsWith(`${target}--`))
      files.set(
        name.slice(target.length + 2),
        readFileSync(join(EXPECTED, caseName, name), "utf8"),
      );
  }
  return files;
}

function render(target: TargetId, policy: PolicyNode): Map<string, string> {
  return new Map(GENERATORS[target].render(policy).map((f) => [f.name, f.content]));
}

/** The text a target stored for a comment, decoded (`\xHH` escapes back to UTF-8 bytes). */
function decode(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && text[i + 1] === "x" && /^[0-9a-f]{2}$/.test(text.slice(i + 2, i + 4))) {
      bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else bytes.push(text.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Where each target keeps the term's label, as it will be read back (after its own unquoting). */
const LABELS: Record<TargetId, (content: string) => string[]> = {
  nftables: (c) => [...c.matchAll(/ comment "([^"]*)"/g)].map((m) => m[1]!),
  iptables: (c) =>
    c
      .split("\n")
      .filter((l) => l.startsWith("-A") && l.includes("--comment"))
      .map((l) => {
        const tokens = tokenize(l);
        return tokens[tokens.indexOf("--comment") + 1]!;
      }),
  pf: (c) => [...c.matchAll(/^# (q1(?:: .*)?)$/gm)].map((m) => m[1]!),
  "cisco-ios": (c) => [...c.matchAll(/^ remark (.*)$/gm)].map((m) => m[1]!),
  junos: (c) =>
    [...c.matchAll(/ description "((?:[^"\\]|\\.)*)"$/gm)].map((m) =>
      m[1]!.replace(/\\(.)/g, "$1"),
    ),
  "windows-ps": (c) =>
    [...c.matchAll(/-Description '((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'")),
  "windows-netsh": (c) => [...c.matchAll(/description="([^"]*)"/g)].map((m) => m[1]!),
};

/** A policy every target can render, in the right placement for the target. */
function commentPolicy(target: TargetId, comment: string): PolicyNode {
  const routed = target === "cisco-ios" || target === "junos";
  return createPolicy({
    name: "c",
    stateful: target !== "cisco-ios",
    stance: { in: "unset", out: "unset", forward: "unset" },
    addressSets: [addressSet("h", ["203.0.113.9"])],
    services: [service("s", "tcp", [445])],
    terms: [
      term({
        name: "q1",
        action: "drop",
        direction: routed ? "forward" : "in",
        to: ["h"],
        services: ["s"],
        comment,
      }),
    ],
  });
}

describe.each(TARGETS)("generator %s", (target) => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    "case %s: exact output or a typed refusal",
    (_name, c) => {
      const refusal = refusals[`${c.name}/${target}`];
      if (refusal !== undefined) {
        let error: unknown;
        try {
          GENERATORS[target].render(c.policy);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(UnrenderableTermError);
        const typed = error as UnrenderableTermError;
        expect({ term: typed.term, target: typed.target, reason: typed.reason }).toEqual({
          term: refusal.term,
          target,
          reason: refusal.reason,
        });
        expect(typed.code).toBe("RINGFENCE_SHIELD_UNRENDERABLE");
        expect(typed.message).toContain(target);
        expect(typed.message).toContain(refusal.term);
        return;
      }
      const actual = render(target, c.policy);
      const expected = expectedFiles(c.name, target);
      expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [name, content] of expected) expect(actual.get(name)).toBe(content);
    },
  );

  it("does not depend on the order addresses and ports were written in", () => {
    const build = (reverse: boolean) => {
      const order = <T>(items: T[]) => (reverse ? [...items].reverse() : items);
      return createPolicy({
        name: "order",
        stateful: target !== "cisco-ios",
        stance: { in: "unset", out: "unset", forward: "deny" },
        zones: [
          zone(
            "outside",
            order(["198.51.100.128/25", "198.51.100.0/25", "2001:db8::/33", "2001:db8:8000::/33"]),
          ),
        ],
        addressSets: [
          addressSet(
            "hosts",
            order(["203.0.113.12", "203.0.113.10", "203.0.113.11", "203.0.113.13"]),
          ),
        ],
        services: [service("svc", "tcp", order([445, 139, "136-138", 135]))],
        terms: [
          term({
            name: "t",
            action: "drop",
            direction: "forward",
            from: ["outside"],
            to: ["hosts"],
            services: ["svc"],
          }),
        ],
      });
    };
    const render2 = (policy: PolicyNode) => {
      try {
        return render(target, policy);
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(render2(build(true))).toEqual(render2(build(false)));
  });

  it("keeps any comment inside its string, on its line, recoverable", () => {
    const baseline = GENERATORS[target].render(commentPolicy(target, "plain"));
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (comment) => {
        const files = GENERATORS[target].render(commentPolicy(target, comment));
        files.forEach((file, index) => {
          const base = baseline[index]!.content;
          // Same number of lines: nothing the comment holds starts a new command.
          expect(file.content.split("\n").length).toBe(base.split("\n").length);
          // Nothing but printable ASCII (and the line ends and tabs the format uses itself).
          expect(/^[\x20-\x7e\t\r\n]*$/.test(file.content)).toBe(true);
        });
        const labels = files.flatMap((f) => LABELS[target](f.content));
        expect(labels.length).toBeGreaterThan(0);
        for (const label of labels) {
          const decoded = decode(label.endsWith("...") ? label.slice(0, -3) : label);
          const full = comment === "" ? "q1" : `q1: ${comment}`;
          if (label.endsWith("..."))
            expect(full.startsWith(decoded.replace(/\uFFFD+$/, ""))).toBe(true);
          else expect(decoded).toBe(full);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("the conformance cases", () => {
  it("every case is rendered or refused by every target, and every refusal names a case", () => {
    for (const c of CASES)
      for (const target of TARGETS)
        expect(
          refusals[`${c.name}/${target}`] !== undefined || expectedFiles(c.name, target).size > 0,
        ).toBe(true);
    for (const key of Object.keys(refusals))
      expect(CASES.some((c) => key.startsWith(`${c.name}/`))).toBe(true);
  });
});
