/**
 * A Windows Defender Firewall export, and its evaluation. The accepted JSON (README, "Auditing a
 * Windows host") is what this PowerShell writes, run elevated on the host:
 *
 *   $rules = Get-NetFirewallRule -PolicyStore ActiveStore | ForEach-Object {
 *     $p = $_ | Get-NetFirewallPortFilter; $a = $_ | Get-NetFirewallAddressFilter
 *     $app = $_ | Get-NetFirewallApplicationFilter; $svc = $_ | Get-NetFirewallServiceFilter
 *     [pscustomobject]@{ Name = $_.Name; DisplayName = $_.DisplayName
 *       Enabled = [string]$_.Enabled; Direction = [string]$_.Direction; Action = [string]$_.Action
 *       Profile = [string]$_.Profile; OverrideBlockRules = [bool]$_.OverrideBlockRules
 *       Protocol = [string]$p.Protocol; LocalPort = @($p.LocalPort); RemotePort = @($p.RemotePort)
 *       LocalAddress = @($a.LocalAddress); RemoteAddress = @($a.RemoteAddress)
 *       Program = [string]$app.Program; Service = [string]$svc.Service } }
 *   $profiles = Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
 *     [pscustomobject]@{ Name = [string]$_.Name; Enabled = [string]$_.Enabled
 *       DefaultInboundAction = [string]$_.DefaultInboundAction
 *       DefaultOutboundAction = [string]$_.DefaultOutboundAction } }
 *   @{ schema = 'ringfence.windows-firewall/1'; profiles = @($profiles); rules = @($rules) } |
 *     ConvertTo-Json -Depth 4 | Set-Content -Encoding UTF8 firewall.json
 *
 * Enum fields may also be the numbers ConvertTo-Json writes without the [string] casts. A bare
 * array of rules is accepted too, but then the profile defaults are unknown.
 *
 * Windows semantics (no order): a matching enabled block rule wins, then a matching allow rule,
 * then the profile's default; a disabled profile filters nothing. Each question is answered per
 * profile (Domain, Private, Public): a roaming laptop is exposed if any profile exposes it.
 * Keywords (LocalSubnet, Internet, RPC, ...), program and service conditions and authenticated
 * bypass make the rule "unknown" for the packets it may cover.
 */
import { RingfenceError } from "../../errors.js";
import type { AddressFamily, AddressRange } from "../../targets/index.js";
import { parseAddressList, ipv4Mask } from "../model/address-set.js";
import { normalizePorts, parsePortRange, type PortRange } from "../model/port-set.js";
import {
  matchPiece,
  PROTOCOL_NUMBERS,
  type Outcome,
  type Piece,
  type Question,
} from "./evaluator.js";
import type { Match } from "./ruleset-model.js";

export const WINDOWS_EXPORT_SCHEMA = "ringfence.windows-firewall/1";
const PROFILES = ["Domain", "Private", "Public"] as const;
type Profile = (typeof PROFILES)[number];

interface WindowsRuleModel {
  readonly name: string;
  readonly enabled: boolean;
  readonly inbound: boolean;
  readonly block: boolean;
  readonly profiles: ReadonlySet<Profile>;
  /** The rule's conditions, for the packet's direction. */
  readonly matches: readonly Match[];
}

interface ProfileModel {
  readonly enabled: boolean | undefined;
  readonly inbound: "block" | "allow" | undefined;
  readonly outbound: "block" | "allow" | undefined;
}

export interface WindowsFirewall {
  readonly source: string;
  readonly families: readonly AddressFamily[];
  readonly rules: readonly WindowsRuleModel[];
  readonly profiles: ReadonlyMap<Profile, ProfileModel>;
}

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function fail(file: string, reason: string): RingfenceError {
  return new RingfenceError("RINGFENCE_SHIELD_FILE", `Windows firewall export ${file}: ${reason}`, {
    hint: `export with the PowerShell in the README (schema ${WINDOWS_EXPORT_SCHEMA})`,
  });
}

function text(value: Json): string {
  return value === undefined || value === null ? "" : String(value);
}

function list(value: Json): string[] {
  if (value === undefined || value === null) return ["Any"];
  const items = Array.isArray(value) ? value.map(text) : text(value).split(",");
  const out = items.map((s) => s.trim()).filter((s) => s !== "");
  return out.length === 0 ? ["Any"] : out;
}

const isAny = (items: readonly string[]) => items.length === 1 && /^(any|\*)$/i.test(items[0]!);

function enabledOf(value: Json): boolean {
  return value === true || value === 1 || /^true$/i.test(text(value));
}

function profilesOf(value: Json): Set<Profile> {
  if (typeof value === "number") {
    if (value === 0 || value >= 0x7fffffff) return new Set(PROFILES);
    return new Set(PROFILES.filter((_, i) => (value & (1 << i)) !== 0));
  }
  const names = list(value);
  if (isAny(names)) return new Set(PROFILES);
  return new Set(PROFILES.filter((p) => names.some((n) => n.toLowerCase() === p.toLowerCase())));
}

