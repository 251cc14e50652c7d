/**
 * Reads masscan's JSON (-oJ, and the line-per-record -oD) and list (-oL) output. The formats are
 * masscan's src/out-json.c, out-ndjson.c and out-text.c (1.3.2, Debian's); the fixtures in
 * test/import/fixtures/ are real masscan 1.3.2 runs. masscan writes one record per port (and one
 * more per banner), so the same host appears many times; HostBuilder merges them. Its XML (-oX)
 * is nmap-shaped and read by readNmapXml.
 */
import { z } from "zod";
import { canonicalAddress, HostBuilder, portStateOf } from "./host-builder.js";
import type { ImportedScan } from "./imported-scan.js";
import { importError } from "./xml-input.js";

const MAX_BYTES = 256 * 1024 * 1024;

// masscan's status words: "open", "closed" (--show closed); banner records carry "service".
const MasscanPort = z.object({
  port: z.number().int().min(0).max(65535),
  proto: z.string().max(16),
  status: z.string().max(32).optional(),
  reason: z.string().max(64).optional(),
  ttl: z.number().optional(),
  service: z
    .object({
      name: z.string().max(256),
      banner: z
        .string()
        .max(1024 * 1024)
        .optional(),
    })
    .optional(),
});
const MasscanRecord = z.object({
  ip: z.string().max(64),
  timestamp: z.union([z.string().max(32), z.number()]).optional(),
  ports: z.array(MasscanPort).max(65536 * 2),
});
type MasscanRecord = z.infer<typeof MasscanRecord>;

function ensureSize(text: string, file: string): void {
  if (Buffer.byteLength(text, "utf8") > MAX_BYTES)
    throw importError(file, `larger than the ${MAX_BYTES}-byte limit`);
}

function parseJson(text: string, file: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw importError(file, `not valid JSON${where}: ${message}`);
  }
}

function firstTimestamp(records: readonly MasscanRecord[]): string | null {
  const stamps = records
    .map((r) => Number(r.timestamp))
    .filter((t) => Number.isInteger(t) && t > 0 && t < 1e11);
  return stamps.length === 0 ? null : new Date(Math.min(...stamps) * 1000).toISOString();
}

export function readMasscanJson(text: string, file: string): ImportedScan {
  ensureSize(text, file);
  const trimmed = text.trim();
  let raw: unknown[];
  if (trimmed.startsWith("[")) {
    // masscan before 1.1 ended the array with "},\n]" (a trailing comma JSON does not allow).
    const parsed = parseJson(trimmed.replace(/,\s*\]$/, "]"), file, "");
    raw = Array.isArray(parsed) ? parsed : [];
  } else {
    // -oD: one record per line.
    raw = trimmed
      .split("\n")
      .map((line, index) => ({ line: line.trim(), index }))
      .filter(({ line }) => line !== "" && line !== ",")
      .map(({ line, index }) => parseJson(line, file, ` on line ${index + 1}`));
  }
  const records: MasscanRecord[] = raw.map((item, index) => {
    const result = MasscanRecord.safeParse(item);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw importError(
        file,
        `record ${index + 1} is not a masscan record (${issue?.path.join(".") || "record"}: ${issue?.message ?? "invalid"})`,
      );
    }
    return result.data;
  });
  const builder = new HostBuilder();
  let skippedPorts = 0;
  for (const record of records) {
    const address = canonicalAddress(record.ip);
    if (address === undefined) throw importError(file, `"${record.ip}" is not an IP address`);
    builder.addHost(address);
    for (const port of record.ports) {
      // Banner records repeat a port already reported open; they add nothing we store.
      if (port.status === undefined) continue;
      const state = portStateOf(port.status);
      if ((port.proto !== "tcp" && port.proto !== "udp") || state === undefined) {
        skippedPorts++;
        continue;
      }
      builder.addPort(address, {
        protocol: port.proto,
        port: port.port,
        state,
        reason: port.reason ?? "unknown",
      });
    }
  }
  return {
    format: "masscan-json",
    scanner: "masscan",
    scannerVersion: null,
    args: null,
    startedAt: firstTimestamp(records),
    hosts: builder.build(),
    skippedPorts,
  };
}

/** -oL: "#masscan", then `<status> <proto> <port> <ip> <timestamp>` lines, then "# end". */
export function readMasscanList(text: string, file: string): ImportedScan {
  ensureSize(text, file);
  const builder = new HostBuilder();
  let skippedPorts = 0;
  let earliest: number | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const [status, proto, portText, ip, stamp] = fields;
    // "banner tcp 80 1.2.3.4 <ts> <service> <banner...>": the port was reported open already.
    if (status === "banner") continue;
    const port = /^\d{1,5}$/.test(portText ?? "") ? Number(portText) : NaN;
    const address = canonicalAddress(ip ?? "");
    if (fields.length < 4 || !(port <= 65535) || address === undefined || status === undefined)
      throw importError(
        file,
        `line ${i + 1} is not a masscan -oL record ("<status> <proto> <port> <ip> <time>")`,
      );
    const state = portStateOf(status);
    const time = Number(stamp);
    if (Number.isInteger(time) && time > 0 && time < 1e11)
      earliest = Math.min(earliest ?? time, time);
    builder.addHost(address);
    if ((proto !== "tcp" && proto !== "udp") || state === undefined) {
      skippedPorts++;
      continue;
    }
    // -oL has no reason column; masscan only ever reports open on a SYN-ACK (closed on RST).
    builder.addPort(address, {
      protocol: proto,
      port,
      state,
      reason: state === "open" ? "syn-ack" : state === "closed" ? "reset" : "unknown",
    });
  }
  return {
    format: "masscan-list",
    scanner: "masscan",
    scannerVersion: null,
    args: null,
    startedAt: earliest === undefined ? null : new Date(earliest * 1000).toISOString(),
    hosts: builder.build(),
    skippedPorts,
  };
}
