import {
  ILOCAL_OBJECT_EXPORTER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  PROVIDER_REASON,
} from "../../protocols/dcerpc/index.js";
import {
  HRESULT,
  NCA_STATUS,
  REMOTE_ACTIVATION_OPNUM,
  REMOTE_CREATE_INSTANCE_OPNUM,
  REMOTE_GET_CLASS_OBJECT_OPNUM,
  ACTIVATION_FAILURE_STUB_LENGTH,
  checkARemoteActivationStub,
  decodeActivationReply,
  decodeRemoteActivationReply,
  describeStatus,
  encodeRemoteGetClassObjectStub,
  kb824146ScanCreateInstanceStub,
  kb824146ScanEeyeStub,
  kb824146ScanUnboundContextStub,
  RINGFENCE_CID,
} from "../../protocols/dcom/index.js";
import type { CheckReason } from "../types.js";
import type { BindAnswer, CallSpec, Exchange, ProbeFailure, RpcssProber } from "./prober.js";

/**
 * The per-host RPCSS procedure of research §2.10 with the errata of §2.10a:
 *  1. Windows-family discriminators, binds only: IRemoteActivation first (Samba and other DCE
 *     hosts reject it), then ILocalObjectExporter v2.0 (only Windows 95/98/ME reject it).
 *  2. MS03-039: Microsoft's KB824146Scan request replica, TCP-only form (§2.6.4), one request per
 *     fresh connection; NT4 (no ISystemActivator, §2.10a) goes straight to the eEye pair.
 *  3. MS03-026: Check A (§2.4), only where step 2 says "lacks KB 824146" (every published MS03-026
 *     check is only run there; its meaning elsewhere is undefined, §0).
 *  4. Check B (§2.5), intrusive, only in aggressive mode and only when step 2 was indeterminate
 *     from the answers (never after a transport failure: the host may be down).
 * Deviations from the 2003 plugins, each toward UNKNOWN instead of a guess: faults, odd stub lengths
 * and transport failures are indeterminate (Tenable called them "not vulnerable"); the eEye pair is
 * only read from 68-byte replies (§2.10a: reading len−24 of a fault gave a false VULNERABLE).
 */

/** The combined verdicts of research §2.7. */
export type RpcssClassification =
  | "VULNERABLE_MS03_026"
  | "VULNERABLE_MS03_039_ONLY"
  | "VULNERABLE_MS03_039_ONLY_OR_WORSE"
  | "PATCHED_MS03_039"
  | "DCOM_RESTRICTED"
  | "NOT_APPLICABLE_WIN9X"
  | "NOT_APPLICABLE_NON_WINDOWS"
  | "UNKNOWN";

export type Ms03039Answer = "patched" | "vulnerable" | "dcom-restricted" | "not-applicable";

/** What each stage concluded; absent stages did not run. */
export interface RpcssOutcome {
  readonly classification: RpcssClassification;
  readonly reason: CheckReason;
  readonly windowsFamily?: {
    readonly verdict: "nt" | "win9x" | "non-windows" | "unknown";
    readonly reason: CheckReason;
  };
  readonly ms03039?: {
    readonly answer: Ms03039Answer | "unknown";
    readonly reason: CheckReason;
    readonly method: "kb824146scan" | "get-class-object";
  };
  readonly ms03026?: {
    readonly answer: "vulnerable" | "patched" | "dcom-restricted" | "unknown";
    readonly reason: CheckReason;
  };
}

export interface ProcedureOptions {
  /** Run Check B (intrusive) when KB824146Scan's answers are indeterminate. */
  readonly aggressive: boolean;
  /** Stop after MS03-039 (the ms03-039 check alone was selected). */
  readonly skipMs03026?: boolean;
  /**
   * The exchanges go over \pipe\epmapper (ncacn_np). Windows 95/98/ME cannot serve named pipes
   * (CreateNamedPipe is not supported there), so an RPCSS answering on a pipe is NT-family and the
   * ILocalObjectExporter discriminator is skipped: a pipe may carry only the interfaces
   * registered on it, and its refusal there would be misread as Windows 9x.
   */
  readonly overPipe?: boolean;
}

