/**
 * `nft -j list ruleset` (libnftables JSON, schema version 1) into the ruleset model. Understood:
 * tables of the inet, ip and ip6 families; base chains (hook, priority, policy); rules matching
 * ip/ip6 saddr and daddr, ip protocol, ip6 nexthdr, meta l4proto/nfproto/iifname/oifname,
 * tcp/udp/th ports, ct state, with ==, !=, in and the port comparisons, against values, prefixes,
 * ranges, anonymous sets and static named sets; the verdicts accept, drop, reject, jump, goto,
 * return, continue; counter, log, comment and marking statements (the packet goes on).
 * Anything else (marks, fib, limits, concatenations, maps, dynamic sets, dnat, queue, netdev
 * chains) is kept as "unknown" with its reason.
 */
import { RingfenceError } from "../../errors.js";
import type { AddressFamily, AddressRange } from "../../targets/index.js";
import { parseAddressList } from "../model/address-set.js";
import { normalizePorts, type PortRange } from "../model/port-set.js";
import { PROTOCOL_NUMBERS } from "./evaluator.js";
import type { Action, Chain, Hook, Match, Rule, Ruleset } from "./ruleset-model.js";

type Json = unknown;
type Obj = Record<string, Json>;

const isObj = (v: Json): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const FAMILY_PACKETS: Record<string, AddressFamily[]> = { inet: [4, 6], ip: [4], ip6: [6] };
const HOOKS = new Set<string>(["prerouting", "input", "forward", "output", "postrouting"]);

interface SetInfo {
  readonly elements: readonly Json[];
  readonly dynamic: boolean;
}

class Unknown extends Error {}

function fail(file: string, reason: string): RingfenceError {
  return new RingfenceError("RINGFENCE_SHIELD_FILE", `ruleset file ${file}: ${reason}`, {
    hint: "pass the output of `nft -j list ruleset`",
  });
}

/** Address values: "1.2.3.4", {prefix}, {range}, {set: [...]}, "@set". */
function addressRanges(value: Json, sets: Map<string, SetInfo>): AddressRange[] {
  if (typeof value === "string") {
    if (value.startsWith("@")) {
      const set = sets.get(value.slice(1));
      if (set === undefined) throw new Unknown(`set ${value} is not in the ruleset`);
      if (set.dynamic) throw new Unknown(`set ${value} is updated at run time`);
      return set.elements.flatMap((e) => addressRanges(e, sets));
    }
    const parsed = parseAddressList([value]);
    if ("bad" in parsed) throw new Unknown(`address ${value} (a name?)`);
    return parsed.ranges;
  }
  if (isObj(value)) {
    if (isObj(value.prefix)) {
      const parsed = parseAddressList([`${String(value.prefix.addr)}/${String(value.prefix.len)}`]);
      if ("bad" in parsed) throw new Unknown(`prefix ${JSON.stringify(value.prefix)}`);
      return parsed.ranges;
    }
    if (Array.isArray(value.range) && value.range.length === 2) {
      const parsed = parseAddressList([`${String(value.range[0])}-${String(value.range[1])}`]);
      if ("bad" in parsed) throw new Unknown(`range ${JSON.stringify(value.range)}`);
      return parsed.ranges;
    }
    if (Array.isArray(value.set)) return value.set.flatMap((e) => addressRanges(e, sets));
    if (isObj(value.elem)) return addressRanges(value.elem.val, sets);
  }
  throw new Unknown(`address value ${JSON.stringify(value)}`);
}

function portRanges(value: Json, sets: Map<string, SetInfo>): PortRange[] {
  if (typeof value === "number") return [{ first: value, last: value }];
  if (typeof value === "string") {
    if (value.startsWith("@")) {
      const set = sets.get(value.slice(1));
      if (set === undefined) throw new Unknown(`set ${value} is not in the ruleset`);
      if (set.dynamic) throw new Unknown(`set ${value} is updated at run time`);
      return set.elements.flatMap((e) => portRanges(e, sets));
    }
    if (/^\d+$/.test(value)) return [{ first: Number(value), last: Number(value) }];
    throw new Unknown(`port ${value}`);
  }
  if (isObj(value)) {
    if (Array.isArray(value.range) && value.range.length === 2)
      return [{ first: Number(value.range[0]), last: Number(value.range[1]) }];
    if (Array.isArray(value.set)) return value.set.flatMap((e) => portRanges(e, sets));
    if (isObj(value.elem)) return portRanges(value.elem.val, sets);
  }
  throw new Unknown(`port value ${JSON.stringify(value)}`);
}

