import Table from "cli-table3";
import { Command, Option } from "commander";
import { RingfenceError } from "../errors.js";
import {
  DEFAULT_LAB_HOSTS,
  DEFAULT_LAB_NAME,
  DEFAULT_LAB_SEED,
  LAB_LAYOUTS,
  PERSONAS,
  labDown,
  labPatch,
  labStatus,
  PATCH_TARGETS,
  type PatchTarget,
  labUp,
  PERIMETER_CLIENTS,
  PERIMETER_DEFAULT_HOSTS,
  PERIMETER_INTERFACES,
  PERIMETER_LAN_CLIENTS,
  PERIMETER_NAMESPACES,
  perimeterDown,
  perimeterFirewall,
  perimeterUp,
  MAX_LAB_HOSTS,
  readGroundTruth,
  type LabLayout,
  type LabState,
} from "../lab/index.js";
import { parseCount } from "./main.js";

interface LabRefOptions {
  name: string;
  labDir?: string;
  json?: boolean;
}

const refOptions = (command: Command): Command =>
  command
    .option("--name <name>", "lab name (several labs can run side by side)", DEFAULT_LAB_NAME)
    .addOption(new Option("--lab-dir <dir>", "lab state directory").env("RINGFENCE_LAB_DIR"))
    .option("--json", "print JSON");

const ref = (o: LabRefOptions) => ({
  name: o.name,
  ...(o.labDir !== undefined ? { stateDir: o.labDir } : {}),
});

function describeLab(state: LabState): string {
  return [
    `lab "${state.name}": ${state.hosts} hosts at ${state.range} (${state.layout === "catalogue" ? "catalogue layout, " : ""}seed ${state.seed})`,
    `  mode ${state.mode}${state.netns ? `, namespace ${state.netns} (${state.netnsPath})` : ""}` +
      (state.portOffset
        ? `, port offset ${state.portOffset} (135 listens on ${135 + state.portOffset})`
        : ""),
    `  ports tcp ${state.tcpPorts.join(",")} udp ${state.udpPorts.join(",")}; daemon pid ${state.pid}`,
    `  ground truth ${state.groundTruthFile}`,
  ].join("\n");
}

async function personaTable(state: LabState): Promise<string> {
  const truth = await readGroundTruth(state);
  const counts = new Map<string, number>();
  for (const host of truth.hosts) counts.set(host.label, (counts.get(host.label) ?? 0) + 1);
  const table = new Table({
    head: ["persona", "hosts"],
    style: { head: [], border: [], compact: true },
  });
  for (const [label, count] of [...counts].sort((a, b) => b[1] - a[1]))
    table.push([label, String(count)]);
  return table.toString();
}

