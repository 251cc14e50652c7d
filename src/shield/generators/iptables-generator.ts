/**
 * iptables-restore: two files, `iptables.rules` (IPv4) and `ip6tables.rules` (IPv6), each the
 * whole `filter` table (iptables-restore replaces a table it is given, so the file is the table).
 * Load with `iptables-restore iptables.rules` and `ip6tables-restore ip6tables.rules`; both the
 * nf_tables and the legacy variants read them.
 *
 * - No ipset: addresses are expanded, one rule per (source prefix, destination prefix, protocol,
 *   up to 15 ports: the multiport limit, a range counting two).
 * - Logging is a LOG rule with the same matches just before the verdict rule.
 * - reject: `--reject-with tcp-reset` for TCP, `icmp-port-unreachable` / `icmp6-port-unreachable`
 *   otherwise.
 * - Chain policies are the stances (deny = DROP; allow and unset = ACCEPT).
 * - Comments: iptables-restore reads `"` quoted strings and drops a lone backslash; `"` and
 *   anything outside printable ASCII are encoded as `\\xHH` (stored as `\xHH`), 256 characters
 *   at most (xt_comment).
 */
import type { AddressFamily } from "../../targets/index.js";
import { formatPrefix, type Prefix } from "../model/address-set.js";
import { formatPortRange, type PortRange } from "../model/port-set.js";
import type { Direction, PolicyNode, TermNode } from "../model/policy.js";
import {
  clip,
  DOUBLED_ESCAPE,
  encodeText,
  termLabel,
  type FirewallGenerator,
  type RenderedFile,
} from "./generator.js";
import { familiesOfMatch, familyMatches, protoMatches } from "./term-matches.js";

const CHAINS: Record<Direction, string> = { in: "INPUT", out: "OUTPUT", forward: "FORWARD" };
const MAX_MULTIPORT = 15;

function comment(text: string): string {
  return `-m comment --comment "${clip(encodeText(text, '"', DOUBLED_ESCAPE), 256)}"`;
}

/** Port lists of at most 15 multiport slots (a range takes two). */
function portChunks(ports: readonly PortRange[]): PortRange[][] {
  const chunks: PortRange[][] = [];
  let current: PortRange[] = [];
  let slots = 0;
  for (const range of ports) {
    const need = range.first === range.last ? 1 : 2;
    if (slots + need > MAX_MULTIPORT) {
      chunks.push(current);
      current = [];
      slots = 0;
    }
    current.push(range);
    slots += need;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function portMatch(proto: "tcp" | "udp", ports: readonly PortRange[]): string {
  if (ports.length === 1) return `-m ${proto} --dport ${formatPortRange(ports[0]!, ":")}`;
  return `-m multiport --dports ${ports.map((r) => formatPortRange(r, ":")).join(",")}`;
}

function verdictTargets(node: TermNode, proto: "tcp" | "udp" | undefined, family: AddressFamily) {
  const unreachable = family === 4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
  const target =
    node.action === "accept"
      ? "ACCEPT"
      : node.action === "drop"
        ? "DROP"
        : `REJECT --reject-with ${proto === "tcp" ? "tcp-reset" : unreachable}`;
  return target;
}

function termRules(policy: PolicyNode, node: TermNode, family: AddressFamily): string[] {
  const rules: string[] = [];
  const chain = CHAINS[node.direction];
  const label = comment(termLabel(node));
  const protos = protoMatches(policy, node);
  for (const match of familyMatches(policy, node)) {
    if (!familiesOfMatch(match).includes(family)) continue;
    const sources: (Prefix | undefined)[] = match.src === undefined ? [undefined] : [...match.src];
    const dests: (Prefix | undefined)[] = match.dst === undefined ? [undefined] : [...match.dst];
    // [protocol, port match] pairs; reject on every protocol needs a TCP rule before the rest.
    const l4: ["tcp" | "udp" | undefined, string][] = [];
    if (protos === "any") {
      if (node.action === "reject") l4.push(["tcp", "-p tcp"]);
      l4.push([undefined, ""]);
    } else {
      for (const proto of protos) {
        if (proto.ports === undefined) l4.push([proto.proto, `-p ${proto.proto}`]);
        else
          for (const chunk of portChunks(proto.ports))
            l4.push([proto.proto, `-p ${proto.proto} ${portMatch(proto.proto, chunk)}`]);
      }
    }
    for (const src of sources) {
      for (const dst of dests) {
        for (const [proto, l4Text] of l4) {
          const parts = [`-A ${chain}`];
          if (src !== undefined) parts.push(`-s ${formatPrefix(src)}`);
          if (dst !== undefined) parts.push(`-d ${formatPrefix(dst)}`);
          if (l4Text !== "") parts.push(l4Text);
          parts.push(label);
          const head = parts.join(" ");
          if (node.log) rules.push(`${head} -j LOG --log-prefix "rf:${node.name} "`);
          rules.push(`${head} -j ${verdictTargets(node, proto, family)}`);
        }
      }
    }
  }
  return rules;
}

export function renderIptables(policy: PolicyNode, family: AddressFamily): string {
  const tool = family === 4 ? "iptables" : "ip6tables";
  const lines = [
    `# ringfence shield policy ${policy.name} (IPv${family})${policy.comment === undefined ? "" : `: ${encodeText(policy.comment, "")}`}`,
    `# Load with: ${tool}-restore <this file>. It replaces the whole filter table.`,
    "*filter",
  ];
  for (const direction of ["in", "forward", "out"] as const) {
    lines.push(
      `:${CHAINS[direction]} ${policy.stance[direction] === "deny" ? "DROP" : "ACCEPT"} [0:0]`,
    );
  }
  for (const direction of ["in", "forward", "out"] as const) {
    if (policy.stateful)
      lines.push(`-A ${CHAINS[direction]} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    for (const node of policy.terms.filter((t) => t.direction === direction))
      lines.push(...termRules(policy, node, family));
  }
  lines.push("COMMIT");
  return lines.join("\n") + "\n";
}

export const iptablesGenerator: FirewallGenerator = {
  target: "iptables",
  title: "iptables-restore and ip6tables-restore files (the filter table)",
  render(policy): RenderedFile[] {
    return [
      { name: "iptables.rules", content: renderIptables(policy, 4) },
      { name: "ip6tables.rules", content: renderIptables(policy, 6) },
    ];
  },
};