const reason = (code: string, message: string): CheckReason => ({ code, message });

function failureReason(step: string, f: ProbeFailure): CheckReason {
  return f.possiblyCrashed
    ? reason(
        "stopped-answering",
        `${step}: the host stopped answering (${f.failure.code}) after earlier probes; it may have crashed: keep it shielded and do not probe it again for at least 10 minutes`,
      )
    : reason(f.failure.code, `${step}: ${f.failure.message}`);
}

const isFailure = (x: unknown): x is ProbeFailure =>
  typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "failure";

/** Bind rejections that mean "busy", not "absent" (§2.10a): local limit, congestion. */
function resourceRefusal(bind: BindAnswer): boolean {
  if (bind.kind === "rejected") return bind.reasonCode === PROVIDER_REASON.localLimitExceeded;
  if (bind.kind === "nak") return bind.reasonCode === 1 || bind.reasonCode === 2;
  return false;
}

function absent(bind: BindAnswer): boolean {
  return bind.kind !== "accepted" && !resourceRefusal(bind);
}

export async function runRpcssProcedure(
  prober: RpcssProber,
  options: ProcedureOptions,
): Promise<RpcssOutcome> {
  // ---- 1. Windows-family discriminators (binds only) ----
  const family = await discriminate(prober, options.overPipe === true);
  if (family.verdict !== "nt") {
    const classification: RpcssClassification =
      family.verdict === "win9x"
        ? "NOT_APPLICABLE_WIN9X"
        : family.verdict === "non-windows"
          ? "NOT_APPLICABLE_NON_WINDOWS"
          : "UNKNOWN";
    return { classification, reason: family.reason, windowsFamily: family };
  }

  // ---- 2. MS03-039 ----
  let ms03039 = await kb824146Scan(prober);
  if (ms03039.answer === "unknown" && ms03039.fromAnswers && options.aggressive) {
    ms03039 = await checkB(prober);
  }
  const stage039 = { answer: ms03039.answer, reason: ms03039.reason, method: ms03039.method };
  const base = { windowsFamily: family, ms03039: stage039 };
  switch (ms03039.answer) {
    case "patched":
      return { ...base, classification: "PATCHED_MS03_039", reason: ms03039.reason };
    case "dcom-restricted":
      return { ...base, classification: "DCOM_RESTRICTED", reason: ms03039.reason };
    case "not-applicable":
      return { ...base, classification: "NOT_APPLICABLE_NON_WINDOWS", reason: ms03039.reason };
    case "unknown":
      return { ...base, classification: "UNKNOWN", reason: ms03039.reason };
    case "vulnerable":
      break;
  }
  if (options.skipMs03026 === true) {
    return {
      ...base,
      classification: "VULNERABLE_MS03_039_ONLY_OR_WORSE",
      reason: reason(
        "ms03-026-not-run",
        `${ms03039.reason.message}; the MS03-026 probe was not selected, so KB 823980 is not known`,
      ),
    };
  }

  // ---- 3. MS03-026 (Check A), only on hosts lacking KB 824146 ----
  const a = await checkA(prober);
  const withA = { ...base, ms03026: a };
  switch (a.answer) {
    case "vulnerable":
      return {
        ...withA,
        classification: "VULNERABLE_MS03_026",
        reason: reason(
          "blaster-exploitable",
          `lacks KB 824146 (${ms03039.reason.message}) and KB 823980 (${a.reason.message})`,
        ),
      };
    case "patched":
    case "dcom-restricted":
      return {
        ...withA,
        classification: "VULNERABLE_MS03_039_ONLY",
        reason: reason(
          "has-823980-lacks-824146",
          `lacks KB 824146 (${ms03039.reason.message}); ${a.reason.message}`,
        ),
      };
    case "unknown":
      return {
        ...withA,
        classification: "VULNERABLE_MS03_039_ONLY_OR_WORSE",
        reason: reason(
          "ms03-026-indeterminate",
          `lacks KB 824146 (${ms03039.reason.message}); MS03-026 indeterminate: ${a.reason.message}; shield as vulnerable`,
        ),
      };
  }
}

