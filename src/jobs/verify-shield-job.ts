/**
 * `ringfence verify-shield`: joins the vantage's network namespace (when one is named), works out
 * the source address the kernel uses toward the plan's hosts, rescans what the plan blocks and
 * allows with the scan engines, judges the result (src/shield/verify), and records one verified
 * control per host only when every host is as planned.
 */
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { addIsoDuration, formatInstant } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import type { Control, ControlMethod } from "../risk/types.js";
import { loadRiskPolicy } from "../risk/index.js";
import {
  createOrders,
  loadNativeAddon,
  runScan,
  selectEngine,
  type EngineChoice,
  type ProbeObservation,
} from "../scan/index.js";
import { loadScope } from "../scope/index.js";
import {
  judgeVerification,
  verificationProbes,
  verifiedControls,
  type ShieldVerification,
} from "../shield/verify/verify-shield.js";
import type { ShieldPlan } from "../shield/index.js";
import { openStore, type Store } from "../store/index.js";
import { parseAddress, TargetSpace } from "../targets/index.js";

export interface VerifyShieldOptions {
  readonly plan: ShieldPlan;
  /** A network namespace name (`ip netns`), or undefined for the current namespace. */
  readonly from?: string;
  /** Source address to evaluate the plan for; default: the kernel's choice toward the first host. */
  readonly sourceAddress?: string;
  readonly db?: string;
  readonly engine: EngineChoice;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly rate: number;
  readonly scopeFile?: string;
  readonly method: ControlMethod;
  /** ISO 8601 duration; default: the risk policy's TTL for the control's kind. */
  readonly ttl?: string;
  readonly policyFile?: string;
  readonly now?: () => Date;
}

export interface VerifyShieldResult {
  readonly verification: ShieldVerification;
  readonly controls: readonly Control[];
}

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Moves this process into the named network namespace (all sockets opened afterwards). */
export function enterNamespace(name: string): void {
  if (!NETNS_NAME.test(name))
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `--from ${JSON.stringify(name)}: not a namespace name`,
    );
  const path = `/run/netns/${name}`;
  if (!existsSync(path))
    throw new RingfenceError("RINGFENCE_USAGE", `--from ${name}: no network namespace ${path}`, {
      hint: "list them with `ip netns list`",
    });
  const addon = loadNativeAddon();
  if (!addon)
    throw new RingfenceError(
      "RINGFENCE_ENGINE",
      "entering a network namespace needs the native addon (build it with `npm run build:native`)",
    );
  try {
    addon.joinNetns(path);
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `cannot enter the network namespace ${path}: ${(error as Error).message}`,
      { hint: "entering a namespace needs root (CAP_SYS_ADMIN)" },
    );
  }
}

/** The source address the kernel picks toward `host` (a connected UDP socket sends nothing). */
export function sourceAddressToward(host: string): Promise<string> {
  const family = parseAddress(host)?.family === 6 ? "udp6" : "udp4";
  return new Promise((resolve, reject) => {
    const socket = createSocket(family);
    socket.on("error", (error) => {
      socket.close();
      reject(
        new RingfenceError(
          "RINGFENCE_USAGE",
          `no route to ${host} from this vantage: ${error.message}`,
        ),
      );
    });
    socket.connect(9, host, () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}

async function rescan(
  probes: ReturnType<typeof verificationProbes>["probes"],
  options: VerifyShieldOptions,
): Promise<ProbeObservation[]> {
  const scope = await loadScope(options.scopeFile);
  const observations: ProbeObservation[] = [];
  const hosts = [...new Set(probes.map((p) => p.host))];
  for (const host of hosts) {
    const parsed = parseAddress(host)!;
    const space = TargetSpace.fromRanges([
      { family: parsed.family, first: parsed.value, last: parsed.value },
    ]);
    const mine = probes.filter((p) => p.host === host);
    const ports = (proto: "tcp" | "udp") =>
      [...new Set(mine.filter((p) => p.proto === proto).map((p) => p.port))].sort((a, b) => a - b);
    const tcpPorts = ports("tcp");
    const udpPorts = ports("udp");
    const selection = selectEngine(options.engine, {
      hasIPv6: space.hasIPv6,
      timeoutMs: options.timeoutMs,
      retries: options.retries,
      rate: options.rate,
    });
    const orders = createOrders(space, tcpPorts, udpPorts, `verify-shield/${host}`);
    for await (const event of runScan(
      {
        space,
        tcpPorts,
        udpPorts,
        ...orders,
        timeoutMs: options.timeoutMs,
        retries: options.retries,
        rate: options.rate,
        portOffset: 0,
        scope,
      },
      selection.engine,
    )) {
      if (event.kind === "observations") observations.push(...event.observations);
    }
  }
  return observations;
}

export async function runVerifyShield(options: VerifyShieldOptions): Promise<VerifyShieldResult> {
  const { plan } = options;
  if (plan.hosts.length === 0)
    throw new RingfenceError("RINGFENCE_USAGE", `plan ${plan.name} has no hosts to verify`);
  // The policy (and its TTLs) is read before the namespace changes: files do not depend on it.
  const policy =
    options.ttl === undefined
      ? await loadRiskPolicy(options.policyFile === undefined ? {} : { path: options.policyFile })
      : undefined;
  // The store connects before the move to the vantage (a database server on this namespace's
  // loopback is out of reach from there); it is written only when every host held.
  const store = options.db === undefined ? undefined : await openStore(options.db);
  try {
    await store?.pinConnections();
    return await verifyFromVantage(plan, options, policy, store);
  } finally {
    await store?.close();
  }
}

async function verifyFromVantage(
  plan: ShieldPlan,
  options: VerifyShieldOptions,
  policy: Awaited<ReturnType<typeof loadRiskPolicy>> | undefined,
  store: Store | undefined,
): Promise<VerifyShieldResult> {
  if (options.from !== undefined) enterNamespace(options.from);
  const sourceAddress =
    options.sourceAddress ?? (await sourceAddressToward(plan.hosts[0]!.address));
  const { probes, undecided } = verificationProbes(plan, sourceAddress);
  const observations = await rescan(probes, options);
  const verifiedAt = formatInstant((options.now?.() ?? new Date()).getTime());
  const verification = judgeVerification(plan, probes, undecided, observations, {
    vantage: options.from ?? "current-namespace",
    sourceAddress,
    verifiedAt,
  });
  const at = Date.parse(verifiedAt);
  const controls = verifiedControls(plan, verification, options.method, (kind) => {
    const ttl =
      options.ttl ??
      (kind === "host-firewall"
        ? policy!.controlTtl.hostFirewall
        : policy!.controlTtl.perimeterBlock);
    return formatInstant(addIsoDuration(at, ttl));
  });
  if (controls.length > 0 && store !== undefined) await store.recordControls(controls);
  return { verification, controls };
}