/** A Windows address token; undefined for keywords (LocalSubnet, Internet, DNS, ...). */
function addressToken(token: string): AddressRange[] | undefined {
  const mask = /^([0-9.]+)\/(\d+\.\d+\.\d+\.\d+)$/.exec(token);
  let expression = token;
  if (mask !== null) {
    const length = [...Array(33).keys()].find((l) => ipv4Mask(l) === mask[2]);
    if (length === undefined) return undefined;
    expression = `${mask[1]}/${length}`;
  }
  const parsed = parseAddressList([expression]);
  return "bad" in parsed ? undefined : parsed.ranges;
}

function addressMatch(side: "src" | "dst", tokens: readonly string[], what: string): Match[] {
  if (isAny(tokens)) return [];
  const ranges: AddressRange[] = [];
  for (const token of tokens) {
    const parsed = addressToken(token);
    if (parsed === undefined)
      return [
        { kind: "unknown", reason: `${what} ${token} (a keyword the export does not resolve)` },
      ];
    ranges.push(...parsed);
  }
  return [{ kind: "address", side, ranges, negate: false }];
}

function portMatch(tokens: readonly string[], side: "src" | "dst", what: string): Match[] {
  if (isAny(tokens)) return [];
  const ports: PortRange[] = [];
  for (const token of tokens) {
    // RPCEPMap is the RPC endpoint mapper, TCP 135; RPC (dynamic ports), IPHTTPS, Teredo and the
    // other keywords depend on the host's state and stay unknown.
    const range = /^rpc-?epmap$/i.test(token) ? { first: 135, last: 135 } : parsePortRange(token);
    if (range === undefined) return [{ kind: "unknown", reason: `${what} ${token} (a keyword)` }];
    ports.push(range);
  }
  if (side === "src") return [{ kind: "unknown", reason: `${what} tests the client's port` }];
  return [{ kind: "port", side, ports: normalizePorts(ports), negate: false }];
}

function protocolMatch(value: Json): Match[] {
  const t = text(value).trim();
  if (t === "" || /^any$/i.test(t) || t === "256") return [];
  const number = /^\d+$/.test(t) ? Number(t) : PROTOCOL_NUMBERS[t.toLowerCase()];
  if (number === undefined) return [{ kind: "unknown", reason: `protocol ${t}` }];
  return [{ kind: "protocol", protocols: [number], negate: false }];
}

function ruleOf(raw: Record<string, Json>, index: number): WindowsRuleModel {
  const name = text(raw.Name) || text(raw.DisplayName) || `rule ${index + 1}`;
  const direction = text(raw.Direction);
  const inbound = direction === "1" || /^inbound$/i.test(direction);
  const action = text(raw.Action);
  const block = action === "4" || /^block$/i.test(action);
  const matches: Match[] = [...protocolMatch(raw.Protocol)];
  // Inbound: the remote end is the source and the local port the destination port.
  const remote = list(raw.RemoteAddress);
  const local = list(raw.LocalAddress);
  matches.push(...addressMatch(inbound ? "src" : "dst", remote, "RemoteAddress"));
  matches.push(...addressMatch(inbound ? "dst" : "src", local, "LocalAddress"));
  matches.push(
    ...portMatch(
      list(inbound ? raw.LocalPort : raw.RemotePort),
      "dst",
      inbound ? "LocalPort" : "RemotePort",
    ),
  );
  matches.push(
    ...portMatch(
      list(inbound ? raw.RemotePort : raw.LocalPort),
      "src",
      inbound ? "RemotePort" : "LocalPort",
    ),
  );
  for (const field of [
    "Program",
    "Service",
    "InterfaceType",
    "LocalUser",
    "RemoteUser",
    "RemoteMachine",
    "Package",
  ]) {
    const value = raw[field];
    if (value !== undefined && value !== null && !isAny(list(value)))
      matches.push({
        kind: "unknown",
        reason: `${field} ${text(value)} (applies only to that ${field.toLowerCase()})`,
      });
  }
  if (!block && (raw.OverrideBlockRules === true || /^true$/i.test(text(raw.OverrideBlockRules))))
    matches.push({ kind: "unknown", reason: "OverrideBlockRules (authenticated bypass)" });
  return {
    name,
    enabled: enabledOf(raw.Enabled),
    inbound,
    block,
    profiles: profilesOf(raw.Profile),
    matches,
  };
}

function actionOf(value: Json): "block" | "allow" | undefined {
  const t = text(value);
  if (/^block$/i.test(t) || t === "4") return "block";
  if (/^allow$/i.test(t) || t === "2") return "allow";
  return undefined; // NotConfigured: the effective default is not in the export
}