async function discriminate(
  prober: RpcssProber,
  overPipe: boolean,
): Promise<NonNullable<RpcssOutcome["windowsFamily"]>> {
  const remact = await prober.bindOnly("bind IRemoteActivation v0.0", IREMOTE_ACTIVATION);
  if (isFailure(remact)) {
    return { verdict: "unknown", reason: failureReason("bind IRemoteActivation", remact) };
  }
  if (resourceRefusal(remact)) {
    return {
      verdict: "unknown",
      reason: reason("bind-refused-busy", "IRemoteActivation bind refused for lack of resources"),
    };
  }
  if (absent(remact)) {
    return {
      verdict: "non-windows",
      reason: reason(
        "no-remote-activation",
        "the RPC server does not offer IRemoteActivation (4d9f4ab8 v0.0): no DCOM activation, not an NT-family RPCSS",
      ),
    };
  }
  if (overPipe) {
    return {
      verdict: "nt",
      reason: reason(
        "nt-rpcss-pipe",
        "IRemoteActivation offered over \\pipe\\epmapper: an NT-family RPCSS (Windows 95/98/ME serve no named pipes)",
      ),
    };
  }
  const exporter = await prober.bindOnly("bind ILocalObjectExporter v2.0", ILOCAL_OBJECT_EXPORTER);
  if (isFailure(exporter)) {
    return { verdict: "unknown", reason: failureReason("bind ILocalObjectExporter", exporter) };
  }
  if (resourceRefusal(exporter)) {
    return {
      verdict: "unknown",
      reason: reason(
        "bind-refused-busy",
        "ILocalObjectExporter bind refused for lack of resources",
      ),
    };
  }
  if (
    exporter.kind === "rejected" &&
    exporter.reasonCode === PROVIDER_REASON.abstractSyntaxNotSupported
  ) {
    return {
      verdict: "win9x",
      reason: reason(
        "win9x-exporter-rejected",
        "ILocalObjectExporter v2.0 rejected (provider_rejection, abstract_syntax_not_supported) while IRemoteActivation is offered: Windows 95/98/ME, not affected",
      ),
    };
  }
  if (exporter.kind !== "accepted") {
    return {
      verdict: "unknown",
      reason: reason("exporter-bind-odd", `ILocalObjectExporter v2.0: ${JSON.stringify(exporter)}`),
    };
  }
  return {
    verdict: "nt",
    reason: reason(
      "nt-rpcss",
      "IRemoteActivation and ILocalObjectExporter v2.0 offered: NT-family RPCSS",
    ),
  };
}

interface Ms03039Result {
  readonly answer: Ms03039Answer | "unknown";
  readonly reason: CheckReason;
  readonly method: "kb824146scan" | "get-class-object";
  /** Unknown because of what the host answered (Check B may help), not a transport failure. */
  readonly fromAnswers: boolean;
}

/** A RemoteCreateInstance answer as KB824146Scan's check() reads it: last dword, 0 for a fault. */
type CreateInstanceValue =
  | { readonly kind: "value"; readonly value: number; readonly fault: boolean }
  | { readonly kind: "absent" }
  | { readonly kind: "indeterminate"; readonly why: string }
  | { readonly kind: "failure"; readonly failure: ProbeFailure };

