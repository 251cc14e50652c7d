import Table from "cli-table3";
import { Command, Option } from "commander";
import type { PortState, Protocol } from "../scan/index.js";
import { withStore } from "../store/index.js";
import { dbOption, parseCount } from "./main.js";

const STATES: PortState[] = ["open", "closed", "filtered", "open|filtered"];

interface FilterOptions {
  db: string;
  port?: number;
  protocol?: Protocol;
  state?: PortState;
  os?: string;
  scan?: string;
  limit?: number;
  json?: boolean;
}

function withFilters(command: Command): Command {
  return command
    .option("--port <n>", "only this port", parseCount(1, 65535))
    .addOption(new Option("--protocol <p>", "only this protocol").choices(["tcp", "udp"]))
    .addOption(new Option("--state <s>", "only ports in this state").choices(STATES))
    .option("--os <text>", "only hosts whose fingerprinted OS contains this text")
    .option("--scan <scan-id>", "only what this scan observed")
    .option("--limit <n>", "at most this many rows", parseCount(1, 10_000_000))
    .option("--json", "print JSON")
    .addOption(dbOption());
}

function filterOf(options: FilterOptions) {
  return {
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.protocol !== undefined ? { protocol: options.protocol } : {}),
    ...(options.state !== undefined ? { state: options.state } : {}),
    ...(options.os !== undefined ? { os: options.os } : {}),
    ...(options.scan !== undefined ? { scanId: options.scan } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
  };
}

const out = (text: string): void => {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
};

export function registerInventoryCommands(program: Command): void {
  withFilters(
    program
      .command("hosts")
      .description("list hosts in the inventory (those that answered a probe)"),
  ).action((options: FilterOptions) =>
    withStore(options.db, async (store) => {
      const hosts = await store.listHosts(filterOf(options));
      // The stored fingerprints are `ringfence host <ip>`'s business; the list stays a list.
      if (options.json)
        return out(
          JSON.stringify(
            hosts.map(({ detail: _d, ...h }) => h),
            null,
            2,
          ),
        );
      const table = new Table({
        head: ["host", "names", "os", "open", "last seen"],
        style: { head: [], border: [], compact: true },
      });
      for (const h of hosts)
        table.push([
          h.address,
          h.hostnames.join(" "),
          h.os === null ? "" : `${h.os}${h.osConfidence === null ? "" : ` (${h.osConfidence}%)`}`,
          h.openPorts.join(" "),
          h.lastSeen,
        ]);
      out(hosts.length > 0 ? table.toString() + `\n${hosts.length} hosts` : "no hosts match");
    }),
  );

  withFilters(
    program
      .command("services")
      .description("list services (address, protocol, port) with their latest state"),
  ).action((options: FilterOptions) =>
    withStore(options.db, async (store) => {
      const services = await store.listServices(filterOf(options));
      if (options.json) return out(JSON.stringify(services, null, 2));
      const table = new Table({
        head: ["host", "service", "state", "reason", "last seen", "scan"],
        style: { head: [], border: [], compact: true },
      });
      for (const s of services)
        table.push([
          s.address,
          `${s.protocol}/${s.port}`,
          s.state,
          s.reason,
          s.lastSeen,
          s.lastScanId,
        ]);
      out(
        services.length > 0
          ? table.toString() + `\n${services.length} services`
          : "no services match",
      );
    }),
  );

  program
    .command("scans")
    .description("list scans, newest first, with their status and progress")
    .option("--limit <n>", "at most this many", parseCount(1, 100_000), 20)
    .option("--json", "print JSON")
    .addOption(dbOption())
    .action((options: { db: string; limit: number; json?: boolean }) =>
      withStore(options.db, async (store) => {
        const scans = await store.listScans(options.limit);
        if (options.json) return out(JSON.stringify(scans, null, 2));
        const table = new Table({
          head: ["scan", "status", "probes", "open", "started", "command"],
          style: { head: [], border: [], compact: true },
        });
        for (const s of scans)
          table.push([
            s.id,
            s.status,
            `${s.probesDone}/${s.totalProbes}`,
            String(s.counts.open ?? 0),
            s.startedAt ?? "",
            s.command.length > 60 ? s.command.slice(0, 57) + "..." : s.command,
          ]);
        out(scans.length > 0 ? table.toString() : "no scans yet: ringfence scan --help");
      }),
    );
}
