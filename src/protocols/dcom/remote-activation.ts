import { type DecodeIssue, NdrWriter } from "../dcerpc/index.js";
import {
  readInterfacePointerBody,
  readOrpcThis,
  readerFor,
  writeOrpcThis,
  type OrpcThis,
} from "./orpc.js";

/**
 * IRemoteActivation::RemoteActivation (opnum 0; MS-DCOM §3.1.2.5.1.1, the IDL in research §2.4.1
 * [S13][S18]): the call every published MS03-026 check and Microsoft's KB824146Scan fallback
 * requests (req4, req6, req7) use. Top-level [in] parameters are marshalled in order, each pointer's
 * referent immediately after it (C706 §14.3.12: no deferral at the top level).
 */
export const REMOTE_ACTIVATION_OPNUM = 0;

/** Caps for the server-side decoder (the lab): generous for every real client, tiny for abuse. */
const MAX_OBJECT_STORAGE_BYTES = 64 * 1024;
const MAX_INTERFACES = 64;
const MAX_PROTSEQS = 64;

export interface RemoteActivationRequest {
  readonly orpcThis: OrpcThis;
  readonly clsid: string;
  /**
   * pwszObjectName without its terminating NUL, embedded NULs kept (the probes are built from
   * them); null for a NULL pointer.
   */
  readonly objectName: string | null;
  /** Referent id of pwszObjectName; the published probes use fixed values (research §2.4.1). */
  readonly objectNameReferentId?: number;
  /** pObjectStorage's MInterfacePointer bytes; every probe sends NULL. */
  readonly objectStorage?: Uint8Array | null;
  readonly clientImpLevel: number;
  readonly mode: number;
  /** pIIDs; the count is `Interfaces`. */
  readonly interfaceIds: readonly string[];
  readonly interfaceIdsReferentId?: number;
  /** aRequestedProtseqs (7 = ncacn_ip_tcp, MS-DCOM §2.2.19.1 / C706 Appendix I tower ids). */
  readonly requestedProtseqs: readonly number[];
}

const DEFAULT_NAME_REFERENT = 0x00020004;
const DEFAULT_IIDS_REFERENT = 0x00020008;
const DEFAULT_STORAGE_REFERENT = 0x00020000;

export function encodeRemoteActivationRequest(request: RemoteActivationRequest): Uint8Array {
  const w = new NdrWriter({ initialCapacity: 256 });
  writeOrpcThis(w, request.orpcThis);
  w.uuid(request.clsid);
  if (request.objectName === null) {
    w.pointer(0);
  } else {
    w.pointer(request.objectNameReferentId ?? DEFAULT_NAME_REFERENT);
    w.conformantVaryingString(request.objectName, 2);
  }
  const storage = request.objectStorage ?? null;
  if (storage === null) {
    w.pointer(0);
  } else {
    w.pointer(DEFAULT_STORAGE_REFERENT).u32(storage.length).conformantOctets(storage);
  }
  w.u32(request.clientImpLevel).u32(request.mode).u32(request.interfaceIds.length);
  if (request.interfaceIds.length === 0) {
    w.pointer(0);
  } else {
    w.pointer(request.interfaceIdsReferentId ?? DEFAULT_IIDS_REFERENT);
    w.conformance(request.interfaceIds.length);
    for (const iid of request.interfaceIds) w.uuid(iid);
  }
  w.u16(request.requestedProtseqs.length);
  w.conformance(request.requestedProtseqs.length);
  for (const protseq of request.requestedProtseqs) w.u16(protseq);
  return w.toBytes();
}

