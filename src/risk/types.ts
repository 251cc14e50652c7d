/**
 * The risk engine's inputs and outputs (research §5.2, §5.4), as plain JSON-able data. Every
 * time is an ISO string; every array in an output is in a canonical order, so that the same
 * inputs give the same bytes whatever order they arrived in.
 */
import type {
  Automatable,
  ControlKind,
  Exploitation,
  RatingLevel,
  ServiceProtocol,
  TechnicalImpact,
  Zone,
} from "../advisories/index.js";
import type {
  Bod2604Timeline,
  CisaLevel,
  DsoiOutcome,
  HumanImpact,
  MissionImpact,
  MissionPrevalence,
  MissionWellBeingImpact,
  PublicWellBeingImpact,
  SafetyImpact,
  SystemExposure,
} from "./ssvc.js";

/** Where a fact came from (research §5.1: nvd, cve-cna, cisa-adp, kev, epss, scan, operator, site-file, derived:RULE). */
export interface Provenance {
  readonly source: string;
  /** When it was observed or declared, if known. */
  readonly observedAt?: string;
  /** A file and path, a change ticket, a URL. */
  readonly ref?: string;
}

/** A value with its provenance. */
export interface Attributed<T> {
  readonly value: T;
  readonly prov: Provenance;
}

// --- findings ---------------------------------------------------------------------------------

export const VERDICTS = ["vulnerable", "likely-vulnerable", "not-vulnerable", "unknown"] as const;
/** A check's verdict, after nmap's vulns.lua states (VULN, LIKELY_VULN, NOT_VULN, UNKNOWN). */
export type Verdict = (typeof VERDICTS)[number];

/**
 * One check's result on one asset service: the store's findings row (asset_id, protocol, port,
 * advisory, check_id, verdict, evidence_json, first_seen, last_seen, status) plus the address.
 * `port: 0` means the finding concerns the asset as a whole (policy rules, host-based checks).
 */
export interface Finding {
  /** Stable id; derived from asset, service, advisory and check when absent. */
  readonly id?: string;
  readonly assetId: string;
  readonly address: string;
  readonly protocol: ServiceProtocol;
  readonly port: number;
  /** Advisory id or alias (MS03-026 or ms03-026). */
  readonly advisory: string;
  readonly checkId: string;
  readonly verdict: Verdict;
  readonly evidence: Readonly<Record<string, unknown>>;
  /** When the check last produced this verdict. */
  readonly observedAt: string;
  /** When the finding was first seen; the clocks start here (or later, see clocks.ts). */
  readonly firstSeen?: string;
}

// --- assets -----------------------------------------------------------------------------------

export const ASSET_ROLES = [
  "server",
  "workstation",
  "laptop",
  "domain-controller",
  "appliance",
] as const;
export type AssetRole = (typeof ASSET_ROLES)[number];

/** How the zone was established, strongest first. */
export type ZoneEvidence = "external-scan" | "peer-scan" | "declared" | "inferred";

/** An open service as observed, and from which zone (the scanner's vantage point). */
export interface ReachableService {
  readonly proto: ServiceProtocol;
  readonly port: number;
  readonly from: Zone;
  readonly observedAt?: string;
}

export interface CompromiseIndicator {
  /** Indicator id (`blaster-backdoor-4444`, `msblast.exe`). */
  readonly id: string;
  readonly observedAt: string;
  readonly prov: Provenance;
}

/** Containment already in place (from the workflow), so the plan can add `reconnect`. */
export interface Containment {
  readonly kind: "disconnected-internet" | "quarantined";
  readonly since: string;
  readonly prov: Provenance;
}

export interface OsFacts {
  /** windows-nt, windows (clients), windows-server, ... */
  readonly family: string;
  /** "4.0", "2000", "xp", "2003", "10-1909", ... */
  readonly version: string;
  readonly servicePack?: string;
}

/** An asset with its context resolved (site file, inventory, operator overrides). */
export interface Asset {
  readonly id: string;
  readonly address: string;
  readonly hostnames: readonly string[];
  readonly os?: Attributed<OsFacts>;
  readonly role: Attributed<AssetRole>;
  readonly zone: Attributed<Zone>;
  readonly zoneEvidence: ZoneEvidence;
  readonly reachable: readonly ReachableService[];
  readonly tags: readonly Attributed<string>[];
  readonly missionImpact?: Attributed<MissionImpact>;
  readonly safetyImpact?: Attributed<SafetyImpact>;
  /** The operator may set Human Impact directly (research §3.5). */
  readonly humanImpact?: Attributed<HumanImpact>;
  readonly missionPrevalence?: Attributed<MissionPrevalence>;
  readonly publicWellBeing?: Attributed<PublicWellBeingImpact>;
  readonly compromiseIndicators: readonly CompromiseIndicator[];
  readonly containment: readonly Containment[];
}

// --- controls ---------------------------------------------------------------------------------

export type ControlMethod = "rescan-external" | "rescan-peer" | "config-audit" | "declared";

/** A protective measure (research §5.2). It counts only once verified and until it expires. */
export interface Control {
  readonly id: string;
  readonly kind: ControlKind;
  /** Which assets it protects: any that matches one of these. */
  readonly appliesTo: {
    readonly assets?: readonly string[];
    readonly zones?: readonly Zone[];
    /** Address ranges in target syntax (10.0.0.0/8, 10.1.2.3-10.1.2.9). */
    readonly ranges?: readonly string[];
  };
  /** Services it blocks or removes. */
  readonly covers: readonly { readonly proto: ServiceProtocol; readonly port: number }[];
  /** Advisories whose every service it neutralises (DCOM disabled mitigates ms03-026). */
  readonly mitigates?: readonly string[];
  readonly verifiedAt?: string;
  readonly method: ControlMethod;
  /** Explicit expiry; the policy's TTL after verifiedAt applies too, whichever is sooner. */
  readonly expiresAt?: string;
  readonly prov: Provenance;
}

