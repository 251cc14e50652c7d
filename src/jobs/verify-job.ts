import { randomBytes } from "node:crypto";
import { parseCheckSelection, type RpcssTimeouts } from "../checks/index.js";
import { RingfenceError } from "../errors.js";
import type { FindingStateRow, ScanRecord, Store, WorkflowState } from "../store/index.js";
import {
  DEFAULT_PORTS,
  parseAddress,
  parseRangeExpression,
  rangesContain,
  type AddressRange,
} from "../targets/index.js";
import { evaluateFindings, type EvaluationOutcome } from "../workflow/index.js";
import { executeScan, type ScanJobHooks } from "./scan-job.js";

/** `ringfence verify`: rescan what is open, run the detecting checks, apply what follows. */
export interface VerifyRequest {
  /**
   * Only findings on these addresses/ranges, closed ones included (a rescan that finds a closed
   * flaw again reopens it); every open finding when empty.
   */
  readonly targets: readonly string[];
  /** A --checks value; default: the checks that detected the open findings. */
  readonly checks?: string;
  readonly scopeFile?: string;
  readonly useLab: boolean;
  readonly labName?: string;
  readonly labStateDir?: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly checkTimeouts?: Partial<RpcssTimeouts>;
  /** Who the transitions are recorded as. */
  readonly actor: string;
}

export interface VerifyResult {
  /** The rescan; null when nothing was open. */
  readonly scan: ScanRecord | null;
  /** The findings rescanned, in priority order (shielded and patched first). */
  readonly findings: readonly FindingStateRow[];
  readonly outcomes: readonly EvaluationOutcome[];
}

/** Not rescanned: done (closed) or deliberately left open (an unexpired risk acceptance). */
const SETTLED: readonly WorkflowState[] = ["closed", "risk-accepted"];

/** Shielded and patched first (issue 7): those are waiting for exactly this rescan. */
const PRIORITY: Readonly<Record<WorkflowState, number>> = {
  shielded: 0,
  patched: 0,
  verified: 1,
  quarantined: 2,
  reopened: 3,
  detected: 3,
  "risk-accepted": 4,
  closed: 5,
};

function targetRanges(targets: readonly string[]): AddressRange[] {
  return targets.map((text) => {
    const range = parseRangeExpression(text);
    if ("reason" in range)
      throw new RingfenceError("RINGFENCE_BAD_TARGET", `verify target ${text}: ${range.reason}`, {
        hint: "verify takes addresses, CIDR blocks and a-b ranges of findings already stored",
      });
    return range;
  });
}

export async function runVerify(
  store: Store,
  request: VerifyRequest,
  hooks: ScanJobHooks,
  signal: AbortSignal,
): Promise<VerifyResult> {
  const ranges = targetRanges(request.targets);
  const at = new Date().toISOString();
  const open = (await store.findingStates())
    .filter((row) => {
      if (!SETTLED.includes(row.state)) return true;
      // Named targets are rescanned whole: a closed finding there that is VULNERABLE again reopens.
      if (row.state === "closed") return ranges.length > 0;
      // An acceptance that ran out is open again (the evaluation moves it back first).
      return (
        row.state === "risk-accepted" &&
        row.acceptedUntil !== null &&
        Date.parse(row.acceptedUntil) <= Date.parse(at)
      );
    })
    .filter((row) => {
      if (ranges.length === 0) return true;
      const address = parseAddress(row.address);
      return address !== undefined && rangesContain(ranges, address);
    })
    .sort((a, b) => PRIORITY[a.state] - PRIORITY[b.state]);
  if (open.length === 0) return { scan: null, findings: [], outcomes: [] };

  const checks = parseCheckSelection(
    request.checks ?? [...new Set(open.map((row) => row.checkId))].join(","),
  );
  const tcp = new Set<number>(DEFAULT_PORTS.tcp);
  for (const row of open) if (row.protocol === "tcp") tcp.add(row.port);
  // Addresses in priority order; the scan's own probe order is its seeded permutation.
  const targets = [...new Set(open.map((row) => row.address))];
  const { scan } = await executeScan(
    store,
    {
      kind: "new",
      command: "verify",
      request: {
        targets,
        inputFiles: [],
        exclude: [],
        excludeFiles: [],
        ports: { tcp: [...tcp].sort((a, b) => a - b), udp: [...DEFAULT_PORTS.udp] },
        ...(request.scopeFile !== undefined ? { scopeFile: request.scopeFile } : {}),
        rate: 0,
        timeoutMs: request.timeoutMs,
        retries: request.retries,
        engine: "auto",
        seed: randomBytes(8).toString("hex"),
        useLab: request.useLab,
        ...(request.labName !== undefined ? { labName: request.labName } : {}),
        ...(request.labStateDir !== undefined ? { labStateDir: request.labStateDir } : {}),
        checks,
        ...(request.checkTimeouts !== undefined ? { checkTimeouts: request.checkTimeouts } : {}),
      },
    },
    hooks,
    signal,
  );
  if (signal.aborted) return { scan, findings: open, outcomes: [] };
  const outcomes = await evaluateFindings(store, {
    actor: request.actor,
    findingIds: open.map((row) => row.findingId),
  });
  return { scan, findings: open, outcomes };
}
