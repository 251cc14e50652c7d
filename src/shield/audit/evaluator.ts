/**
 * Symbolic evaluation of a ruleset for one question: "the first packet of a new TCP connection
 * (or UDP flow) to port P, from any address of these sources to any address of these
 * destinations: which of them pass?" Batfish's testFilters, for the firewalls Batfish cannot
 * read. Sources and destinations are address sets, not single packets: every address match
 * splits them, so the answer partitions the zone into pieces, each with its verdict and the rule
 * that gave it.
 *
 * The packet is a well-formed first packet: conntrack state `new` (never established or invalid;
 * related only through a conntrack helper and untracked only through notrack, both of which make
 * the test unknown when the ruleset uses them), a bare SYN for TCP, not a fragment, from an
 * unknown source port (any ephemeral port). A base chain's accept hands the packet to the next base chain of the path
 * (netfilter: every base chain must accept); drop and reject end it. Whatever the evaluator cannot
 * decide for a piece (a mark, a rate limit, a source-port test, an unresolvable jump) makes that
 * piece `unknown` with the reason, never a guess.
 */
import {
  intersectRanges,
  subtractRanges,
  type AddressFamily,
  type AddressRange,
} from "../../targets/index.js";
import { portsContain } from "../model/port-set.js";
import type { Chain, Hook, Match, Ruleset } from "./ruleset-model.js";

export type Path = "input" | "forward" | "output";

const PATH_HOOKS: Record<Path, readonly Hook[]> = {
  input: ["prerouting", "input"],
  forward: ["prerouting", "forward", "postrouting"],
  output: ["output", "postrouting"],
};

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  "ipv6-icmp": 58,
  sctp: 132,
  udplite: 136,
  dccp: 33,
};

export interface Question {
  readonly path: Path;
  readonly family: AddressFamily;
  readonly proto: "tcp" | "udp";
  readonly port: number;
  readonly src: readonly AddressRange[];
  readonly dst: readonly AddressRange[];
  /** Interfaces the packet enters or leaves by, when known (zone ↔ interface). */
  readonly iif?: string;
  readonly oif?: string;
}

export interface Piece {
  readonly src: readonly AddressRange[];
  readonly dst: readonly AddressRange[];
}

export interface Outcome extends Piece {
  /** "unset": the plan leaves the packet to other layers (a stance of unset). */
  readonly verdict: "accept" | "drop" | "reject" | "unknown" | "unset";
  /** The deciding rule (or `... policy`); for accept, the last base chain's. */
  readonly ref: string;
  readonly reason?: string;
}

const LOOPBACK: readonly AddressRange[] = [
  { family: 4, first: 0x7f000000n, last: 0x7fffffffn },
  { family: 6, first: 1n, last: 1n },
];

function isEmpty(piece: Piece): boolean {
  return piece.src.length === 0 || piece.dst.length === 0;
}

/** What the ruleset does to connection tracking, which decides some ct state tests. */
export interface ConntrackFlags {
  readonly notrack: boolean;
  readonly helpers: boolean;
}

/** How one match splits a piece: the part it holds for, the part it does not, or unknown. */
type Split = { yes: Piece[]; no: Piece[] } | { unknown: string };