// --- outputs ----------------------------------------------------------------------------------

/** One step of a derivation: which rule fired, on which inputs, with what result, and why. */
export interface Reason {
  /** r1, r2, ... in derivation order. */
  readonly id: string;
  /** Rule id: D-EXPL, D-EXPO, GR-VH, D-FLOOR, ... (research §5.3, §1.4). */
  readonly rule: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly output: unknown;
  readonly text: string;
}

export const ACTION_KINDS = [
  "quarantine",
  "disconnect-internet",
  "remove-exposure",
  "shield-perimeter",
  "shield-host",
  "mitigate-service",
  "verify-shield",
  "forensic-triage",
  "patch",
  "reconfigure",
  "verify-fix",
  "request-exception",
  "review-exception",
  "reconnect",
  "monitor",
] as const;
/** Action vocabulary of research §5.4, plus reconfigure (weaknesses) and the policy actions. */
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface Action {
  readonly seq: number;
  readonly kind: ActionKind;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly due?: string;
  /** Action kinds that must be verified before this one. */
  readonly gate: readonly ActionKind[];
  /** Reason ids. */
  readonly because: readonly string[];
}

export interface CvssResult {
  readonly vulnerability: string;
  readonly version: string;
  readonly vector: string;
  readonly kind: "primary" | "secondary" | "derived";
  readonly source: string;
  readonly official: boolean;
  readonly base: number;
  readonly overall: number;
  readonly severity: string;
  readonly publishedScore?: number;
}

/** What the engine concluded for one vulnerability of the advisory. */
export interface VulnerabilityResult {
  readonly id: string;
  readonly rating: RatingLevel;
  readonly ratingRule: string;
  readonly exploitation: Exploitation;
  readonly automatable: Automatable;
  /** CISA ADP's Automatable, shown next to ours when it differs (research §2.2). */
  readonly automatableCisaAdp?: Automatable;
  readonly technicalImpact: TechnicalImpact;
  readonly inKev: boolean;
  readonly epss?: {
    readonly score: number;
    readonly percentile: number;
    readonly scoreDate: string;
    readonly modelVersion: string;
  };
  readonly rawOutcome?: DsoiOutcome;
  readonly outcome?: DsoiOutcome;
  readonly coordinator?: CisaLevel;
  readonly bod2604?: Bod2604Timeline;
}

export interface ExposedService {
  readonly proto: ServiceProtocol;
  readonly port: number;
  readonly from: readonly Zone[];
  readonly exposure: SystemExposure;
  readonly publiclyExposed: boolean;
  readonly controls: readonly string[];
}

export interface Clocks {
  readonly protectBy?: string;
  readonly fixBy?: string;
  readonly verifyBy?: string;
  readonly forensicTriage?: {
    readonly scopeBy: string;
    readonly evidenceBy: string;
    readonly decisionBy: string;
  };
  /** Clocks already past at asOf. */
  readonly overdue: readonly ("protectBy" | "fixBy" | "verifyBy")[];
}

export interface PolicyResult {
  readonly rule: string;
  readonly ruleKind: string;
  readonly state: "violation" | "compliant" | "excepted" | "not-in-force";
  readonly revision?: { readonly date: string; readonly source: string; readonly pinned: boolean };
  readonly notBefore?: string;
  readonly exception?: {
    readonly id: string;
    readonly valid: boolean;
    readonly problems: readonly string[];
  };
}

export interface Assessment {
  readonly schema: "ringfence.assessment/1";
  readonly findingId: string;
  readonly asOf: string;
  readonly subject: {
    readonly assetId: string;
    readonly address: string;
    readonly protocol: ServiceProtocol;
    readonly port: number;
    readonly advisory: string;
    readonly advisoryKind: string;
    readonly checkId: string;
    readonly verdict: Verdict;
    readonly observedAt: string;
    readonly firstSeen: string;
  };
  readonly policy: {
    readonly id: string;
    readonly version: string;
    readonly sha256: string;
    readonly tables: Readonly<Record<string, string>>;
  };
  /** False when the verdict says the asset is not affected: no decision, no actions. */
  readonly applicable: boolean;
  readonly rating: {
    readonly level: RatingLevel;
    readonly rule: string;
    readonly vulnerability?: string;
    readonly method: string;
  };
  readonly exposure: {
    readonly level: SystemExposure;
    readonly publiclyExposed: boolean;
    readonly zone: Zone;
    readonly services: readonly ExposedService[];
  };
  readonly ssvc?: {
    readonly table: string;
    readonly exploitation: Exploitation;
    readonly exposure: SystemExposure;
    readonly automatable: Automatable;
    readonly technicalImpact: TechnicalImpact;
    readonly humanImpact: HumanImpact;
    readonly rawOutcome: DsoiOutcome;
    readonly outcome: DsoiOutcome;
    readonly vulnerability: string;
  };
  readonly views: {
    readonly cisaCoordinator?: {
      readonly table: string;
      readonly missionWellBeing: MissionWellBeingImpact;
      readonly level: CisaLevel;
    };
    readonly bod2604?: {
      readonly table: string;
      readonly inKev: boolean;
      readonly publiclyExposed: boolean;
      readonly timeline: Bod2604Timeline;
      readonly code: string;
    };
  };
  readonly vulnerabilities: readonly VulnerabilityResult[];
  readonly cvss: readonly CvssResult[];
  readonly policyResult?: PolicyResult;
  readonly clocks: Clocks;
  readonly actions: readonly Action[];
  readonly reasons: readonly Reason[];
  readonly assumptions: readonly string[];
}