export function parseWindowsExport(textIn: string, file: string): WindowsFirewall {
  let doc: Json;
  try {
    doc = JSON.parse(textIn.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw fail(file, `not JSON: ${(error as Error).message}`);
  }
  const rulesRaw = Array.isArray(doc) ? doc : isObj(doc) ? doc.rules : undefined;
  if (!Array.isArray(rulesRaw))
    throw fail(file, 'expected { "profiles": [...], "rules": [...] } or an array of rules');
  const rules = rulesRaw.map((r, i) => {
    if (!isObj(r)) throw fail(file, `rules[${i}] is not an object`);
    return ruleOf(r, i);
  });
  const profiles = new Map<Profile, ProfileModel>();
  const profilesRaw = isObj(doc) && Array.isArray(doc.profiles) ? doc.profiles : [];
  for (const p of profilesRaw) {
    if (!isObj(p)) continue;
    const name = PROFILES.find((n) => n.toLowerCase() === text(p.Name).toLowerCase());
    if (name === undefined) continue;
    profiles.set(name, {
      enabled: p.Enabled === undefined ? undefined : enabledOf(p.Enabled),
      inbound: actionOf(p.DefaultInboundAction),
      outbound: actionOf(p.DefaultOutboundAction),
    });
  }
  return { source: file, families: [4, 6], rules, profiles };
}

/** Evaluates one question in every profile; each outcome's ref names the profile. */
export function evaluateWindows(firewall: WindowsFirewall, q: Question): Outcome[] {
  const inbound = q.path !== "output";
  const start: Piece = {
    src: q.src.filter((r) => r.family === q.family),
    dst: q.dst.filter((r) => r.family === q.family),
  };
  if (start.src.length === 0 || start.dst.length === 0) return [];
  const out: Outcome[] = [];
  for (const profile of PROFILES) {
    const settings = firewall.profiles.get(profile);
    if (settings?.enabled === false) {
      out.push({ ...start, verdict: "accept", ref: `profile ${profile} (firewall off)` });
      continue;
    }
    const rules = firewall.rules.filter(
      (r) => r.enabled && r.inbound === inbound && r.profiles.has(profile),
    );
    let pending: Piece[] = [start];
    const maybe: { piece: Piece; ref: string; reason: string }[] = [];
    // 1. Definite block rules win over everything.
    for (const rule of rules.filter((r) => r.block)) {
      const next: Piece[] = [];
      for (const piece of pending) {
        const split = matchPiece(rule.matches, piece, q);
        for (const p of split.yes)
          out.push({ ...p, verdict: "drop", ref: `profile ${profile}: block rule ${rule.name}` });
        next.push(...split.no, ...split.unknown.map((u) => u.piece));
        for (const u of split.unknown)
          maybe.push({
            piece: u.piece,
            ref: `profile ${profile}: block rule ${rule.name}`,
            reason: u.reason,
          });
      }
      pending = next;
    }
    // 2. What a block rule may cover is unknown, whatever the allow rules say.
    for (const m of maybe) {
      const next: Piece[] = [];
      for (const piece of pending) {
        const overlap = matchPiece(
          [
            { kind: "address", side: "src", ranges: m.piece.src, negate: false },
            { kind: "address", side: "dst", ranges: m.piece.dst, negate: false },
          ],
          piece,
          q,
        );
        for (const p of overlap.yes)
          out.push({ ...p, verdict: "unknown", ref: m.ref, reason: m.reason });
        next.push(...overlap.no);
      }
      pending = next;
    }
    // 3. Allow rules, then the profile default.
    const maybeAllow: { piece: Piece; ref: string; reason: string }[] = [];
    for (const rule of rules.filter((r) => !r.block)) {
      const next: Piece[] = [];
      for (const piece of pending) {
        const split = matchPiece(rule.matches, piece, q);
        for (const p of split.yes)
          out.push({ ...p, verdict: "accept", ref: `profile ${profile}: allow rule ${rule.name}` });
        next.push(...split.no, ...split.unknown.map((u) => u.piece));
        for (const u of split.unknown)
          maybeAllow.push({
            piece: u.piece,
            ref: `profile ${profile}: allow rule ${rule.name}`,
            reason: u.reason,
          });
      }
      pending = next;
    }
    const fallback = inbound ? settings?.inbound : settings?.outbound;
    for (const piece of pending) {
      if (fallback === "allow") {
        out.push({
          ...piece,
          verdict: "accept",
          ref: `profile ${profile} default ${inbound ? "inbound" : "outbound"} action Allow`,
        });
        continue;
      }
      const unsure = maybeAllow.find((m) =>
        m.piece.src.some((a) =>
          piece.src.some((b) => a.family === b.family && a.first <= b.last && b.first <= a.last),
        ),
      );
      if (unsure !== undefined)
        out.push({ ...piece, verdict: "unknown", ref: unsure.ref, reason: unsure.reason });
      else if (fallback === "block")
        out.push({
          ...piece,
          verdict: "drop",
          ref: `profile ${profile} default ${inbound ? "inbound" : "outbound"} action Block`,
        });
      else
        out.push({
          ...piece,
          verdict: "unknown",
          ref: `profile ${profile}`,
          reason: "the export has no default action for this profile (NotConfigured or missing)",
        });
    }
  }
  return out;
}
