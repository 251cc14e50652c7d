import {
  checkHosts,
  portsOfSelection,
  type CheckSelection,
  type HostCheckReport,
  type HostTarget,
  type RpcssTimeouts,
} from "../checks/index.js";
import { RingfenceError } from "../errors.js";
import { nbstatFromDetail, type NbstatInfo } from "../smb/nbstat-query.js";
import { checkRunInputs, fingerprintInputs } from "./check-records.js";
import { enterLab, labHolding } from "./lab-routing.js";
import type { ProbeObservation } from "../scan/observation.js";
import {
  createOrders,
  runScan,
  totalProbes,
  type ScanEvent,
  type ScanPlan,
  type ScanProgress,
} from "../scan/index.js";
import { selectEngine, type EngineChoice } from "../scan/index.js";
import { loadScope, scopeViolation, type Scope } from "../scope/index.js";
import type { ScanRecord, Store } from "../store/index.js";
import {
  buildTargetSpace,
  formatRange,
  parseRangeExpression,
  TargetSpace,
  type AddressRange,
  type CyclicOrderParams,
  type PortSpec,
} from "../targets/index.js";

/** What the user asked for, before anything is resolved. */
export interface ScanRequest {
  readonly targets: readonly string[];
  readonly inputFiles: readonly string[];
  readonly exclude: readonly string[];
  readonly excludeFiles: readonly string[];
  readonly ports: PortSpec;
  readonly scopeFile?: string;
  readonly rate: number;
  readonly concurrency?: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly engine: EngineChoice;
  readonly seed: string;
  /** Scan the built-in lab when every target lies in it (joins its namespace, applies its port offset). */
  readonly useLab: boolean;
  readonly labStateDir?: string;
  readonly labName?: string;
  /** Checks to run on the hosts whose ports they need are open, after discovery. */
  readonly checks?: CheckSelection;
  /** Overrides of the RPC checks' connect/read/host deadlines. */
  readonly checkTimeouts?: Partial<RpcssTimeouts>;
}

/**
 * The effective parameters of a scan as stored: enough to repeat exactly the same probes in the
 * same order on resume, whatever the new command line says. Hostnames are stored resolved, target
 * files expanded, so a resume neither re-resolves nor re-reads anything.
 */
export interface StoredScanParams {
  readonly version: 1;
  readonly request: {
    targets: string[];
    inputFiles: string[];
    exclude: string[];
    excludeFiles: string[];
  };
  readonly ranges: string[];
  readonly hostnames: [string, string[]][];
  readonly tcpPorts: number[];
  readonly udpPorts: number[];
  readonly tcpOrder: CyclicOrderParams | null;
  readonly udpOrder: CyclicOrderParams | null;
  readonly scope: { source: string; name: string; digest: string };
  readonly rate: number;
  readonly concurrency: number | null;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly engine: EngineChoice;
  readonly seed: string;
  readonly lab: { name: string; netnsPath: string | null; portOffset: number } | null;
  /** Absent in scans stored before checks existed: those run none. */
  readonly checks?: {
    readonly ids: string[];
    readonly aggressive: boolean;
    readonly timeouts: Partial<RpcssTimeouts>;
  };
}

export interface ScanJobHooks {
  onStart?(info: {
    scan: ScanRecord;
    engine: string;
    concurrency: number;
    notes: readonly string[];
    resumed: boolean;
    lab: StoredScanParams["lab"];
    space: TargetSpace;
  }): void;
  onObservations?(observations: readonly ProbeObservation[]): void;
  onProgress?(progress: ScanProgress): void;
  onWarning?(warning: { code: string; message: string }): void;
  /** Discovery is over; `hosts` hosts have a port a selected check needs open. */
  onChecksStart?(info: { hosts: number; alreadyChecked: number }): void;
  onHostChecked?(report: HostCheckReport): void;
}

export interface ScanJobResult {
  readonly scan: ScanRecord;
  readonly interrupted: boolean;
}

/** Refuses a target space that leaves the scope, before a single probe is prepared. */
function assertInScope(space: TargetSpace, scope: Scope): void {
  const outside = scope.firstOutside(space);
  // Checked on the whole space with range algebra, before a single probe is prepared.
  if (outside !== undefined) throw scopeViolation(outside, scope);
}

function rangeOf(text: string): AddressRange {
  const range = parseRangeExpression(text);
  if ("reason" in range)
    throw new RingfenceError(
      "RINGFENCE_SCAN_NOT_RESUMABLE",
      `stored range ${text} is invalid: ${range.reason}`,
    );
  return range;
}

function hostnameEntries(space: TargetSpace): [string, string[]][] {
  return space.hostnameEntries().map(([address, names]) => [address, [...names]]);
}