function names(value: Json, sets: Map<string, SetInfo>): string[] {
  if (typeof value === "string") {
    if (value.startsWith("@")) {
      const set = sets.get(value.slice(1));
      if (set === undefined || set.dynamic) throw new Unknown(`set ${value}`);
      return set.elements.flatMap((e) => names(e, sets));
    }
    return [value];
  }
  if (isObj(value) && Array.isArray(value.set)) return value.set.flatMap((e) => names(e, sets));
  if (Array.isArray(value)) return value.flatMap((e) => names(e, sets));
  throw new Unknown(`value ${JSON.stringify(value)}`);
}

function protocolNumbers(value: Json, sets: Map<string, SetInfo>): number[] {
  return names(typeof value === "number" ? String(value) : value, sets).map((n) => {
    if (/^\d+$/.test(n)) return Number(n);
    const number = PROTOCOL_NUMBERS[n];
    if (number === undefined) throw new Unknown(`protocol ${n}`);
    return number;
  });
}

/** `==`, `!=`, `in` and the comparisons; returns [negate, ranges for <,>,<=,>=]. */
function operator(op: Json): { negate: boolean; compare?: string } {
  if (op === "==" || op === "in" || op === undefined) return { negate: false };
  if (op === "!=") return { negate: true };
  if (op === "<" || op === ">" || op === "<=" || op === ">=") return { negate: false, compare: op };
  throw new Unknown(`operator ${String(op)}`);
}

function compared(compare: string, value: Json): PortRange[] {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Unknown(`comparison with ${JSON.stringify(value)}`);
  const ranges: Record<string, PortRange> = {
    "<": { first: 0, last: n - 1 },
    "<=": { first: 0, last: n },
    ">": { first: n + 1, last: 65535 },
    ">=": { first: n, last: 65535 },
  };
  const range = ranges[compare]!;
  return range.first > range.last ? [] : [range];
}

function matchOf(m: Obj, sets: Map<string, SetInfo>): Match[] {
  const { negate, compare } = operator(m.op);
  const left = m.left;
  const right = m.right;
  if (!isObj(left)) throw new Unknown(`match on ${JSON.stringify(left)}`);
  if (isObj(left.payload)) {
    const { protocol, field } = left.payload as { protocol?: string; field?: string };
    if (protocol === undefined) throw new Unknown("raw payload match");
    if ((protocol === "ip" || protocol === "ip6") && (field === "saddr" || field === "daddr")) {
      if (compare !== undefined) throw new Unknown("address comparison");
      const family: AddressFamily = protocol === "ip" ? 4 : 6;
      return [
        { kind: "family", family, negate: false },
        {
          kind: "address",
          side: field === "saddr" ? "src" : "dst",
          ranges: addressRanges(right, sets).filter((r) => r.family === family),
          negate,
        },
      ];
    }
    if (protocol === "ip" && field === "protocol")
      return [
        { kind: "family", family: 4, negate: false },
        { kind: "protocol", protocols: protocolNumbers(right, sets), negate },
      ];
    if (protocol === "ip6" && field === "nexthdr")
      return [
        { kind: "family", family: 6, negate: false },
        { kind: "protocol", protocols: protocolNumbers(right, sets), negate },
      ];
    if (
      (protocol === "tcp" || protocol === "udp" || protocol === "th") &&
      (field === "dport" || field === "sport")
    ) {
      const ports = compare !== undefined ? compared(compare, right) : portRanges(right, sets);
      return [
        {
          kind: "port",
          side: field === "dport" ? "dst" : "src",
          ports: normalizePorts(ports),
          negate,
          ...(protocol === "th" ? {} : { protocols: [PROTOCOL_NUMBERS[protocol]!] }),
        },
      ];
    }
    if (protocol === "tcp" && field === "flags") throw new Unknown("tcp flags test");
    throw new Unknown(`${protocol} ${String(field)}`);
  }
  if (isObj(left.meta)) {
    const key = left.meta.key;
    if (key === "l4proto")
      return [{ kind: "protocol", protocols: protocolNumbers(right, sets), negate }];
    if (key === "nfproto") {
      const fams = names(right, sets).map((n) => (n === "ipv4" ? 4 : n === "ipv6" ? 6 : 0));
      if (fams.includes(0) || fams.length !== 1)
        throw new Unknown(`meta nfproto ${JSON.stringify(right)}`);
      return [{ kind: "family", family: fams[0] as AddressFamily, negate }];
    }
    if (key === "iifname" || key === "oifname" || key === "iif" || key === "oif")
      return [
        {
          kind: "interface",
          side: String(key).startsWith("i") ? "in" : "out",
          names: names(right, sets),
          negate,
        },
      ];
    throw new Unknown(`meta ${String(key)}`);
  }
  if (isObj(left.ct)) {
    if (left.ct.key === "state") {
      if (compare !== undefined) throw new Unknown("ct state comparison");
      return [{ kind: "ct-state", states: names(right, sets).map((s) => s.toLowerCase()), negate }];
    }
    throw new Unknown(`ct ${String(left.ct.key)}`);
  }
  const what = Object.keys(left)[0] ?? "?";
  throw new Unknown(`${what} expression`);
}

