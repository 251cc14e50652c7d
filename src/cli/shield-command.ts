/**
 * `ringfence shield plan | render | audit`: from findings (or an exposure list) to a plan, from
 * a plan to firewall rules, and from deployed rules back to the plan (src/shield does the work;
 * this file parses options, reads files and prints).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, Option } from "commander";
import { fsReason, loadAdvisoryCatalog, type AdvisoryCatalog } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import { loadSiteFile, resolveAsset, type SiteContext } from "../risk/index.js";
import {
  addressOrZone,
  auditPlan,
  buildShieldPlan,
  combinedTarget,
  diffPlans,
  formatAuditReport,
  formatPlan,
  formatPlanDiff,
  GENERATORS,
  parseAllowSpec,
  parseIptablesSave,
  parseNftJson,
  parsePlanText,
  parseWindowsExport,
  parseZoneSpec,
  PLACEMENTS,
  readExposureFile,
  readPlanFile,
  rulesetTarget,
  SCOPES,
  TARGETS,
  WINDOWS_PROFILES,
  windowsTarget,
  exposuresFromInventory,
  type AuditTarget,
  type Exposure,
  type OpenService,
  type PlanFormat,
  type ShieldPlacement,
  type ShieldScope,
  type TargetId,
  type WindowsProfile,
  type ZoneSpec,
} from "../shield/index.js";
import { openStore, parseStoreLocation } from "../store/index.js";
import { collect, dbOption } from "./main.js";

const out = (text: string): void => {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
};

function usage(message: string, hint?: string): RingfenceError {
  return new RingfenceError("RINGFENCE_USAGE", message, hint === undefined ? {} : { hint });
}

async function writeOutput(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (error) {
    throw usage(`cannot write ${path}: ${fsReason(error)}`);
  }
}

// --- plan ----------------------------------------------------------------------------------------

interface PlanCliOptions {
  db: string;
  exposures?: string;
  advisory: string[];
  advisories: string[];
  scope: ShieldScope;
  placement?: ShieldPlacement;
  allow: string[];
  zone: string[];
  site?: string;
  quarantine: string[];
  quarantineZone: string[];
  dc: string[];
  dcClients: string[];
  stance: "unset" | "deny";
  action: "drop" | "reject";
  log?: boolean;
  stateless?: boolean;
  name: string;
  format: PlanFormat;
  output?: string;
  diff?: string;
}

interface Gathered {
  exposures: Exposure[];
  services: OpenService[];
}

/** Open findings (and what their latest assessments say) as exposures. */
async function fromFindings(db: string, catalog: AdvisoryCatalog): Promise<Gathered> {
  const location = parseStoreLocation(db);
  const where = location.kind === "sqlite" ? location.path : location.display;
  // A PostgreSQL database is always there to open (an empty one simply has no findings).
  if (location.kind === "sqlite" && !existsSync(location.path))
    throw usage(
      `no inventory at ${where}`,
      "scan with checks first (ringfence scan --checks safe), or pass --exposures file.yaml",
    );
  const store = await openStore(db);
  try {
    const { exposures, services, skipped } = await exposuresFromInventory(store, catalog);
    for (const reason of skipped) process.stderr.write(`ringfence: ${reason}; skipped\n`);
    if (exposures.length === 0)
      throw usage(
        `no open findings in ${where}`,
        "run checks (ringfence scan --checks safe), or pass --exposures file.yaml",
      );
    return { exposures, services };
  } finally {
    await store.close();
  }
}

function siteZones(site: SiteContext): ZoneSpec[] {
  const zones = new Map<string, ZoneSpec>();
  for (const rule of site.zoneRules) {
    if (rule.ranges.length === 0) continue;
    const prev = zones.get(rule.zone);
    zones.set(rule.zone, {
      name: rule.zone,
      ranges: [...(prev?.ranges ?? []), ...rule.ranges],
      comment: `site file ${site.source}`,
    });
  }
  return [...zones.values()];
}

