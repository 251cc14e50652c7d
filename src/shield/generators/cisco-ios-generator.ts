/**
 * Cisco IOS: a named extended ACL for IPv4 (`ip access-list extended ringfence-<policy>`) and an
 * `ipv6 access-list` for IPv6, both for routed traffic, to apply inbound on the interfaces the
 * traffic enters (`ip access-group ... in`, `ipv6 traffic-filter ... in`).
 *
 * What IOS cannot say, refused rather than approximated:
 * - stateful policies: an extended ACL is stateless (`established` matches ACK/RST bits, not
 *   flows, and has no UDP counterpart); plan with --stateless;
 * - `in` and `out` terms (traffic to and from the router itself): an interface ACL sees routed
 *   and router-bound packets alike, so only forward terms have a rendering;
 * - reject: a denied packet gets an ICMP unreachable (or nothing, with `no ip unreachables`),
 *   never a TCP reset.
 * IPv6: the explicit last line (`deny ipv6 any any` or `permit ipv6 any any`) comes before IOS's
 * implicit neighbour-discovery permits, so the ACL says exactly what the policy says.
 * Remarks carry the term labels, encoded (`?` too: pasted at the CLI it asks for help), at most
 * 100 characters.
 */
import type { AddressFamily } from "../../targets/index.js";
import { formatAddress } from "../../targets/address.js";
import { ipv4Mask, isHostPrefix, formatPrefix, type Prefix } from "../model/address-set.js";
import type { PolicyNode, TermNode } from "../model/policy.js";
import { clip, encodeText, termLabel, unrenderable, type FirewallGenerator } from "./generator.js";
import { familiesOfMatch, familyMatches, protoMatches } from "./term-matches.js";

function address(prefix: Prefix | undefined): string {
  if (prefix === undefined) return "any";
  if (isHostPrefix(prefix)) return `host ${formatAddress(prefix.family, prefix.value)}`;
  if (prefix.family === 6) return formatPrefix(prefix);
  return `${formatAddress(4, prefix.value)} ${ipv4Mask(prefix.length, true)}`;
}

function remark(text: string): string {
  return ` remark ${clip(encodeText(text, "?"), 100)}`;
}

function termLines(policy: PolicyNode, node: TermNode, family: AddressFamily): string[] {
  const lines: string[] = [];
  const action = node.action === "accept" ? "permit" : "deny";
  const log = node.log ? " log" : "";
  const protos = protoMatches(policy, node);
  for (const match of familyMatches(policy, node)) {
    if (!familiesOfMatch(match).includes(family)) continue;
    const sources = match.src === undefined ? [undefined] : [...match.src];
    const dests = match.dst === undefined ? [undefined] : [...match.dst];
    for (const src of sources) {
      for (const dst of dests) {
        const ends = `${address(src)} ${address(dst)}`;
        if (protos === "any") {
          lines.push(` ${action} ${family === 4 ? "ip" : "ipv6"} ${ends}${log}`);
          continue;
        }
        for (const proto of protos) {
          if (proto.ports === undefined) {
            lines.push(` ${action} ${proto.proto} ${ends}${log}`);
            continue;
          }
          for (const range of proto.ports) {
            const port =
              range.first === range.last
                ? `eq ${range.first}`
                : `range ${range.first} ${range.last}`;
            lines.push(` ${action} ${proto.proto} ${ends} ${port}${log}`);
          }
        }
      }
    }
  }
  return lines.length === 0 ? [] : [remark(termLabel(node)), ...lines];
}

export function renderCiscoIos(policy: PolicyNode): string {
  const target = "cisco-ios";
  if (policy.stateful)
    throw unrenderable(
      target,
      "(stateful)",
      "IOS extended ACLs are stateless; `established` covers TCP ACK/RST bits only, not flows or UDP",
      "plan with --stateless for an ACL",
    );
  for (const node of policy.terms) {
    if (node.direction !== "forward")
      throw unrenderable(
        target,
        node,
        `an interface ACL filters routed and router-bound packets alike, so an ${node.direction} term (traffic ${node.direction === "in" ? "to" : "from"} the router itself) has no exact rendering`,
        "plan with --placement network for a router ACL",
      );
    if (node.action === "reject")
      throw unrenderable(
        target,
        node,
        "IOS answers a denied packet with an ICMP unreachable or nothing, never a TCP reset",
        "use --action drop",
      );
  }
  const name = `ringfence-${policy.name}`;
  const last = (family: AddressFamily) =>
    ` ${policy.stance.forward === "deny" ? "deny" : "permit"} ${family === 4 ? "ip" : "ipv6"} any any`;
  const lines = [
    `! ringfence shield policy ${policy.name}${policy.comment === undefined ? "" : `: ${encodeText(policy.comment, "?")}`}`,
    `! Routed traffic. Apply inbound where traffic enters: ip access-group ${name} in / ipv6 traffic-filter ${name}-v6 in`,
    "! IOS also applies an interface ACL to packets addressed to the router itself.",
    "! Denied packets get ICMP unreachables unless the interface has: no ip unreachables",
    "! Paste in configuration mode (configure terminal).",
    `no ip access-list extended ${name}`,
    `ip access-list extended ${name}`,
  ];
  for (const node of policy.terms) lines.push(...termLines(policy, node, 4));
  lines.push(last(4), "exit", `no ipv6 access-list ${name}-v6`, `ipv6 access-list ${name}-v6`);
  for (const node of policy.terms) lines.push(...termLines(policy, node, 6));
  lines.push(last(6), "exit", "end");
  return lines.join("\n") + "\n";
}

export const ciscoIosGenerator: FirewallGenerator = {
  target: "cisco-ios",
  title: "Cisco IOS extended ACL (IPv4) and ipv6 access-list, routed traffic, stateless",
  render(policy) {
    return [{ name: `ringfence-${policy.name}.ios.txt`, content: renderCiscoIos(policy) }];
  },
};