export async function prepareScan(request: ScanRequest): Promise<{
  params: StoredScanParams;
  space: TargetSpace;
  scope: Scope;
}> {
  const scope = await loadScope(request.scopeFile);
  const space = await buildTargetSpace({
    targets: [...request.targets],
    inputFiles: [...request.inputFiles],
    exclude: [...request.exclude],
    excludeFiles: [...request.excludeFiles],
  });
  assertInScope(space, scope);
  const lab = request.useLab
    ? await labHolding(space.ranges, {
        ...(request.labStateDir !== undefined ? { stateDir: request.labStateDir } : {}),
        ...(request.labName !== undefined ? { name: request.labName } : {}),
      })
    : undefined;
  const { tcpOrder, udpOrder } = createOrders(
    space,
    request.ports.tcp,
    request.ports.udp,
    request.seed,
  );
  const params: StoredScanParams = {
    version: 1,
    request: {
      targets: [...request.targets],
      inputFiles: [...request.inputFiles],
      exclude: [...request.exclude],
      excludeFiles: [...request.excludeFiles],
    },
    ranges: space.ranges.map(formatRange),
    hostnames: hostnameEntries(space),
    tcpPorts: [...request.ports.tcp],
    udpPorts: [...request.ports.udp],
    tcpOrder,
    udpOrder,
    scope: { source: scope.source, name: scope.name, digest: scope.digest },
    rate: request.rate,
    concurrency: request.concurrency ?? null,
    timeoutMs: request.timeoutMs,
    retries: request.retries,
    engine: request.engine,
    seed: request.seed,
    lab: lab ? { name: lab.name, netnsPath: lab.netnsPath, portOffset: lab.portOffset } : null,
    ...(request.checks !== undefined && request.checks.ids.length > 0
      ? {
          checks: {
            ids: [...request.checks.ids],
            aggressive: request.checks.aggressive,
            timeouts: { ...request.checkTimeouts },
          },
        }
      : {}),
  };
  return { params, space, scope };
}

/** Rebuilds the target space of a stored scan exactly (no resolution, no file reads). */
function spaceFromParams(params: StoredScanParams): TargetSpace {
  const ranges = params.ranges.map(rangeOf);
  return TargetSpace.fromRanges(ranges, new Map(params.hostnames));
}

function isStoredParams(value: unknown): value is StoredScanParams {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { version?: unknown }).version === 1 &&
    Array.isArray((value as { ranges?: unknown }).ranges)
  );
}

