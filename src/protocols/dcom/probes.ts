import {
  encodeRemoteActivationRequest,
  type RemoteActivationRequest,
} from "./remote-activation.js";

/**
 * The RemoteActivation stubs the RPCSS checks send, as data. Each is encoded by the same NDR
 * encoder and pinned byte for byte to the research's re-encoding of its public source in
 * test/checks/fixtures/research-pdus.json. Safety (research §3.1): every object name is at most 30
 * UTF-16 units and its server component at most 15 characters; none comes from an exploit.
 */

const NIL = "00000000-0000-0000-0000-000000000000";
const NCACN_IP_TCP_PROTSEQ = 7;

/**
 * Our causality id and CLSID for Check A: ASCII "ringfence-ms0326" / "ringfence-probe!" in GUID
 * form, so a packet capture names its sender; the CLSID is registered nowhere, which the probe
 * needs (research §2.4.1 [R]: activation must fail).
 */
export const RINGFENCE_CID = "676e6972-6566-636e-652d-6d7330333236";
export const RINGFENCE_PROBE_CLSID = "676e6972-6566-636e-652d-70726f626521";

/**
 * Check A, MS03-026 (research §2.4.1, Tenable's layout [S4][S6]): object name `\\A` NUL `A\\AA`,
 * a one-character server component followed by an embedded NUL. 132 bytes.
 */
export function checkARemoteActivationStub(
  ids: { readonly cid: string; readonly clsid: string } = {
    cid: RINGFENCE_CID,
    clsid: RINGFENCE_PROBE_CLSID,
  },
): Uint8Array {
  return encodeRemoteActivationRequest({
    orpcThis: { major: 5, minor: 6, flags: 1, reserved: 0, cid: ids.cid },
    clsid: ids.clsid,
    objectName: "\\\\A\0A\\\\AA",
    objectNameReferentId: 0x00020004,
    clientImpLevel: 0,
    mode: 0,
    interfaceIds: [NIL],
    interfaceIdsReferentId: 0x00020008,
    requestedProtseqs: [],
  });
}

/**
 * KB824146Scan req4 (research §2.6.4 [S2]): RemoteActivation-shaped, sent on presentation context 1
 * of a connection that bound only context 0, so the runtime's answer (a fault status) is what is
 * read. Its odd ClientImpLevel/Mode values are kept as captured.
 */
export function kb824146ScanUnboundContextStub(): Uint8Array {
  const marker = "2a959695-da8c-4a6d-b236-19bcaf2c2dea";
  return encodeRemoteActivationRequest({
    orpcThis: { major: 5, minor: 2, flags: 0, reserved: 0, cid: NIL },
    clsid: marker,
    objectName: "\\\\MEOW",
    objectNameReferentId: 0x008feb34,
    clientImpLevel: 0x0048005c,
    mode: 0x0048005c,
    interfaceIds: [marker],
    interfaceIdsReferentId: 0x008fe958,
    requestedProtseqs: [0x005c],
  });
}

function eeyeRequest(clsidByte: number, objectName: string): RemoteActivationRequest {
  const hex = clsidByte.toString(16).padStart(2, "0");
  const clsid = `${hex.repeat(4)}-${hex.repeat(2)}-${hex.repeat(2)}-${hex.repeat(2)}-${hex.repeat(6)}`;
  return {
    // cid "[Nessus][Nessus]" as captured.
    orpcThis: {
      major: 5,
      minor: 1,
      flags: 0,
      reserved: 0,
      cid: "73654e5b-7573-5d73-5b4e-65737375735d",
    },
    clsid,
    objectName,
    objectNameReferentId: 0x000b0f68,
    clientImpLevel: 2,
    mode: 2,
    interfaceIds: [NIL],
    interfaceIdsReferentId: 0x000bebb8,
    requestedProtseqs: [NCACN_IP_TCP_PROTSEQ],
  };
}

/**
 * KB824146Scan's fallback pair (eEye's requests, research §2.6.4 req6/req7 [S2]): a patched RPCSS
 * answers req6 REGDB_E_CLASSNOTREG and req7 CO_E_BAD_PATH.
 */
export function kb824146ScanEeyeStub(which: "req6" | "req7"): Uint8Array {
  return encodeRemoteActivationRequest(
    which === "req6"
      ? eeyeRequest(0x4e, "\\\\A\0\\\0c$\\test_2003_nessus.txt")
      : eeyeRequest(0x48, "\\\\172.42.142.142\0\\test_Nessus"),
  );
}
