/**
 * A stored scan as nmap XML, valid against nmap's DTD (docs/nmap.dtd, Debian's
 * /usr/share/nmap/nmap.dtd, xmloutputversion 1.05), so that tools which read nmap -oX (ndiff,
 * Metasploit's db_import, DefectDojo, ...) read ours. The DTD fixes `scanner` to "nmap"; the
 * writer is named by profile_name="ringfence" and args. Scripts use NSE's structured-output form
 * (<script> with <table>/<elem> children): the check verdicts as one host script,
 * "ringfence-checks", with a table per check run; the SMB fingerprint as one port script,
 * "ringfence-smb-fingerprint", on the SMB port it came from. At most one script per host and per
 * port, because Debian's ndiff 7.93 crashes on a host or port with two (ndiff.py sorts
 * ScriptResult objects that only define Python 2's __cmp__: "TypeError: '<' not supported"),
 * whoever wrote the file. The fingerprinted OS goes in <os>/<osmatch>.
 *
 * Hosts are the ones that answered (an open or closed port), as nmap lists up hosts only; every
 * observed port of such a host is listed (no <extraports> folding), so that reading the file back
 * gives the same observations.
 */
import type { CheckRunRow } from "../store/index.js";
import type { ReportModel } from "../reports/report-model.js";
import { serviceName } from "../reports/report-model.js";
import { escapeXmlAttribute, escapeXmlText, xmlAttributes } from "./xml-output.js";

export const NMAP_XML_PROFILE = "ringfence";

