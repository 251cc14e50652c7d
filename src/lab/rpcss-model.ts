import {
  EPMAPPER,
  EPT_LOOKUP_OPNUM,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  MGMT,
  sameSyntax,
  type SyntaxId,
} from "../protocols/dcerpc/index.js";
import {
  HRESULT,
  KNOWN_ACTIVATION_PROPERTY_CLSIDS,
  NCA_STATUS,
  OBJREF_SIGNATURE,
  REMOTE_ACTIVATION_OPNUM,
  REMOTE_CREATE_INSTANCE_OPNUM,
  REMOTE_GET_CLASS_OBJECT_OPNUM,
  parseObjectName,
} from "../protocols/dcom/index.js";
import type { Persona, RpcssProfile } from "./personas.js";

/**
 * The lab's stand-in for RPCSS's DCOM activation service, per persona and patch state, as pure
 * functions (no sockets, no state): which interfaces a bind may name, and what an activation
 * request gets back.
 *
 * This is NOT a reconstruction of Windows' code. It is built so that the published decision
 * tables hold on the lab's personas:
 *  - Check A, RemoteActivation with an embedded-NUL UNC path (research §2.4.3): unpatched →
 *    any phr but CO_E_BAD_PATH / E_ACCESSDENIED (we answer REGDB_E_CLASSNOTREG, the code research
 *    §2.4.3 expects for a bogus CLSID), KB823980 → CO_E_BAD_PATH;
 *  - Check B, RemoteGetClassObject with a junk OBJREF (§2.5): KB824146 → RPC_E_INVALID_OBJREF,
 *    otherwise some other code (E_FAIL);
 *  - Check B′, Microsoft's KB824146Scan pair (§2.6.3/§2.6.4): req1 and req2 (known vs unknown
 *    property CLSIDs) answer differently only with KB824146; the eEye fallback pair req6/req7
 *    reads 0x80040154 / 0x80080004 only with KB824146; req4 on an unbound context reads
 *    nca_s_invalid_pres_context_id, or nca_s_unk_if on XP SP2 / 2003 SP1 (§2.10a);
 *  - hardened hosts (XP SP2 / 2003 SP1) fault every anonymous activation with access denied and
 *    PFC_DID_NOT_EXECUTE (§2.10a, a capture of a real XP SP2-era host);
 *  - DCOM disabled (EnableDCOM=N) answers every activation with E_ACCESSDENIED (§2.4.3, §2.8:
 *    "DCOM disabled" in the 2003 plugins).
 * Which HRESULT a real vulnerable host returns for Check A is an open question of the research
 * (§2.4.3, §10); the lab's answer is a choice consistent with the tables, and the personas'
 * expected verdicts (personas.ts) are written against the tables, not against this module.
 */

/** Where a persona stands on the two bulletins (research §1.1: 824146 supersedes 823980). */
export type RpcssFix = "none" | "kb823980" | "kb824146";

export function fixOf(patches: Persona["patches"]): RpcssFix {
  if (patches.ms03_039 === "patched") return "kb824146";
  if (patches.ms03_026 === "patched") return "kb823980";
  return "none";
}

/** The RPC runtimes the lab emulates call by call (hostile peers have their own handler). */
export type EmulatedRpcss = Extract<RpcssProfile, { kind: "windows" | "win9x" | "dce" }>;

/** The interfaces a bind (or alter_context) is accepted for (C706 §12.6.4.1-4 provider result). */
export function servedInterfaces(profile: EmulatedRpcss): readonly SyntaxId[] {
  switch (profile.kind) {
    case "windows":
      // IRemoteSCMActivator exists from COM 5.6 / Windows 2000 on (MS-DCOM §3.1.2.5.2.3); NT4's
      // RPCSS rejects the bind (research §2.10a, second bullet).
      return profile.generation === "nt4" ? NT4_INTERFACES : NT5_INTERFACES;
    case "win9x":
      // DCOM98 has no ILocalObjectExporter v2.0 and no SCM activator: the 2003 checks' Win9x
      // discriminator is exactly that rejected v2.0 bind (research §2.4.4 step 1, §2.10a).
      return WIN9X_INTERFACES;
    case "dce":
      // dced: the endpoint mapper and DCE remote management (C706 Appendix Q); no DCOM.
      return DCE_INTERFACES;
  }
}

