import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import { NdrReader, NdrWriter } from "./ndr.js";
import type { SyntaxId } from "./uuids.js";

/**
 * DCE/RPC connection-oriented PDUs (ncacn_*): C706 chapter 12.6 with the MS-RPCE §2.2.2
 * extensions. Pure codec: `decodePdu(bytes) → Pdu | DecodeIssue`, `encodePdu(pdu) → bytes`.
 *
 * Every PDU is NDR-encoded in the byte order its own packed_drep announces (C706 §12.6.3.1,
 * §14.1), so decoding handles big-endian senders; encoders default to little-endian, which is
 * what Windows, Samba and every check in the research doc send (`10 00 00 00`, research §2.1).
 */

/** C706 §12.6.3.1 rpc_vers: connection-oriented RPC is always 5. */
export const RPC_VERSION = 5;
/** rpc_vers_minor we send; MS-RPCE §2.2.2.1 also allows 1 (we decode and keep either). */
export const RPC_VERSION_MINOR = 0;
/** C706 §12.6.3.1: the common header is 16 octets. */
export const COMMON_HEADER_LENGTH = 16;
/** C706 §13.2.6.1 auth_verifier_co_t: 8 octets of sec_trailer before auth_value. */
export const SEC_TRAILER_LENGTH = 8;
/** frag_length is a u16 (C706 §12.6.3.1). */
export const MAX_FRAG_LENGTH = 0xffff;

/** C706 §12.6.3.1 / §12.6.4 PTYPE values; 1 and 4-10 are connectionless-only (ncadg). */
export const PTYPE = Object.freeze({
  request: 0,
  response: 2,
  fault: 3,
  bind: 11,
  bind_ack: 12,
  bind_nak: 13,
  alter_context: 14,
  alter_context_resp: 15,
  /** MS-RPCE §2.2.2.10 rpc_auth_3. */
  auth3: 16,
  shutdown: 17,
  co_cancel: 18,
  orphaned: 19,
} as const);

export type PduType = keyof typeof PTYPE;

const TYPE_BY_PTYPE = new Map<number, PduType>(
  (Object.entries(PTYPE) as [PduType, number][]).map(([name, value]) => [value, name]),
);

/** C706 §12.6.3.1 pfc_flags. */
export const PFC_FIRST_FRAG = 0x01;
export const PFC_LAST_FRAG = 0x02;
/** On request/response/fault: PFC_PENDING_CANCEL (C706). */
export const PFC_PENDING_CANCEL = 0x04;
/** On bind / bind_ack / alter_context(_resp): PFC_SUPPORT_HEADER_SIGN (MS-RPCE §2.2.2.3). */
export const PFC_SUPPORT_HEADER_SIGN = 0x04;
export const PFC_CONC_MPX = 0x10;
/** Set in a fault when the call never reached the manager routine (research §2.1). */
export const PFC_DID_NOT_EXECUTE = 0x20;
export const PFC_MAYBE = 0x40;
/** Request carries an object UUID after opnum (C706 §12.6.4.9). */
export const PFC_OBJECT_UUID = 0x80;
/** What a single-fragment PDU carries. */
export const PFC_WHOLE = PFC_FIRST_FRAG | PFC_LAST_FRAG;

/** C706 §12.6.3.1 p_cont_def_result_t + negotiate_ack (MS-RPCE bind time feature negotiation). */
export const CONTEXT_RESULT = Object.freeze({
  acceptance: 0,
  userRejection: 1,
  providerRejection: 2,
  negotiateAck: 3,
} as const);

/** C706 §12.6.3.1 p_provider_reason_t: why a presentation context was rejected in a bind_ack. */
export const PROVIDER_REASON = Object.freeze({
  notSpecified: 0,
  abstractSyntaxNotSupported: 1,
  proposedTransferSyntaxesNotSupported: 2,
  localLimitExceeded: 3,
} as const);

/** C706 §12.6.3.1 p_reject_reason_t (bind_nak), plus MS-RPCE values 8-9 (impacket rpcrt.py). */
export const BIND_NAK_REASON = Object.freeze({
  notSpecified: 0,
  temporaryCongestion: 1,
  localLimitExceeded: 2,
  calledPaddrUnknown: 3,
  protocolVersionNotSupported: 4,
  defaultContextNotSupported: 5,
  userDataNotReadable: 6,
  noPsapAvailable: 7,
  authenticationTypeNotRecognized: 8,
  invalidChecksum: 9,
} as const);

/**
 * Fault status names (C706 Appendix E nca_s_*, plus the Win32 codes Windows puts in faults),
 * as listed by impacket rpcrt.py `rpc_status_codes` and research §2.8. Only for display.
 */