const CONTINUE_STATEMENTS = new Set(["counter", "log", "set", "comment"]);

function ruleOf(
  r: Obj,
  ref: string,
  sets: Map<string, SetInfo>,
  conntrack: { notrack: boolean; helpers: boolean },
): Rule {
  const matches: Match[] = [];
  let action: Action = { kind: "continue" };
  const expr = Array.isArray(r.expr) ? r.expr : [];
  for (const e of expr) {
    if (!isObj(e)) continue;
    const [key] = Object.keys(e);
    const value = key === undefined ? undefined : e[key];
    try {
      switch (key) {
        case "match":
          if (!isObj(value)) throw new Unknown("malformed match");
          matches.push(...matchOf(value, sets));
          break;
        case "accept":
          action = { kind: "verdict", verdict: "accept" };
          break;
        case "drop":
          action = { kind: "verdict", verdict: "drop" };
          break;
        case "reject":
          action = { kind: "verdict", verdict: "reject" };
          break;
        case "jump":
        case "goto":
          action = { kind: key, chain: String(isObj(value) ? value.target : "") };
          break;
        case "return":
          action = { kind: "return" };
          break;
        case "continue":
          action = { kind: "continue" };
          break;
        case "notrack":
          conntrack.notrack = true;
          action = {
            kind: "unknown",
            reason: "notrack takes the packet out of connection tracking",
          };
          break;
        case "snat":
        case "masquerade":
          break; // source rewriting after the filter decision: the destination still gets it
        case "xt": {
          // iptables-nft compatibility expressions: a comment is harmless, the rest unknown.
          const xt = isObj(value) ? value : {};
          if (xt.name === "comment") break;
          if (xt.type === "target")
            action = { kind: "unknown", reason: `xtables target ${String(xt.name)}` };
          else matches.push({ kind: "unknown", reason: `xtables match ${String(xt.name)}` });
          break;
        }
        case "limit":
        case "quota":
          matches.push({
            kind: "unknown",
            reason: `${key}: matches depending on the traffic rate`,
          });
          break;
        case "ct helper":
          // Attaching a helper: its expectations make later packets RELATED.
          conntrack.helpers = true;
          break;
        case "mangle": {
          // `ct helper set "ftp"` attaches a helper: its expectations make packets RELATED.
          const target = isObj(value) && isObj(value.key) ? value.key : {};
          if (isObj(target.ct) && target.ct.key === "helper") conntrack.helpers = true;
          break;
        }
        default:
          if (key !== undefined && CONTINUE_STATEMENTS.has(key)) break;
          action = { kind: "unknown", reason: `statement ${String(key)}` };
      }
    } catch (error) {
      if (!(error instanceof Unknown)) throw error;
      matches.push({ kind: "unknown", reason: error.message });
    }
  }
  return { ref, matches, action, ...(typeof r.comment === "string" ? { comment: r.comment } : {}) };
}

