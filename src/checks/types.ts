/**
 * What every check is and returns. A check is a module with metadata (what it detects, how risky
 * it is to run, where it runs) and a verdict that always carries a specific reason and the evidence
 * it was drawn from, so that a user can see why, and a later scan can be compared step by step.
 */

/** nmap's vulns.lua states, narrowed to what a network check can honestly say. */
export type Verdict = "VULNERABLE" | "NOT_VULNERABLE" | "NOT_APPLICABLE" | "UNKNOWN";

/**
 * safe: cannot crash or change the target as far as public sources know (research §3).
 * intrusive: touches a code path with a known denial-of-service history; opt-in only.
 */
export type SafetyCategory = "safe" | "intrusive";

export interface CheckMetadata {
  readonly id: string;
  readonly title: string;
  /** Advisory ids of the catalog in advisories/*.yaml. */
  readonly advisories: readonly string[];
  readonly cves: readonly string[];
  readonly safety: SafetyCategory;
  /** String-binding protocol sequences or "tcp" for a plain stream. */
  readonly transports: readonly string[];
  /** The (nominal) TCP ports the check needs open; any one suffices. */
  readonly ports: readonly number[];
  readonly timeouts: {
    readonly connectMs: number;
    readonly readMs: number;
    readonly hostMs: number;
  };
  /** Checks whose results this one needs first (run automatically when it is selected). */
  readonly requires: readonly string[];
  /** Where the method comes from. */
  readonly source: string;
  /** Other names accepted on the command line (advisory-style short names). */
  readonly aliases?: readonly string[];
  /** True for a fact-gathering step with no verdict of its own (the SMB fingerprint). */
  readonly pseudo?: boolean;
}

/** One exchange a check made, in order: enough to replay its reasoning. */
export interface EvidenceStep {
  /** e.g. "bind IRemoteActivation", "req1 RemoteCreateInstance (KB824146Scan)". */
  readonly step: string;
  /** Fresh TCP connection number within this host's sequence (1-based). */
  readonly connection?: number;
  readonly outcome: string;
  /** Status / HRESULT values read, named where known: "CO_E_BAD_PATH (0x80080004)". */
  readonly status?: string;
  readonly stubLength?: number;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

export interface CheckReason {
  /** Stable machine code, e.g. "req1-req2-differ", "read-timeout". */
  readonly code: string;
  /** One plain sentence. */
  readonly message: string;
}

export interface CheckResult {
  readonly checkId: string;
  readonly advisories: readonly string[];
  readonly verdict: Verdict;
  readonly reason: CheckReason;
  readonly evidence: readonly EvidenceStep[];
}