function epoch(iso: string | null | undefined): number | undefined {
  if (iso === null || iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** `2026-11-27 15:06:43`-style text like nmap's startstr, in UTC. */
function timeText(iso: string | null | undefined): string | undefined {
  if (iso === null || iso === undefined || Number.isNaN(Date.parse(iso))) return undefined;
  return new Date(iso)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

function portList(ports: readonly number[]): string {
  return [...new Set(ports)].sort((a, b) => a - b).join(",");
}

/** Structured NSE output: scalars as <elem>, arrays and objects as <table>, depth-capped. */
function structured(value: unknown, key: string | undefined, depth: number): string {
  const k = key === undefined ? {} : { key };
  if (value === null || value === undefined) return "";
  if (typeof value !== "object")
    return `<elem${xmlAttributes(k)}>${escapeXmlText(String(value))}</elem>`;
  if (depth >= 6) return `<elem${xmlAttributes(k)}>${escapeXmlText(JSON.stringify(value))}</elem>`;
  const inner = Array.isArray(value)
    ? value.map((item) => structured(item, undefined, depth + 1)).join("")
    : Object.entries(value as Record<string, unknown>)
        .map(([name, item]) => structured(item, name, depth + 1))
        .join("");
  return `<table${xmlAttributes(k)}>${inner}</table>`;
}

/** One line per run in `output` (what nmap prints), one table per run for parsers. */
function checksScript(runs: readonly CheckRunRow[]): string {
  const output = runs
    .map(
      (run) =>
        `${run.checkId} ${run.protocol}/${run.port}: ${run.verdict}` +
        `${run.classification !== null ? ` (${run.classification})` : ""}: ${run.reason}`,
    )
    .join("\n");
  const tables = runs
    .map((run) =>
      structured(
        {
          check: run.checkId,
          port: `${run.protocol}/${run.port}`,
          verdict: run.verdict,
          classification: run.classification,
          reasonCode: run.reasonCode,
          reason: run.reason,
          finishedAt: run.finishedAt,
        },
        `${run.checkId} ${run.protocol}/${run.port}`,
        0,
      ),
    )
    .join("");
  return `<script${xmlAttributes({ id: "ringfence-checks", output })}>${tables}</script>`;
}

/** The stored SMB fingerprint (src/smb/fingerprint.ts), summarised as smb-os-discovery does. */
function smbScript(smb: unknown): string {
  const fp = smb as {
    os?: { label?: string | null; confidence?: number };
    acceptedDialects?: string[];
    signing?: { state?: string };
    ntlm?: { nbComputerName?: string; nbDomainName?: string; version?: string } | null;
  };
  const summary = [
    fp.os?.label ? `OS: ${fp.os.label} (${fp.os.confidence ?? 0}%)` : undefined,
    fp.ntlm?.nbComputerName ? `NetBIOS computer name: ${fp.ntlm.nbComputerName}` : undefined,
    fp.ntlm?.nbDomainName ? `NetBIOS domain: ${fp.ntlm.nbDomainName}` : undefined,
    fp.acceptedDialects?.length ? `dialects: ${fp.acceptedDialects.join(", ")}` : undefined,
    fp.signing?.state ? `message signing: ${fp.signing.state}` : undefined,
  ].filter((line) => line !== undefined);
  const inner = structured(smb, undefined, 0).replace(/^<table>|<\/table>$/g, "");
  return `<script${xmlAttributes({ id: "ringfence-smb-fingerprint", output: summary.join("\n") || "SMB fingerprint" })}>${inner}</script>`;
}

export interface NmapXmlOptions {
  readonly version: string;
}

/** The scan of `model` (which must have one) as an nmap XML document. */
export function renderNmapXml(model: ReportModel, options: NmapXmlOptions): string {
  const scan = model.scan;
  if (scan === null) throw new Error("renderNmapXml needs a report model with a scan");
  const params = (scan.params ?? {}) as {
    tcpPorts?: number[];
    udpPorts?: number[];
    engine?: string;
  };
  const byHost = new Map<string, (typeof model.observations)[number][]>();
  for (const o of model.observations) {
    const list = byHost.get(o.address) ?? [];
    list.push(o);
    byHost.set(o.address, list);
  }
  const tcp =
    params.tcpPorts ?? model.observations.filter((o) => o.protocol === "tcp").map((o) => o.port);
  const udp =
    params.udpPorts ?? model.observations.filter((o) => o.protocol === "udp").map((o) => o.port);
  const start = epoch(scan.startedAt ?? scan.createdAt) ?? 0;
  const end = epoch(scan.finishedAt) ?? start;

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push("<!DOCTYPE nmaprun>");
  out.push(
    `<nmaprun${xmlAttributes({
      scanner: "nmap",
      args: scan.command,
      start,
      startstr: timeText(scan.startedAt ?? scan.createdAt),
      version: options.version,
      profile_name: NMAP_XML_PROFILE,
      xmloutputversion: "1.05",
    })}>`,
  );
  // nmap.dtd scaninfo: type is the scan technique; ringfence's syn engine is -sS, the others -sT.
  if (tcp.length > 0)
    out.push(
      `<scaninfo${xmlAttributes({ type: params.engine === "syn" ? "syn" : "connect", protocol: "tcp", numservices: new Set(tcp).size, services: portList(tcp) })}/>`,
    );
  if (udp.length > 0)
    out.push(
      `<scaninfo${xmlAttributes({ type: "udp", protocol: "udp", numservices: new Set(udp).size, services: portList(udp) })}/>`,
    );
  out.push('<verbose level="0"/>');
  out.push('<debugging level="0"/>');

  const hostInfo = new Map(model.hosts.map((h) => [h.address, h]));
  let up = 0;
  for (const [address, observations] of byHost) {
    const answer = observations.find((o) => o.state === "open" || o.state === "closed");
    if (answer === undefined) continue;
    up++;
    const info = hostInfo.get(address);
    const family = address.includes(":") ? "ipv6" : "ipv4";
    out.push(`<host${xmlAttributes({ starttime: start, endtime: end })}>`);
    out.push(`<status${xmlAttributes({ state: "up", reason: answer.reason, reason_ttl: 0 })}/>`);
    out.push(`<address${xmlAttributes({ addr: address, addrtype: family })}/>`);
    const names = info?.hostnames ?? [];
    out.push(
      names.length === 0
        ? "<hostnames/>"
        : `<hostnames>${names.map((n) => `<hostname${xmlAttributes({ name: n, type: "user" })}/>`).join("")}</hostnames>`,
    );
    out.push("<ports>");
    // On the port the fingerprint was taken over (its `port`: 445, or 139), when open here.
    const smb = info?.detail?.["smb"];
    const smbPort =
      smb === undefined || smb === null
        ? undefined
        : observations.find(
            (o) =>
              o.protocol === "tcp" &&
              o.state === "open" &&
              o.port === ((smb as { port?: number }).port ?? 445),
          );
    for (const o of observations) {
      const detail = (o.detail ?? {}) as {
        service?: { name?: string; product?: string; version?: string; extrainfo?: string };
      };
      const imported = detail.service;
      const name = imported?.name ?? serviceName(o.protocol, o.port);
      // conf 3 / method table: named from the port number, as nmap without -sV (nmap.dtd service).
      const service =
        name === undefined
          ? ""
          : `<service${xmlAttributes({
              name,
              product: imported?.product,
              version: imported?.version,
              extrainfo: imported?.extrainfo,
              method: imported?.product !== undefined ? "probed" : "table",
              conf: imported?.product !== undefined ? 10 : 3,
            })}/>`;
      out.push(
        `<port${xmlAttributes({ protocol: o.protocol, portid: o.port })}>` +
          `<state${xmlAttributes({ state: o.state, reason: o.reason, reason_ttl: 0 })}/>` +
          service +
          (o === smbPort ? smbScript(smb) : "") +
          "</port>",
      );
    }
    out.push("</ports>");
    if (info?.os !== null && info?.os !== undefined) {
      out.push(
        `<os><osmatch${xmlAttributes({ name: info.os, accuracy: info.osConfidence ?? 0, line: 0 })}/></os>`,
      );
    }
    // The latest run of each check on each port (runs are oldest first).
    const latest = new Map<string, CheckRunRow>();
    for (const run of info?.checkRuns ?? [])
      latest.set(`${run.checkId} ${run.protocol}/${run.port}`, run);
    if (latest.size > 0) out.push(`<hostscript>${checksScript([...latest.values()])}</hostscript>`);
    out.push("</host>");
  }
  const total = byHost.size;
  out.push("<runstats>");
  out.push(
    `<finished${xmlAttributes({
      time: end,
      timestr: timeText(scan.finishedAt),
      elapsed: Math.max(0, end - start),
      summary: `ringfence scan ${scan.id} ${scan.status}; ${up} ${up === 1 ? "host" : "hosts"} up`,
      exit: scan.status === "failed" ? "error" : "success",
      errormsg: scan.error ?? undefined,
    })}/>`,
  );
  out.push(`<hosts${xmlAttributes({ up, down: total - up, total })}/>`);
  out.push("</runstats>");
  out.push("</nmaprun>");
  return out.join("\n") + "\n";
}

export { escapeXmlAttribute };