export function parseNftJson(text: string, file: string): Ruleset {
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw fail(file, `not JSON: ${(error as Error).message}`);
  }
  if (!isObj(doc) || !Array.isArray(doc.nftables))
    throw fail(file, 'expected a JSON object with an "nftables" array');
  const items = doc.nftables.filter(isObj);
  const sets = new Map<string, Map<string, SetInfo>>();
  const tableKey = (o: Obj) => `${String(o.family)} ${String(o.table ?? o.name)}`;
  for (const item of items) {
    const set = item.set ?? item.map;
    if (!isObj(set)) continue;
    const key = tableKey(set);
    const flags = Array.isArray(set.flags) ? set.flags.map(String) : [];
    const info: SetInfo = {
      elements: Array.isArray(set.elem) ? set.elem : [],
      dynamic: flags.includes("dynamic") || set.timeout !== undefined || isObj(item.map),
    };
    const tableSets = sets.get(key) ?? new Map<string, SetInfo>();
    tableSets.set(String(set.name), info);
    sets.set(key, tableSets);
  }
  const chains = new Map<string, { chain: Obj; rules: Rule[] }>();
  // A "ct helper" object in the ruleset is assigned by rules; either way helpers are in play.
  const conntrack = { notrack: false, helpers: items.some((item) => isObj(item["ct helper"])) };
  for (const item of items) {
    if (isObj(item.chain)) {
      const c = item.chain;
      chains.set(`${tableKey(c)} ${String(c.name)}`, { chain: c, rules: [] });
    }
  }
  for (const item of items) {
    if (!isObj(item.rule)) continue;
    const r = item.rule;
    const key = `${tableKey(r)} ${String(r.chain)}`;
    const entry = chains.get(key);
    if (entry === undefined) continue;
    const ref = `table ${String(r.family)} ${String(r.table)} chain ${String(r.chain)} handle ${String(r.handle)}`;
    entry.rules.push(ruleOf(r, ref, sets.get(tableKey(r)) ?? new Map(), conntrack));
  }
  const out: Chain[] = [];
  for (const { chain: c, rules } of chains.values()) {
    const family = String(c.family);
    const table = tableKey(c);
    const families = FAMILY_PACKETS[family];
    const id = `${table} ${String(c.name)}`;
    const hook = typeof c.hook === "string" ? c.hook : undefined;
    if (families === undefined) {
      // netdev ingress (and bridge) chains see packets before IP: not evaluated.
      if (hook === undefined || (rules.length === 0 && c.policy !== "drop")) continue;
      out.push({
        id,
        name: String(c.name),
        table,
        families: [4, 6],
        base: { hook: "prerouting", priority: -1000, policy: "accept", type: String(c.type) },
        rules: [
          {
            ref: `table ${table} chain ${String(c.name)}`,
            matches: [{ kind: "unknown", reason: `${family} chains are not evaluated` }],
            action: { kind: "verdict", verdict: "drop" },
          },
        ],
      });
      continue;
    }
    const base =
      hook !== undefined && HOOKS.has(hook)
        ? {
            hook: hook as Hook,
            priority: typeof c.prio === "number" ? c.prio : 0,
            policy: c.policy === "drop" ? ("drop" as const) : ("accept" as const),
            type: String(c.type ?? "filter"),
          }
        : undefined;
    if (hook !== undefined && base === undefined) continue; // ingress/egress hooks of inet
    out.push({
      id,
      name: String(c.name),
      table,
      families,
      ...(base === undefined ? {} : { base }),
      rules,
    });
  }
  // nat chains rewrite destinations: only snat/masquerade are understood there.
  return {
    format: "nft-json",
    source: file,
    families: [4, 6],
    chains: out,
    notrack: conntrack.notrack,
    helpers: conntrack.helpers,
  };
}
