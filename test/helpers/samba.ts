import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IS_ROOT } from "./cli.js";
import { accepts, waitFor } from "./net.js";

/**
 * A real Samba peer for conformance tests: the daemons asked for, on a loopback address of the
 * test's own, with a private smb.conf and state under a scratch directory (lab-and-peers.md §2:
 * `rpc start on demand helpers = no`, samba-dcerpcd started by the test). Each daemon runs
 * detached, in a process group of its own, so `stop()` ends it and its workers by the ids the
 * test owns.
 */

/** Samba's daemons where Debian's samba package installs them. */
export const SAMBA_DAEMONS = {
  "samba-dcerpcd": "/usr/libexec/samba/samba-dcerpcd",
  smbd: "/usr/sbin/smbd",
  nmbd: "/usr/sbin/nmbd",
} as const;
export type SambaDaemon = keyof typeof SAMBA_DAEMONS;

/** Why a Samba test cannot run here (not root, a daemon or another tool missing), or null. */
export function sambaMissing(
  daemons: readonly SambaDaemon[],
  tools: readonly string[] = [],
): string | null {
  if (!IS_ROOT) return "needs root to run Samba";
  const binaries = daemons.map((d) => SAMBA_DAEMONS[d]);
  const gone = binaries.filter((b) => !existsSync(b));
  if (gone.length > 0)
    return `samba is not installed (${gone.join(", ")} missing; apt-get install -y samba)`;
  const noTool = tools.filter((t) => !existsSync(t));
  return noTool.length > 0 ? `missing ${noTool.join(", ")}` : null;
}

/** Where the daemons run when not in this network namespace (test/smb-client/netns.ts). */
export interface SambaPlace {
  spawn(command: string, args: readonly string[]): ChildProcess;
  accepts(address: string, port: number): boolean;
}

export interface SambaOptions {
  /** The scratch directory; Samba's files go under `<dir>/samba`. */
  readonly dir: string;
  /** Started in this order. */
  readonly daemons: readonly SambaDaemon[];
  /** Loopback addresses tried in turn: the first on which none of `ports` accepts is used. */
  readonly candidates: readonly string[];
  /** TCP ports that must be free before, and all accept once Samba is up. */
  readonly ports: readonly number[];
  /** [global] parameters over the defaults below: a default replaced in place, others appended. */
  readonly global?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** A network namespace to run in instead of this one. */
  readonly place?: SambaPlace;
}

export interface SambaPeer {
  readonly address: string;
  /** `<dir>/samba`, holding smb.conf, the share and Samba's state. */
  readonly dir: string;
  readonly conf: string;
  /** SIGTERM to each daemon's process group. */
  stop(): void;
}

function smbConf(dir: string, address: string, overrides: Readonly<Record<string, string>>) {
  const global = new Map<string, string>([
    ["workgroup", "LABGROUP"],
    ["netbios name", "LABSMB"],
    ["server string", "ringfence lab smb peer"],
    ["server role", "standalone server"],
    ["interfaces", `${address}/8`],
    ["bind interfaces only", "yes"],
    ["smb ports", "445 139"],
    ["disable netbios", "no"],
    ["map to guest", "Bad User"],
    ["guest account", "nobody"],
    ["security", "user"],
    ["pid directory", `${dir}/pid`],
    ["lock directory", `${dir}/lock`],
    ["state directory", `${dir}/state`],
    ["cache directory", `${dir}/cache`],
    ["private dir", `${dir}/private`],
    ["ncalrpc dir", `${dir}/ncalrpc`],
    ["log file", `${dir}/log/%m.log`],
    ["log level", "1"],
    ["load printers", "no"],
    ["printing", "bsd"],
    ["printcap name", "/dev/null"],
    ["disable spoolss", "yes"],
    ["server min protocol", "NT1"],
    ["rpc start on demand helpers", "no"],
  ]);
  for (const [name, value] of Object.entries(overrides)) global.set(name, value);
  const lines = [...global].map(([name, value]) => `  ${name} = ${value}`);
  return `[global]\n${lines.join("\n")}\n[public]\n  path = ${dir}/share\n  read only = yes\n  guest ok = yes\n`;
}

export async function startSamba(options: SambaOptions): Promise<SambaPeer> {
  const place = options.place;
  const acceptsOn = async (address: string, port: number) =>
    place !== undefined ? place.accepts(address, port) : accepts(address, port);
  const allAccept = async (address: string) =>
    (await Promise.all(options.ports.map((port) => acceptsOn(address, port)))).every(Boolean);
  const noneAccepts = async (address: string) =>
    !(await Promise.all(options.ports.map((port) => acceptsOn(address, port)))).some(Boolean);

  let address = "";
  for (const candidate of options.candidates) {
    if (await noneAccepts(candidate)) {
      address = candidate;
      break;
    }
  }
  const ports = options.ports.join("/");
  if (address === "")
    throw new Error(`TCP ${ports} taken on all of ${options.candidates.join(", ")}`);

  const dir = join(options.dir, "samba");
  for (const sub of ["pid", "lock", "state", "cache", "private", "ncalrpc", "log", "share"]) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  const conf = join(dir, "smb.conf");
  writeFileSync(conf, smbConf(dir, address, options.global ?? {}));

  const children: ChildProcess[] = [];
  const stop = () => {
    for (const child of children) {
      if (child.pid === undefined) continue;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  const common = ["-F", "--no-process-group", `--configfile=${conf}`, "--debug-stdout", "-d", "0"];
  for (const daemon of options.daemons) {
    const args = daemon === "samba-dcerpcd" ? [...common, "--libexec-rpcds"] : common;
    const binary = SAMBA_DAEMONS[daemon];
    children.push(
      place !== undefined
        ? place.spawn(binary, args)
        : spawn(binary, args, { detached: true, stdio: "ignore" }),
    );
  }
  try {
    await waitFor(
      () => allAccept(address),
      `${options.daemons.join(" + ")} on ${address}:${ports}`,
      options.timeoutMs,
    );
  } catch (error) {
    stop();
    throw error;
  }
  return { address, dir, conf, stop };
}
