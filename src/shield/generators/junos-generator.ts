/**
 * Juniper SRX: `set` commands for `load set terminal` (or `load set <file>`): the global address
 * book, applications, and global security policies in the policy's order, then the default
 * policy from the forward stance ("unset" leaves it alone). SRX security policies govern routed
 * traffic only (host-inbound-traffic is per zone), and a zone-pair policy matching a packet
 * comes before the global ones: run these on an SRX without zone-pair policies for the same
 * traffic, or mind that order.
 *
 * Refused: `in`/`out` terms (no security-policy rendering), stateless policies (an SRX is
 * stateful), reject on every protocol (SRX rejects TCP with RST and UDP with ICMP port
 * unreachable, and drops the rest silently).
 * Each policy is deleted before it is set, so loading a plan again keeps the plan's order.
 * Descriptions are double-quoted, where a backslash escapes; `"` and anything outside printable
 * ASCII are encoded `\\xHH`, which Junos stores as `\xHH`.
 */
import { formatPrefix } from "../model/address-set.js";
import { formatPortRange } from "../model/port-set.js";
import type { Endpoint, PolicyNode, TermNode } from "../model/policy.js";
import {
  clip,
  DOUBLED_ESCAPE,
  encodeText,
  termLabel,
  unrenderable,
  type FirewallGenerator,
} from "./generator.js";
import { protoMatches } from "./term-matches.js";

const TARGET = "junos";

function description(text: string): string {
  return `"${clip(encodeText(text, '"', DOUBLED_ESCAPE), 900)}"`;
}

function check(policy: PolicyNode): void {
  if (!policy.stateful)
    throw unrenderable(
      TARGET,
      "(stateless)",
      "SRX security policies are stateful: return traffic of a permitted session always passes",
      "plan without --stateless",
    );
  for (const node of policy.terms) {
    if (node.direction !== "forward")
      throw unrenderable(
        TARGET,
        node,
        `SRX security policies govern routed traffic only; an ${node.direction} term (traffic ${node.direction === "in" ? "to" : "from"} the firewall itself) belongs to host-inbound-traffic, which has no per-term rendering`,
        "plan with --placement network",
      );
    if (node.action === "reject" && protoMatches(policy, node) === "any")
      throw unrenderable(
        TARGET,
        node,
        "SRX rejects TCP with a reset and UDP with ICMP port unreachable but drops other protocols silently",
        "reject TCP/UDP services only, or use --action drop",
      );
  }
}

export function renderJunos(policy: PolicyNode): string {
  check(policy);
  const lines: string[] = [];
  const book = "set security address-book global";
  for (const node of [...policy.zones, ...policy.addressSets]) {
    lines.push(`delete security address-book global address-set rf-${node.name}`);
    node.addresses.forEach((prefix, index) => {
      lines.push(`${book} address rf-${node.name}-${index + 1} ${formatPrefix(prefix)}`);
      lines.push(`${book} address-set rf-${node.name} address rf-${node.name}-${index + 1}`);
    });
  }
  for (const svc of policy.services) {
    const app = `set applications application rf-${svc.name}`;
    lines.push(`delete applications application rf-${svc.name}`);
    svc.ports.forEach((range, index) => {
      lines.push(`${app} term t${index + 1} protocol ${svc.proto}`);
      lines.push(`${app} term t${index + 1} destination-port ${formatPortRange(range)}`);
    });
  }
  const addresses = (endpoint: Endpoint) =>
    endpoint === "any" ? ["any"] : endpoint.map((name) => `rf-${name}`);
  for (const node of policy.terms) lines.push(...policyLines(policy.name, node, addresses));
  if (policy.stance.forward !== "unset")
    lines.push(
      `set security policies default-policy ${policy.stance.forward === "deny" ? "deny-all" : "permit-all"}`,
    );
  return lines.join("\n") + "\n";
}

function policyLines(
  policyName: string,
  node: TermNode,
  addresses: (endpoint: Endpoint) => string[],
): string[] {
  const name = `rf-${policyName}-${node.name}`;
  const base = `set security policies global policy ${name}`;
  const lines = [`delete security policies global policy ${name}`];
  for (const a of addresses(node.from)) lines.push(`${base} match source-address ${a}`);
  for (const a of addresses(node.to)) lines.push(`${base} match destination-address ${a}`);
  const apps = node.services === "any" ? ["any"] : node.services.map((s) => `rf-${s}`);
  for (const app of apps) lines.push(`${base} match application ${app}`);
  lines.push(
    `${base} then ${node.action === "accept" ? "permit" : node.action === "drop" ? "deny" : "reject"}`,
  );
  if (node.log) lines.push(`${base} then log session-init`);
  lines.push(`${base} description ${description(termLabel(node))}`);
  return lines;
}

export const junosGenerator: FirewallGenerator = {
  target: TARGET,
  title: "Juniper SRX set commands (global security policies), routed traffic",
  render(policy) {
    return [{ name: `ringfence-${policy.name}.junos.set`, content: renderJunos(policy) }];
  },
};
