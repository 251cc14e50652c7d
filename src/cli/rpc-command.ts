import { isIP } from "node:net";
import { Command, Option } from "commander";
import { EXIT, RingfenceError } from "../errors.js";
import {
  DEFAULT_ENDPOINT,
  DEFAULT_SMB_PORTS,
  dumpEndpointMapper,
  formatStringBinding,
  isBindingIssue,
  isRpcFailure,
  parseStringBinding,
  type EndpointDump,
  type EndpointEntry,
  type PipeTransportOptions,
  type ProtocolSequence,
  type StringBinding,
} from "../rpc/index.js";
import { enterLab, labHolding } from "../jobs/lab-routing.js";
import type { ProbeObservation } from "../scan/index.js";
import { loadScope } from "../scope/index.js";
import { openStore, parseStoreLocation, type ScanRecord } from "../store/index.js";
import { parseAddress } from "../targets/index.js";
import { dbOption, parseCount, parseDuration } from "./main.js";

/**
 * `ringfence rpc dump`: the endpoint map of one host, as impacket rpcdump prints it, but
 * scope-checked, deadline-bound and tolerant of Samba's "last page + 0x16c9a0d6".
 */

const TRANSPORTS: Record<string, ProtocolSequence> = {
  tcp: "ncacn_ip_tcp",
  http: "ncacn_http",
  np: "ncacn_np",
};

interface RpcDumpOptions {
  port?: number;
  transport: "tcp" | "http" | "np";
  scope?: string;
  timeout: number;
  json?: boolean;
  lab: boolean;
  labDir?: string;
  labName: string;
  db: string;
  /** False with --no-store. */
  store: boolean;
}

/**
 * Like `scan`, reach a host of a running lab where the lab lives: join its network namespace and
 * add its port offset. Only for literal addresses inside the lab's range.
 */
async function routeIntoLab(
  binding: StringBinding,
  options: RpcDumpOptions,
): Promise<{ binding: StringBinding; portOffset: number }> {
  const address = parseAddress(binding.host);
  if (!options.lab || !address) return { binding, portOffset: 0 };
  const point = { family: address.family, first: address.value, last: address.value };
  const lab = await labHolding([point], {
    name: options.labName,
    ...(options.labDir !== undefined ? { stateDir: options.labDir } : {}),
  });
  if (!lab) return { binding, portOffset: 0 };
  enterLab(lab);
  const port = Number(binding.endpoint);
  const portOffset = lab.portOffset ?? 0;
  return {
    binding:
      Number.isInteger(port) && portOffset
        ? { ...binding, endpoint: String(port + portOffset) }
        : binding,
    portOffset,
  };
}

/**
 * ncacn_np: the SMB ports to try on the wire (445, then 139; or --port alone), with a lab's
 * offset added.
 */
function smbPorts(options: RpcDumpOptions, portOffset: number): PipeTransportOptions {
  const nominal =
    options.port === undefined
      ? DEFAULT_SMB_PORTS
      : [
          {
            port: options.port,
            transport: options.port === 139 ? ("netbios" as const) : ("direct-tcp" as const),
          },
        ];
  return { ports: nominal.map((p) => ({ ...p, port: p.port + portOffset })) };
}

/** A host plus --transport/--port, or a whole string binding (ncacn_ip_tcp:host[135]). */
function targetBinding(target: string, options: RpcDumpOptions): StringBinding {
  if (/^[a-z_]+:/i.test(target) && !/^[0-9a-f:]+$/i.test(target)) {
    const parsed = parseStringBinding(target);
    if (isBindingIssue(parsed)) throw new RingfenceError("RINGFENCE_BAD_TARGET", parsed.message);
    // An ncacn_np endpoint is a pipe: --port then names the SMB port (445 or 139).
    if (options.port !== undefined && parsed.protseq !== "ncacn_np") {
      throw new RingfenceError(
        "RINGFENCE_USAGE",
        "give the port in the string binding or with --port, not both",
      );
    }
    return parsed;
  }
  const protseq = TRANSPORTS[options.transport] ?? "ncacn_ip_tcp";
  const endpoint =
    options.port === undefined || protseq === "ncacn_np"
      ? DEFAULT_ENDPOINT[protseq]
      : String(options.port);
  return { protseq, host: target.replace(/^\[(.*)\]$/, "$1"), endpoint };
}

/** One endpoint as `rpc dump` prints it, and as the inventory keeps it (detail.rpcEndpoints). */
export interface StoredRpcEndpoint {
  uuid: string | null;
  /** "major.minor". */
  version: string | null;
  name: string | null;
  annotation: string;
  binding: string | null;
  protseq: string | null;
}

export function storedEndpoint(entry: EndpointEntry): StoredRpcEndpoint {
  return {
    uuid: entry.interface?.uuid ?? null,
    version: entry.interface === null ? null : `${entry.interface.major}.${entry.interface.minor}`,
    name: entry.name,
    annotation: entry.annotation,
    binding: entry.binding,
    protseq: entry.protseq,
  };
}

/**
 * Records the dump in the inventory as a one-probe scan of the mapper's port: an open TCP
 * service whose detail is the endpoint map. `nominal` is the binding as the user gave it (port
 * 135 or 593), not the lab's wire port.
 */