const NT5_INTERFACES: readonly SyntaxId[] = Object.freeze([
  EPMAPPER,
  IREMOTE_ACTIVATION,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  ISYSTEM_ACTIVATOR,
]);
const NT4_INTERFACES: readonly SyntaxId[] = Object.freeze(
  NT5_INTERFACES.filter((s) => s !== ISYSTEM_ACTIVATOR),
);
const WIN9X_INTERFACES: readonly SyntaxId[] = Object.freeze([
  EPMAPPER,
  IREMOTE_ACTIVATION,
  IOXID_RESOLVER,
]);
const DCE_INTERFACES: readonly SyntaxId[] = Object.freeze([EPMAPPER, MGMT]);

/** The served interface a bind's abstract syntax selects: same UUID and major, minor ≤ ours. */
export function findServedInterface(profile: EmulatedRpcss, offered: SyntaxId): SyntaxId | null {
  const uuid = offered.uuid.toLowerCase();
  return (
    servedInterfaces(profile).find(
      (s) => s.uuid === uuid && s.major === offered.major && offered.minor <= s.minor,
    ) ?? null
  );
}

/**
 * The fault status of a request on a presentation context that was never bound (KB824146Scan's
 * req4, research §2.6.1, §2.6.4): nca_s_invalid_pres_context_id from a 2003-era runtime and HP-UX
 * dced; nca_s_unk_if from the hardened XP SP2 / 2003 SP1 runtime (research §2.10a, third bullet).
 */
export function unboundContextFault(profile: EmulatedRpcss): number {
  return profile.kind === "windows" && profile.hardened
    ? NCA_STATUS.unknownInterface
    : NCA_STATUS.invalidPresContextId;
}

/** The three activation calls the checks make (research §2.2 opnums). */
export type ActivationOp = "RemoteActivation" | "RemoteGetClassObject" | "RemoteCreateInstance";

/** What a request on a bound interface is: an ept_lookup, an activation call, or unemulated. */
export function classifyRequest(
  iface: SyntaxId,
  opnum: number,
): "ept_lookup" | ActivationOp | null {
  if (sameSyntax(iface, EPMAPPER) && opnum === EPT_LOOKUP_OPNUM) return "ept_lookup";
  if (sameSyntax(iface, IREMOTE_ACTIVATION) && opnum === REMOTE_ACTIVATION_OPNUM) {
    return "RemoteActivation";
  }
  if (sameSyntax(iface, ISYSTEM_ACTIVATOR)) {
    if (opnum === REMOTE_GET_CLASS_OBJECT_OPNUM) return "RemoteGetClassObject";
    if (opnum === REMOTE_CREATE_INSTANCE_OPNUM) return "RemoteCreateInstance";
  }
  return null;
}

/** The decoded [in] parameters the model looks at; "undecodable" when the stub does not parse. */
export type ActivationRequest =
  | { readonly op: "RemoteActivation"; readonly objectName: string | null }
  | { readonly op: "RemoteGetClassObject"; readonly objrefSignature: number | null }
  | { readonly op: "RemoteCreateInstance"; readonly propertyClsids: readonly string[] };

export type ActivationOutcome =
  /** A fault PDU with PFC_DID_NOT_EXECUTE (the manager routine never ran). */
  | { readonly kind: "fault"; readonly status: number }
  /** RemoteActivation's 68-byte failed-activation [out] stub carrying phr (research §2.4.2). */
  | { readonly kind: "remote-activation-reply"; readonly phr: number }
  /** RemoteCreateInstance / RemoteGetClassObject's 16-byte [out] stub (research §2.5). */
  | { readonly kind: "activation-reply"; readonly hresult: number };

/**
 * What an activation request gets back from the persona's RPCSS. `request` is null when the stub
 * did not unmarshal.
 */
