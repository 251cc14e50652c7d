/**
 * A plan's policy in the auditor's ruleset model, so that the plan's expectation for a question
 * ("should 198.51.100.2 reach 203.0.113.10 on TCP 445?") comes from the same evaluator that reads
 * the deployed ruleset. A stance of "unset" becomes the chain policy "unset": the plan expects
 * nothing for those packets.
 */
import { isAllPorts } from "../model/port-set.js";
import { endpointRanges, termServices, type Direction, type PolicyNode } from "../model/policy.js";
import { PROTOCOL_NUMBERS } from "./evaluator.js";
import type { Chain, Hook, Match, Rule, Ruleset } from "./ruleset-model.js";

const HOOKS: Record<Direction, Hook> = { in: "input", out: "output", forward: "forward" };

export function policyRuleset(policy: PolicyNode, source = `plan ${policy.name}`): Ruleset {
  const chains: Chain[] = [];
  for (const direction of ["in", "out", "forward"] as const) {
    const rules: Rule[] = [];
    if (policy.stateful)
      rules.push({
        ref: "(stateful)",
        matches: [{ kind: "ct-state", states: ["established", "related"], negate: false }],
        action: { kind: "verdict", verdict: "accept" },
      });
    for (const node of policy.terms.filter((t) => t.direction === direction)) {
      const base: Match[] = [];
      if (node.from !== "any")
        base.push({
          kind: "address",
          side: "src",
          ranges: endpointRanges(policy, node.from),
          negate: false,
        });
      if (node.to !== "any")
        base.push({
          kind: "address",
          side: "dst",
          ranges: endpointRanges(policy, node.to),
          negate: false,
        });
      const action = { kind: "verdict", verdict: node.action } as const;
      const ref = `term ${node.name}`;
      const services = termServices(policy, node);
      if (services === undefined) {
        rules.push({
          ref,
          matches: base,
          action,
          ...(node.comment === undefined ? {} : { comment: node.comment }),
        });
        continue;
      }
      for (const svc of services) {
        const number = PROTOCOL_NUMBERS[svc.proto]!;
        const matches: Match[] = [
          ...base,
          { kind: "protocol", protocols: [number], negate: false },
        ];
        if (!isAllPorts(svc.ports))
          matches.push({
            kind: "port",
            side: "dst",
            ports: svc.ports,
            negate: false,
            protocols: [number],
          });
        rules.push({ ref, matches, action });
      }
    }
    const stance = policy.stance[direction];
    chains.push({
      id: `plan ${policy.name} ${HOOKS[direction]}`,
      name: HOOKS[direction],
      table: `plan ${policy.name}`,
      families: [4, 6],
      base: {
        hook: HOOKS[direction],
        priority: 0,
        policy: stance === "deny" ? "drop" : stance === "allow" ? "accept" : "unset",
        type: "filter",
      },
      rules,
    });
  }
  return { format: "plan", source, families: [4, 6], chains, notrack: false, helpers: false };
}
