import { scopeViolation, type Scope } from "../scope/index.js";
import { CyclicOrder, type CyclicOrderParams, type TargetSpace } from "../targets/index.js";
import { AsyncQueue } from "../util/async-queue.js";
import type { EngineStats, TcpProbe, TcpProbeEngine } from "./engines/probe-engine.js";
import type { ProbeObservation } from "./observation.js";
import { runUdpProbes, type UdpTask } from "./udp/udp-engine.js";
import { udpProbeFor } from "./udp/udp-probes.js";
import { Watermark } from "./watermark.js";

/** Everything that decides what a scan sends. Stored with the scan so a resume repeats it exactly. */
export interface ScanPlan {
  readonly space: TargetSpace;
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
  readonly tcpOrder: CyclicOrderParams | null;
  readonly udpOrder: CyclicOrderParams | null;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly rate: number;
  /** Added to every port on the wire (an unprivileged lab listens on 20135 for 135). */
  readonly portOffset: number;
  readonly scope: Scope;
}

export interface ResumePoint {
  readonly step: number;
  readonly probesDone: number;
}

export interface ScanProgress {
  readonly done: number;
  readonly total: number;
  readonly open: number;
  readonly sent: number;
  readonly retries: number;
  readonly inFlight: number;
  readonly elapsedMs: number;
  /** Probes decided per second since this run started. */
  readonly probesPerSecond: number;
  readonly etaMs: number | null;
}

export type ScanEvent =
  | {
      readonly kind: "observations";
      readonly observations: readonly ProbeObservation[];
      /** Valid once these and all earlier observations are stored. */
      readonly checkpoint: ResumePoint;
    }
  | { readonly kind: "progress"; readonly progress: ScanProgress }
  | { readonly kind: "warning"; readonly code: string; readonly message: string };

/**
 * Checkpoint steps of the UDP phase are offset by this, so one number says where a scan stands
 * in both phases (order steps stay below 2^41, see CyclicOrder).
 */
const UDP_PHASE = 2 ** 42;
const TAG_SPACE = 2 ** 32;
const EMIT_EVERY_MS = 250;
const EMIT_EVERY_COUNT = 16000;

export function totalProbes(space: TargetSpace, tcpPorts: number, udpPorts: number): number {
  return space.size * (tcpPorts + udpPorts);
}

export function createOrders(
  space: TargetSpace,
  tcpPorts: readonly number[],
  udpPorts: readonly number[],
  seed: string,
): { tcpOrder: CyclicOrderParams | null; udpOrder: CyclicOrderParams | null } {
  return {
    tcpOrder:
      tcpPorts.length > 0 ? CyclicOrder.create(space.size * tcpPorts.length, seed).params : null,
    udpOrder:
      udpPorts.length > 0
        ? CyclicOrder.create(space.size * udpPorts.length, `${seed}/udp`).params
        : null,
  };
}

/**
 * Runs a discovery scan and streams what it finds. Targets are drawn from a cyclic-group order
 * over (address, port) pairs, so consecutive probes hit different hosts (ZMap's reason: no host
 * or subnet sees a burst). Every address passes the scope guard immediately before it is handed to
 * an engine; the caller has already refused a target space that leaves the scope, so a refusal
 * here means something changed underneath (e.g. a hostname re-resolved) and stops the scan.
 */
