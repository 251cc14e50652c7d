/**
 * Network namespaces for the shield's kernel tests, built and torn down by the test itself.
 * Addresses stay inside them: 198.51.100.0/24 between client and firewall, 203.0.113.0/24 behind
 * it (lab-and-peers.md §4c). Nothing is ever sent from the root namespace, and the root
 * namespace's firewall is never touched: every nft and iptables command runs through
 * `ip netns exec` in a namespace created here.
 *
 * - "host": client ⇄ server. The server owns 198.51.100.1 and the hosts 203.0.113.130-132 on its
 *   loopback; its firewall (input hook) is the host firewall under test.
 * - "router": client ⇄ router ⇄ server. The router forwards 198.51.100.0/24 ⇄ 203.0.113.0/24; its
 *   firewall (forward hook) is the perimeter firewall under test.
 * The client holds 198.51.100.2 and .3 (the Internet) and 198.51.100.200 (management).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const IS_ROOT = process.getuid?.() === 0;
export const NEEDS_ROOT =
  "skipped unless root: creates network namespaces (CAP_NET_ADMIN, CAP_SYS_ADMIN)";

const LISTENER = fileURLToPath(new URL("./fixtures/listener.mjs", import.meta.url));
const PROBE = fileURLToPath(new URL("./fixtures/probe.mjs", import.meta.url));

export const HOSTS = ["203.0.113.130", "203.0.113.131", "203.0.113.132"] as const;
export const CLIENTS = {
  internet: "198.51.100.2",
  other: "198.51.100.3",
  mgmt: "198.51.100.200",
} as const;
export const TCP_PORTS = [80, 135, 139, 445, 593, 3389, 4444];
export const UDP_PORTS = [69, 135, 137, 138, 445];

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
    // A command that exits before reading its input must not crash the test with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

export async function must(
  command: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  const result = await run(command, args, input);
  if (result.code !== 0)
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`,
    );
  return result.stdout;
}

export interface Probe {
  readonly src: string;
  readonly dst: string;
  readonly proto: "tcp" | "udp";
  readonly port: number;
}

export interface ProbeResult extends Probe {
  readonly result: string;
}

export class Topology {
  private listener: ChildProcess | undefined;

  private constructor(
    readonly kind: "host" | "router",
    readonly client: string,
    /** Where the firewall under test runs. */
    readonly firewall: string,
    readonly server: string,
    private readonly namespaces: readonly string[],
  ) {}

  static async create(kind: "host" | "router", tag: string): Promise<Topology> {
    const id = `${process.pid.toString(36)}${tag}`;
    const client = `rfsh-c-${id}`;
    const server = `rfsh-s-${id}`;
    const router = `rfsh-r-${id}`;
    const namespaces = kind === "host" ? [client, server] : [client, router, server];
    const topology = new Topology(
      kind,
      client,
      kind === "host" ? server : router,
      server,
      namespaces,
    );
    try {
      await topology.build(router);
    } catch (error) {
      await topology.destroy();
      throw error;
    }
    return topology;
  }

  private ip(ns: string, ...args: string[]): Promise<string> {
    return must("ip", ["-n", ns, ...args]);
  }

  private async build(router: string): Promise<void> {
    for (const ns of this.namespaces) {
      await must("ip", ["netns", "add", ns]);
      await this.ip(ns, "link", "set", "lo", "up");
    }
    const { client, server } = this;
    const edge = this.kind === "host" ? server : router;
    await must("ip", [
      "link",
      "add",
      "rfc0",
      "netns",
      client,
      "type",
      "veth",
      "peer",
      "name",
      "rfe0",
      "netns",
      edge,
    ]);
    for (const address of Object.values(CLIENTS))
      await this.ip(client, "addr", "add", `${address}/24`, "dev", "rfc0");
    await this.ip(edge, "addr", "add", "198.51.100.1/24", "dev", "rfe0");
    await this.ip(client, "link", "set", "rfc0", "up");
    await this.ip(edge, "link", "set", "rfe0", "up");
    await this.ip(client, "route", "add", "203.0.113.0/24", "via", "198.51.100.1");
    if (this.kind === "router") {
      await must("ip", [
        "link",
        "add",
        "rfr1",
        "netns",
        router,
        "type",
        "veth",
        "peer",
        "name",
        "rfs0",
        "netns",
        server,
      ]);
      await this.ip(router, "addr", "add", "203.0.113.1/28", "dev", "rfr1");
      await this.ip(server, "addr", "add", "203.0.113.2/28", "dev", "rfs0");
      await this.ip(router, "link", "set", "rfr1", "up");
      await this.ip(server, "link", "set", "rfs0", "up");
      await this.ip(router, "route", "add", "203.0.113.128/25", "via", "203.0.113.2");
      await this.ip(server, "route", "add", "198.51.100.0/24", "via", "203.0.113.1");
      await must("ip", ["netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    for (const host of HOSTS) await this.ip(server, "addr", "add", `${host}/32`, "dev", "lo");
    // Rejects answer every probe: no ICMP rate limit in the firewall's namespace (per-netns sysctl).
    await must("ip", [
      "netns",
      "exec",
      this.firewall,
      "sysctl",
      "-qw",
      "net.ipv4.icmp_ratelimit=0",
    ]);
    await this.startListener();
  }

  private startListener(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        "ip",
        [
          "netns",
          "exec",
          this.server,
          process.execPath,
          LISTENER,
          TCP_PORTS.join(","),
          UDP_PORTS.join(","),
          HOSTS.join(","),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      this.listener = child;
      let err = "";
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`listener exited (${code}): ${err}`)));
    });
  }

  /** Runs a command in the firewall's namespace. */
  exec(command: string, args: readonly string[], input?: string): Promise<string> {
    return must("ip", ["netns", "exec", this.firewall, command, ...args], input);
  }

  /** Empties every nftables and iptables table of the firewall's namespace. */
  async resetFirewall(): Promise<void> {
    await this.exec("nft", ["flush", "ruleset"]);
    for (const tool of ["iptables-legacy-restore", "ip6tables-legacy-restore"]) {
      if (existsSync(`/usr/sbin/${tool}`))
        await this.exec(
          tool,
          [],
          "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
        );
    }
  }

  async probe(probes: readonly Probe[], timeoutMs = 400): Promise<ProbeResult[]> {
    const out = await must(
      "ip",
      ["netns", "exec", this.client, process.execPath, PROBE],
      JSON.stringify({ timeoutMs, probes }),
    );
    return JSON.parse(out) as ProbeResult[];
  }

  async destroy(): Promise<void> {
    if (this.listener !== undefined && this.listener.exitCode === null) {
      this.listener.removeAllListeners("exit");
      this.listener.kill("SIGKILL");
    }
    for (const ns of this.namespaces)
      if (existsSync(`/run/netns/${ns}`)) await run("ip", ["netns", "delete", ns]);
  }
}

/** Every (client, host, service) probe of the topology. */
export function allProbes(): Probe[] {
  const probes: Probe[] = [];
  for (const src of Object.values(CLIENTS))
    for (const dst of HOSTS) {
      for (const port of TCP_PORTS) probes.push({ src, dst, proto: "tcp", port });
      for (const port of UDP_PORTS) probes.push({ src, dst, proto: "udp", port });
    }
  return probes;
}
