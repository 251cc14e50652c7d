import { setMaxListeners } from "node:events";
import type { Scope } from "../scope/index.js";
import type { SmbFingerprint, SmbTimeouts } from "../smb/fingerprint.js";
import { calledNamesFrom, queryNbstat, type NbstatInfo } from "../smb/nbstat-query.js";
import { isSmbFailure } from "../smb/smb-failure.js";
import { runBlasterCheck } from "./blaster/backdoor-banner.js";
import {
  BLASTER_BACKDOOR,
  MS03_026_REMOTE_ACTIVATION,
  MS03_039_GET_CLASS_OBJECT,
  MS03_039_KB824146SCAN,
  SMB_CHECKS,
  SMB_FINGERPRINT,
  checkById,
  type CheckSelection,
} from "./registry.js";
import { RpcssProber, type RpcssProtseq, type RpcssTimeouts } from "./rpcss/prober.js";
import {
  runRpcssProcedure,
  type RpcssClassification,
  type RpcssOutcome,
} from "./rpcss/procedure.js";
import { runSmbChecks } from "./smb/smb-checks.js";
import type { CheckReason, CheckResult, EvidenceStep, Verdict } from "./types.js";

/** One host as the checks see it: which nominal TCP ports a scan found open. */
export interface HostTarget {
  readonly address: string;
  readonly openTcpPorts: readonly number[];
  /** The scan's NBSTAT answer (udp/137 detail), for the SMB fingerprint and TCP 139 names. */
  readonly nbstat?: NbstatInfo | null;
  /**
   * Nominal TCP ports the scan found closed (a reset: nothing listens). RPC over the SMB pipe is
   * only tried when 135 and 593 are not closed, i.e. filtered or not scanned (research §2.3 [R]).
   */
  readonly closedTcpPorts?: readonly number[];
}

export interface CheckRunOptions {
  readonly scope: Scope;
  /** Added to nominal ports on the wire (a lab in bind mode). */
  readonly portOffset?: number;
  /** Override the registry's RPC timeouts (tests shorten them for hostile hosts). */
  readonly rpcTimeouts?: Partial<RpcssTimeouts>;
  /** Override the registry's SMB timeouts (connect, per answer, per host). */
  readonly smbTimeouts?: Partial<SmbTimeouts>;
  /** Ask UDP 137 for NBSTAT names when a host comes without them (`ringfence check`). */
  readonly queryNbstat?: boolean;
  /** Ctrl-C: hosts in progress stop at once; their partial results are not reported. */
  readonly signal?: AbortSignal;
}

/** A check's result placed on the host's port, with the combined verdict where there is one. */
export interface PlacedResult extends CheckResult {
  readonly protocol: "tcp";
  readonly port: number;
  /** The RPCSS combined verdict, or a check's own (POTENTIALLY_VULNERABLE_SMBGHOST). */
  readonly classification: RpcssClassification | (string & {}) | null;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface HostCheckReport {
  readonly address: string;
  /**
   * The RPCSS sequence's outcome, if it ran (135 or 593 open and an RPC check selected; or, with
   * both filtered, over \\pipe\\epmapper on 445 or 139, research §2.3 [R]).
   */
  readonly rpcss: {
    readonly port: number;
    readonly protseq: RpcssProtseq;
    readonly classification: RpcssClassification;
    readonly reason: CheckReason;
  } | null;
  readonly results: readonly PlacedResult[];
  /** The SMB fingerprint, if it ran (139 or 445 open and an SMB check selected). */
  readonly smb: SmbFingerprint | null;
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
  // Research §2.3 [R]: TCP 135 first, 593 (RPC over HTTP v1) second, and the SMB pipe
  // \pipe\epmapper only when both are filtered (not closed: a reset means no RPCSS listens,
  // e.g. Samba) but 445 (or 139) is open.
  const pipeAllowed = ![135, 593].some((p) => host.closedTcpPorts?.includes(p) === true);
  const rpcPort =
    [135, 593].find((p) => host.openTcpPorts.includes(p)) ??
    (pipeAllowed ? [445, 139].find((p) => host.openTcpPorts.includes(p)) : undefined);
  if (wantsRpc && rpcPort !== undefined) {
    const protseq: RpcssProtseq =
      rpcPort === 135 ? "ncacn_ip_tcp" : rpcPort === 593 ? "ncacn_http" : "ncacn_np";
    const registryTimeouts = checkById(MS03_039_KB824146SCAN)!.timeouts;
    const timeouts: RpcssTimeouts = { ...registryTimeouts, ...options.rpcTimeouts };
    const started = new Date().toISOString();
    // TCP 139 may need the host's own NetBIOS name (NT 4.0, 9x refuse *SMBSERVER): from the
    // scan's NBSTAT, or one query when there was no scan.
    let nbstat = host.nbstat ?? null;
    if (rpcPort === 139 && nbstat === null && options.queryNbstat === true) {
      const answer = await queryNbstat(host.address, {
        scope: options.scope,
        port: 137 + offset,
        timeoutMs: Math.min(timeouts.readMs, 2000),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      if (!isSmbFailure(answer)) nbstat = answer;
    }
    const prober = new RpcssProber(
      {
        address: host.address,
        port: rpcPort + offset,
        protseq,
        ...(rpcPort === 139
          ? { smbTransport: "netbios" as const, calledNames: calledNamesFrom(nbstat) }
          : {}),
      },
      options.scope,
      timeouts,
      options.signal,
    );
    const outcome = await runRpcssProcedure(prober, {
      aggressive: selection.ids.includes(MS03_039_GET_CLASS_OBJECT),
      skipMs03026: !selection.ids.includes(MS03_026_REMOTE_ACTIVATION),
      overPipe: protseq === "ncacn_np",
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

  // The SMB fingerprint and checks: one sequence per host, after the RPC one (never both at once).
  let smb: SmbFingerprint | null = null;
  const smbSelected = selection.ids.filter((id) => SMB_CHECKS.includes(id));
  const smbPort = [445, 139].find((p) => host.openTcpPorts.includes(p));
  if (smbSelected.length > 0 && smbPort !== undefined && options.signal?.aborted !== true) {
    const registryTimeouts = checkById(SMB_FINGERPRINT)!.timeouts;
    const run = await runSmbChecks(host, smbSelected, {
      scope: options.scope,
      portOffset: offset,
      timeouts: { ...registryTimeouts, ...options.smbTimeouts },
      nbstat: host.nbstat ?? (options.queryNbstat === true ? "query" : null),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    smb = run.fingerprint;
    for (const result of run.results) {
      results.push({ ...result, protocol: "tcp", port: run.fingerprint.port ?? smbPort });
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
  return { address: host.address, rpcss, results, smb };
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
