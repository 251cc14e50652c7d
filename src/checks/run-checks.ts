import { setMaxListeners } from "node:events";
import type { Scope } from "../scope/index.js";
import { runBlasterCheck } from "./blaster/backdoor-banner.js";
import {
  BLASTER_BACKDOOR,
  MS03_026_REMOTE_ACTIVATION,
  MS03_039_GET_CLASS_OBJECT,
  MS03_039_KB824146SCAN,
  checkById,
  type CheckSelection,
} from "./registry.js";
import { RpcssProber, type RpcssProtseq, type RpcssTimeouts } from "./rpcss/prober.js";
import {
  runRpcssProcedure,
  type RpcssClassification,
  type RpcssOutcome,
} from "./rpcss/procedure.js";
import type { CheckReason, CheckResult, EvidenceStep, Verdict } from "./types.js";

/** One host as the checks see it: which nominal TCP ports a scan found open. */
export interface HostTarget {
  readonly address: string;
  readonly openTcpPorts: readonly number[];
}

export interface CheckRunOptions {
  readonly scope: Scope;
  /** Added to nominal ports on the wire (a lab in bind mode). */
  readonly portOffset?: number;
  /** Override the registry's RPC timeouts (tests shorten them for hostile hosts). */
  readonly rpcTimeouts?: Partial<RpcssTimeouts>;
  /** Ctrl-C: hosts in progress stop at once; their partial results are not reported. */
  readonly signal?: AbortSignal;
}

