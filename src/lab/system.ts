import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { RingfenceError } from "../errors.js";

/**
 * The lab's contact with the operating system: `ip`, `nft`, `sysctl`, /proc. Kept in one place
 * so the rest of src/lab reads as policy.
 */

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(
  command: string,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code === "string") {
          // ENOENT and friends: the tool itself is missing.
          reject(
            new RingfenceError("RINGFENCE_LAB", `cannot run ${command}: ${error.message}`, {
              hint:
                command === "nft"
                  ? "install nftables"
                  : command === "ip"
                    ? "install iproute2"
                    : undefined,
            }),
          );
          return;
        }
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
          stdout,
          stderr,
        });
      },
    );
  });
}

export async function runOrThrow(
  command: string,
  args: readonly string[],
  what: string,
): Promise<RunResult> {
  const result = await run(command, args);
  if (result.code !== 0) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `${what} failed: ${command} ${args.join(" ")}: ${lastLines(result.stderr, 5)}`,
    );
  }
  return result;
}

/**
 * CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21) in the effective set: what `ip netns add`, setns and
 * nft inside the namespace need. Root without them (some containers) cannot run a netns lab.
 */
export async function hasNetnsPrivileges(): Promise<boolean> {
  try {
    const status = await readFile("/proc/self/status", "utf8");
    const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (match?.[1] === undefined) return false;
    const caps = BigInt(`0x${match[1]}`);
    return ((caps >> 12n) & 1n) === 1n && ((caps >> 21n) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** Below this port, binding needs privilege (net.ipv4.ip_unprivileged_port_start, default 1024). */
export async function unprivilegedPortStart(): Promise<number> {
  try {
    return Number((await readFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8")).trim());
  } catch {
    return 1024;
  }
}

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

export async function netnsPids(name: string): Promise<number[]> {
  const result = await run("ip", ["netns", "pids", name]);
  if (result.code !== 0) return [];
  return result.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return;
  await runOrThrow("ip", ["netns", "delete", name], `deleting network namespace ${name}`);
}

/**
 * Namespace-local kernel settings (each is per network namespace, so the host is untouched):
 *  - somaxconn / tcp_max_syn_backlog: let the 65535 listen backlog take effect, so a connect scan
 *    never overflows the accept queue while the daemon catches up;
 *  - icmp_ratemask without "destination unreachable": closed UDP ports answer every probe (older
 *    kernels apply the global 1000/s ICMP limit even on loopback).
 */
const NETNS_SYSCTLS = [
  "net.core.somaxconn=65535",
  "net.ipv4.tcp_max_syn_backlog=65535",
  "net.ipv4.icmp_ratemask=6160",
];

export async function createNetns(name: string): Promise<void> {
  await runOrThrow("ip", ["netns", "add", name], `creating network namespace ${name}`);
  await runOrThrow("ip", ["-n", name, "link", "set", "lo", "up"], `bringing up lo in ${name}`);
  await runOrThrow(
    "ip",
    ["netns", "exec", name, "sysctl", "-q", "-w", ...NETNS_SYSCTLS],
    `tuning ${name}`,
  );
}

/** Load an nft file inside the namespace; returns the wall time of `nft -f`. */
export async function loadNftInNetns(name: string, file: string): Promise<number> {
  const started = performance.now();
  await runOrThrow(
    "ip",
    ["netns", "exec", name, "nft", "-f", file],
    "loading the lab's nftables ruleset",
  );
  return Math.round(performance.now() - started);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process's argv, or null if it is gone; used to make sure a pid is still our daemon. */
export async function processCommandLine(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((s) => s !== "");
  } catch {
    return null;
  }
}

/**
 * Sockets in the root namespace that would make a bind-mode lab lie: a listener on a wildcard
 * address (0.0.0.0 / ::) accepts for every lab address too, so a port the ground truth calls
 * closed would be open; a socket already on a lab address means another lab holds it.
 */
export async function conflictingSockets(
  tcpPorts: readonly number[],
  udpPorts: readonly number[],
  isLabAddress: (ipv4: string) => boolean,
): Promise<string[]> {
  const found: string[] = [];
  const scan = async (
    file: string,
    proto: "tcp" | "udp",
    ports: readonly number[],
    listenOnly: boolean,
  ) => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const st = fields[3];
      if (local === undefined || st === undefined) continue;
      if (listenOnly && st !== "0A") continue; // TCP_LISTEN
      const [addrHex, portHex] = local.split(":");
      if (addrHex === undefined || portHex === undefined) continue;
      const port = Number.parseInt(portHex, 16);
      if (!ports.includes(port)) continue;
      const ipv4 = procAddressToIpv4(addrHex);
      if (/^0+$/.test(addrHex)) found.push(`${proto} *:${port} (wildcard)`);
      else if (ipv4 !== null && isLabAddress(ipv4)) found.push(`${proto} ${ipv4}:${port}`);
    }
  };
  await scan("/proc/net/tcp", "tcp", tcpPorts, true);
  await scan("/proc/net/tcp6", "tcp", tcpPorts, true);
  await scan("/proc/net/udp", "udp", udpPorts, false);
  await scan("/proc/net/udp6", "udp", udpPorts, false);
  return found;
}

/** /proc/net/{tcp,udp}[6] print addresses as host-order 32-bit words in hex. */
function procAddressToIpv4(hex: string): string | null {
  let word: string;
  if (hex.length === 8) word = hex;
  else if (hex.length === 32 && hex.slice(0, 24).toUpperCase() === "0000000000000000FFFF0000")
    word = hex.slice(24);
  else return null;
  const value = Number.parseInt(word, 16);
  // Little-endian on every platform Node ships for Linux except s390x; loopback users here are x86/arm.
  return `${value & 0xff}.${(value >>> 8) & 0xff}.${(value >>> 16) & 0xff}.${value >>> 24}`;
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}
