/**
 * One model for the rulesets the auditor reads (nftables JSON, iptables-save) and for the plan's
 * own policy: chains of rules, base chains attached to netfilter hooks with a priority and a
 * policy. Whatever a parser cannot map is kept as an `unknown` match or action with the reason,
 * so the evaluator answers "unknown" for exactly the packets it would have to guess about.
 */
import type { AddressFamily, AddressRange } from "../../targets/index.js";
import type { PortRange } from "../model/port-set.js";

export const HOOK_ORDER = ["prerouting", "input", "forward", "output", "postrouting"] as const;
export type Hook = (typeof HOOK_ORDER)[number];

export type Verdict = "accept" | "drop" | "reject";

export type Match =
  | {
      readonly kind: "address";
      readonly side: "src" | "dst";
      readonly ranges: readonly AddressRange[];
      readonly negate: boolean;
    }
  | { readonly kind: "family"; readonly family: AddressFamily; readonly negate: boolean }
  /** IP protocol numbers (6 TCP, 17 UDP). */
  | { readonly kind: "protocol"; readonly protocols: readonly number[]; readonly negate: boolean }
  | {
      readonly kind: "port";
      readonly side: "src" | "dst";
      readonly ports: readonly PortRange[];
      readonly negate: boolean;
      /** The header the port is read from implies the protocol (tcp dport); undefined: tcp or udp. */
      readonly protocols?: readonly number[];
    }
  /** Conntrack states, lower case (new, established, related, invalid, untracked). */
  | { readonly kind: "ct-state"; readonly states: readonly string[]; readonly negate: boolean }
  /** Interface names; a trailing `*` (nft) or `+` (iptables) is a prefix wildcard. */
  | {
      readonly kind: "interface";
      readonly side: "in" | "out";
      readonly names: readonly string[];
      readonly negate: boolean;
    }
  /** A TCP flags test; `syn` tells whether a bare SYN (a new connection's first packet) matches. */
  | { readonly kind: "tcp-flags"; readonly syn: boolean; readonly negate: boolean }
  | { readonly kind: "unknown"; readonly reason: string };

export type Action =
  | { readonly kind: "verdict"; readonly verdict: Verdict }
  | { readonly kind: "jump" | "goto"; readonly chain: string }
  | { readonly kind: "return" }
  /** Counting, logging, marking: the packet goes on to the next rule. */
  | { readonly kind: "continue" }
  | { readonly kind: "unknown"; readonly reason: string };

export interface Rule {
  /** Where the rule is: `table inet t chain input handle 7`, `iptables.rules:12 (-A INPUT)`. */
  readonly ref: string;
  readonly matches: readonly Match[];
  readonly action: Action;
  /** The rule's comment, when it has one. */
  readonly comment?: string;
}

export interface BaseChain {
  readonly hook: Hook;
  readonly priority: number;
  /** "unset": the plan's "this policy does not decide" (only in rulesets compiled from plans). */
  readonly policy: "accept" | "drop" | "unset";
  /** filter, nat, route (nftables chain types; iptables tables map to these). */
  readonly type: string;
}

export interface Chain {
  /** Unique in the ruleset: `<family> <table> <chain>`. */
  readonly id: string;
  /** The chain's name, as jumps name it. */
  readonly name: string;
  /** The table's id, jumps resolve inside it. */
  readonly table: string;
  /** Packet families the chain sees: inet both, ip 4, ip6 6. */
  readonly families: readonly AddressFamily[];
  readonly base?: BaseChain;
  readonly rules: readonly Rule[];
}

export interface Ruleset {
  /** nft-json, iptables-save, plan. */
  readonly format: string;
  /** The file it came from. */
  readonly source: string;
  /** The families the ruleset speaks for; a question in another family has no answer here. */
  readonly families: readonly AddressFamily[];
  readonly chains: readonly Chain[];
  /** Some rule puts packets out of conntrack (notrack): `ct state untracked` is then unknown. */
  readonly notrack: boolean;
  /**
   * Some rule assigns a conntrack helper (ftp, tftp, netbios-ns...), whose expectations make new
   * packets RELATED: `ct state related` is then unknown. (The kernel no longer assigns helpers by
   * itself: nf_conntrack_helper=0 since Linux 4.7.)
   */
  readonly helpers: boolean;
}
