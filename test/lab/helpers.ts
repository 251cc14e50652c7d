import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { labDown } from "../../src/lab/index.js";
import type { GroundTruth, GroundTruthHost } from "../../src/lab/index.js";
import { hasNetnsPrivileges } from "../../src/lab/system.js";

export const PROBE = fileURLToPath(new URL("./fixtures/probe.mjs", import.meta.url));

/** netns labs need CAP_NET_ADMIN + CAP_SYS_ADMIN (root on our machines). */
export const privileged = await hasNetnsPrivileges();
export const NEEDS_ROOT = "skipped unless root: needs CAP_NET_ADMIN + CAP_SYS_ADMIN";

export function which(command: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("sh", ["-c", `command -v ${command}`], (error, stdout) =>
      resolve(error === null && stdout.trim() !== "" ? stdout.trim() : null),
    );
  });
}

/** A lab name no other test run uses (namespace names are global). */
export function uniqueLabName(tag: string): string {
  return `vt${process.pid.toString(36)}-${tag}`;
}

export async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "rf-lab-test-"));
}

/** Remove everything a test lab may have left, even when labUp or a test failed halfway. */
export async function cleanupLab(
  name: string,
  stateDir: string,
  netns: string | null,
): Promise<void> {
  await labDown({ name, stateDir }).catch(() => undefined);
  if (netns !== null && existsSync(`/run/netns/${netns}`)) {
    await run("ip", ["netns", "delete", netns]).catch(() => undefined);
  }
  await rm(stateDir, { recursive: true, force: true });
}

export function run(
  command: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A command that exits before reading its input closes the pipe: that EPIPE is not a failure
    // of the command (its exit status says how it went).
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

export interface ProbeJob {
  readonly tcp?: readonly { address: string; port: number }[];
  readonly udp?: readonly { address: string; port: number; hex: string }[];
  readonly timeoutMs?: number;
  readonly holdMs?: number;
  readonly concurrency?: number;
}

export interface ProbeResults {
  readonly tcp: { address: string; port: number; result: string; ms: number }[];
  readonly udp: { address: string; port: number; result: string; hex?: string; from?: string }[];
}

/** Run the probe in the lab's namespace (netns) or right here in the root namespace (null). */
export async function probe(netns: string | null, job: ProbeJob): Promise<ProbeResults> {
  const [command, args] =
    netns === null
      ? [process.execPath, [PROBE]]
      : ["ip", ["netns", "exec", netns, process.execPath, PROBE]];
  const result = await run(command, args, JSON.stringify(job));
  if (result.code !== 0) throw new Error(`probe failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as ProbeResults;
}

/** `nmap -oX -` inside the namespace, parsed to "address/proto/port" → state. */
export async function nmapInNetns(
  netns: string,
  args: readonly string[],
): Promise<Map<string, string>> {
  const result = await run("ip", [
    "netns",
    "exec",
    netns,
    "nmap",
    "-n",
    "-Pn",
    "-oX",
    "-",
    ...args,
  ]);
  if (result.code !== 0) throw new Error(`nmap failed: ${result.stderr}`);
  return parseNmapXml(result.stdout);
}

export function parseNmapXml(xml: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const host of xml.split("<host ").slice(1)) {
    const address = /<address addr="([^"]+)" addrtype="ipv4"/.exec(host)?.[1];
    if (address === undefined) continue;
    for (const m of host.matchAll(
      /<port protocol="(\w+)" portid="(\d+)"><state state="([^"]+)"/g,
    )) {
      states.set(`${address}/${m[1]}/${m[2]}`, m[3] ?? "");
    }
  }
  return states;
}

export function tcpStateOf(
  host: GroundTruthHost,
  wirePort: number,
): "open" | "closed" | "filtered" {
  if (host.tcp.open.includes(wirePort)) return "open";
  if (host.tcp.filtered.includes(wirePort)) return "filtered";
  if (host.tcp.closed.includes(wirePort)) return "closed";
  return host.elsewhere;
}

/** Up to `perPersona` hosts of every persona present: a sample that covers every behaviour. */
export function samplePerPersona(truth: GroundTruth, perPersona: number): GroundTruthHost[] {
  const seen = new Map<string, number>();
  return truth.hosts.filter((h) => {
    const n = seen.get(h.persona) ?? 0;
    seen.set(h.persona, n + 1);
    return n < perPersona;
  });
}