/** Server side (the lab's RPCSS stand-in): the request's parameters, or why they do not parse. */
export function decodeRemoteActivationRequest(
  stub: Uint8Array,
  littleEndian = true,
): RemoteActivationRequest | DecodeIssue {
  const r = readerFor(stub, littleEndian);
  const orpcThis = readOrpcThis(r);
  const clsid = r.uuid("clsid");
  const namePointer = r.uniquePointer("pwszObjectName");
  const objectName =
    namePointer.referentId === 0 ? null : r.conformantVaryingString(2, "pwszObjectName");
  const storagePointer = r.uniquePointer("pObjectStorage");
  const objectStorage =
    storagePointer.referentId === 0
      ? null
      : readInterfacePointerBody(r, "pObjectStorage", MAX_OBJECT_STORAGE_BYTES);
  const clientImpLevel = r.u32("ClientImpLevel");
  const mode = r.u32("Mode");
  const interfaces = r.u32("Interfaces");
  const iidsPointer = r.uniquePointer("pIIDs");
  const interfaceIds: string[] = [];
  if (!r.failed && interfaces > MAX_INTERFACES) {
    r.fail("Interfaces", `${interfaces} interfaces exceed the cap of ${MAX_INTERFACES}`);
  }
  if (!r.failed && iidsPointer.referentId !== 0) {
    const count = r.conformance(16, "pIIDs");
    if (!r.failed && count !== interfaces) {
      r.fail("pIIDs", `max_count ${count} disagrees with Interfaces ${interfaces}`);
    }
    for (let i = 0; i < count && !r.failed; i++) interfaceIds.push(r.uuid("pIIDs[]"));
  }
  const protseqCount = r.u16("cRequestedProtseqs");
  const protseqMax = r.conformance(2, "aRequestedProtseqs");
  if (!r.failed && (protseqMax !== protseqCount || protseqCount > MAX_PROTSEQS)) {
    r.fail("aRequestedProtseqs", `max_count ${protseqMax} for ${protseqCount} protseqs`);
  }
  const requestedProtseqs: number[] = [];
  for (let i = 0; i < protseqMax && !r.failed; i++) requestedProtseqs.push(r.u16("protseq"));
  return r.result({
    orpcThis,
    clsid,
    objectName,
    objectNameReferentId: namePointer.referentId,
    objectStorage,
    clientImpLevel,
    mode,
    interfaceIds,
    interfaceIdsReferentId: iidsPointer.referentId,
    requestedProtseqs,
  });
}

/**
 * RemoteActivation's [out] parameters for a failed activation with `Interfaces` = 1 and no
 * bindings (research §2.4.2): ORPCTHAT(8) OXID(8) ppdsaOxidBindings NULL(4) IPID(16) AuthnHint(4)
 * COMVERSION(4) phr(4) ppInterfaceData[1] (4+4) pResults[1] (4+4) return(4) = 68 bytes.
 */
export const REMOTE_ACTIVATION_FAILURE_STUB_LENGTH = 68;
/** phr's offset in that 68-byte stub: stub_len − 24, where Tenable reads it [S4][S6]. */
const PHR_OFFSET = REMOTE_ACTIVATION_FAILURE_STUB_LENGTH - 24;

export function encodeRemoteActivationReply(reply: {
  readonly phr: number;
  readonly serverVersion?: { readonly major: number; readonly minor: number };
}): Uint8Array {
  const w = new NdrWriter({ initialCapacity: 68 });
  w.u32(0).pointer(0); // ORPCTHAT: flags, extensions NULL
  w.u64(0n); // pOxid
  w.pointer(0); // ppdsaOxidBindings
  w.uuid("00000000-0000-0000-0000-000000000000"); // pipidRemUnknown
  w.u32(0); // pAuthnHint
  w.u16(reply.serverVersion?.major ?? 5).u16(reply.serverVersion?.minor ?? 1);
  w.u32(reply.phr >>> 0);
  w.conformance(1).pointer(0); // ppInterfaceData: one NULL MInterfacePointer
  w.conformance(1).u32(reply.phr >>> 0); // pResults
  w.u32(0); // return value: the call itself succeeded; phr carries the activation's failure
  return w.toBytes();
}

export interface RemoteActivationReply {
  readonly stubLength: number;
  /**
   * phr when the stub has the failed-activation shape (68 bytes), else null: Tenable's rule
   * (research §2.4.3 [S4][S6]); any other length is indeterminate.
   */
  readonly phr: number | null;
}

export function decodeRemoteActivationReply(
  stub: Uint8Array,
  littleEndian = true,
): RemoteActivationReply {
  if (stub.length !== REMOTE_ACTIVATION_FAILURE_STUB_LENGTH) {
    return { stubLength: stub.length, phr: null };
  }
  const view = new DataView(stub.buffer, stub.byteOffset, stub.byteLength);
  return { stubLength: stub.length, phr: view.getUint32(PHR_OFFSET, littleEndian) };
}

/**
 * The UNC server component of an object name (`\\server\...`) and whether an embedded NUL
 * follows it inside the name: the malformation every MS03-026 probe relies on (research §2.4:
 * the bug is in parsing the server-name part of a UNC path).
 */
export function parseObjectName(name: string): {
  readonly server: string | null;
  readonly embeddedNulAfterServer: boolean;
} {
  if (!name.startsWith("\\\\")) return { server: null, embeddedNulAfterServer: false };
  const rest = name.slice(2);
  let end = 0;
  while (end < rest.length && rest[end] !== "\0" && rest[end] !== "\\") end++;
  return { server: rest.slice(0, end), embeddedNulAfterServer: rest[end] === "\0" };
}