function createInstanceValue(
  prober: RpcssProber,
  result: Exchange | ProbeFailure,
): CreateInstanceValue {
  if (isFailure(result)) return { kind: "failure", failure: result };
  if (result.call === undefined) {
    if (absent(result.bind)) return { kind: "absent" };
    return { kind: "indeterminate", why: "ISystemActivator bind refused for lack of resources" };
  }
  if (result.call.kind === "fault") {
    // check() reads the last dword of the PDU; for a fault that is the reserved field, 0 (§2.6.2).
    prober.annotateLast(`${describeStatus(result.call.status)} → read as 0`);
    return { kind: "value", value: 0, fault: true };
  }
  const reply = decodeActivationReply(result.call.stub);
  if (reply.lastDword === null) {
    return { kind: "indeterminate", why: `a ${reply.stubLength}-byte RemoteCreateInstance reply` };
  }
  prober.annotateLast(describeStatus(reply.lastDword));
  return { kind: "value", value: reply.lastDword, fault: false };
}

async function kb824146Scan(prober: RpcssProber): Promise<Ms03039Result> {
  const result = (
    answer: Ms03039Answer | "unknown",
    why: CheckReason,
    fromAnswers = false,
  ): Ms03039Result => ({
    answer,
    reason: why,
    method: "kb824146scan",
    fromAnswers,
  });
  const createInstance = (variant: "req1" | "req2"): CallSpec => ({
    opnum: REMOTE_CREATE_INSTANCE_OPNUM,
    stub: kb824146ScanCreateInstanceStub(variant),
  });
  const r1 = createInstanceValue(
    prober,
    await prober.exchange(
      "req1 RemoteCreateInstance (KB824146Scan)",
      ISYSTEM_ACTIVATOR,
      createInstance("req1"),
    ),
  );
  if (r1.kind === "failure") return result("unknown", failureReason("req1", r1.failure));
  if (r1.kind === "indeterminate")
    return result("unknown", reason("req1-indeterminate", r1.why), true);

  if (r1.kind === "value") {
    const r2 = createInstanceValue(
      prober,
      await prober.exchange(
        "req2 RemoteCreateInstance, unknown property CLSIDs",
        ISYSTEM_ACTIVATOR,
        createInstance("req2"),
      ),
    );
    if (r2.kind === "failure") return result("unknown", failureReason("req2", r2.failure));
    if (r2.kind !== "value") {
      return result(
        "unknown",
        reason(
          "req2-indeterminate",
          r2.kind === "absent" ? "ISystemActivator vanished between requests" : r2.why,
        ),
        true,
      );
    }
    const r4 = await prober.exchange(
      "req4 RemoteActivation on unbound context 1",
      ISYSTEM_ACTIVATOR,
      {
        opnum: REMOTE_ACTIVATION_OPNUM,
        stub: kb824146ScanUnboundContextStub(),
        contextId: 1,
      },
    );
    if (isFailure(r4)) return result("unknown", failureReason("req4", r4));
    const e1 = r1.value;
    const e2 = r2.value;
    const e4 = r4.call?.kind === "fault" ? r4.call.status : null;
    if (e1 === 0 && e2 === 0 && e4 === NCA_STATUS.unknownInterface) {
      // Rev 1.38 and §2.10a: XP SP2-era hosts fault both activations (access denied, not
      // executed) and answer an unbound context with nca_s_unk_if.
      return result(
        "patched",
        reason(
          "unk-if-after-denied",
          "req1 and req2 refused and req4 answered nca_s_unk_if: XP SP2 / 2003 SP1 RPCSS (includes KB 824146)",
        ),
      );
    }
    if (e1 === 0 && e2 === 0 && e4 === NCA_STATUS.invalidPresContextId) {
      // Rev 1.23's "HP-UX dced" branch: a DCE runtime that faults every activation.
      return result(
        "not-applicable",
        reason(
          "dce-faults",
          "req1 and req2 faulted and req4 answered nca_s_invalid_pres_context_id: a non-Windows DCE runtime (rev 1.23's HP-UX dced case)",
        ),
      );
    }
    if (e1 !== e2) {
      return result(
        "patched",
        reason(
          "req1-req2-differ",
          `req1 answered ${describeStatus(e1)} and req2 ${describeStatus(e2)}: RPCSS validates the activation property list (KB 824146)`,
        ),
      );
    }
    if (e1 === HRESULT.E_ACCESSDENIED) {
      return result(
        "dcom-restricted",
        reason(
          "activation-denied",
          "req1 and req2 both answered E_ACCESSDENIED: remote activation is denied (DCOM disabled or restricted)",
        ),
      );
    }
    if (e1 !== 0) {
      return result(
        "vulnerable",
        reason(
          "req1-req2-same",
          `req1 and req2 both answered ${describeStatus(e1)}: the property list is not validated (lacks KB 824146)`,
        ),
      );
    }
    // e1 == e2 == 0 and req4 inconclusive: fall through to the eEye pair, as rev 1.23 does.
  }

  // ---- the eEye pair (req6/req7) on IRemoteActivation: NT4, or both activations read as 0 ----
  const phr = async (label: string, which: "req6" | "req7") => {
    const exchange = await prober.exchange(label, IREMOTE_ACTIVATION, {
      opnum: REMOTE_ACTIVATION_OPNUM,
      stub: kb824146ScanEeyeStub(which),
    });
    return remoteActivationPhr(prober, exchange);
  };
  const e6 = await phr("req6 RemoteActivation (eEye, KB824146Scan fallback)", "req6");
  if (e6.kind === "failure") return result("unknown", failureReason("req6", e6.failure));
  if (e6.kind !== "phr") return result("unknown", reason("req6-indeterminate", e6.why), true);
  const e7 = await phr("req7 RemoteActivation (eEye, KB824146Scan fallback)", "req7");
  if (e7.kind === "failure") return result("unknown", failureReason("req7", e7.failure));
  if (e7.kind !== "phr") return result("unknown", reason("req7-indeterminate", e7.why), true);
  const via = r1.kind === "absent" ? "ISystemActivator absent (NT4); " : "";
  if (e6.phr === HRESULT.REGDB_E_CLASSNOTREG && e7.phr === HRESULT.CO_E_BAD_PATH) {
    return result(
      "patched",
      reason(
        "eeye-pair-patched",
        `${via}req6 answered REGDB_E_CLASSNOTREG and req7 CO_E_BAD_PATH: KB 824146 present`,
      ),
    );
  }
  if (e6.phr === HRESULT.E_ACCESSDENIED && e7.phr === HRESULT.E_ACCESSDENIED) {
    return result(
      "dcom-restricted",
      reason(
        "activation-denied",
        `${via}req6 and req7 answered E_ACCESSDENIED: remote activation is denied`,
      ),
    );
  }
  return result(
    "vulnerable",
    reason(
      "eeye-pair-unpatched",
      `${via}req6 answered ${describeStatus(e6.phr)} and req7 ${describeStatus(e7.phr)}: lacks KB 824146`,
    ),
  );
}