export function activationOutcome(
  profile: EmulatedRpcss,
  fix: RpcssFix,
  op: ActivationOp,
  request: ActivationRequest | null,
): ActivationOutcome {
  if (profile.kind === "dce") {
    // Unreachable through the handler (dced rejects the DCOM binds); an unknown operation.
    return { kind: "fault", status: NCA_STATUS.opRangeError };
  }
  if (profile.kind === "windows" && profile.hardened) {
    // RestrictRemoteClients refuses the unauthenticated call in the runtime, before the stub is
    // unmarshalled (research §2.10a: access denied with PFC_DID_NOT_EXECUTE).
    return { kind: "fault", status: NCA_STATUS.accessDenied };
  }
  // The stub is unmarshalled before the manager routine runs (C706 §12.6.4.9 / MS-RPCE
  // §3.3.3.4.1.2): a stub that does not parse never reaches the activation code.
  if (request === null || request.op !== op) {
    return { kind: "fault", status: NCA_STATUS.badStubData };
  }
  const reply = (hresult: number): ActivationOutcome =>
    op === "RemoteActivation"
      ? { kind: "remote-activation-reply", phr: hresult }
      : { kind: "activation-reply", hresult };

  // Windows 9x can only connect to running objects, never activate for a remote client [I]; the
  // checks stop at the ILocalObjectExporter bind before asking (research §2.4.4).
  if (profile.kind === "win9x") return reply(HRESULT.E_ACCESSDENIED);
  if (profile.dcom === "disabled") return reply(HRESULT.E_ACCESSDENIED);

  switch (request.op) {
    case "RemoteActivation":
      return reply(remoteActivationResult(fix, request.objectName));
    case "RemoteCreateInstance":
      return reply(remoteCreateInstanceResult(fix, request.propertyClsids));
    case "RemoteGetClassObject":
      // Check B (research §2.5): only KB824146's RPCSS validates the OBJREF it is handed.
      return reply(
        fix === "kb824146" && request.objrefSignature !== OBJREF_SIGNATURE
          ? HRESULT.RPC_E_INVALID_OBJREF
          : HRESULT.E_FAIL,
      );
  }
}

/**
 * RemoteActivation (opnum 0): the MS03-026 fix rejects a UNC server component followed by an
 * embedded NUL with CO_E_BAD_PATH (research §0, §2.4.3); unpatched RPCSS copies the component
 * and fails later on the bogus CLSID. With KB824146 a one-character component falls through to
 * the class lookup: the stand-in that makes Microsoft's eEye pair read req6 (`\\A` NUL …) =
 * REGDB_E_CLASSNOTREG and req7 (`\\172.42.142.142` NUL …) = CO_E_BAD_PATH on a patched host, the
 * pair research §2.6.3/§2.6.4 calls patched.
 */
function remoteActivationResult(fix: RpcssFix, objectName: string | null): number {
  const { server, embeddedNulAfterServer } =
    objectName === null
      ? { server: null, embeddedNulAfterServer: false }
      : parseObjectName(objectName);
  if (server === null || !embeddedNulAfterServer) return HRESULT.REGDB_E_CLASSNOTREG;
  switch (fix) {
    case "none":
      return HRESULT.REGDB_E_CLASSNOTREG;
    case "kb823980":
      return HRESULT.CO_E_BAD_PATH;
    case "kb824146":
      return server.length > 1 ? HRESULT.CO_E_BAD_PATH : HRESULT.REGDB_E_CLASSNOTREG;
  }
}

/**
 * RemoteCreateInstance (opnum 4), as KB824146Scan's req1/req2 see it (research §2.6.3): the
 * KB824146 RPCSS validates the activation property CLSIDs (req2's two unknown ones →
 * E_INVALIDARG) and rejects req1's empty-server InstanceInfo path (CO_E_BAD_PATH), so e1 ≠ e2;
 * KB823980 rejects the path for both (e1 = e2 = CO_E_BAD_PATH: "vulnerable to MS03-039"); an
 * unpatched RPCSS fails both on the bogus class (e1 = e2 = REGDB_E_CLASSNOTREG).
 */
function remoteCreateInstanceResult(fix: RpcssFix, propertyClsids: readonly string[]): number {
  switch (fix) {
    case "none":
      return HRESULT.REGDB_E_CLASSNOTREG;
    case "kb823980":
      return HRESULT.CO_E_BAD_PATH;
    case "kb824146":
      return propertyClsids.every((c) => KNOWN_ACTIVATION_PROPERTY_CLSIDS.has(c.toLowerCase()))
        ? HRESULT.CO_E_BAD_PATH
        : HRESULT.E_INVALIDARG;
  }
}
