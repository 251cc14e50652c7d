/**
 * The perimeter lab (`ringfence lab up --topology perimeter`, root only): a real forwarding
 * firewall between an outside and the hosts it protects, after lab-and-peers.md §4c.
 *
 *   rf-internet (198.51.100.2 Internet, 198.51.100.200 management)
 *     ⇄ rf-firewall (198.51.100.1 | 203.0.113.1/28 | 203.0.113.17/28; forwards)
 *     ⇄ rf-dmz (203.0.113.2; hosts 203.0.113.130… on lo, one lab persona each)
 *     ⇄ rf-internal (203.0.113.18 toward the firewall; the LAN 203.0.113.32/27 on a bridge:
 *                    203.0.113.33 a LAN client and gateway, 203.0.113.62 an admin workstation)
 *         ⇄ rf-inhost-1..3 (203.0.113.34-36: internal hosts, each in its own namespace so that
 *                          each has a host firewall of its own)
 *
 * Addresses stay inside these namespaces: 198.51.100.0/24 on the outside link, 203.0.113.0/24
 * behind the firewall. The firewall forwards everything until a ruleset is loaded into it
 * (`ringfence lab firewall <file>`: `shield render` output for nftables or iptables); an internal
 * host accepts everything until its own host firewall is loaded (`lab firewall --host <address>`).
 * Traffic between the LAN and its hosts never crosses the perimeter firewall: only the host
 * firewall can shield them from inside, which is what the advisory's personal firewalls are for.
 * The hosts are simple listeners on each persona's open TCP ports (and an echo on UDP 137 for
 * NBSTAT personas), not the lab daemon: they answer scans, not RPC or SMB checks.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { RingfenceError } from "../errors.js";
import { PERSONAS } from "./personas.js";
import {
  createNetns,
  deleteNetns,
  hasNetnsPrivileges,
  netnsExists,
  netnsPids,
  processAlive,
  runOrThrow,
} from "./system.js";

export const PERIMETER_NAMESPACES = {
  internet: "rf-internet",
  firewall: "rf-firewall",
  dmz: "rf-dmz",
  internal: "rf-internal",
} as const;
export const PERIMETER_MAX_HOSTS = 16;
export const PERIMETER_DEFAULT_HOSTS = 8;
export const PERIMETER_CLIENTS = { internet: "198.51.100.2", mgmt: "198.51.100.200" } as const;
/** The inside vantages, both in rf-internal on the LAN bridge. */
export const PERIMETER_LAN_CLIENTS = { lan: "203.0.113.33", admin: "203.0.113.62" } as const;
/** The firewall's interfaces, for `shield audit --zone-interface`. */
export const PERIMETER_INTERFACES = { outside: "fw-out", dmz: "fw-dmz", internal: "fw-int" };
/** An internal host's one interface (toward the LAN), in its own namespace. */
export const PERIMETER_HOST_INTERFACE = "lan0";
const FIRST_HOST = 130;
/**
 * The internal hosts: a desktop and two servers of the MS03-026 era, exposed on the LAN (where
 * the perimeter firewall cannot help) until their host firewalls are loaded.
 */
const INTERNAL_PERSONAS = ["xp-sp1", "w2k3-rtm", "w2k-sp4"] as const;
const INTERNAL_NAMESPACE_PREFIX = "rf-inhost-";

export interface PerimeterHost {
  readonly address: string;
  readonly persona: string;
  readonly tcp: readonly number[];
  readonly udp: readonly number[];
}

export interface InternalHost extends PerimeterHost {
  /** Its own network namespace: where its host firewall is loaded. */
  readonly namespace: string;
}

export interface PerimeterLab {
  readonly namespaces: typeof PERIMETER_NAMESPACES;
  readonly hosts: readonly PerimeterHost[];
  readonly internalHosts: readonly InternalHost[];
  readonly listenerPid: number;
}

const NS = PERIMETER_NAMESPACES;
const LISTENER = fileURLToPath(new URL("./perimeter-listener.js", import.meta.url));

/** Host i (0-based) of the perimeter lab: persona i of the catalogue. */
export function perimeterHosts(count: number): PerimeterHost[] {
  return Array.from({ length: count }, (_, i) => {
    const persona = PERSONAS[i % PERSONAS.length]!;
    return {
      address: `203.0.113.${FIRST_HOST + i}`,
      persona: persona.id,
      tcp: [...persona.tcpOpen].sort((a, b) => a - b),
      udp: persona.udp137 === "nbstat" ? [137] : [],
    };
  });
}