type PhrValue =
  | { readonly kind: "phr"; readonly phr: number }
  | { readonly kind: "indeterminate"; readonly why: string }
  | { readonly kind: "failure"; readonly failure: ProbeFailure };

/** RemoteActivation's phr from a 68-byte failed-activation reply (research §2.4.2), else why not. */
function remoteActivationPhr(prober: RpcssProber, exchange: Exchange | ProbeFailure): PhrValue {
  if (isFailure(exchange)) return { kind: "failure", failure: exchange };
  if (exchange.call === undefined) {
    return { kind: "indeterminate", why: "IRemoteActivation bind refused on a later connection" };
  }
  if (exchange.call.kind === "fault") {
    return {
      kind: "indeterminate",
      why: `the RemoteActivation call faulted with ${describeStatus(exchange.call.status)}${exchange.call.didNotExecute ? " (not executed)" : ""}`,
    };
  }
  const reply = decodeRemoteActivationReply(exchange.call.stub);
  if (reply.phr === null) {
    return {
      kind: "indeterminate",
      why: `a ${reply.stubLength}-byte RemoteActivation reply (expected 68)`,
    };
  }
  prober.annotateLast(`phr ${describeStatus(reply.phr)}`);
  return { kind: "phr", phr: reply.phr };
}

async function checkA(prober: RpcssProber): Promise<NonNullable<RpcssOutcome["ms03026"]>> {
  const exchange = await prober.exchange(
    "Check A: RemoteActivation with a malformed UNC server name",
    IREMOTE_ACTIVATION,
    {
      opnum: REMOTE_ACTIVATION_OPNUM,
      stub: checkARemoteActivationStub(),
    },
  );
  const value = remoteActivationPhr(prober, exchange);
  if (value.kind === "failure")
    return { answer: "unknown", reason: failureReason("Check A", value.failure) };
  if (value.kind === "indeterminate")
    return { answer: "unknown", reason: reason("check-a-indeterminate", value.why) };
  if (value.phr === HRESULT.CO_E_BAD_PATH) {
    return {
      answer: "patched",
      reason: reason(
        "bad-path",
        "the malformed path was rejected with CO_E_BAD_PATH: KB 823980 present",
      ),
    };
  }
  if (value.phr === HRESULT.E_ACCESSDENIED) {
    return {
      answer: "dcom-restricted",
      reason: reason(
        "activation-denied",
        "RemoteActivation answered E_ACCESSDENIED: not exploitable anonymously over DCOM",
      ),
    };
  }
  return {
    answer: "vulnerable",
    reason: reason(
      "path-accepted",
      `the malformed path was not rejected (phr ${describeStatus(value.phr)}): lacks KB 823980`,
    ),
  };
}

