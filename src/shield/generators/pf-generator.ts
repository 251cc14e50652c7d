/**
 * OpenBSD pf (pf.conf(5), OpenBSD 5.5 or later for `received-on any`): a ruleset for `pfctl -f`
 * or an anchor. pf filters a packet when it enters an interface (`in`) and when it leaves one
 * (`out`); a routed packet passes both. The policy's three directions map onto that exactly:
 *
 * - stances: non-quick `block drop in all` / `pass in all` first (pf's last match wins, so
 *   they apply only when no quick rule below matched); "unset" emits nothing (pf passes).
 * - routed packets entering: `pass in quick to ! self`, so `in` terms see only packets
 *   addressed to this machine, and the routed ones are decided when they leave;
 * - `in` terms: `... in quick ...`;
 * - `forward` terms: `... out quick ... received-on any` (only routed packets were received on
 *   an interface), then the forward stance, quick, for every other routed packet;
 * - `out` terms: `... out quick ...`, which by then see only packets this machine sends.
 * - stateful: pass rules keep state (pf's default), and pf matches states before rules; stateless
 *   policies get `no state` on every pass rule.
 * - drop is `block drop`; reject is `block return-rst` for TCP and `block return-icmp
 *   (port-unr, port-unr)` for the rest (pf's plain `return` drops non-TCP/UDP silently).
 * - Zones and sets are `const` tables (`<rf_name>`), IPv4 and IPv6 together.
 * - Comments are `#` lines; a newline or a backslash (pf continues lines on it) is encoded.
 */
import { formatPrefixShort } from "../model/address-set.js";
import { formatPortRange } from "../model/port-set.js";
import type { Endpoint, PolicyNode, TermNode } from "../model/policy.js";
import { encodeText, termLabel, underscored, type FirewallGenerator } from "./generator.js";
import { protoMatches, type ProtoMatch } from "./term-matches.js";

function table(name: string): string {
  return `<rf_${underscored(name)}>`;
}

function hosts(endpoint: Endpoint): string {
  if (endpoint === "any") return "any";
  const items = endpoint.map(table);
  return items.length === 1 ? items[0]! : `{ ${items.join(", ")} }`;
}

function portText(proto: ProtoMatch): string {
  if (proto.ports === undefined) return "";
  const items = proto.ports.map((r) => formatPortRange(r, ":"));
  return ` port ${items.length === 1 ? items[0] : `{ ${items.join(", ")} }`}`;
}

function termRules(policy: PolicyNode, node: TermNode): string[] {
  const direction = node.direction === "in" ? "in" : "out";
  const log = node.log ? " log" : "";
  const receivedOn = node.direction === "forward" ? " received-on any" : "";
  const state = node.action === "accept" && !policy.stateful ? " no state" : "";
  const from = `from ${hosts(node.from)}`;
  const to = `to ${hosts(node.to)}`;
  const action = (proto: "tcp" | "udp" | undefined): string => {
    if (node.action === "accept") return "pass";
    if (node.action === "drop") return "block drop";
    return proto === "tcp" ? "block return-rst" : "block return-icmp (port-unr, port-unr)";
  };
  const rule = (proto: "tcp" | "udp" | undefined, ports: string) =>
    `${action(proto)} ${direction}${log} quick${proto === undefined ? "" : ` proto ${proto}`} ${from} ${to}${ports}${receivedOn}${state}`;
  const protos = protoMatches(policy, node);
  if (protos === "any") {
    return node.action === "reject"
      ? [rule("tcp", ""), rule(undefined, "")]
      : [rule(undefined, "")];
  }
  return protos.map((proto) => rule(proto.proto, portText(proto)));
}

export function renderPf(policy: PolicyNode): string {
  const noState = policy.stateful ? "" : " no state";
  const lines = [
    `# ringfence shield policy ${policy.name}${policy.comment === undefined ? "" : `: ${encodeText(policy.comment, "")}`}`,
    "# OpenBSD pf, 5.5 or later. Load with: pfctl -f <this file> (or into an anchor).",
  ];
  for (const node of [...policy.zones, ...policy.addressSets]) {
    lines.push(
      `table ${table(node.name)} const { ${node.addresses.map(formatPrefixShort).join(", ")} }`,
    );
  }
  const stanceRule = (dir: "in" | "out", stance: string) =>
    stance === "deny"
      ? `block drop ${dir} all`
      : stance === "allow"
        ? `pass ${dir} all${noState}`
        : "";
  lines.push(
    ...[stanceRule("in", policy.stance.in), stanceRule("out", policy.stance.out)].filter(
      (l) => l !== "",
    ),
  );
  const emit = (direction: string) => {
    for (const node of policy.terms.filter((t) => t.direction === direction)) {
      lines.push(`# ${encodeText(termLabel(node), "")}`, ...termRules(policy, node));
    }
  };
  const routing =
    policy.stance.forward !== "unset" || policy.terms.some((t) => t.direction === "forward");
  if (!routing) {
    // Nothing to say about routed packets: rendered for a machine that does not route, so `in`
    // rules see what Linux's input hook sees (broadcasts included).
    lines.push("# no forward terms: for a machine that does not route packets");
    emit("in");
    emit("out");
    return lines.join("\n") + "\n";
  }
  // Routed packets are decided when they leave (forward terms), not when they enter.
  lines.push(`pass in quick to ! self flags any${noState}`);
  emit("in");
  emit("forward");
  if (policy.stance.forward === "deny") lines.push("block drop out quick received-on any");
  else lines.push(`pass out quick received-on any flags any${noState}`);
  emit("out");
  return lines.join("\n") + "\n";
}

export const pfGenerator: FirewallGenerator = {
  target: "pf",
  title: "OpenBSD pf (pf.conf), 5.5 or later",
  render(policy) {
    return [{ name: `ringfence-${policy.name}.pf.conf`, content: renderPf(policy) }];
  },
};