/** A check's result placed on the host's port, with the combined verdict where there is one. */
export interface PlacedResult extends CheckResult {
  readonly protocol: "tcp";
  readonly port: number;
  readonly classification: RpcssClassification | null;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface HostCheckReport {
  readonly address: string;
  /** The RPCSS sequence's outcome, if it ran (135 or 593 open and an RPC check selected). */
  readonly rpcss: {
    readonly port: number;
    readonly protseq: RpcssProtseq;
    readonly classification: RpcssClassification;
    readonly reason: CheckReason;
  } | null;
  readonly results: readonly PlacedResult[];
}

const RPC_CHECKS = [MS03_039_KB824146SCAN, MS03_026_REMOTE_ACTIVATION, MS03_039_GET_CLASS_OBJECT];

/** Runs the selected checks that apply to one host. Never throws for anything the host does. */
export async function checkHost(
  host: HostTarget,
  selection: CheckSelection,
  options: CheckRunOptions,
): Promise<HostCheckReport> {
  const offset = options.portOffset ?? 0;
  const results: PlacedResult[] = [];
  let rpcss: HostCheckReport["rpcss"] = null;

  const wantsRpc = selection.ids.some((id) => RPC_CHECKS.includes(id));
  // Research §2.3 [R]: TCP 135 first, 593 (RPC over HTTP v1) second.
  const rpcPort = [135, 593].find((p) => host.openTcpPorts.includes(p));
  if (wantsRpc && rpcPort !== undefined) {
    const protseq: RpcssProtseq = rpcPort === 135 ? "ncacn_ip_tcp" : "ncacn_http";
    const registryTimeouts = checkById(MS03_039_KB824146SCAN)!.timeouts;
    const timeouts: RpcssTimeouts = { ...registryTimeouts, ...options.rpcTimeouts };
    const started = new Date().toISOString();
    const prober = new RpcssProber(
      { address: host.address, port: rpcPort + offset, protseq },
      options.scope,
      timeouts,
      options.signal,
    );
    const outcome = await runRpcssProcedure(prober, {
      aggressive: selection.ids.includes(MS03_039_GET_CLASS_OBJECT),
      skipMs03026: !selection.ids.includes(MS03_026_REMOTE_ACTIVATION),
    });
    const finished = new Date().toISOString();
    rpcss = {
      port: rpcPort,
      protseq,
      classification: outcome.classification,
      reason: outcome.reason,
    };
    const place = (
      checkId: string,
      advisory: string,
      verdict: Verdict,
      why: CheckReason,
    ): PlacedResult => ({
      checkId,
      advisories: [advisory],
      verdict,
      reason: why,
      evidence: prober.evidence as readonly EvidenceStep[],
      protocol: "tcp",
      port: rpcPort,
      classification: outcome.classification,
      startedAt: started,
      finishedAt: finished,
    });
    const decider =
      outcome.ms03039?.method === "get-class-object"
        ? MS03_039_GET_CLASS_OBJECT
        : MS03_039_KB824146SCAN;
    results.push(
      place(decider, "ms03-039", ms03039Verdict(outcome.classification), ms03039Reason(outcome)),
    );
    if (selection.ids.includes(MS03_026_REMOTE_ACTIVATION)) {
      results.push(
        place(
          MS03_026_REMOTE_ACTIVATION,
          "ms03-026",
          ms03026Verdict(outcome.classification),
          ms03026Reason(outcome),
        ),
      );
    }
  }

  if (selection.ids.includes(BLASTER_BACKDOOR) && host.openTcpPorts.includes(4444)) {
    const timeouts = checkById(BLASTER_BACKDOOR)!.timeouts;
    const started = new Date().toISOString();
    const result = await runBlasterCheck(
      host.address,
      4444 + offset,
      options.scope,
      timeouts,
      options.signal,
    );
    results.push({
      ...result,
      protocol: "tcp",
      port: 4444,
      classification: null,
      startedAt: started,
      finishedAt: new Date().toISOString(),
    });
  }
  return { address: host.address, rpcss, results };
}

/**
 * What each combined verdict (research §2.7) means per advisory: [MS03-039, MS03-026]. KB 824146
 * supersedes KB 823980, so a host patched for MS03-039 is patched for MS03-026 too.
 */
const ADVISORY_VERDICTS: Readonly<Record<RpcssClassification, readonly [Verdict, Verdict]>> = {
  VULNERABLE_MS03_026: ["VULNERABLE", "VULNERABLE"],
  VULNERABLE_MS03_039_ONLY: ["VULNERABLE", "NOT_VULNERABLE"],
  VULNERABLE_MS03_039_ONLY_OR_WORSE: ["VULNERABLE", "UNKNOWN"],
  PATCHED_MS03_039: ["NOT_VULNERABLE", "NOT_VULNERABLE"],
  DCOM_RESTRICTED: ["NOT_VULNERABLE", "NOT_VULNERABLE"],
  NOT_APPLICABLE_WIN9X: ["NOT_APPLICABLE", "NOT_APPLICABLE"],
  NOT_APPLICABLE_NON_WINDOWS: ["NOT_APPLICABLE", "NOT_APPLICABLE"],
  UNKNOWN: ["UNKNOWN", "UNKNOWN"],
};

export function ms03039Verdict(classification: RpcssClassification): Verdict {
  return ADVISORY_VERDICTS[classification][0];
}

export function ms03026Verdict(classification: RpcssClassification): Verdict {
  return ADVISORY_VERDICTS[classification][1];
}

function ms03039Reason(outcome: RpcssOutcome): CheckReason {
  return outcome.ms03039?.reason ?? outcome.reason;
}

function ms03026Reason(outcome: RpcssOutcome): CheckReason {
  if (outcome.ms03026 !== undefined) return outcome.ms03026.reason;
  if (outcome.classification === "PATCHED_MS03_039") {
    return {
      code: "superseded-by-824146",
      message: `${outcome.reason.message}; KB 824146 includes the MS03-026 fix (KB 823980), so Check A was not needed`,
    };
  }
  return outcome.reason;
}

/**
 * Checks many hosts, `concurrency` at a time, yielding each host's report as it completes. A host's
 * own checks run one after another (never two requests to one RPCSS at once, research §3.2).
 */
export async function* checkHosts(
  hosts: Iterable<HostTarget>,
  selection: CheckSelection,
  options: CheckRunOptions & { readonly concurrency?: number; readonly signal?: AbortSignal },
): AsyncGenerator<HostCheckReport> {
  const concurrency = Math.max(1, options.concurrency ?? 64);
  // Each host in flight listens on the signal (to close its exchange on Ctrl-C): more than
  // EventTarget's default of 10 is expected here, not a leak.
  if (options.signal !== undefined) setMaxListeners(concurrency * 2 + 16, options.signal);
  const iterator = hosts[Symbol.iterator]();
  const running = new Map<number, Promise<{ id: number; report: HostCheckReport }>>();
  let nextId = 0;
  const launch = (): boolean => {
    if (options.signal?.aborted === true) return false;
    const step = iterator.next();
    if (step.done === true) return false;
    const id = nextId++;
    running.set(
      id,
      checkHost(step.value, selection, options).then((report) => ({ id, report })),
    );
    return true;
  };
  while (running.size < concurrency && launch());
  while (running.size > 0) {
    const { id, report } = await Promise.race(running.values());
    running.delete(id);
    // A host cut short by Ctrl-C has a partial sequence: it is checked again on resume instead.
    if (options.signal?.aborted === true) continue;
    yield report;
    while (running.size < concurrency && launch());
  }
}
