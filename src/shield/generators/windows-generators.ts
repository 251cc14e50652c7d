/**
 * Windows Defender Firewall, the centrally managed personal firewall of the 2003 advisories, in
 * two spellings of the same rules (windows-rules.ts): PowerShell `New-NetFirewallRule` (Windows 8
 * / Server 2012 and later) and `netsh advfirewall firewall add rule` in a .cmd file (Windows 7 /
 * Server 2008 R2 and later: port ranges). Both run elevated, from a GPO startup script or any
 * endpoint manager. The rules apply to the Domain, Private and Public profiles unless told
 * otherwise, so a roaming laptop is shielded on a hotel network too.
 *
 * Stances set the profiles' default actions (unset leaves them alone); the profiles are turned
 * on, since rules of a disabled profile do nothing.
 * Text: PowerShell gets single-quoted strings (`'` doubled; everything outside printable ASCII,
 * where PowerShell also finds its typographic quotes, encoded `\xHH`); cmd.exe gets double-quoted
 * strings with `"`, `%`, `!`, `^`, `&`, `|`, `<` and `>` encoded as well.
 */
import { formatPortRange } from "../model/port-set.js";
import type { Direction, PolicyNode, Stance } from "../model/policy.js";
import {
  clip,
  encodeText,
  termLabel,
  unrenderable,
  WINDOWS_PROFILES,
  type FirewallGenerator,
  type RenderOptions,
  type WindowsProfile,
} from "./generator.js";
import { windowsRules, type WindowsRule } from "./windows-rules.js";

const PROFILE_NAMES: Record<WindowsProfile, string> = {
  domain: "Domain",
  private: "Private",
  public: "Public",
};

function profilesOf(options: RenderOptions | undefined): WindowsProfile[] {
  const chosen = options?.windowsProfiles ?? WINDOWS_PROFILES;
  return WINDOWS_PROFILES.filter((p) => chosen.includes(p));
}

/** Rule names: `ringfence-<policy>-<term>-<n>`, n counting the term's rules from 1. */
function numbered(policy: PolicyNode, rules: readonly WindowsRule[]): [string, WindowsRule][] {
  const counts = new Map<string, number>();
  return rules.map((rule) => {
    const n = (counts.get(rule.term.name) ?? 0) + 1;
    counts.set(rule.term.name, n);
    return [`ringfence-${policy.name}-${rule.term.name}-${n}`, rule];
  });
}

// --- PowerShell ----------------------------------------------------------------------------------

function ps(text: string): string {
  return `'${encodeText(text, "").replace(/'/g, "''")}'`;
}

function psList(items: readonly string[]): string {
  return items.map((item) => ps(item)).join(",");
}

const PS_ACTION: Record<Exclude<Stance, "unset">, string> = { deny: "Block", allow: "Allow" };

export function renderWindowsPowerShell(policy: PolicyNode, options?: RenderOptions): string {
  const rules = windowsRules(policy, "windows-ps", 1000);
  const profiles = profilesOf(options);
  const profileText =
    profiles.length === 3 ? "Any" : profiles.map((p) => PROFILE_NAMES[p]).join(",");
  const group = `ringfence-${policy.name}`;
  const lines = [
    `# ringfence shield policy ${policy.name}${policy.comment === undefined ? "" : `: ${encodeText(policy.comment, "")}`}`,
    "# Windows Defender Firewall, PowerShell NetSecurity (Windows 8 / Server 2012 or later). Run elevated,",
    "# e.g. as a GPO startup script or from an endpoint manager.",
    `# Profiles: ${profiles.map((p) => PROFILE_NAMES[p]).join(", ")}${profiles.length === 3 ? " (roaming laptops stay shielded on any network)" : " (other profiles are NOT shielded)"}.`,
    "$ErrorActionPreference = 'Stop'",
    `Get-NetFirewallRule -Group ${ps(group)} -ErrorAction SilentlyContinue | Remove-NetFirewallRule`,
  ];
  const defaults: string[] = [];
  if (policy.stance.in !== "unset")
    defaults.push(`-DefaultInboundAction ${PS_ACTION[policy.stance.in]}`);
  if (policy.stance.out !== "unset")
    defaults.push(`-DefaultOutboundAction ${PS_ACTION[policy.stance.out]}`);
  lines.push(
    `Set-NetFirewallProfile -Profile ${profiles.map((p) => PROFILE_NAMES[p]).join(",")} -Enabled True${defaults.map((d) => ` ${d}`).join("")}`,
  );
  for (const [name, rule] of numbered(policy, rules)) {
    const parts = [
      "New-NetFirewallRule",
      `-Name ${ps(name)}`,
      `-DisplayName ${ps(name)}`,
      `-Description ${ps(termLabel(rule.term))}`,
      `-Group ${ps(group)}`,
      `-Profile ${profileText}`,
      `-Direction ${rule.direction}`,
      `-Action ${rule.action}`,
      `-Protocol ${rule.protocol}`,
    ];
    if (rule.ports !== undefined)
      parts.push(
        `-${rule.direction === "Inbound" ? "LocalPort" : "RemotePort"} ${psList(rule.ports.map((r) => formatPortRange(r)))}`,
      );
    if (rule.local !== undefined) parts.push(`-LocalAddress ${psList(rule.local)}`);
    if (rule.remote !== undefined) parts.push(`-RemoteAddress ${psList(rule.remote)}`);
    parts.push("-Enabled True | Out-Null");
    lines.push(parts.join(" "));
  }
  return lines.join("\r\n") + "\r\n";
}