async function planCommand(options: PlanCliOptions): Promise<void> {
  const zones = options.zone.map(parseZoneSpec);
  const allows = options.allow.map(parseAllowSpec);
  const dcClients = options.dcClients.map((c) => addressOrZone(c, "--dc-clients"));
  const catalog = await loadAdvisoryCatalog({ extraDirs: options.advisories });
  for (const id of options.advisory) catalog.require(id);
  const site = options.site === undefined ? undefined : await loadSiteFile(options.site);
  const previous = options.diff === undefined ? undefined : await readPlanFile(options.diff);
  const gathered: Gathered =
    options.exposures !== undefined
      ? await (async () => {
          const list = await readExposureFile(options.exposures!, options.advisory);
          return { exposures: [...list.exposures], services: [...list.services] };
        })()
      : await fromFindings(options.db, catalog);
  let exposures = gathered.exposures;
  if (site !== undefined) {
    exposures = exposures.map((e) => {
      const asset = resolveAsset(site, { id: e.address, address: e.address, reachable: [] });
      return asset.role.value === "domain-controller"
        ? { ...e, role: "domain-controller" as const }
        : e;
    });
  }
  const plan = buildShieldPlan(catalog, exposures, gathered.services, {
    name: options.name,
    source: options.exposures !== undefined ? "exposures" : "findings",
    scope: options.scope,
    ...(options.placement === undefined ? {} : { placement: options.placement }),
    stance: options.stance,
    action: options.action,
    log: options.log === true,
    stateful: options.stateless !== true,
    // With an exposure list, --advisory names the advisory of entries without one; with the
    // inventory, it selects findings.
    ...(options.advisory.length === 0 || options.exposures !== undefined
      ? {}
      : { advisories: options.advisory }),
    zones: [...(site === undefined ? [] : siteZones(site)), ...zones],
    allows,
    quarantine: options.quarantine,
    ...(options.quarantineZone.length === 0 ? {} : { quarantineZones: options.quarantineZone }),
    domainControllers: options.dc,
    ...(dcClients.length === 0 ? {} : { dcClients }),
  });
  const text = formatPlan(plan, options.format);
  if (options.output !== undefined) await writeOutput(options.output, text);
  if (previous !== undefined) out(formatPlanDiff(diffPlans(previous, plan)));
  else if (options.output === undefined) out(text);
  for (const warning of plan.warnings) process.stderr.write(`ringfence: warning: ${warning}\n`);
  for (const flag of plan.flags)
    process.stderr.write(
      `ringfence: flagged ${flag.host} ${flag.service} (${flag.advisory}): ${flag.reason}\n`,
    );
  if (options.output !== undefined)
    process.stderr.write(
      `ringfence: plan ${plan.name} written to ${options.output}: ${plan.hosts.length} hosts, ${plan.policy.terms.length} terms (${plan.scope} scope, ${plan.placement} placement)\n`,
    );
}

// --- render --------------------------------------------------------------------------------------

interface RenderCliOptions {
  target: TargetId;
  output?: string;
  windowsProfile?: string;
}

function parseProfiles(text: string): WindowsProfile[] {
  const names = text
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  const profiles: WindowsProfile[] = [];
  for (const name of names) {
    if (name === "all" || name === "any") return [...WINDOWS_PROFILES];
    if (!(WINDOWS_PROFILES as readonly string[]).includes(name))
      throw usage(`--windows-profile: ${name} is not one of ${WINDOWS_PROFILES.join(", ")}, all`);
    profiles.push(name as WindowsProfile);
  }
  if (profiles.length === 0) throw usage("--windows-profile: name at least one profile");
  return profiles;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function renderCommand(
  planFile: string | undefined,
  options: RenderCliOptions,
): Promise<void> {
  // No file (or "-"): the plan comes on stdin, as in `shield plan | shield render --target nftables`.
  const plan =
    planFile === undefined || planFile === "-"
      ? parsePlanText(await readStdin(), "<stdin>")
      : await readPlanFile(planFile);
  const files = GENERATORS[options.target].render(plan.policy, {
    ...(options.windowsProfile === undefined
      ? {}
      : { windowsProfiles: parseProfiles(options.windowsProfile) }),
  });
  if (options.output === undefined) {
    if (files.length === 1) process.stdout.write(files[0]!.content);
    else
      for (const file of files) {
        // Several files (iptables, ip6tables): each under a header line naming it.
        process.stdout.write(`# ==> ${file.name} <==\n${file.content}`);
      }
    return;
  }
  if (files.length === 1) {
    await writeOutput(options.output, files[0]!.content);
    process.stderr.write(`ringfence: ${options.target} rules written to ${options.output}\n`);
    return;
  }
  try {
    await mkdir(options.output, { recursive: true });
  } catch (error) {
    throw usage(`cannot create directory ${options.output}: ${fsReason(error)}`);
  }
  for (const file of files) await writeOutput(join(options.output, file.name), file.content);
  process.stderr.write(
    `ringfence: ${options.target} rules written to ${files.map((f) => join(options.output!, f.name)).join(", ")}\n`,
  );
}

// --- audit ---------------------------------------------------------------------------------------

const RULESET_FORMATS = ["nft-json", "iptables-save", "windows-json"] as const;
type RulesetFormat = (typeof RULESET_FORMATS)[number];

interface AuditCliOptions {
  plan: string;
  format?: RulesetFormat;
  family?: string;
  zoneInterface: string[];
  json?: boolean;
  verbose?: boolean;
  strict?: boolean;
}

function detectFormat(text: string): RulesetFormat {
  const head = text.replace(/^\uFEFF/, "").trimStart();
  if (head.startsWith("{") && /"nftables"\s*:/.test(head.slice(0, 200))) return "nft-json";
  if (head.startsWith("{") || head.startsWith("[")) return "windows-json";
  return "iptables-save";
}

async function auditTargetOf(file: string, options: AuditCliOptions): Promise<AuditTarget> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_SHIELD_FILE",
      `ruleset file ${file}: cannot read: ${fsReason(error)}`,
    );
  }
  const format = options.format ?? detectFormat(text);
  if (format === "nft-json") return rulesetTarget(parseNftJson(text, file));
  if (format === "windows-json") return windowsTarget(parseWindowsExport(text, file));
  const family = options.family === undefined ? undefined : options.family === "6" ? 6 : 4;
  return rulesetTarget(parseIptablesSave(text, file, family));
}

