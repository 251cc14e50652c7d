import { Command, Option } from "commander";
import { EXIT, RingfenceError } from "../errors.js";
import {
  DEFAULT_ENDPOINT,
  dumpEndpointMapper,
  formatStringBinding,
  isBindingIssue,
  isRpcFailure,
  parseStringBinding,
  type EndpointDump,
  type ProtocolSequence,
  type StringBinding,
} from "../rpc/index.js";
import { enterLab, labHolding } from "../jobs/lab-routing.js";
import { loadScope } from "../scope/index.js";
import { parseAddress } from "../targets/index.js";
import { parseCount, parseDuration } from "./main.js";

/**
 * `ringfence rpc dump`: the endpoint map of one host, as impacket rpcdump prints it, but
 * scope-checked, deadline-bound and tolerant of Samba's "last page + 0x16c9a0d6".
 */

const TRANSPORTS: Record<string, ProtocolSequence> = { tcp: "ncacn_ip_tcp", http: "ncacn_http" };

interface RpcDumpOptions {
  port?: number;
  transport: "tcp" | "http";
  scope?: string;
  timeout: number;
  json?: boolean;
  lab: boolean;
  labDir?: string;
  labName: string;
}

/**
 * Like `scan`, reach a host of a running lab where the lab lives: join its network namespace and
 * add its port offset. Only for literal addresses inside the lab's range.
 */
async function routeIntoLab(
  binding: StringBinding,
  options: RpcDumpOptions,
): Promise<StringBinding> {
  const address = parseAddress(binding.host);
  if (!options.lab || !address) return binding;
  const point = { family: address.family, first: address.value, last: address.value };
  const lab = await labHolding([point], {
    name: options.labName,
    ...(options.labDir !== undefined ? { stateDir: options.labDir } : {}),
  });
  if (!lab) return binding;
  enterLab(lab);
  const port = Number(binding.endpoint);
  return Number.isInteger(port) && lab.portOffset
    ? { ...binding, endpoint: String(port + lab.portOffset) }
    : binding;
}

/** A host plus --transport/--port, or a whole string binding (ncacn_ip_tcp:host[135]). */
function targetBinding(target: string, options: RpcDumpOptions): StringBinding {
  if (/^[a-z_]+:/i.test(target) && !/^[0-9a-f:]+$/i.test(target)) {
    const parsed = parseStringBinding(target);
    if (isBindingIssue(parsed)) throw new RingfenceError("RINGFENCE_BAD_TARGET", parsed.message);
    if (options.port !== undefined) {
      throw new RingfenceError(
        "RINGFENCE_USAGE",
        "give the port in the string binding or with --port, not both",
      );
    }
    return parsed;
  }
  const protseq = TRANSPORTS[options.transport] ?? "ncacn_ip_tcp";
  const endpoint = options.port === undefined ? DEFAULT_ENDPOINT[protseq] : String(options.port);
  return { protseq, host: target.replace(/^\[(.*)\]$/, "$1"), endpoint };
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
      "address or host name, or a string binding such as ncacn_ip_tcp:host[135]",
    )
    .option("--port <port>", "TCP port (default 135 for tcp, 593 for http)", parseCount(1, 65535))
    .addOption(
      new Option("--transport <kind>", "tcp (ncacn_ip_tcp) or http (ncacn_http, RPC over HTTP v1)")
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
    .action(async (target: string, options: RpcDumpOptions) => {
      const binding = await routeIntoLab(targetBinding(target, options), options);
      const scope = await loadScope(options.scope);
      const dump = await dumpEndpointMapper(binding, {
        scope,
        connectTimeoutMs: options.timeout,
        readTimeoutMs: options.timeout,
      });
      if (isRpcFailure(dump)) {
        if (dump.error !== undefined) throw dump.error;
        // The peer could not be enumerated (refused, timed out, not a mapper, undecodable).
        throw new RingfenceError(
          "RINGFENCE_RPC",
          `rpc dump ${formatStringBinding(binding)}: ${dump.message}`,
        );
      }
      process.stdout.write(options.json ? JSON.stringify(dump, null, 2) + "\n" : renderTable(dump));
      process.exitCode = EXIT.ok;
    });
}