// --- netsh ---------------------------------------------------------------------------------------

const CMD_UNSAFE = '"%!^&|<>';

function cmdQuoted(text: string, max = 1000): string {
  return `"${clip(encodeText(text, CMD_UNSAFE), max)}"`;
}

function netshPolicy(stance: Record<Direction, Stance>): string | undefined {
  if (stance.in === "unset" && stance.out === "unset") return undefined;
  if (stance.in === "unset" || stance.out === "unset")
    throw unrenderable(
      "windows-netsh",
      `(stance ${stance.in === "unset" ? "in" : "out"})`,
      "netsh sets the inbound and outbound defaults together (firewallpolicy in,out); one of them is unset",
      "use --target windows-ps, or set both stances",
    );
  return `${stance.in === "deny" ? "blockinbound" : "allowinbound"},${stance.out === "deny" ? "blockoutbound" : "allowoutbound"}`;
}

export function renderWindowsNetsh(policy: PolicyNode, options?: RenderOptions): string {
  const rules = windowsRules(policy, "windows-netsh", 100);
  const profiles = profilesOf(options);
  const firewallPolicy = netshPolicy(policy.stance);
  const contexts = profiles.length === 3 ? ["allprofiles"] : profiles.map((p) => `${p}profile`);
  const lines = [
    "@echo off",
    `rem ringfence shield policy ${policy.name}${policy.comment === undefined ? "" : `: ${encodeText(policy.comment, CMD_UNSAFE)}`}`,
    "rem Windows Defender Firewall, netsh advfirewall (Windows 7 / Server 2008 R2 or later). Run elevated,",
    "rem e.g. as a GPO startup script. Rules of an earlier plan with other names are not removed (windows-ps removes them by group).",
    `rem Profiles: ${profiles.map((p) => PROFILE_NAMES[p]).join(", ")}${profiles.length === 3 ? " (roaming laptops stay shielded on any network)" : " (other profiles are NOT shielded)"}.`,
  ];
  for (const context of contexts) {
    lines.push(`netsh advfirewall set ${context} state on`);
    if (firewallPolicy !== undefined)
      lines.push(`netsh advfirewall set ${context} firewallpolicy ${firewallPolicy}`);
  }
  const profileText = profiles.length === 3 ? "any" : profiles.join(",");
  for (const [name, rule] of numbered(policy, rules)) {
    lines.push(`netsh advfirewall firewall delete rule name="${name}" >nul 2>&1`);
    const parts = [
      "netsh advfirewall firewall add rule",
      `name="${name}"`,
      `dir=${rule.direction === "Inbound" ? "in" : "out"}`,
      `action=${rule.action === "Allow" ? "allow" : "block"}`,
      `profile=${profileText}`,
      `protocol=${rule.protocol === "Any" ? "any" : rule.protocol.toLowerCase()}`,
    ];
    if (rule.ports !== undefined)
      parts.push(
        `${rule.direction === "Inbound" ? "localport" : "remoteport"}=${rule.ports.map((r) => formatPortRange(r)).join(",")}`,
      );
    parts.push(`localip=${rule.local === undefined ? "any" : rule.local.join(",")}`);
    parts.push(`remoteip=${rule.remote === undefined ? "any" : rule.remote.join(",")}`);
    parts.push(`description=${cmdQuoted(termLabel(rule.term))}`, "enable=yes");
    lines.push(parts.join(" "));
  }
  return lines.join("\r\n") + "\r\n";
}

export const windowsPowerShellGenerator: FirewallGenerator = {
  target: "windows-ps",
  title: "Windows Defender Firewall, PowerShell New-NetFirewallRule (all profiles by default)",
  render(policy, options) {
    return [
      { name: `ringfence-${policy.name}.ps1`, content: renderWindowsPowerShell(policy, options) },
    ];
  },
};

export const windowsNetshGenerator: FirewallGenerator = {
  target: "windows-netsh",
  title: "Windows Defender Firewall, netsh advfirewall commands (.cmd, all profiles by default)",
  render(policy, options) {
    return [{ name: `ringfence-${policy.name}.cmd`, content: renderWindowsNetsh(policy, options) }];
  },
};