export function runScan(
  plan: ScanPlan,
  engine: TcpProbeEngine,
  options: { resume?: ResumePoint; signal?: AbortSignal } = {},
): AsyncIterable<ScanEvent> {
  const queue = new AsyncQueue<ScanEvent>();
  const controller = new AbortController();
  options.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  const { space } = plan;
  const total = totalProbes(space, plan.tcpPorts.length, plan.udpPorts.length);
  const startedAt = performance.now();
  const resume = options.resume ?? { step: 0, probesDone: 0 };
  const inUdpPhase = resume.step >= UDP_PHASE;

  let watermark = new Watermark();
  let phaseOffset = inUdpPhase ? UDP_PHASE : 0;
  let baseDone = resume.probesDone;
  let currentOrder: CyclicOrder | undefined;
  let pendingObservations: ProbeObservation[] = [];
  let lastEmit = performance.now();
  let decidedThisRun = 0;
  let openCount = 0;
  let engineStats: EngineStats = {
    sent: 0,
    retries: 0,
    inFlight: 0,
    concurrencyLimit: 0,
    fdLimitHits: 0,
    portLimitHits: 0,
  };
  const warned = new Set<string>();
  // Most scans name no hosts; skip the per-result lookup (an address parse) when none were named.
  const named = space.hostnameEntries().length > 0;
  const hostnamesOf = (address: string): readonly string[] =>
    named ? space.hostnamesOf(address) : [];

  const checkScope = (address: string, v4: number): void => {
    const allowed = v4 >= 0 ? plan.scope.allowsV4(v4) : plan.scope.allows(address);
    if (!allowed) throw scopeViolation(address, plan.scope);
  };

  // Decided in the current phase, in any order (the checkpoint uses the gap-free prefix instead).
  let decidedPhase = 0;
  const progress = (): ScanProgress => {
    const elapsedMs = performance.now() - startedAt;
    const done = Math.min(total, baseDone + decidedPhase);
    const rate = elapsedMs > 0 ? (decidedThisRun / elapsedMs) * 1000 : 0;
    return {
      done,
      total,
      open: openCount,
      sent: engineStats.sent,
      retries: engineStats.retries,
      inFlight: engineStats.inFlight,
      elapsedMs,
      probesPerSecond: rate,
      etaMs: rate > 0 ? ((total - done) / rate) * 1000 : null,
    };
  };

  const emit = (force: boolean): void => {
    const now = performance.now();
    if (!force && pendingObservations.length < EMIT_EVERY_COUNT && now - lastEmit < EMIT_EVERY_MS)
      return;
    lastEmit = now;
    const step = phaseOffset + watermark.checkpoint(currentOrder?.step ?? 0);
    queue.push({
      kind: "observations",
      observations: pendingObservations,
      checkpoint: { step, probesDone: baseDone + watermark.decidedPrefix },
    });
    pendingObservations = [];
    queue.push({ kind: "progress", progress: progress() });
  };

  const warnLimits = (stats: EngineStats): void => {
    if (stats.fdLimitHits > 0 && !warned.has("fd-limit")) {
      warned.add("fd-limit");
      queue.push({
        kind: "warning",
        code: "fd-limit",
        message: `the open-file limit capped concurrent probes at ~${stats.concurrencyLimit}; raise it with \`ulimit -n\` (up to the hard limit, or fs.nr_open with CAP_SYS_RESOURCE), or lower --concurrency`,
      });
    }
    if (stats.portLimitHits > 0 && !warned.has("port-limit")) {
      warned.add("port-limit");
      queue.push({
        kind: "warning",
        code: "port-limit",
        message:
          "ran out of ephemeral source ports towards a destination; widen net.ipv4.ip_local_port_range or lower --concurrency",
      });
    }
  };

  const runTcpPhase = async (): Promise<void> => {
    if (!plan.tcpOrder || inUdpPhase) return;
    const order = CyclicOrder.restore(plan.tcpOrder, resume.step);
    currentOrder = order;
    const addressCount = space.size;
    const ports = plan.tcpPorts;
    const tagToSeq = (tag: number): number => {
      // Tags are sequence numbers modulo 2^32; undecided ones lie within 2^32 of the head.
      const head = watermark.decidedPrefix;
      return head + ((tag - (head % TAG_SPACE) + TAG_SPACE) % TAG_SPACE);
    };
    const probeInfo = new Map<number, { address: string; port: number }>();

    const pull = (max: number): TcpProbe[] => {
      const probes: TcpProbe[] = [];
      while (probes.length < max) {
        const stepBefore = order.step;
        const element = order.next();
        if (element < 0) break;
        const addressIndex = element % addressCount;
        const port = ports[Math.floor(element / addressCount)]!;
        const v4 = space.v4At(addressIndex);
        const address = space.at(addressIndex);
        checkScope(address, v4);
        const seq = watermark.issue(stepBefore);
        const tag = seq % TAG_SPACE;
        probeInfo.set(tag, { address, port });
        probes.push({ tag, v4, address, port: port + plan.portOffset });
      }
      return probes;
    };

    await engine.run(
      {
        pull,
        onResults(results) {
          for (const result of results) {
            const info = probeInfo.get(result.tag);
            if (!info) continue; // a late duplicate
            probeInfo.delete(result.tag);
            watermark.decide(tagToSeq(result.tag));
            decidedThisRun++;
            decidedPhase++;
            if (result.state === "open") openCount++;
            const hostnames = hostnamesOf(info.address);
            pendingObservations.push({
              address: info.address,
              protocol: "tcp",
              port: info.port,
              state: result.state,
              reason: result.reason,
              rttMs: result.rttMs,
              ...(hostnames.length > 0 ? { hostnames } : {}),
            });
          }
          emit(false);
        },
        onStats(stats) {
          engineStats = stats;
          warnLimits(stats);
        },
      },
      controller.signal,
    );
    emit(true);
  };

  const runUdpPhase = async (): Promise<void> => {
    if (!plan.udpOrder || controller.signal.aborted) return;
    // Entering the UDP phase: everything before it is decided.
    if (!inUdpPhase) {
      baseDone += watermark.decidedPrefix;
      phaseOffset = UDP_PHASE;
    }
    const order = CyclicOrder.restore(plan.udpOrder, inUdpPhase ? resume.step - UDP_PHASE : 0);
    currentOrder = order;
    watermark = new Watermark();
    decidedPhase = 0;
    const addressCount = space.size;
    const ports = plan.udpPorts;
    const info = new Map<number, { address: string; port: number }>();

    function* tasks(): Generator<UdpTask> {
      while (!controller.signal.aborted) {
        const stepBefore = order.step;
        const element = order.next();
        if (element < 0) return;
        const addressIndex = element % addressCount;
        const port = ports[Math.floor(element / addressCount)]!;
        const probe = udpProbeFor(port);
        const address = space.at(addressIndex);
        checkScope(address, space.v4At(addressIndex));
        const seq = watermark.issue(stepBefore);
        if (!probe) {
          // No probe for this port: nothing is sent, and the port is reported as unknown silence.
          watermark.decide(seq);
          decidedPhase++;
          pendingObservations.push({
            address,
            protocol: "udp",
            port,
            state: "open|filtered",
            reason: "no-probe",
            rttMs: null,
          });
          continue;
        }
        info.set(seq, { address, port });
        yield { tag: seq, address, port: port + plan.portOffset, probe };
      }
    }

    await runUdpProbes(
      tasks(),
      { concurrency: 512, timeoutMs: plan.timeoutMs, retries: plan.retries, rate: plan.rate },
      (result) => {
        const known = info.get(result.tag);
        if (!known) return;
        info.delete(result.tag);
        watermark.decide(result.tag);
        decidedThisRun++;
        decidedPhase++;
        if (result.state === "open") openCount++;
        const hostnames = hostnamesOf(known.address);
        pendingObservations.push({
          address: known.address,
          protocol: "udp",
          port: known.port,
          state: result.state,
          reason: result.reason,
          rttMs: result.rttMs,
          ...(hostnames.length > 0 ? { hostnames } : {}),
          ...(result.detail ? { detail: result.detail } : {}),
        });
        emit(false);
      },
      controller.signal,
    );
    emit(true);
  };

  (async () => {
    const ticker = setInterval(() => queue.push({ kind: "progress", progress: progress() }), 250);
    try {
      await runTcpPhase();
      await runUdpPhase();
      queue.close();
    } catch (error) {
      controller.abort();
      // Hand over what was decided before the failure, so nothing already found is lost.
      if (pendingObservations.length > 0) emit(true);
      queue.fail(error);
    } finally {
      clearInterval(ticker);
    }
  })();

  return queue;
}