/** The perimeter lab's internal hosts, 203.0.113.34 onwards, one namespace each. */
export function perimeterInternalHosts(): InternalHost[] {
  return INTERNAL_PERSONAS.map((id, i) => {
    const persona = PERSONAS.find((p) => p.id === id)!;
    return {
      address: `203.0.113.${34 + i}`,
      persona: id,
      tcp: [...persona.tcpOpen].sort((a, b) => a - b),
      udp: persona.udp137 === "nbstat" ? [137] : [],
      namespace: `${INTERNAL_NAMESPACE_PREFIX}${i + 1}`,
    };
  });
}

/** Every namespace of the lab that exists now, the internal hosts' included. */
function labNamespaces(): string[] {
  const internal = existsSync("/run/netns")
    ? readdirSync("/run/netns").filter((n) =>
        new RegExp(`^${INTERNAL_NAMESPACE_PREFIX}\\d+$`).test(n),
      )
    : [];
  return [...Object.values(NS), ...internal].filter(netnsExists);
}

const ip = (ns: string, ...args: string[]) =>
  runOrThrow("ip", ["-n", ns, ...args], `perimeter lab: ip -n ${ns} ${args.join(" ")}`);
const inNs = (ns: string, command: string, args: readonly string[], what: string) =>
  runOrThrow("ip", ["netns", "exec", ns, command, ...args], what);

async function veth(a: string, aIf: string, b: string, bIf: string): Promise<void> {
  await runOrThrow(
    "ip",
    ["link", "add", aIf, "netns", a, "type", "veth", "peer", "name", bIf, "netns", b],
    `perimeter lab: veth ${a} ⇄ ${b}`,
  );
  await ip(a, "link", "set", aIf, "up");
  await ip(b, "link", "set", bIf, "up");
}

function startListener(ns: string, hosts: readonly PerimeterHost[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, LISTENER, JSON.stringify(hosts)],
      { detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      reject(new RingfenceError("RINGFENCE_LAB", `perimeter listener exited (${code}): ${err}`)),
    );
    child.stdout.on("data", (d: Buffer) => {
      if (!d.toString().includes("ready")) return;
      child.removeAllListeners("exit");
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      resolve(child.pid!);
    });
  });
}

/** Builds the four namespaces, their links and routes, and starts the hosts. */
export async function perimeterUp(options: { hosts?: number } = {}): Promise<PerimeterLab> {
  const count = options.hosts ?? PERIMETER_DEFAULT_HOSTS;
  if (!Number.isInteger(count) || count < 1 || count > PERIMETER_MAX_HOSTS)
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `the perimeter lab has 1..${PERIMETER_MAX_HOSTS} hosts, got ${count}`,
    );
  if (!(await hasNetnsPrivileges()))
    throw new RingfenceError(
      "RINGFENCE_LAB",
      "the perimeter lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): it creates network namespaces",
    );
  const taken = labNamespaces();
  if (taken.length > 0)
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `network namespace ${taken.join(", ")} already exists: is a perimeter lab up?`,
      { hint: "`ringfence lab down --topology perimeter` removes it" },
    );
  const hosts = perimeterHosts(count);
  const internalHosts = perimeterInternalHosts();
  try {
    for (const ns of Object.values(NS)) await createNetns(ns);
    for (const host of internalHosts) await createNetns(host.namespace);
    await veth(NS.internet, "net-fw", NS.firewall, PERIMETER_INTERFACES.outside);
    await veth(NS.firewall, PERIMETER_INTERFACES.dmz, NS.dmz, "dmz-fw");
    await veth(NS.firewall, PERIMETER_INTERFACES.internal, NS.internal, "int-fw");
    for (const address of Object.values(PERIMETER_CLIENTS))
      await ip(NS.internet, "addr", "add", `${address}/24`, "dev", "net-fw");
    await ip(NS.firewall, "addr", "add", "198.51.100.1/24", "dev", PERIMETER_INTERFACES.outside);
    await ip(NS.firewall, "addr", "add", "203.0.113.1/28", "dev", PERIMETER_INTERFACES.dmz);
    await ip(NS.firewall, "addr", "add", "203.0.113.17/28", "dev", PERIMETER_INTERFACES.internal);
    await ip(NS.dmz, "addr", "add", "203.0.113.2/28", "dev", "dmz-fw");
    await ip(NS.internal, "addr", "add", "203.0.113.18/28", "dev", "int-fw");
    await ip(NS.internet, "route", "add", "203.0.113.0/24", "via", "198.51.100.1");
    await ip(NS.dmz, "route", "add", "default", "via", "203.0.113.1");
    await ip(NS.internal, "route", "add", "default", "via", "203.0.113.17");
    await ip(NS.firewall, "route", "add", "203.0.113.128/27", "via", "203.0.113.2");
    await ip(NS.firewall, "route", "add", "203.0.113.32/27", "via", "203.0.113.18");
    for (const host of hosts) await ip(NS.dmz, "addr", "add", `${host.address}/32`, "dev", "lo");
    await buildLan(internalHosts);
    for (const ns of [NS.firewall, NS.internal])
      await inNs(
        ns,
        "sysctl",
        ["-qw", "net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0"],
        "perimeter lab: forwarding",
      );
    const listenerPid = await startListener(NS.dmz, hosts);
    for (const host of internalHosts) await startListener(host.namespace, [host]);
    return { namespaces: NS, hosts, internalHosts, listenerPid };
  } catch (error) {
    await perimeterDown().catch(() => undefined);
    throw error;
  }
}