function nameMatches(pattern: string, name: string): boolean {
  if (pattern.endsWith("*") || pattern.endsWith("+")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

function splitBy(match: Match, piece: Piece, q: Question, flags: ConntrackFlags): Split {
  const all = { yes: [piece], no: [] as Piece[] };
  const none = { yes: [] as Piece[], no: [piece] };
  const bool = (value: boolean, negate: boolean) => (value !== negate ? all : none);
  switch (match.kind) {
    case "address": {
      const current = piece[match.side];
      const inside = intersectRanges(current, match.ranges);
      const outside = subtractRanges(current, match.ranges);
      const withSide = (ranges: AddressRange[]): Piece => ({ ...piece, [match.side]: ranges });
      const yes = match.negate ? outside : inside;
      const no = match.negate ? inside : outside;
      return {
        yes: yes.length > 0 ? [withSide(yes)] : [],
        no: no.length > 0 ? [withSide(no)] : [],
      };
    }
    case "family":
      return bool(q.family === match.family, match.negate);
    case "protocol":
      return bool(match.protocols.includes(PROTOCOL_NUMBERS[q.proto]!), match.negate);
    case "port": {
      if (match.protocols !== undefined && !match.protocols.includes(PROTOCOL_NUMBERS[q.proto]!))
        // `tcp dport != 22` does not match a UDP packet either: the header test fails first.
        return none;
      if (match.side === "src") return { unknown: "tests the source port, which a client picks" };
      return bool(portsContain(match.ports, q.port), match.negate);
    }
    case "ct-state": {
      const states = new Set(match.states);
      if (states.has("untracked") && flags.notrack)
        return { unknown: "tests ct state untracked, and the ruleset uses notrack" };
      if (states.has("related") && flags.helpers)
        return { unknown: "tests ct state related, and the ruleset assigns conntrack helpers" };
      return bool(states.has("new"), match.negate);
    }
    case "tcp-flags":
      if (q.proto !== "tcp") return none;
      return bool(match.syn, match.negate);
    case "interface": {
      const known = match.side === "in" ? q.iif : q.oif;
      const applies =
        (q.path === "input" && match.side === "out") ||
        (q.path === "output" && match.side === "in");
      if (applies) return bool(false, match.negate); // no such interface at this hook
      const loopbackOnly = match.names.length > 0 && match.names.every((n) => n === "lo");
      if (loopbackOnly) {
        // Only packets from (or to) the machine itself use lo: split on the loopback addresses.
        return splitBy(
          {
            kind: "address",
            side: match.side === "in" ? "src" : "dst",
            ranges: LOOPBACK,
            negate: match.negate,
          },
          piece,
          q,
          flags,
        );
      }
      if (known === undefined)
        return {
          unknown: `tests the ${match.side === "in" ? "input" : "output"} interface (${match.names.join(", ")}); map the zone to an interface`,
        };
      return bool(
        match.names.some((n) => nameMatches(n, known)),
        match.negate,
      );
    }
    case "unknown":
      return { unknown: match.reason };
  }
}

/**
 * Splits `piece` by a conjunction of matches. A test the evaluator cannot decide does not stop
 * the others: a definite mismatch anywhere in the rule still means "no".
 */
export function matchPiece(
  matches: readonly Match[],
  piece: Piece,
  q: Question,
  flags: ConntrackFlags = { notrack: false, helpers: false },
): { yes: Piece[]; no: Piece[]; unknown: { piece: Piece; reason: string }[] } {
  // Each candidate carries the reasons it may not match; a later definite mismatch still wins.
  let candidates: { piece: Piece; reasons: string[] }[] = [{ piece, reasons: [] }];
  const no: Piece[] = [];
  for (const match of matches) {
    const next: { piece: Piece; reasons: string[] }[] = [];
    for (const candidate of candidates) {
      const split = splitBy(match, candidate.piece, q, flags);
      if ("unknown" in split)
        next.push({ ...candidate, reasons: [...candidate.reasons, split.unknown] });
      else {
        for (const p of split.yes)
          if (!isEmpty(p)) next.push({ piece: p, reasons: candidate.reasons });
        no.push(...split.no.filter((p) => !isEmpty(p)));
      }
    }
    candidates = next;
  }
  return {
    yes: candidates.filter((c) => c.reasons.length === 0).map((c) => c.piece),
    no,
    unknown: candidates
      .filter((c) => c.reasons.length > 0)
      .map((c) => ({ piece: c.piece, reason: c.reasons.join("; ") })),
  };
}

interface ChainResult {
  final: Outcome[];
  /** Pieces that fell off the end of a non-base chain or met `return`. */
  returned: Piece[];
}

class Evaluation {
  private readonly byTable = new Map<string, Map<string, Chain>>();

  constructor(
    private readonly ruleset: Ruleset,
    private readonly q: Question,
  ) {
    for (const chain of ruleset.chains) {
      const chains = this.byTable.get(chain.table) ?? new Map<string, Chain>();
      chains.set(chain.name, chain);
      this.byTable.set(chain.table, chains);
    }
  }

  chain(chain: Chain, pieces: readonly Piece[], depth: number): ChainResult {
    const final: Outcome[] = [];
    const returned: Piece[] = [];
    let pending: Piece[] = [...pieces];
    if (depth > 16) {
      for (const p of pending)
        final.push({
          ...p,
          verdict: "unknown",
          ref: `chain ${chain.id}`,
          reason: "jumps nest deeper than 16 chains (a loop?)",
        });
      return { final, returned };
    }
    for (const rule of chain.rules) {
      if (pending.length === 0) break;
      const next: Piece[] = [];
      for (const piece of pending) {
        const { yes, no, unknown } = matchPiece(rule.matches, piece, this.q, this.ruleset);
        next.push(...no);
        const action = rule.action;
        if (action.kind === "continue") {
          next.push(...yes, ...unknown.map((u) => u.piece));
          continue;
        }
        for (const u of unknown)
          final.push({ ...u.piece, verdict: "unknown", ref: rule.ref, reason: u.reason });
        if (yes.length === 0) continue;
        switch (action.kind) {
          case "verdict":
            for (const p of yes) final.push({ ...p, verdict: action.verdict, ref: rule.ref });
            break;
          case "return":
            returned.push(...yes);
            break;
          case "unknown":
            for (const p of yes)
              final.push({ ...p, verdict: "unknown", ref: rule.ref, reason: action.reason });
            break;
          case "jump":
          case "goto": {
            const target = this.byTable.get(chain.table)?.get(action.chain);
            if (target === undefined || target.base !== undefined) {
              for (const p of yes)
                final.push({
                  ...p,
                  verdict: "unknown",
                  ref: rule.ref,
                  reason: `${action.kind} to ${target === undefined ? "an unknown" : "a base"} chain ${action.chain}`,
                });
              break;
            }
            const inner = this.chain(target, yes, depth + 1);
            final.push(...inner.final);
            // jump: back to the next rule here; goto: back to whoever called this chain.
            if (action.kind === "jump") next.push(...inner.returned);
            else returned.push(...inner.returned);
            break;
          }
        }
      }
      pending = next;
    }
    if (chain.base === undefined) returned.push(...pending);
    else {
      // A base chain's end, its `return` and a goto'd chain's return all meet its policy.
      const policy = chain.base.policy;
      for (const p of [...pending, ...returned.splice(0)])
        final.push({
          ...p,
          verdict: policy === "drop" ? "drop" : policy,
          ref: `chain ${chain.id} policy ${policy}`,
        });
    }
    return { final, returned };
  }
}

/** The base chains a packet of the question meets, in netfilter order. */
function pathChains(ruleset: Ruleset, q: Question): Chain[] {
  const hooks = PATH_HOOKS[q.path];
  return ruleset.chains
    .filter(
      (c) => c.base !== undefined && hooks.includes(c.base.hook) && c.families.includes(q.family),
    )
    .sort(
      (a, b) =>
        hooks.indexOf(a.base!.hook) - hooks.indexOf(b.base!.hook) ||
        a.base!.priority - b.base!.priority ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}

/** Evaluates the question; the outcomes partition its sources and destinations. */
export function evaluate(ruleset: Ruleset, q: Question): Outcome[] {
  const start: Piece = {
    src: intersectRanges(q.src, familyRange(q.family)),
    dst: intersectRanges(q.dst, familyRange(q.family)),
  };
  if (isEmpty(start)) return [];
  if (!ruleset.families.includes(q.family))
    return [
      {
        ...start,
        verdict: "unknown",
        ref: ruleset.source,
        reason: `no IPv${q.family} ruleset was given`,
      },
    ];
  const evaluation = new Evaluation(ruleset, q);
  let pending: Outcome[] = [
    { ...start, verdict: "accept", ref: "no filtering chain on this path" },
  ];
  const final: Outcome[] = [];
  for (const chain of pathChains(ruleset, q)) {
    const accepted: Outcome[] = [];
    for (const outcome of evaluation.chain(
      chain,
      pending.map(({ src, dst }) => ({ src, dst })),
      0,
    ).final) {
      // An accept hands the packet to the next base chain; everything else ends it here
      // ("unset": the plan leaves the packet to other layers).
      if (outcome.verdict === "accept") accepted.push(outcome);
      else final.push(outcome);
    }
    pending = accepted;
  }
  return [...final, ...pending];
}

function familyRange(family: AddressFamily): AddressRange[] {
  return [{ family, first: 0n, last: family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n }];
}
