/**
 * nftables: one `inet` table of its own (`ringfence_<policy>`), loaded atomically with `nft -f`.
 * The file first creates then deletes the table, so loading it again replaces the previous
 * version in one transaction and never touches another table.
 *
 * - Zones and address sets become named interval sets, one per family (`<name>_v4`, `_v6`);
 *   a term naming several of them gets an anonymous set of their union.
 * - Directions are the input, output and forward hooks; each chain's policy is the stance (deny =
 *   drop, allow and unset = accept: another table may still drop, which "unset" leaves to it).
 * - stateful: `ct state established,related accept` heads every chain.
 * - reject: `reject with tcp reset` for TCP, `reject with icmpx type port-unreachable` otherwise
 *   (inet tables answer IPv4 and IPv6 alike).
 * - Comments: nft's quoted strings have no escapes at all (scanner: `\"[^"]*\"`), so `"` and
 *   everything outside printable ASCII are encoded as `\xHH`; 128 characters at most.
 */
import { formatRange } from "../../targets/index.js";
import { formatPrefixShort, rangesOf, type Prefix } from "../model/address-set.js";
import { formatPortRange, type PortRange } from "../model/port-set.js";
import type { Direction, PolicyNode, TermNode } from "../model/policy.js";
import {
  clip,
  encodeText,
  termLabel,
  underscored,
  type FirewallGenerator,
  type RenderedFile,
} from "./generator.js";
import { familyMatches, protoMatches, singleName, type ProtoMatch } from "./term-matches.js";

const HOOKS: Record<Direction, string> = { in: "input", out: "output", forward: "forward" };
const MAX_COMMENT = 128;

function quoted(text: string): string {
  return `"${clip(encodeText(text, '"'), MAX_COMMENT)}"`;
}

function setName(name: string, family: 4 | 6): string {
  return `${underscored(name)}_v${family}`;
}

function portsText(ports: readonly PortRange[]): string {
  const items = ports.map((r) => formatPortRange(r));
  return items.length === 1 ? items[0]! : `{ ${items.join(", ")} }`;
}

function addressMatch(
  policy: PolicyNode,
  node: TermNode,
  side: "from" | "to",
  family: 4 | 6,
  prefixes: readonly Prefix[],
): string {
  const field = `${family === 4 ? "ip" : "ip6"} ${side === "from" ? "saddr" : "daddr"}`;
  const name = singleName(node[side]);
  if (name !== undefined) return `${field} @${setName(name, family)}`;
  const items = prefixes.map(formatPrefixShort);
  return items.length === 1 ? `${field} ${items[0]}` : `${field} { ${items.join(", ")} }`;
}

function l4Match(proto: ProtoMatch): string {
  return proto.ports === undefined
    ? `meta l4proto ${proto.proto}`
    : `${proto.proto} dport ${portsText(proto.ports)}`;
}

/** The verdict statements; reject depends on the protocol (`undefined`: every protocol). */
function verdicts(node: TermNode, proto: "tcp" | "udp" | undefined): string[] {
  const log = node.log ? `log prefix "rf:${node.name} " ` : "";
  const comment = ` comment ${quoted(termLabel(node))}`;
  if (node.action !== "reject") return [`${log}${node.action}${comment}`];
  if (proto === "tcp") return [`${log}reject with tcp reset${comment}`];
  if (proto === "udp") return [`${log}reject with icmpx type port-unreachable${comment}`];
  return [
    `meta l4proto tcp ${log}reject with tcp reset${comment}`,
    `${log}reject with icmpx type port-unreachable${comment}`,
  ];
}

function termRules(policy: PolicyNode, node: TermNode): string[] {
  const rules: string[] = [];
  const protos = protoMatches(policy, node);
  for (const match of familyMatches(policy, node)) {
    const parts: string[] = [];
    if (match.family !== "both") {
      if (match.src !== undefined)
        parts.push(addressMatch(policy, node, "from", match.family, match.src));
      if (match.dst !== undefined)
        parts.push(addressMatch(policy, node, "to", match.family, match.dst));
    }
    const head = parts.join(" ");
    const join = (...items: string[]) => items.filter((s) => s !== "").join(" ");
    if (protos === "any") {
      for (const verdict of verdicts(node, undefined)) rules.push(join(head, verdict));
    } else {
      for (const proto of protos) {
        for (const verdict of verdicts(node, proto.proto))
          rules.push(join(head, l4Match(proto), verdict));
      }
    }
  }
  return rules;
}

export function renderNftables(policy: PolicyNode): string {
  const table = `ringfence_${underscored(policy.name)}`;
  const lines: string[] = [
    "#!/usr/sbin/nft -f",
    `# ringfence shield policy ${policy.name}${policy.comment === undefined ? "" : `: ${encodeText(policy.comment, "")}`}`,
    `# Load with: nft -f <this file>. It replaces table inet ${table} atomically and touches no other table.`,
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
  ];
  for (const node of [...policy.zones, ...policy.addressSets]) {
    for (const family of [4, 6] as const) {
      const prefixes = node.addresses.filter((p) => p.family === family);
      if (prefixes.length === 0) continue;
      lines.push(
        `\tset ${setName(node.name, family)} {`,
        `\t\ttype ${family === 4 ? "ipv4_addr" : "ipv6_addr"}`,
        "\t\tflags interval",
        `\t\telements = { ${rangesOf(prefixes).map(formatRange).join(", ")} }`,
        "\t}",
      );
    }
  }
  for (const direction of ["in", "out", "forward"] as const) {
    const stance = policy.stance[direction];
    lines.push(
      `\tchain ${HOOKS[direction]} {`,
      `\t\ttype filter hook ${HOOKS[direction]} priority filter; policy ${stance === "deny" ? "drop" : "accept"};`,
    );
    if (policy.stateful) lines.push("\t\tct state established,related accept");
    for (const node of policy.terms.filter((t) => t.direction === direction)) {
      for (const rule of termRules(policy, node)) lines.push(`\t\t${rule}`);
    }
    lines.push("\t}");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

export const nftablesGenerator: FirewallGenerator = {
  target: "nftables",
  title: "nftables (nft -f), one inet table of its own",
  render(policy): RenderedFile[] {
    return [{ name: `ringfence-${policy.name}.nft`, content: renderNftables(policy) }];
  },
};