/**
 * The LAN: a bridge in rf-internal with its two clients, and one veth per internal host. A bridge
 * rather than routed links, so that the LAN client reaches the hosts directly, as on a switch.
 */
async function buildLan(internalHosts: readonly InternalHost[]): Promise<void> {
  await ip(NS.internal, "link", "add", "lan-br", "type", "bridge");
  await ip(NS.internal, "link", "set", "lan-br", "up");
  for (const address of Object.values(PERIMETER_LAN_CLIENTS))
    await ip(NS.internal, "addr", "add", `${address}/27`, "dev", "lan-br");
  for (const [i, host] of internalHosts.entries()) {
    const port = `lan-h${i + 1}`;
    await veth(NS.internal, port, host.namespace, PERIMETER_HOST_INTERFACE);
    await ip(NS.internal, "link", "set", port, "master", "lan-br");
    await ip(host.namespace, "link", "set", "lo", "up");
    await ip(host.namespace, "addr", "add", `${host.address}/27`, "dev", PERIMETER_HOST_INTERFACE);
    await ip(host.namespace, "route", "add", "default", "via", PERIMETER_LAN_CLIENTS.lan);
  }
}

/** Stops the hosts (the processes in the lab's namespaces, by pid) and deletes the namespaces. */
export async function perimeterDown(): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  for (const ns of labNamespaces()) {
    for (const pid of await netnsPids(ns)) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 50 && (await netnsPids(ns)).some(processAlive); i++)
      await new Promise((r) => setTimeout(r, 20));
    await deleteNetns(ns);
    removed.push(ns);
  }
  return { removed };
}

/**
 * Replaces a ruleset with `files` (`shield render` output): the perimeter firewall's, or with
 * `host` an internal host's own (its host firewall). nftables files load with `nft -f`,
 * iptables-restore files (`*filter` … `COMMIT`) with iptables-restore, or ip6tables-restore when
 * the file name starts with "ip6". Returns the namespace loaded.
 */
export async function perimeterFirewall(
  files: readonly string[],
  options: { host?: string } = {},
): Promise<string> {
  if (!netnsExists(NS.firewall))
    throw new RingfenceError("RINGFENCE_LAB", "the perimeter lab is not up", {
      hint: "start it with `ringfence lab up --topology perimeter`",
    });
  let ns: string = NS.firewall;
  if (options.host !== undefined) {
    const host = perimeterInternalHosts().find((h) => h.address === options.host);
    if (host === undefined)
      throw new RingfenceError(
        "RINGFENCE_USAGE",
        `--host ${options.host}: not an internal host of the perimeter lab (${perimeterInternalHosts()
          .map((h) => h.address)
          .join(", ")})`,
      );
    ns = host.namespace;
  }
  // iptables-nft and nft share the kernel's tables: one flush empties both.
  await inNs(ns, "nft", ["flush", "ruleset"], `perimeter lab: flushing ${ns}`);
  for (const file of files) {
    const text = await readFile(file, "utf8");
    if (/^\*filter$/m.test(text) && /^COMMIT$/m.test(text)) {
      const tool = /(^|\/)ip6[^/]*$/.test(file) ? "ip6tables-restore" : "iptables-restore";
      await inNs(ns, tool, [file], `perimeter lab: loading ${file}`);
    } else await inNs(ns, "nft", ["-f", file], `perimeter lab: loading ${file}`);
  }
  return ns;
}
