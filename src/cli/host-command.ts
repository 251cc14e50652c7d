import { isIP } from "node:net";
import type { Command } from "commander";
import { RingfenceError } from "../errors.js";
import type { SmbFingerprint } from "../smb/fingerprint.js";
import { nbstatFromDetail } from "../smb/nbstat-query.js";
import {
  openStore,
  type CheckRunRow,
  type FindingRecord,
  type HostRow,
  type ServiceRow,
} from "../store/index.js";
import { dbOption } from "./main.js";
import { printable, renderSmbFingerprint } from "./smb-output.js";

/**
 * `ringfence host <ip>`: everything the inventory knows about one host, in one place: its
 * addresses and names, its services, the SMB/NetBIOS fingerprint with the OS, its confidence and
 * the evidence, each check's latest verdict with its reason, and the findings.
 */

interface HostOptions {
  db: string;
  json?: boolean;
}

export interface HostView {
  readonly host: HostRow;
  readonly services: readonly ServiceRow[];
  /** The stored SMB fingerprint (assets.detail_json "smb"), or null. */
  readonly fingerprint: SmbFingerprint | null;
  /** The latest run of each check on this host, in recording order. */
  readonly checks: readonly CheckRunRow[];
  readonly findings: readonly FindingRecord[];
}

/** Reads one host's view from the store; RINGFENCE_USAGE when the host is not in it. */
export async function loadHostView(db: string, address: string): Promise<HostView> {
  const store = await openStore(db);
  try {
    const [host] = await store.listHosts({ address });
    if (host === undefined) {
      throw new RingfenceError(
        "RINGFENCE_USAGE",
        `${address} is not in the inventory ${store.location}`,
        {
          hint: "scan it first (ringfence scan), or check it (ringfence check smb-fingerprint <ip>)",
        },
      );
    }
    const services = await store.listServices({ address: host.address });
    // Oldest first: folding by check id keeps each check's latest run.
    const latest = new Map<string, CheckRunRow>();
    for (const run of await store.listCheckRuns({ address: host.address }))
      latest.set(run.checkId, run);
    const findings = await store.listFindings({ address: host.address });
    const smb = host.detail?.smb;
    const fingerprint = typeof smb === "object" && smb !== null ? (smb as SmbFingerprint) : null;
    return { host, services, fingerprint, checks: [...latest.values()], findings };
  } finally {
    await store.close();
  }
}

export function renderHostView(view: HostView): string {
  const { host } = view;
  const lines: string[] = [];
  lines.push(
    `${host.address}${host.hostnames.length > 0 ? `  (${host.hostnames.join(", ")})` : ""}`,
  );
  lines.push(
    `  OS                ${host.os === null ? "unknown" : `${host.os} (confidence ${host.osConfidence ?? "?"}%)`}`,
  );
  lines.push(`  first seen        ${host.firstSeen}`, `  last seen         ${host.lastSeen}`);
  lines.push("", "Services:");
  if (view.services.length === 0) lines.push("  none recorded");
  for (const s of view.services) {
    lines.push(`  ${`${s.protocol}/${s.port}`.padEnd(10)}${s.state.padEnd(15)}${s.reason}`);
  }
  lines.push("", "SMB / NetBIOS fingerprint:");
  if (view.fingerprint !== null) {
    lines.push(...renderSmbFingerprint(view.fingerprint, "  "));
  } else {
    const nbstat = nbstatFromDetail(
      view.services.find((s) => s.protocol === "udp" && s.port === 137)?.detail,
    );
    lines.push("  none (run `ringfence check smb-fingerprint " + host.address + "`)");
    if (nbstat !== null) {
      lines.push(
        `  NBSTAT            ${nbstat.names.map((n) => `${printable(n.name)}<${n.suffix.toString(16).padStart(2, "0")}>`).join(", ")}`,
        `    MAC             ${nbstat.mac ?? "-"}`,
      );
    }
  }
  lines.push("", "Checks (latest run of each):");
  if (view.checks.length === 0) lines.push("  none run");
  for (const run of view.checks) {
    const classification = run.classification === null ? "" : ` [${run.classification}]`;
    lines.push(
      `  ${run.checkId} (${run.protocol}/${run.port}): ${run.verdict}${classification} — ${run.reason}`,
    );
  }
  lines.push("", "Findings:");
  if (view.findings.length === 0) lines.push("  none");
  for (const f of view.findings) {
    lines.push(
      `  #${f.id} ${f.advisory} ${f.protocol}/${f.port} ${f.verdict} (${f.status}) since ${f.firstSeen}`,
    );
  }
  return lines.join("\n") + "\n";
}

export function registerHostCommand(program: Command): void {
  program
    .command("host")
    .description(
      "everything the inventory knows about one host: services, SMB fingerprint and OS, verdicts, findings",
    )
    .argument("<address>", "the host's IP address")
    .option("--json", "print one JSON document")
    .addOption(dbOption())
    .action(async (address: string, options: HostOptions) => {
      if (isIP(address.trim()) === 0) {
        throw new RingfenceError("RINGFENCE_BAD_TARGET", `"${address}" is not an IP address`);
      }
      const view = await loadHostView(options.db, address.trim());
      process.stdout.write(
        options.json === true ? JSON.stringify(view, null, 2) + "\n" : renderHostView(view),
      );
    });
}