async function auditCommand(files: string[], options: AuditCliOptions): Promise<void> {
  if (options.family !== undefined && options.family !== "4" && options.family !== "6")
    throw usage(`--family ${options.family}: expected 4 or 6`);
  const zoneInterfaces: Record<string, string> = {};
  for (const spec of options.zoneInterface) {
    const match = /^([a-z][a-z0-9-]*)=(\S+)$/.exec(spec);
    if (match === null)
      throw usage(`--zone-interface ${JSON.stringify(spec)}: expected <zone>=<interface>`);
    zoneInterfaces[match[1]!] = match[2]!;
  }
  const plan = await readPlanFile(options.plan);
  const targets = [];
  for (const file of files) targets.push(await auditTargetOf(file, options));
  const report = auditPlan(plan, targets.length === 1 ? targets[0]! : combinedTarget(targets), {
    zoneInterfaces,
  });
  if (options.json) out(JSON.stringify(report, null, 2));
  else out(formatAuditReport(report, options.verbose === true));
  if (report.counts.exposed > 0 || (options.strict && report.counts.unknown > 0))
    process.exitCode = 1;
}

// --- registration --------------------------------------------------------------------------------

export function registerShieldCommand(program: Command): void {
  const shield = program
    .command("shield")
    .description(
      "protect: plan a shield from findings, render it for a firewall, audit deployed rules against it",
    );
  shield.addHelpText(
    "after",
    `
Examples:
  ringfence shield plan -o plan.yaml                              open findings of ./ringfence.db, affected hosts
  ringfence shield plan --exposures exposed.yaml --advisory ms03-026 --scope perimeter -o plan.yaml
  ringfence shield plan --zone mgmt=10.9.0.0/24 --allow mgmt:tcp/445 --quarantine 10.0.5.7 -o plan.yaml
  ringfence shield plan -o plan-new.yaml --diff plan.yaml         what changed since the last plan
  ringfence shield render --target nftables plan.yaml -o shield.nft
  ringfence shield render --target iptables plan.yaml -o rules/   iptables.rules + ip6tables.rules
  ringfence shield render --target windows-ps plan.yaml -o shield.ps1
  nft -j list ruleset > ruleset.json && ringfence shield audit ruleset.json --plan plan.yaml`,
  );

  shield
    .command("plan")
    .description(
      "build a shield plan from the inventory's open findings (or an exposure list): blocks per advisory, allows, quarantine",
    )
    .addOption(dbOption())
    .option(
      "--exposures <file>",
      "plain exposure list (YAML: host, proto, port[, advisory]) instead of the inventory",
    )
    .option(
      "--advisory <id>",
      "only this advisory (repeatable); the advisory of exposure entries that name none",
      collect,
      [],
    )
    .option("--advisories <dir>", "extra advisory directory (repeatable)", collect, [])
    .addOption(
      new Option(
        "--scope <scope>",
        "affected: the affected hosts only; perimeter: everything behind the perimeter",
      )
        .choices([...SCOPES])
        .default("affected"),
    )
    .addOption(
      new Option(
        "--placement <where>",
        "host firewalls (in/out) or a network firewall (forward); default: host for affected, network for perimeter",
      ).choices([...PLACEMENTS]),
    )
    .option(
      "--allow <spec>",
      "keep a service reachable, ahead of every block: <zone|cidr>:<tcp|udp>/<ports>[@<zone|cidr>] (repeatable)",
      collect,
      [],
    )
    .option(
      "--zone <spec>",
      "declare a zone: <name>=<cidr>[,<cidr>...] (repeatable); internal and internet are defined by default",
      collect,
      [],
    )
    .option(
      "--site <file>",
      "site file (ringfence.site/1): its zones by range and its domain controllers",
    )
    .option(
      "--quarantine <host>",
      "cut the host off from the quarantine zones, management allows kept (repeatable)",
      collect,
      [],
    )
    .option(
      "--quarantine-zone <zone>",
      "zones quarantine cuts off (repeatable; default internet; any for every zone)",
      collect,
      [],
    )
    .option(
      "--dc <host>",
      "a domain controller: restrict its ports to its clients instead of closing them (repeatable)",
      collect,
      [],
    )
    .option(
      "--dc-clients <zone|cidr>",
      "who keeps reaching domain controllers (repeatable; default every zone but internet)",
      collect,
      [],
    )
    .addOption(
      new Option(
        "--stance <stance>",
        "unset: only block and allow; deny: drop everything not allowed (in, forward)",
      )
        .choices(["unset", "deny"])
        .default("unset"),
    )
    .addOption(
      new Option(
        "--action <action>",
        "how blocks refuse: drop (silent) or reject (TCP reset / ICMP)",
      )
        .choices(["drop", "reject"])
        .default("drop"),
    )
    .option("--log", "log blocked packets (targets that log per rule)")
    .option(
      "--stateless",
      "no connection tracking: every packet through the terms (Cisco IOS ACLs need it)",
    )
    .option("--name <name>", "plan and policy name (kebab-case)", "shield")
    .addOption(
      new Option("--format <format>", "plan file format").choices(["yaml", "json"]).default("yaml"),
    )
    .option("-o, --output <file>", "write the plan here (default: stdout)")
    .option("--diff <old-plan>", "print what changed since this plan instead of the plan")
    .action(async (options: PlanCliOptions) => planCommand(options));

  shield
    .command("render")
    .description(
      "render a plan for one firewall; refuses (exit 2) any term the firewall cannot express exactly",
    )
    .argument("[plan]", "plan file (default: stdin)")
    .addOption(
      new Option("--target <target>", "firewall").choices([...TARGETS]).makeOptionMandatory(),
    )
    .option(
      "-o, --output <path>",
      "file to write (a directory for iptables: iptables.rules, ip6tables.rules)",
    )
    .option(
      "--windows-profile <list>",
      "Windows profiles the rules apply to: domain,private,public or all (default all: roaming laptops)",
    )
    .addHelpText(
      "after",
      `
Targets:
${TARGETS.map((t) => `  ${t.padEnd(14)} ${GENERATORS[t].title}`).join("\n")}`,
    )
    .action(async (plan: string | undefined, options: RenderCliOptions) =>
      renderCommand(plan, options),
    );

  shield
    .command("audit")
    .description(
      "check deployed rules against a plan, offline: per host, service and zone, shielded / exposed / unknown and the deciding rule; exit 1 when something the plan blocks is exposed",
    )
    .argument(
      "<ruleset...>",
      "nft -j list ruleset output, iptables-save / ip6tables-save output, or a Windows firewall export (JSON)",
    )
    .requiredOption("--plan <file>", "the plan the rules should implement")
    .addOption(
      new Option("--format <format>", "ruleset format (default: detected)").choices([
        ...RULESET_FORMATS,
      ]),
    )
    .option("--family <4|6>", "address family of an iptables-save file (default: from its header)")
    .option(
      "--zone-interface <zone=if>",
      "the interface a zone's traffic enters by, for rules that test it (repeatable)",
      collect,
      [],
    )
    .option("--json", "print the report as JSON")
    .option("--verbose", "list every check, not only the failures")
    .option("--strict", "exit 1 on unknown results too")
    .action(async (files: string[], options: AuditCliOptions) => auditCommand(files, options));
}