/** Runs (or resumes) a scan, storing every batch with its checkpoint as it arrives. */
export async function executeScan(
  store: Store,
  input:
    { kind: "new"; request: ScanRequest; command: string } | { kind: "resume"; scanId: string },
  hooks: ScanJobHooks,
  signal: AbortSignal,
): Promise<ScanJobResult> {
  let scan: ScanRecord;
  let params: StoredScanParams;
  let space: TargetSpace;
  let scope: Scope;
  if (input.kind === "new") {
    ({ params, space, scope } = await prepareScan(input.request));
    scan = await store.createScan({
      command: input.command,
      params,
      totalProbes: totalProbes(space, params.tcpPorts.length, params.udpPorts.length),
    });
  } else {
    scan = await store.requireScan(input.scanId);
    if (scan.status === "completed")
      throw new RingfenceError(
        "RINGFENCE_SCAN_NOT_RESUMABLE",
        `scan ${scan.id} already completed; nothing to resume`,
        {
          hint: `start a new scan, or look at its results with \`ringfence hosts --scan ${scan.id}\``,
        },
      );
    if (!isStoredParams(scan.params))
      throw new RingfenceError(
        "RINGFENCE_SCAN_NOT_RESUMABLE",
        `scan ${scan.id} was stored by an incompatible version of ringfence and cannot be resumed`,
      );
    params = scan.params;
    space = spaceFromParams(params);
    // The stored scope must still authorise every target: scope files can shrink between runs.
    scope = await loadScope(params.scope.source === "default" ? undefined : params.scope.source);
    assertInScope(space, scope);
  }

  if (params.lab?.netnsPath) {
    // The store's connections must be made here, before the move into the lab's namespace.
    await store.pinConnections();
    enterLab(params.lab);
  }

  const selection = selectEngine(params.engine, {
    hasIPv6: space.hasIPv6,
    ...(params.concurrency !== null ? { concurrency: params.concurrency } : {}),
    timeoutMs: params.timeoutMs,
    retries: params.retries,
    rate: params.rate,
  });
  const plan: ScanPlan = {
    space,
    tcpPorts: params.tcpPorts,
    udpPorts: params.udpPorts,
    tcpOrder: params.tcpOrder,
    udpOrder: params.udpOrder,
    timeoutMs: params.timeoutMs,
    retries: params.retries,
    rate: params.rate,
    portOffset: params.lab?.portOffset ?? 0,
    scope,
  };
  const resumed = input.kind === "resume";
  await store.markRunning(scan.id);
  hooks.onStart?.({
    scan,
    engine: selection.engine.name,
    concurrency: selection.concurrency,
    notes: selection.notes,
    resumed,
    lab: params.lab,
    space,
  });
  if (selection.limitWarning)
    hooks.onWarning?.({ code: "fd-limit", message: selection.limitWarning });

  const counts: Record<string, number> = { ...(resumed ? scan.counts : {}) };
  let probesDone = resumed ? scan.probesDone : 0;
  try {
    const events: AsyncIterable<ScanEvent> = runScan(plan, selection.engine, {
      ...(resumed ? { resume: { step: scan.checkpointStep, probesDone: scan.probesDone } } : {}),
      signal,
    });
    for await (const event of events) {
      if (event.kind === "observations") {
        for (const o of event.observations) counts[o.state] = (counts[o.state] ?? 0) + 1;
        probesDone = event.checkpoint.probesDone;
        await store.recordBatch(scan.id, event.observations, {
          step: event.checkpoint.step,
          probesDone,
          counts,
        });
        hooks.onObservations?.(event.observations);
      } else if (event.kind === "progress") hooks.onProgress?.(event.progress);
      else hooks.onWarning?.(event);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await store.finishScan(scan.id, signal.aborted ? "interrupted" : "failed", { error: message });
    throw error;
  }
  if (!signal.aborted && params.checks !== undefined) {
    try {
      await runCheckPhase(store, scan.id, params, scope, hooks, signal);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await store.finishScan(scan.id, "failed", { error: message });
      throw error;
    }
  }
  const interrupted = signal.aborted;
  // The running counts above may include probes re-sent after a resume; the stored ones are exact.
  await store.finishScan(scan.id, interrupted ? "interrupted" : "completed", {
    probesDone: interrupted ? probesDone : scan.totalProbes,
    counts: await store.observationCounts(scan.id),
  });
  return { scan: await store.requireScan(scan.id), interrupted };
}

/** How many hosts the checks work on at once; each host's own sequence is sequential. */
const CHECK_CONCURRENCY = 64;
const CHECK_BATCH = 256;
const CHECK_FLUSH_MS = 250;

/**
 * After discovery: run the selected checks on every host this scan found with a needed port open,
 * recording each host's results as it completes. A resumed scan skips hosts already checked.
 */
async function runCheckPhase(
  store: Store,
  scanId: string,
  params: StoredScanParams,
  scope: Scope,
  hooks: ScanJobHooks,
  signal: AbortSignal,
): Promise<void> {
  const checks = params.checks;
  if (checks === undefined) return;
  const selection: CheckSelection = { ids: checks.ids, aggressive: checks.aggressive };
  const wanted = portsOfSelection(selection);
  const services = await store.listServices({ scanId, state: "open", protocol: "tcp" });
  const byHost = new Map<string, number[]>();
  for (const service of services) {
    if (!wanted.has(service.port)) continue;
    const ports = byHost.get(service.address) ?? [];
    ports.push(service.port);
    byHost.set(service.address, ports);
  }
  // For the SMB fingerprint: the NBSTAT answers (udp/137 detail), and which RPC ports answered
  // with a reset (RPC over the SMB pipe is only for hosts whose 135/593 are filtered).
  const nbstat = new Map<string, NbstatInfo>();
  for (const service of await store.listServices({
    scanId,
    state: "open",
    protocol: "udp",
    port: 137,
  })) {
    const info = nbstatFromDetail(service.detail);
    if (info !== null) nbstat.set(service.address, info);
  }
  const closed = new Map<string, number[]>();
  for (const service of await store.listServices({ scanId, state: "closed", protocol: "tcp" })) {
    if (service.port !== 135 && service.port !== 593) continue;
    closed.set(service.address, [...(closed.get(service.address) ?? []), service.port]);
  }
  const checked = new Set((await store.listCheckRuns({ scanId })).map((run) => run.address));
  const hosts: HostTarget[] = [...byHost]
    .filter(([address]) => !checked.has(address))
    .map(([address, openTcpPorts]) => ({
      address,
      openTcpPorts,
      nbstat: nbstat.get(address) ?? null,
      closedTcpPorts: closed.get(address) ?? [],
    }));
  hooks.onChecksStart?.({ hosts: hosts.length, alreadyChecked: checked.size });
  // Results are written in batches (one transaction each): a commit per host would make the
  // store, not the hosts, set the pace. A crash loses at most one batch, which a resume re-checks.
  let pending: HostCheckReport[] = [];
  let lastFlush = performance.now();
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    lastFlush = performance.now();
    await store.recordCheckRuns(batch.flatMap((report) => checkRunInputs(scanId, report)));
    await store.recordFingerprints(batch.flatMap(fingerprintInputs));
    for (const report of batch) hooks.onHostChecked?.(report);
  };
  for await (const report of checkHosts(hosts, selection, {
    scope,
    portOffset: params.lab?.portOffset ?? 0,
    rpcTimeouts: checks.timeouts,
    smbTimeouts: checks.timeouts,
    concurrency: CHECK_CONCURRENCY,
    signal,
  })) {
    pending.push(report);
    if (pending.length >= CHECK_BATCH || performance.now() - lastFlush >= CHECK_FLUSH_MS)
      await flush();
  }
  await flush();
}