const FAULT_STATUS_NAMES = new Map<number, string>([
  [0x00000005, "rpc_s_access_denied"],
  [0x000006f7, "rpc_x_bad_stub_data"],
  [0x1c010001, "nca_s_comm_failure"],
  [0x1c010002, "nca_s_op_rng_error"],
  [0x1c010003, "nca_s_unk_if"],
  [0x1c010006, "nca_s_wrong_boot_time"],
  [0x1c010009, "nca_s_you_crashed"],
  [0x1c01000b, "nca_s_proto_error"],
  [0x1c010013, "nca_s_out_args_too_big"],
  [0x1c010014, "nca_s_server_too_busy"],
  [0x1c010017, "nca_s_unsupported_type"],
  [0x1c000008, "nca_s_rpc_version_mismatch"],
  [0x1c000009, "nca_s_unspec_reject"],
  [0x1c00000d, "nca_s_fault_cancel"],
  [0x1c000012, "nca_s_fault_unspec"],
  [0x1c00001a, "nca_s_fault_context_mismatch"],
  [0x1c00001b, "nca_s_fault_remote_no_memory"],
  [0x1c00001c, "nca_s_invalid_pres_context_id"],
  [0x1c00001d, "nca_s_unsupported_authn_level"],
  [0x1c00001f, "nca_s_invalid_checksum"],
  [0x1c000020, "nca_s_invalid_crc"],
]);

export function faultStatusName(status: number): string | undefined {
  return FAULT_STATUS_NAMES.get(status >>> 0);
}

/** C706 §14.1 packed_drep: integer and character representation, floating-point format. */
export interface DataRepresentation {
  readonly integer: "little-endian" | "big-endian";
  readonly character: "ascii" | "ebcdic";
  readonly floatingPoint: "ieee" | "vax" | "cray" | "ibm";
}

/** `10 00 00 00`: what Windows, Samba and our checks send. */
export const LITTLE_ENDIAN_DREP: DataRepresentation = Object.freeze({
  integer: "little-endian",
  character: "ascii",
  floatingPoint: "ieee",
});

/** `00 00 00 00`: big-endian integers (HP-UX dced and other non-Windows DCE peers). */
export const BIG_ENDIAN_DREP: DataRepresentation = Object.freeze({
  integer: "big-endian",
  character: "ascii",
  floatingPoint: "ieee",
});

const FLOAT_FORMATS = ["ieee", "vax", "cray", "ibm"] as const;

/**
 * MS-RPCE §2.2.2.11 sec_trailer + auth_value (C706 auth_verifier_co_t), passed through opaquely:
 * we never authenticate, but PDUs we decode (and the lab may relay) can carry one.
 * `authPadLength` zero octets sit between the stub and the trailer; decoders strip them from the
 * stub, encoders write them back.
 */
export interface AuthVerifier {
  readonly authType: number;
  readonly authLevel: number;
  readonly authPadLength: number;
  readonly authContextId: number;
  readonly authValue: Uint8Array;
}

/** Fields every connection-oriented PDU carries in its common header (C706 §12.6.3.1). */
export interface PduCommon {
  readonly callId: number;
  readonly pfcFlags: number;
  readonly drep: DataRepresentation;
  readonly rpcVersMinor: number;
  /** Present iff auth_length > 0. */
  readonly authVerifier: AuthVerifier | null;
}

/** C706 §12.6.3.1 p_cont_elem_t: one presentation context offered in a bind/alter_context. */
export interface PresentationContext {
  readonly contextId: number;
  readonly abstractSyntax: SyntaxId;
  readonly transferSyntaxes: readonly SyntaxId[];
}

/** C706 §12.6.3.1 p_result_t: the server's answer for one offered context, in order. */
export interface ContextResult {
  /** CONTEXT_RESULT: 0 acceptance, 1 user rejection, 2 provider rejection, 3 negotiate_ack. */
  readonly result: number;
  /** PROVIDER_REASON when rejected; for negotiate_ack, the MS-RPCE feature bits. */
  readonly reason: number;
  /** The accepted transfer syntax (all-zero UUID when rejected). */
  readonly transferSyntax: SyntaxId;
}

/** C706 §12.6.4.3 bind / §12.6.4.1 alter_context body. */
export interface BindBody {
  readonly maxXmitFrag: number;
  readonly maxRecvFrag: number;
  readonly assocGroupId: number;
  readonly contexts: readonly PresentationContext[];
}