async function checkB(prober: RpcssProber): Promise<Ms03039Result> {
  const result = (answer: Ms03039Answer | "unknown", why: CheckReason): Ms03039Result => ({
    answer,
    reason: why,
    method: "get-class-object",
    fromAnswers: false,
  });
  const exchange = await prober.exchange(
    "Check B: RemoteGetClassObject with a junk OBJREF (intrusive)",
    ISYSTEM_ACTIVATOR,
    {
      opnum: REMOTE_GET_CLASS_OBJECT_OPNUM,
      stub: encodeRemoteGetClassObjectStub(RINGFENCE_CID),
    },
  );
  if (isFailure(exchange)) return result("unknown", failureReason("Check B", exchange));
  if (exchange.call?.kind !== "response") {
    return result(
      "unknown",
      reason(
        "check-b-indeterminate",
        exchange.call === undefined
          ? "ISystemActivator not bound"
          : `RemoteGetClassObject faulted with ${describeStatus(exchange.call.status)}`,
      ),
    );
  }
  const reply = decodeActivationReply(exchange.call.stub);
  if (reply.stubLength !== ACTIVATION_FAILURE_STUB_LENGTH || reply.lastDword === null) {
    return result(
      "unknown",
      reason(
        "check-b-indeterminate",
        `a ${reply.stubLength}-byte RemoteGetClassObject reply (expected 16)`,
      ),
    );
  }
  prober.annotateLast(describeStatus(reply.lastDword));
  const patchedCodes: readonly number[] = [
    HRESULT.RPC_E_INVALID_OBJREF,
    HRESULT.E_INVALIDARG,
    HRESULT.E_ACCESSDENIED,
  ];
  return patchedCodes.includes(reply.lastDword)
    ? result(
        "patched",
        reason(
          "objref-rejected",
          `the junk OBJREF was rejected with ${describeStatus(reply.lastDword)}: KB 824146 present`,
        ),
      )
    : result(
        "vulnerable",
        reason(
          "objref-not-rejected",
          `the junk OBJREF answered ${describeStatus(reply.lastDword)}: lacks KB 824146`,
        ),
      );
}