async function storeDump(
  db: string,
  nominal: StringBinding,
  dump: EndpointDump,
  portOffset: number,
): Promise<{ scan: ScanRecord; location: string }> {
  // The address actually connected to (a host name resolved, a lab address as given).
  const reached = parseStringBinding(dump.target);
  const address = isBindingIssue(reached) ? nominal.host : reached.host;
  // Over a pipe the service is the SMB port the dump went through (445 or 139), nominally.
  const port =
    nominal.protseq === "ncacn_np"
      ? isBindingIssue(reached)
        ? Number.NaN
        : Number(reached.endpoint) - portOffset
      : Number(nominal.endpoint);
  if (!Number.isInteger(port) || isIP(address) === 0) {
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `cannot store the dump of ${dump.target}: no IP address and TCP port to file it under`,
      { hint: "Pass --no-store." },
    );
  }
  const endpoints = dump.entries.map(storedEndpoint);
  const observation: ProbeObservation = {
    address,
    protocol: "tcp",
    port,
    state: "open",
    reason: "rpc-bind",
    rttMs: null,
    ...(isIP(nominal.host) === 0 ? { hostnames: [nominal.host] } : {}),
    detail: { rpcEndpoints: endpoints },
  };
  const store = await openStore(db);
  try {
    const scan = await store.createScan({
      command: "rpc dump",
      params: {
        ...nominal,
        address,
        endpointCount: endpoints.length,
        pages: dump.pages,
        complete: dump.complete,
      },
      totalProbes: 1,
    });
    try {
      await store.markRunning(scan.id);
      await store.recordBatch(scan.id, [observation], {
        step: 1,
        probesDone: 1,
        counts: { open: 1 },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await store.finishScan(scan.id, "failed", { error: message }).catch(() => undefined);
      throw error;
    }
    await store.finishScan(scan.id, "completed");
    return { scan: await store.requireScan(scan.id), location: store.location };
  } finally {
    await store.close();
  }
}

function renderTable(dump: EndpointDump): string {
  const rows = dump.entries.map((e) => [
    e.name ?? "-",
    e.interface === null ? "-" : `${e.interface.uuid} v${e.interface.major}.${e.interface.minor}`,
    e.binding ?? "-",
    e.annotation,
  ]);
  const header = ["INTERFACE", "UUID", "BINDING", "ANNOTATION"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const complete = dump.complete ? "" : `, INCOMPLETE: stopped at the ${dump.pages}-page cap`;
  return (
    [
      line(header),
      ...rows.map(line),
      `${dump.entries.length} endpoints from ${dump.target} in ${dump.pages} page(s)${complete}`,
    ].join("\n") + "\n"
  );
}

export function registerRpcCommand(program: Command): void {
  const rpc = program.command("rpc").description("talk DCE/RPC to one host (read-only calls)");
  rpc
    .command("dump")
    .description("list the endpoints an RPC endpoint mapper registers (ept_lookup, like rpcdump)")
    .argument(
      "<target>",
      "address or host name, or a string binding such as ncacn_ip_tcp:host[135] or ncacn_np:host[\\pipe\\epmapper]",
    )
    .option(
      "--port <port>",
      "TCP port (default 135 for tcp, 593 for http; np: the SMB port, default 445 then 139)",
      parseCount(1, 65535),
    )
    .addOption(
      new Option(
        "--transport <kind>",
        "tcp (ncacn_ip_tcp), http (ncacn_http, RPC over HTTP v1) or np (ncacn_np, \\pipe\\epmapper over SMB)",
      )
        .choices(Object.keys(TRANSPORTS))
        .default("tcp"),
    )
    .option("--scope <file>", "authorized scope (YAML); default: the built-in lab's range only")
    .addOption(
      new Option("--timeout <duration>", "connect and read deadline, e.g. 500ms or 2s")
        .argParser(parseDuration)
        .default(3000, "3s"),
    )
    .option("--json", "print the result as one JSON document")
    .option("--no-lab", "do not route lab addresses into a running `ringfence lab`")
    .addOption(new Option("--lab-dir <dir>", "lab state directory").env("RINGFENCE_LAB_DIR"))
    .option("--lab-name <name>", "which running lab to route lab addresses into", "default")
    .addOption(dbOption())
    .option("--no-store", "do not record the endpoint map in the inventory")
    .action(async (target: string, options: RpcDumpOptions) => {
      // A --db that can never work is refused before any traffic; the file is only opened (and
      // created) once there is a dump to store in it.
      if (options.store) parseStoreLocation(options.db);
      const nominal = targetBinding(target, options);
      const { binding, portOffset } = await routeIntoLab(nominal, options);
      const scope = await loadScope(options.scope);
      const dump = await dumpEndpointMapper(binding, {
        scope,
        connectTimeoutMs: options.timeout,
        readTimeoutMs: options.timeout,
        ...(binding.protseq === "ncacn_np" ? { smb: smbPorts(options, portOffset) } : {}),
      });
      if (isRpcFailure(dump)) {
        if (dump.error !== undefined) throw dump.error;
        // The peer could not be enumerated (refused, timed out, not a mapper, undecodable).
        throw new RingfenceError(
          "RINGFENCE_RPC",
          `rpc dump ${formatStringBinding(binding)}: ${dump.message}`,
        );
      }
      // Stored before printing: what is printed says where it was stored.
      const stored = options.store
        ? await storeDump(options.db, nominal, dump, portOffset)
        : undefined;
      const where = stored && { scanId: stored.scan.id, db: stored.location };
      process.stdout.write(
        options.json
          ? JSON.stringify(where ? { ...dump, stored: where } : dump, null, 2) + "\n"
          : renderTable(dump) + (where ? `stored as scan ${where.scanId} in ${where.db}\n` : ""),
      );
      process.exitCode = EXIT.ok;
    });
}