export function registerLabCommand(program: Command): void {
  const lab = program
    .command("lab")
    .description(
      "a simulated Windows estate on loopback (NT4/2000/XP/2003, patched and not, shielded,\n" +
        "Blaster-infected, non-Windows, silent and filtered hosts) to train on, demo and test against",
    );
  refOptions(
    lab
      .command("up")
      .description(
        "start a lab (netns mode as root: own namespace and nftables; bind mode otherwise)",
      )
      .option("--hosts <n>", "number of hosts", parseCount(1, MAX_LAB_HOSTS), DEFAULT_LAB_HOSTS)
      .option(
        "--seed <seed>",
        "persona seed: the same seed gives the same estate",
        DEFAULT_LAB_SEED,
      )
      .addOption(
        new Option(
          "--layout <layout>",
          `how hosts get personas: drawn from the seed by weight (estate), or host i = persona i mod ${PERSONAS.length}, every persona including the hostile ones (catalogue; --hosts ${PERSONAS.length} gives one host each)`,
        )
          .choices(LAB_LAYOUTS)
          .default("estate"),
      )
      .addOption(
        new Option("--mode <mode>", "where the lab runs")
          .choices(["auto", "netns", "bind"])
          .default("auto"),
      )
      .option(
        "--port-offset <n>",
        "add this to every port on the wire (default: 0 netns, 20000 bind)",
        parseCount(0, 60000),
      )
      .option(
        "--workers <n>",
        "netns mode: accept worker processes sharing the listeners",
        parseCount(0, 16),
      )
      .addOption(
        new Option(
          "--topology <topology>",
          `single: the simulated estate in one namespace; perimeter (root): namespaces ${Object.values(PERIMETER_NAMESPACES).join(", ")} with a real forwarding firewall (--hosts up to 16, default ${PERIMETER_DEFAULT_HOSTS})`,
        )
          .choices(["single", "perimeter"])
          .default("single"),
      ),
  ).action(
    async (
      o: LabRefOptions & {
        topology: "single" | "perimeter";
        hosts: number;
        seed: string;
        layout: LabLayout;
        mode: "auto" | "netns" | "bind";
        portOffset?: number;
        workers?: number;
      },
      command: Command,
    ) => {
      if (o.topology === "perimeter") {
        const hosts =
          command.getOptionValueSource("hosts") === "default" ? PERIMETER_DEFAULT_HOSTS : o.hosts;
        const perimeter = await perimeterUp({ hosts });
        if (o.json) process.stdout.write(JSON.stringify(perimeter, null, 2) + "\n");
        else
          process.stdout.write(
            [
              `perimeter lab: ${perimeter.hosts.length} hosts at ${perimeter.hosts[0]!.address}-${perimeter.hosts.at(-1)!.address} in ${PERIMETER_NAMESPACES.dmz}`,
              `  outside: ${PERIMETER_NAMESPACES.internet} (Internet ${PERIMETER_CLIENTS.internet}, management ${PERIMETER_CLIENTS.mgmt})`,
              `  inside: ${PERIMETER_NAMESPACES.internal} (LAN client ${PERIMETER_LAN_CLIENTS.lan}, admin ${PERIMETER_LAN_CLIENTS.admin}) with internal hosts ${perimeter.internalHosts.map((h) => `${h.address} (${h.persona})`).join(", ")}, each in its own namespace: \`ringfence lab firewall --host <address> <file>\` loads its host firewall`,
              `  firewall: ${PERIMETER_NAMESPACES.firewall} (outside ${PERIMETER_INTERFACES.outside}, dmz ${PERIMETER_INTERFACES.dmz}), forwarding everything until \`ringfence lab firewall <file>\``,
              `  scan it from outside: ip netns exec ${PERIMETER_NAMESPACES.internet} ringfence scan ${perimeter.hosts[0]!.address}-${perimeter.hosts.at(-1)!.address} --scope <file>`,
              "",
            ].join("\n"),
          );
        return;
      }
      const state = await labUp({
        ...ref(o),
        hosts: o.hosts,
        seed: o.seed,
        layout: o.layout,
        mode: o.mode,
        ...(o.portOffset !== undefined ? { portOffset: o.portOffset } : {}),
        ...(o.workers !== undefined ? { workers: o.workers } : {}),
      });
      if (o.json) process.stdout.write(JSON.stringify(state, null, 2) + "\n");
      else
        process.stdout.write(
          `${describeLab(state)}\n  up in ${Math.round(state.timings.totalMs)} ms; scan it with: ringfence scan ${state.range}\n`,
        );
    },
  );
  refOptions(
    lab
      .command("patch")
      .description(
        "switch a running lab host to its persona at another patch level (e.g. an unpatched XP SP1 to KB824146); the daemon applies it at once and the ground truth follows",
      )
      .argument("<address>", "the lab host")
      .addOption(
        new Option("--to <level>", "patch level").choices(PATCH_TARGETS).default("kb824146"),
      ),
  ).action(async (address: string, o: LabRefOptions & { to: PatchTarget }) => {
    const result = await labPatch({ ...ref(o), address, to: o.to });
    if (o.json) process.stdout.write(JSON.stringify(result) + "\n");
    else process.stdout.write(`${result.address}: ${result.from} → ${result.to}\n`);
  });
  refOptions(
    lab
      .command("down")
      .description("stop a lab and remove its namespace, firewall and files")
      .addOption(
        new Option("--topology <topology>", "perimeter: remove the perimeter lab's namespaces")
          .choices(["single", "perimeter"])
          .default("single"),
      ),
  ).action(async (o: LabRefOptions & { topology: "single" | "perimeter" }) => {
    if (o.topology === "perimeter") {
      const { removed } = await perimeterDown();
      if (o.json) process.stdout.write(JSON.stringify({ removed }) + "\n");
      else
        process.stdout.write(
          removed.length > 0
            ? `perimeter lab is down (removed ${removed.join(", ")})\n`
            : "perimeter lab was not up\n",
        );
      return;
    }
    const result = await labDown(ref(o));
    if (o.json) process.stdout.write(JSON.stringify(result) + "\n");
    else
      process.stdout.write(
        result.stopped || result.netnsDeleted
          ? `lab "${result.name}" is down\n`
          : `lab "${result.name}" was not running (cleaned up)\n`,
      );
  });
  lab
    .command("firewall")
    .description(
      `load rules into the perimeter lab's firewall (${PERIMETER_NAMESPACES.firewall}) or, with --host, an internal host's host firewall, replacing what it had: shield render output for nftables (nft -f) or iptables (iptables-restore; ip6tables-restore for ip6* files)`,
    )
    .argument("<file...>", "ruleset files")
    .option(
      "--host <address>",
      "load into this internal host's own namespace instead (its host firewall)",
    )
    .action(async (files: string[], o: { host?: string }) => {
      const ns = await perimeterFirewall(files, o.host === undefined ? {} : { host: o.host });
      process.stdout.write(`loaded ${files.join(", ")} into ${ns}\n`);
    });
  refOptions(
    lab.command("status").description("show a lab: range, mode, personas, liveness"),
  ).action(async (o: LabRefOptions) => {
    const status = await labStatus(ref(o));
    if (!status) {
      if (o.json) process.stdout.write("null\n");
      throw new RingfenceError("RINGFENCE_LAB", `lab "${o.name}" is not up`, {
        hint: "start it with `ringfence lab up`",
      });
    }
    if (o.json) {
      process.stdout.write(JSON.stringify(status, null, 2) + "\n");
      return;
    }
    process.stdout.write(
      `${describeLab(status.state)}\n  daemon ${status.alive ? "running" : "NOT running (run `ringfence lab down` to clean up)"}` +
        `${status.netnsPresent ? "" : "; namespace missing"}\n${await personaTable(status.state)}\n`,
    );
  });
}