/** C706 §12.6.4.4 bind_ack / §12.6.4.2 alter_context_resp body. */
export interface BindAckBody {
  readonly maxXmitFrag: number;
  readonly maxRecvFrag: number;
  readonly assocGroupId: number;
  /**
   * port_any_t sec_addr without its NUL: "135" on TCP, "\PIPE\epmapper" on a pipe; "" when the
   * server sends length 0 (alter_context_resp usually does).
   */
  readonly secondaryAddress: string;
  readonly results: readonly ContextResult[];
}

export interface BindPdu extends PduCommon, BindBody {
  readonly type: "bind";
}
export interface AlterContextPdu extends PduCommon, BindBody {
  readonly type: "alter_context";
}
export interface BindAckPdu extends PduCommon, BindAckBody {
  readonly type: "bind_ack";
}
export interface AlterContextRespPdu extends PduCommon, BindAckBody {
  readonly type: "alter_context_resp";
}

/** C706 §12.6.3.1 p_rt_version_t. */
export interface ProtocolVersion {
  readonly major: number;
  readonly minor: number;
}

/** C706 §12.6.4.5 bind_nak; MS-RPCE §2.2.2.9 may append a 16-byte signature + extended error. */
export interface BindNakPdu extends PduCommon {
  readonly type: "bind_nak";
  /** BIND_NAK_REASON. */
  readonly rejectReason: number;
  readonly versions: readonly ProtocolVersion[];
  /** Anything after the version list (MS-RPCE signature / extended error), kept opaque. */
  readonly extra: Uint8Array;
}

/** C706 §12.6.4.9 request. */
export interface RequestPdu extends PduCommon {
  readonly type: "request";
  readonly allocHint: number;
  readonly contextId: number;
  readonly opnum: number;
  /** Present iff PFC_OBJECT_UUID; the encoder sets or clears that flag from this field. */
  readonly object: string | null;
  readonly stub: Uint8Array;
}

/** C706 §12.6.4.10 response. */
export interface ResponsePdu extends PduCommon {
  readonly type: "response";
  readonly allocHint: number;
  readonly contextId: number;
  readonly cancelCount: number;
  readonly stub: Uint8Array;
}

/** C706 §12.6.4.7 fault. */
export interface FaultPdu extends PduCommon {
  readonly type: "fault";
  readonly allocHint: number;
  readonly contextId: number;
  readonly cancelCount: number;
  /** The octet C706 calls reserved; MS-RPCE §2.2.2.8: bit 0x01 = extended error info present. */
  readonly faultFlags: number;
  /** nca_s_* / Win32 / HRESULT status (research §2.8). */
  readonly status: number;
  /** Stub data after the 32-byte fault header (MS-RPCE extended error info), usually empty. */
  readonly stub: Uint8Array;
}

/**
 * rpc_auth_3 (MS-RPCE §2.2.2.10), shutdown (C706 §12.6.4.11), co_cancel (§12.6.4.6) and orphaned
 * (§12.6.4.8): legal
 * on a connection but nothing our checks act on, so their body is kept opaque. `body` is every
 * octet between the common header and the sec_trailer (auth padding included).
 */
export interface OpaquePdu extends PduCommon {
  readonly type: "auth3" | "shutdown" | "co_cancel" | "orphaned";
  readonly body: Uint8Array;
}

export type Pdu =
  | BindPdu
  | AlterContextPdu
  | BindAckPdu
  | AlterContextRespPdu
  | BindNakPdu
  | RequestPdu
  | ResponsePdu
  | FaultPdu
  | OpaquePdu;

/** C706 §12.6.3.1 common header, as read by decodePduHeader (e.g. by the stream framer). */
export interface PduHeader {
  readonly rpcVersMinor: number;
  readonly type: PduType;
  readonly ptype: number;
  readonly pfcFlags: number;
  readonly drep: DataRepresentation;
  readonly fragLength: number;
  readonly authLength: number;
  readonly callId: number;
}

/**
 * Decode and validate the 16-byte common header (C706 §12.6.3.1): rpc_vers 5, a known
 * connection-oriented PTYPE, a defined packed_drep, frag_length ≥ 16 and room for the
 * auth verifier auth_length announces. Never throws.
 */
