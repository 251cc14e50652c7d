import {
  ILOCAL_OBJECT_EXPORTER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  type SyntaxId,
} from "../../src/protocols/dcerpc/index.js";
import {
  HRESULT,
  NCA_STATUS,
  REMOTE_ACTIVATION_OPNUM,
  REMOTE_CREATE_INSTANCE_OPNUM,
  checkARemoteActivationStub,
  decodeRemoteActivationReply,
  kb824146ScanCreateInstanceStub,
  kb824146ScanEeyeStub,
  kb824146ScanUnboundContextStub,
} from "../../src/protocols/dcom/index.js";
import type { ExpectedRpcssVerdict } from "../../src/lab/index.js";

/**
 * A test-only transcription of the research's reference procedure (ms03-026-detection.md §2.10
 * with the §2.10a errata, Check B′ in its TCP-only form §2.6.4, Check A §2.4.3), run against an
 * oracle: the lab's pure model (rpcss-model.test.ts) or the lab's server over a socket
 * (rpcss-wire.test.ts). It exists so the personas' hand-written expected verdicts can be checked
 * against the emulation through the published decision tables, independently of src/checks.
 */

/** What one request on a fresh association observed. */
export type Observed =
  | { readonly kind: "response"; readonly stub: Uint8Array }
  | { readonly kind: "fault"; readonly status: number }
  /** Anything else: no answer, a wrong call_id, a PDU of the wrong type. */
  | { readonly kind: "invalid" };

export interface RpcssOracle {
  /** Bind `iface` alone on a fresh connection: accepted, rejected, or not a valid bind_ack. */
  bind(iface: SyntaxId): Promise<"accepted" | "rejected" | "invalid">;
  /** Bind `iface` as context 0 on a fresh connection, then send one request on `contextId`. */
  call(iface: SyntaxId, opnum: number, stub: Uint8Array, contextId?: number): Promise<Observed>;
}

/** check() of research §2.6.2: the PDU's last dword, i.e. the HRESULT, or 0 for a fault. */
function lastDword(o: Observed): number | null {
  if (o.kind === "fault") return 0;
  if (o.kind !== "response" || o.stub.length < 4) return null;
  return new DataView(o.stub.buffer, o.stub.byteOffset, o.stub.byteLength).getUint32(
    o.stub.length - 4,
    true,
  );
}

/** phr of a 68-byte RemoteActivation reply (research §2.4.2); null for anything else. */
function phrOf(o: Observed): number | null {
  return o.kind === "response" ? decodeRemoteActivationReply(o.stub).phr : null;
}

export async function referenceVerdict(oracle: RpcssOracle): Promise<ExpectedRpcssVerdict> {
  // 1. Windows-family discriminators, in the §2.10a order (IRemoteActivation first).
  const remact = await oracle.bind(IREMOTE_ACTIVATION);
  if (remact === "invalid") return "UNKNOWN";
  if (remact === "rejected") return "NOT_APPLICABLE_NON_WINDOWS";
  const exporter = await oracle.bind(ILOCAL_OBJECT_EXPORTER);
  if (exporter === "invalid") return "UNKNOWN";
  if (exporter === "rejected") return "NOT_APPLICABLE_WIN9X";

  // 2. MS03-039, Check B′ TCP-only (§2.6.4), or straight to the eEye pair when ISystemActivator is
  //    rejected (NT4, §2.10a second bullet).
  const scm = await oracle.bind(ISYSTEM_ACTIVATOR);
  if (scm === "invalid") return "UNKNOWN";
  let v039: "PATCHED" | "VULNERABLE" | "DCOM_RESTRICTED" | "UNKNOWN" | "EEYE" = "EEYE";
  if (scm === "accepted") {
    const r1 = await oracle.call(ISYSTEM_ACTIVATOR, REMOTE_CREATE_INSTANCE_OPNUM, req("req1"));
    const r2 = await oracle.call(ISYSTEM_ACTIVATOR, REMOTE_CREATE_INSTANCE_OPNUM, req("req2"));
    const r4 = await oracle.call(
      ISYSTEM_ACTIVATOR,
      REMOTE_ACTIVATION_OPNUM,
      kb824146ScanUnboundContextStub(),
      1,
    );
    const e1 = lastDword(r1);
    const e2 = lastDword(r2);
    const e4 = r4.kind === "fault" ? r4.status : null;
    if (e1 === null || e2 === null) v039 = "UNKNOWN";
    else if (e1 === 0 && e2 === 0 && e4 === NCA_STATUS.unknownInterface) v039 = "PATCHED";
    else if (e1 === 0 && e2 === 0 && e4 === NCA_STATUS.invalidPresContextId) v039 = "UNKNOWN";
    else if (e1 !== e2) v039 = "PATCHED";
    else if (e1 === HRESULT.E_ACCESSDENIED) v039 = "DCOM_RESTRICTED";
    else if (e1 !== 0) v039 = "VULNERABLE";
  }
  if (v039 === "EEYE") {
    const e6 = phrOf(
      await oracle.call(IREMOTE_ACTIVATION, REMOTE_ACTIVATION_OPNUM, kb824146ScanEeyeStub("req6")),
    );
    const e7 = phrOf(
      await oracle.call(IREMOTE_ACTIVATION, REMOTE_ACTIVATION_OPNUM, kb824146ScanEeyeStub("req7")),
    );
    if (e6 === null || e7 === null) v039 = "UNKNOWN";
    else if (e6 === HRESULT.REGDB_E_CLASSNOTREG && e7 === HRESULT.CO_E_BAD_PATH) v039 = "PATCHED";
    else if (e6 === HRESULT.E_ACCESSDENIED && e7 === HRESULT.E_ACCESSDENIED) {
      v039 = "DCOM_RESTRICTED";
    } else v039 = "VULNERABLE";
  }
  if (v039 === "PATCHED") return "PATCHED_MS03_039";
  if (v039 === "DCOM_RESTRICTED") return "DCOM_RESTRICTED";
  if (v039 !== "VULNERABLE") return "UNKNOWN";

  // 3. MS03-026, Check A (§2.4.3), only now meaningful.
  const a = phrOf(
    await oracle.call(IREMOTE_ACTIVATION, REMOTE_ACTIVATION_OPNUM, checkARemoteActivationStub()),
  );
  // A fault or an odd length would be VULNERABLE_MS03_039_ONLY_OR_WORSE; no persona is built so.
  if (a === null) return "UNKNOWN";
  if (a === HRESULT.CO_E_BAD_PATH || a === HRESULT.E_ACCESSDENIED) {
    return "VULNERABLE_MS03_039_ONLY";
  }
  return "VULNERABLE_MS03_026";
}

function req(which: "req1" | "req2"): Uint8Array {
  return kb824146ScanCreateInstanceStub(which);
}