export function decodePduHeader(bytes: Uint8Array): PduHeader | DecodeIssue {
  if (bytes.length < COMMON_HEADER_LENGTH) {
    return decodeIssue(
      "header",
      0,
      "shorter than the 16-byte common header",
      COMMON_HEADER_LENGTH - bytes.length,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rpcVers = view.getUint8(0);
  if (rpcVers !== RPC_VERSION) {
    return decodeIssue("header", 0, `rpc_vers ${rpcVers}, not 5: not connection-oriented DCE/RPC`);
  }
  const ptype = view.getUint8(2);
  const type = TYPE_BY_PTYPE.get(ptype);
  if (type === undefined) {
    return decodeIssue("header", 2, `PTYPE ${ptype} is not a connection-oriented PDU type`);
  }
  const drep = decodeDrep(view);
  if (isDecodeIssue(drep)) return drep;
  const littleEndian = drep.integer === "little-endian";
  const fragLength = view.getUint16(8, littleEndian);
  const authLength = view.getUint16(10, littleEndian);
  if (fragLength < COMMON_HEADER_LENGTH) {
    return decodeIssue("header", 8, `frag_length ${fragLength} is shorter than the header`);
  }
  // The auth verifier (8-byte sec_trailer + auth_value) must fit after the common header.
  if (authLength > 0 && COMMON_HEADER_LENGTH + SEC_TRAILER_LENGTH + authLength > fragLength) {
    return decodeIssue(
      "header",
      10,
      `auth_length ${authLength} does not fit in frag_length ${fragLength}`,
    );
  }
  return {
    rpcVersMinor: view.getUint8(1),
    type,
    ptype,
    pfcFlags: view.getUint8(3),
    drep,
    fragLength,
    authLength,
    callId: view.getUint32(12, littleEndian),
  };
}

const hexByte = (value: number): string => value.toString(16).padStart(2, "0");

/** C706 §14.1: byte 4 = integer (high nibble) | character (low nibble), byte 5 = float. */
function decodeDrep(view: DataView): DataRepresentation | DecodeIssue {
  const intChar = view.getUint8(4);
  const floating = view.getUint8(5);
  const integerCode = intChar >> 4;
  const characterCode = intChar & 0x0f;
  const floatingPoint = FLOAT_FORMATS[floating];
  if (integerCode > 1 || characterCode > 1 || floatingPoint === undefined) {
    return decodeIssue(
      "header",
      4,
      `packed_drep ${hexByte(intChar)} ${hexByte(floating)} is undefined`,
    );
  }
  // Bytes 6-7 are reserved (C706 §14.1) and ignored.
  return {
    integer: integerCode === 1 ? "little-endian" : "big-endian",
    character: characterCode === 0 ? "ascii" : "ebcdic",
    floatingPoint,
  };
}

/**
 * Decode one whole PDU: `bytes` must be exactly frag_length long (the PduFramer in fragments.ts
 * cuts a TCP stream into such pieces). Never throws; every count is checked against the bytes
 * present before it is used.
 */
export function decodePdu(bytes: Uint8Array): Pdu | DecodeIssue {
  const header = decodePduHeader(bytes);
  if (isDecodeIssue(header)) return header;
  const { fragLength, authLength } = header;
  if (bytes.length < fragLength) {
    return decodeIssue(
      "header",
      8,
      `frag_length ${fragLength} but only ${bytes.length} bytes`,
      fragLength - bytes.length,
    );
  }
  if (bytes.length > fragLength) {
    return decodeIssue(
      "pdu",
      fragLength,
      `${bytes.length - fragLength} bytes after frag_length ${fragLength}`,
    );
  }
  const littleEndian = header.drep.integer === "little-endian";

  // MS-RPCE §2.2.2.11: the auth verifier is the last 8 + auth_length octets of the fragment.
  let bodyEnd = fragLength;
  let authVerifier: AuthVerifier | null = null;
  if (authLength > 0) {
    bodyEnd = fragLength - authLength - SEC_TRAILER_LENGTH;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    authVerifier = {
      authType: view.getUint8(bodyEnd),
      authLevel: view.getUint8(bodyEnd + 1),
      authPadLength: view.getUint8(bodyEnd + 2),
      // bodyEnd + 3 is auth_reserved
      authContextId: view.getUint32(bodyEnd + 4, littleEndian),
      authValue: bytes.slice(bodyEnd + SEC_TRAILER_LENGTH, fragLength),
    };
  }

  // The reader only sees the body, so no read can run into the trailer.
  const r = new NdrReader(bytes.subarray(0, bodyEnd), { littleEndian });
  r.skip(COMMON_HEADER_LENGTH, "header");
  const common: PduCommon = {
    callId: header.callId,
    pfcFlags: header.pfcFlags,
    drep: header.drep,
    rpcVersMinor: header.rpcVersMinor,
    authVerifier,
  };
  // Stub-carrying PDUs lose their auth padding from the stub (MS-RPCE §2.2.2.11 auth_pad_length).
  const stubEnd = bodyEnd - (authVerifier?.authPadLength ?? 0);

  switch (header.type) {
    case "bind":
    case "alter_context":
      return r.result({ type: header.type, ...common, ...readBindBody(r) });
    case "bind_ack":
    case "alter_context_resp":
      return r.result({ type: header.type, ...common, ...readBindAckBody(r) });
    case "bind_nak":
      return readBindNak(r, common, bytes, bodyEnd);
    case "request": {
      // C706 §12.6.4.9: alloc_hint, p_cont_id, opnum, then object UUID if PFC_OBJECT_UUID.
      const allocHint = r.u32("alloc_hint");
      const contextId = r.u16("p_cont_id");
      const opnum = r.u16("opnum");
      const object = (header.pfcFlags & PFC_OBJECT_UUID) !== 0 ? r.uuid("object") : null;
      const stub = readStub(r, bytes, stubEnd);
      return r.result({ type: "request", ...common, allocHint, contextId, opnum, object, stub });
    }
    case "response": {
      // C706 §12.6.4.10: alloc_hint, p_cont_id, cancel_count, reserved.
      const allocHint = r.u32("alloc_hint");
      const contextId = r.u16("p_cont_id");
      const cancelCount = r.u8("cancel_count");
      r.skip(1, "reserved");
      const stub = readStub(r, bytes, stubEnd);
      return r.result({ type: "response", ...common, allocHint, contextId, cancelCount, stub });
    }
    case "fault": {
      // C706 §12.6.4.7: response-style header, status, 4 reserved octets: 32 bytes in all.
      const allocHint = r.u32("alloc_hint");
      const contextId = r.u16("p_cont_id");
      const cancelCount = r.u8("cancel_count");
      const faultFlags = r.u8("fault_flags");
      const status = r.u32("status");
      r.skip(4, "reserved");
      const stub = readStub(r, bytes, stubEnd);
      return r.result({
        type: "fault",
        ...common,
        allocHint,
        contextId,
        cancelCount,
        faultFlags,
        status,
        stub,
      });
    }
    case "auth3":
    case "shutdown":
    case "co_cancel":
    case "orphaned":
      return { type: header.type, ...common, body: bytes.slice(COMMON_HEADER_LENGTH, bodyEnd) };
  }
}

/** Stub octets from the reader's position to `stubEnd` (before any auth padding). */
function readStub(r: NdrReader, bytes: Uint8Array, stubEnd: number): Uint8Array {
  if (r.failed) return new Uint8Array(0);
  if (stubEnd < r.offset) {
    r.fail("auth-verifier", `auth_pad_length runs ${r.offset - stubEnd} bytes into the header`);
    return new Uint8Array(0);
  }
  return bytes.slice(r.offset, stubEnd);
}

/** C706 §12.6.4.3 bind body; p_cont_list_t per §12.6.3.1. */
function readBindBody(r: NdrReader): BindBody {
  const maxXmitFrag = r.u16("max_xmit_frag");
  const maxRecvFrag = r.u16("max_recv_frag");
  const assocGroupId = r.u32("assoc_group_id");
  const count = r.u8("n_context_elem");
  r.skip(3, "reserved");
  const contexts: PresentationContext[] = [];
  // n_context_elem is a byte and each element needs ≥ 44 bytes, so the loop is short; a
  // truncated list stops it through the reader's sticky issue.
  for (let i = 0; i < count && !r.failed; i++) {
    const contextId = r.u16("p_cont_id");
    const transferCount = r.u8("n_transfer_syn");
    r.skip(1, "reserved");
    const abstractSyntax = readSyntaxId(r, "abstract_syntax");
    const transferSyntaxes: SyntaxId[] = [];
    for (let t = 0; t < transferCount && !r.failed; t++) {
      transferSyntaxes.push(readSyntaxId(r, "transfer_syntax"));
    }
    contexts.push({ contextId, abstractSyntax, transferSyntaxes });
  }
  return { maxXmitFrag, maxRecvFrag, assocGroupId, contexts };
}

/** C706 §12.6.4.4 bind_ack body. */
function readBindAckBody(r: NdrReader): BindAckBody {
  const maxXmitFrag = r.u16("max_xmit_frag");
  const maxRecvFrag = r.u16("max_recv_frag");
  const assocGroupId = r.u32("assoc_group_id");
  // port_any_t: u16 length (NUL included), then the characters; then pad to 4 from the PDU start
  // (research §2.1: pad = (4 - ((sec_addr_len + 26) % 4)) % 4).
  const addressLength = r.u16("sec_addr");
  const raw = r.bytesOf(addressLength, "sec_addr");
  r.align(4, "pad2");
  const count = r.u8("n_results");
  r.skip(3, "reserved");
  const results: ContextResult[] = [];
  for (let i = 0; i < count && !r.failed; i++) {
    const result = r.u16("result");
    const reason = r.u16("reason");
    const transferSyntax = readSyntaxId(r, "transfer_syntax");
    results.push({ result, reason, transferSyntax });
  }
  return {
    maxXmitFrag,
    maxRecvFrag,
    assocGroupId,
    secondaryAddress: latin1UpToNul(raw),
    results,
  };
}

/** C706 §12.6.4.5 bind_nak: reason, then n_protocols and the versions; the rest kept opaque. */
function readBindNak(
  r: NdrReader,
  common: PduCommon,
  bytes: Uint8Array,
  bodyEnd: number,
): BindNakPdu | DecodeIssue {
  const rejectReason = r.u16("provider_reject_reason");
  const versions: ProtocolVersion[] = [];
  // Some stacks send only the reason; an absent version list is not an error.
  if (!r.failed && r.remaining > 0) {
    const count = r.u8("n_protocols");
    if (!r.failed && count * 2 > r.remaining) {
      r.fail("versions", `n_protocols ${count} needs ${count * 2} bytes, ${r.remaining} left`);
    }
    for (let i = 0; i < count && !r.failed; i++) {
      versions.push({ major: r.u8("rpc_vers"), minor: r.u8("rpc_vers_minor") });
    }
  }
  const extra = r.failed ? new Uint8Array(0) : bytes.slice(r.offset, bodyEnd);
  return r.result({ type: "bind_nak", ...common, rejectReason, versions, extra });
}

/** C706 §12.6.3.1 p_syntax_id_t: uuid_t, then u32 if_version (major low 16 bits, minor high). */
function readSyntaxId(r: NdrReader, what: string): SyntaxId {
  const uuid = r.uuid(what);
  const version = r.u32(what);
  return { uuid, major: version & 0xffff, minor: version >>> 16 };
}

function latin1UpToNul(raw: Uint8Array): string {
  let end = raw.indexOf(0);
  if (end < 0) end = raw.length;
  let out = "";
  for (let i = 0; i < end; i++) out += String.fromCharCode(raw[i] ?? 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Encode one PDU. frag_length and auth_length are computed; pfc_flags are written as given,
 * except PFC_OBJECT_UUID on a request, which follows `object`. Throws RangeError/TypeError on
 * values that cannot be represented (a programming error, never a network condition).
 */
export function encodePdu(pdu: Pdu): Uint8Array {
  const littleEndian = pdu.drep.integer === "little-endian";
  const w = new NdrWriter({ littleEndian, initialCapacity: 128 });
  w.bytes(new Uint8Array(COMMON_HEADER_LENGTH)); // patched once the length is known
  let flags = pdu.pfcFlags;

  switch (pdu.type) {
    case "bind":
    case "alter_context":
      writeBindBody(w, pdu);
      break;
    case "bind_ack":
    case "alter_context_resp":
      writeBindAckBody(w, pdu);
      break;
    case "bind_nak":
      w.u16(pdu.rejectReason);
      w.u8(checkCount(pdu.versions.length, 0xff, "bind_nak versions"));
      for (const version of pdu.versions) w.u8(version.major).u8(version.minor);
      w.bytes(pdu.extra);
      break;
    case "request":
      w.u32(pdu.allocHint).u16(pdu.contextId).u16(pdu.opnum);
      flags = (flags & ~PFC_OBJECT_UUID) | (pdu.object !== null ? PFC_OBJECT_UUID : 0);
      if (pdu.object !== null) w.uuid(pdu.object);
      writeStub(w, pdu.stub, pdu.authVerifier);
      break;
    case "response":
      w.u32(pdu.allocHint).u16(pdu.contextId).u8(pdu.cancelCount).u8(0);
      writeStub(w, pdu.stub, pdu.authVerifier);
      break;
    case "fault":
      w.u32(pdu.allocHint).u16(pdu.contextId).u8(pdu.cancelCount).u8(pdu.faultFlags);
      w.u32(pdu.status).u32(0);
      writeStub(w, pdu.stub, pdu.authVerifier);
      break;
    case "auth3":
    case "shutdown":
    case "co_cancel":
    case "orphaned":
      w.bytes(pdu.body);
      break;
  }

  const body = w.toBytes();
  const trailer = pdu.authVerifier === null ? null : encodeTrailer(pdu.authVerifier, littleEndian);
  const fragLength = body.length + (trailer?.length ?? 0);
  if (fragLength > MAX_FRAG_LENGTH) {
    throw new RangeError(`PDU of ${fragLength} bytes exceeds frag_length 65535; fragment it`);
  }
  const out = new Uint8Array(fragLength);
  out.set(body);
  if (trailer !== null) out.set(trailer, body.length);
  writeHeader(out, pdu, flags, fragLength, littleEndian);
  return out;
}

function writeHeader(
  out: Uint8Array,
  pdu: Pdu,
  flags: number,
  fragLength: number,
  littleEndian: boolean,
): void {
  checkRange(pdu.rpcVersMinor, 0xff, "rpc_vers_minor");
  checkRange(flags, 0xff, "pfc_flags");
  checkRange(pdu.callId, 0xffffffff, "call_id");
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint8(0, RPC_VERSION);
  view.setUint8(1, pdu.rpcVersMinor);
  view.setUint8(2, PTYPE[pdu.type]);
  view.setUint8(3, flags);
  // C706 §14.1 packed_drep.
  const integer = pdu.drep.integer === "little-endian" ? 0x10 : 0x00;
  const character = pdu.drep.character === "ebcdic" ? 0x01 : 0x00;
  view.setUint8(4, integer | character);
  view.setUint8(5, FLOAT_FORMATS.indexOf(pdu.drep.floatingPoint));
  view.setUint16(8, fragLength, littleEndian);
  view.setUint16(10, pdu.authVerifier?.authValue.length ?? 0, littleEndian);
  view.setUint32(12, pdu.callId, littleEndian);
}

/** Stub, then the auth padding the verifier declares (zero octets). */
function writeStub(w: NdrWriter, stub: Uint8Array, auth: AuthVerifier | null): void {
  w.bytes(stub);
  if (auth !== null) w.bytes(new Uint8Array(checkRange(auth.authPadLength, 0xff, "auth_pad")));
}

/** MS-RPCE §2.2.2.11 sec_trailer + auth_value; written raw because it need not be NDR-aligned. */
function encodeTrailer(auth: AuthVerifier, littleEndian: boolean): Uint8Array {
  if (auth.authValue.length === 0 || auth.authValue.length > 0xffff) {
    throw new RangeError("auth_value must be 1..65535 bytes (auth_length 0 means no verifier)");
  }
  const out = new Uint8Array(SEC_TRAILER_LENGTH + auth.authValue.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, checkRange(auth.authType, 0xff, "auth_type"));
  view.setUint8(1, checkRange(auth.authLevel, 0xff, "auth_level"));
  view.setUint8(2, checkRange(auth.authPadLength, 0xff, "auth_pad_length"));
  view.setUint32(4, checkRange(auth.authContextId, 0xffffffff, "auth_context_id"), littleEndian);
  out.set(auth.authValue, SEC_TRAILER_LENGTH);
  return out;
}

function writeBindBody(w: NdrWriter, body: BindBody): void {
  w.u16(body.maxXmitFrag).u16(body.maxRecvFrag).u32(body.assocGroupId);
  w.u8(checkCount(body.contexts.length, 0xff, "n_context_elem"))
    .u8(0)
    .u16(0);
  for (const context of body.contexts) {
    w.u16(context.contextId);
    w.u8(checkCount(context.transferSyntaxes.length, 0xff, "n_transfer_syn")).u8(0);
    writeSyntaxId(w, context.abstractSyntax);
    for (const syntax of context.transferSyntaxes) writeSyntaxId(w, syntax);
  }
}

function writeBindAckBody(w: NdrWriter, body: BindAckBody): void {
  w.u16(body.maxXmitFrag).u16(body.maxRecvFrag).u32(body.assocGroupId);
  const address = body.secondaryAddress;
  if (address.includes("\0")) throw new TypeError("secondary address must not contain NUL");
  // port_any_t: "" is sent as length 0 (no NUL), as Windows does in alter_context_resp.
  w.u16(address.length === 0 ? 0 : address.length + 1);
  for (let i = 0; i < address.length; i++)
    w.u8(checkRange(address.charCodeAt(i), 0xff, "sec_addr"));
  if (address.length > 0) w.u8(0);
  w.align(4);
  w.u8(checkCount(body.results.length, 0xff, "n_results"))
    .u8(0)
    .u16(0);
  for (const result of body.results) {
    w.u16(result.result).u16(result.reason);
    writeSyntaxId(w, result.transferSyntax);
  }
}

function writeSyntaxId(w: NdrWriter, syntax: SyntaxId): void {
  checkRange(syntax.major, 0xffff, "if_version major");
  checkRange(syntax.minor, 0xffff, "if_version minor");
  w.uuid(syntax.uuid).u32(((syntax.minor << 16) | syntax.major) >>> 0);
}

function checkRange(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} out of range: ${value}`);
  }
  return value;
}

function checkCount(count: number, max: number, what: string): number {
  if (count > max) throw new RangeError(`${what}: ${count} entries, at most ${max}`);
  return count;
}

// ---------------------------------------------------------------------------------------------
// Convenience encoders with the defaults our checks use
// ---------------------------------------------------------------------------------------------

type CommonDefaults = "pfcFlags" | "drep" | "rpcVersMinor" | "authVerifier";

/** A PDU value without `type`, with the common header fields (and `Opt`) made optional. */
export type PduInit<P extends Pdu, Opt extends keyof P = never> = Omit<
  P,
  "type" | CommonDefaults | Opt
> &
  Partial<Pick<P, CommonDefaults | Opt>>;

/** max_xmit_frag / max_recv_frag impacket and Tenable offer (research §2.1). */
export const DEFAULT_MAX_FRAG = 4280;

function commonDefaults(
  init: Partial<Pick<PduCommon, CommonDefaults>>,
): Pick<PduCommon, CommonDefaults> {
  return {
    pfcFlags: init.pfcFlags ?? PFC_WHOLE,
    drep: init.drep ?? LITTLE_ENDIAN_DREP,
    rpcVersMinor: init.rpcVersMinor ?? RPC_VERSION_MINOR,
    authVerifier: init.authVerifier ?? null,
  };
}

type BindDefaults = "maxXmitFrag" | "maxRecvFrag" | "assocGroupId";

/** C706 §12.6.4.3 bind with research §2.1 defaults (4280/4280, assoc_group 0, one fragment). */
export function encodeBind(init: PduInit<BindPdu, BindDefaults>): Uint8Array {
  return encodePdu({ type: "bind", ...bindFields(init), ...commonDefaults(init) });
}

export function encodeAlterContext(init: PduInit<AlterContextPdu, BindDefaults>): Uint8Array {
  return encodePdu({ type: "alter_context", ...bindFields(init), ...commonDefaults(init) });
}

function bindFields(init: Partial<BindBody> & Pick<BindBody, "contexts"> & { callId: number }) {
  return {
    callId: init.callId,
    maxXmitFrag: init.maxXmitFrag ?? DEFAULT_MAX_FRAG,
    maxRecvFrag: init.maxRecvFrag ?? DEFAULT_MAX_FRAG,
    assocGroupId: init.assocGroupId ?? 0,
    contexts: init.contexts,
  };
}

export function encodeBindAck(init: PduInit<BindAckPdu>): Uint8Array {
  return encodePdu({ ...init, type: "bind_ack", ...commonDefaults(init) });
}

export function encodeAlterContextResp(init: PduInit<AlterContextRespPdu>): Uint8Array {
  return encodePdu({ ...init, type: "alter_context_resp", ...commonDefaults(init) });
}

export function encodeBindNak(init: PduInit<BindNakPdu, "versions" | "extra">): Uint8Array {
  return encodePdu({
    ...init,
    type: "bind_nak",
    // C706 §12.6.4.5: advertise the one protocol version we speak, 5.0.
    versions: init.versions ?? [{ major: RPC_VERSION, minor: RPC_VERSION_MINOR }],
    extra: init.extra ?? new Uint8Array(0),
    ...commonDefaults(init),
  });
}

/** C706 §12.6.4.9 request; alloc_hint defaults to the stub length (research §3.1). */
export function encodeRequest(init: PduInit<RequestPdu, "allocHint" | "object">): Uint8Array {
  return encodePdu({
    ...init,
    type: "request",
    allocHint: init.allocHint ?? init.stub.length,
    object: init.object ?? null,
    ...commonDefaults(init),
  });
}

export function encodeResponse(
  init: PduInit<ResponsePdu, "allocHint" | "cancelCount">,
): Uint8Array {
  return encodePdu({
    ...init,
    type: "response",
    allocHint: init.allocHint ?? init.stub.length,
    cancelCount: init.cancelCount ?? 0,
    ...commonDefaults(init),
  });
}

export function encodeFault(
  init: PduInit<FaultPdu, "allocHint" | "cancelCount" | "faultFlags" | "stub">,
): Uint8Array {
  const stub = init.stub ?? new Uint8Array(0);
  return encodePdu({
    ...init,
    type: "fault",
    stub,
    allocHint: init.allocHint ?? stub.length,
    cancelCount: init.cancelCount ?? 0,
    faultFlags: init.faultFlags ?? 0,
    ...commonDefaults(init),
  });
}
