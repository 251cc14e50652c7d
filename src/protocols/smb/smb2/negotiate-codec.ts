import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { ByteReader, bufferAt } from "../byte-reader.js";
import { ByteWriter } from "../byte-writer.js";
import { guidFromBytes, guidToBytes } from "../guid.js";
import { decodeUtf16le, encodeUtf16le } from "../strings.js";
import {
  SMB2_COMMAND,
  SMB2_HEADER_LENGTH,
  openSmb2Body,
  smb2Header,
  smb2ResponseHeader,
  startSmb2Message,
  type Smb2Decoded,
  type Smb2HeaderInit,
} from "./header-codec.js";

/**
 * SMB2 NEGOTIATE (MS-SMB2), with SMB 3.1.1 negotiate contexts.
 *
 *  - §2.2.3     request: StructureSize 36, DialectCount, SecurityMode, Capabilities, ClientGuid,
 *               NegotiateContextOffset/Count (only when 0x0311 is offered; ClientStartTime
 *               otherwise), Dialects[], Padding to 8, NegotiateContextList
 *  - §2.2.3.1   context: ContextType (2), DataLength (2), Reserved (4), Data; the first at
 *               NegotiateContextOffset, every next one "at the first 8-byte aligned offset
 *               following the previous" (offsets from the SMB2 header start)
 *  - §2.2.3.1.1 PREAUTH_INTEGRITY_CAPABILITIES, §2.2.3.1.2 ENCRYPTION_CAPABILITIES,
 *    §2.2.3.1.3 COMPRESSION_CAPABILITIES, §2.2.3.1.4 NETNAME_NEGOTIATE_CONTEXT_ID,
 *    §2.2.3.1.5 TRANSPORT_CAPABILITIES, §2.2.3.1.6 RDMA_TRANSFORM_CAPABILITIES,
 *    §2.2.3.1.7 SIGNING_CAPABILITIES
 *  - §2.2.4     response: StructureSize 65, SecurityMode, DialectRevision, NegotiateContextCount,
 *               ServerGuid, Capabilities, MaxTransact/Read/WriteSize, SystemTime, ServerStartTime,
 *               SecurityBufferOffset/Length, NegotiateContextOffset, Buffer, Padding, contexts
 *
 * Research Appendix C: SMBGhost capability = DialectRevision 0x0311 and a COMPRESSION context in
 * the response; its 182-byte request is what encodeSmb2NegotiateRequest produces.
 */

/** §2.2.3 Dialects; WILDCARD is the §3.3.5.3.1 answer to "SMB 2.???" in an SMB1 negotiate. */
export const SMB2_DIALECT = Object.freeze({
  SMB_2_0_2: 0x0202,
  SMB_2_1: 0x0210,
  SMB_3_0: 0x0300,
  SMB_3_0_2: 0x0302,
  SMB_3_1_1: 0x0311,
  WILDCARD: 0x02ff,
} as const);

/** The five dialects nmap's smb2_dialects enumerates (research Appendix B), low to high. */
export const SMB2_ALL_DIALECTS: readonly number[] = Object.freeze([
  0x0202, 0x0210, 0x0300, 0x0302, 0x0311,
]);

/** §2.2.3 SecurityMode. */
export const SMB2_SECURITY_MODE = Object.freeze({
  SIGNING_ENABLED: 0x0001,
  SIGNING_REQUIRED: 0x0002,
} as const);

/** §2.2.3 / §2.2.4 Capabilities. */
export const SMB2_CAPABILITIES = Object.freeze({
  DFS: 0x00000001,
  LEASING: 0x00000002,
  LARGE_MTU: 0x00000004,
  MULTI_CHANNEL: 0x00000008,
  PERSISTENT_HANDLES: 0x00000010,
  DIRECTORY_LEASING: 0x00000020,
  ENCRYPTION: 0x00000040,
  NOTIFICATIONS: 0x00000080,
} as const);

/** §2.2.3.1 ContextType. */
export const SMB2_NEGOTIATE_CONTEXT_TYPE = Object.freeze({
  PREAUTH_INTEGRITY_CAPABILITIES: 0x0001,
  ENCRYPTION_CAPABILITIES: 0x0002,
  COMPRESSION_CAPABILITIES: 0x0003,
  NETNAME_NEGOTIATE_CONTEXT_ID: 0x0005,
  TRANSPORT_CAPABILITIES: 0x0006,
  RDMA_TRANSFORM_CAPABILITIES: 0x0007,
  SIGNING_CAPABILITIES: 0x0008,
} as const);

/** §2.2.3.1.1 HashAlgorithms. */
export const SMB2_HASH_ALGORITHM = Object.freeze({ SHA_512: 0x0001 } as const);

/** §2.2.3.1.2 Ciphers. */
export const SMB2_CIPHER = Object.freeze({
  AES_128_CCM: 0x0001,
  AES_128_GCM: 0x0002,
  AES_256_CCM: 0x0003,
  AES_256_GCM: 0x0004,
} as const);

/** §2.2.3.1.3 CompressionAlgorithms. */
export const SMB2_COMPRESSION_ALGORITHM = Object.freeze({
  NONE: 0x0000,
  LZNT1: 0x0001,
  LZ77: 0x0002,
  LZ77_HUFFMAN: 0x0003,
  PATTERN_V1: 0x0004,
  LZ4: 0x0005,
} as const);

/** §2.2.3.1.3 Flags. */
export const SMB2_COMPRESSION_FLAGS = Object.freeze({ NONE: 0, CHAINED: 1 } as const);

/** §2.2.3.1.7 SigningAlgorithms. */
export const SMB2_SIGNING_ALGORITHM = Object.freeze({
  HMAC_SHA256: 0x0000,
  AES_CMAC: 0x0001,
  AES_GMAC: 0x0002,
} as const);

export type Smb2NegotiateContext =
  | {
      readonly type: "preauth-integrity";
      readonly hashAlgorithms: readonly number[];
      readonly salt: Uint8Array;
    }
  | { readonly type: "encryption"; readonly ciphers: readonly number[] }
  | {
      readonly type: "compression";
      readonly flags: number;
      readonly algorithms: readonly number[];
    }
  | { readonly type: "netname"; readonly netName: string }
  | { readonly type: "transport"; readonly flags: number }
  | { readonly type: "rdma-transform"; readonly transformIds: readonly number[] }
  | { readonly type: "signing"; readonly algorithms: readonly number[] }
  /** Any other ContextType, kept raw. */
  | { readonly type: "other"; readonly contextType: number; readonly data: Uint8Array };

export interface Smb2NegotiateRequest {
  readonly dialects: readonly number[];
  readonly securityMode: number;
  readonly capabilities: number;
  readonly clientGuid: string;
  /** Only with 0x0311 among the dialects (§2.2.3); must be empty otherwise. */
  readonly contexts: readonly Smb2NegotiateContext[];
}

export interface Smb2NegotiateResponse {
  readonly securityMode: number;
  readonly dialectRevision: number;
  readonly serverGuid: string;
  readonly capabilities: number;
  readonly maxTransactSize: number;
  readonly maxReadSize: number;
  readonly maxWriteSize: number;
  /** FILETIME (see filetimeToIso). */
  readonly systemTime: bigint;
  /** FILETIME; 0 when the server does not say (Samba, Windows 10+). */
  readonly serverStartTime: bigint;
  /** SPNEGO NegTokenInit (opaque here); may be empty. */
  readonly securityBuffer: Uint8Array;
  /** Only with DialectRevision 0x0311 (§2.2.4); empty otherwise. */
  readonly contexts: readonly Smb2NegotiateContext[];
}

const REQUEST_STRUCTURE_SIZE = 36;
const RESPONSE_STRUCTURE_SIZE = 65;
const CONTEXT_HEADER_LENGTH = 8;

/**
 * §2.2.3. With contexts, they start at the first 8-byte boundary after the dialects and each is
 * padded to 8 except the last (research Appendix C: offset 112 for five dialects, 182 bytes).
 */
export function encodeSmb2NegotiateRequest(
  request: Smb2NegotiateRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  if (request.dialects.length === 0) throw new RangeError("offer at least one dialect");
  if (request.contexts.length > 0 && !request.dialects.includes(SMB2_DIALECT.SMB_3_1_1)) {
    throw new RangeError("negotiate contexts need dialect 0x0311 in the list (MS-SMB2 §2.2.3)");
  }
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.NEGOTIATE, header), REQUEST_STRUCTURE_SIZE);
  w.u16(request.dialects.length, "DialectCount");
  w.u16(request.securityMode, "SecurityMode");
  w.u16(0, "Reserved");
  w.u32(request.capabilities, "Capabilities");
  w.bytes(guidToBytes(request.clientGuid, "ClientGuid"));
  const contextOffsetAt = w.offset;
  w.u32(0, "NegotiateContextOffset");
  w.u16(request.contexts.length, "NegotiateContextCount");
  w.u16(0, "Reserved2");
  for (const dialect of request.dialects) w.u16(dialect, "Dialect");
  if (request.contexts.length > 0) {
    w.align(8);
    w.patchU32(contextOffsetAt, w.offset, "NegotiateContextOffset");
    writeContexts(w, request.contexts);
  }
  return w.finish();
}

/** §2.2.3, for the lab's server. Never throws. */
export function decodeSmb2NegotiateRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2NegotiateRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.NEGOTIATE, "request", REQUEST_STRUCTURE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const dialectCount = r.u16("DialectCount");
  const securityMode = r.u16("SecurityMode");
  r.skip(2, "Reserved");
  const capabilities = r.u32("Capabilities");
  const guidAt = r.offset;
  r.skip(16, "ClientGuid");
  const contextOffsetField = r.offset;
  const contextOffset = r.u32("NegotiateContextOffset");
  const contextCount = r.u16("NegotiateContextCount");
  r.skip(2, "Reserved2");
  // Each dialect is 2 bytes: check the count against what is left before reading.
  if (r.issue === undefined && dialectCount * 2 > r.remaining) {
    r.fail(
      "dialects",
      `DialectCount ${dialectCount} needs ${dialectCount * 2} bytes`,
      dialectCount * 2 - r.remaining,
    );
  }
  const dialects: number[] = [];
  for (let i = 0; i < dialectCount && !r.failed; i++) dialects.push(r.u16("Dialect"));
  if (r.issue !== undefined) return r.issue;
  const clientGuid = guidFromBytes(message, guidAt);
  // §2.2.3: the context fields mean ClientStartTime unless 0x0311 is offered.
  const contexts = dialects.includes(SMB2_DIALECT.SMB_3_1_1)
    ? readContexts(message, contextOffset, contextCount, contextOffsetField)
    : [];
  if (isDecodeIssue(contexts)) return contexts;
  return { header, dialects, securityMode, capabilities, clientGuid, contexts };
}

/** §2.2.4, for the lab's server. The security buffer sits at offset 128, contexts after it. */
export function encodeSmb2NegotiateResponse(
  response: Smb2NegotiateResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  if (response.contexts.length > 0 && response.dialectRevision !== SMB2_DIALECT.SMB_3_1_1) {
    throw new RangeError("negotiate contexts need DialectRevision 0x0311 (MS-SMB2 §2.2.4)");
  }
  const w = startSmb2Message(
    smb2ResponseHeader(SMB2_COMMAND.NEGOTIATE, header),
    RESPONSE_STRUCTURE_SIZE,
  );
  w.u16(response.securityMode, "SecurityMode");
  w.u16(response.dialectRevision, "DialectRevision");
  w.u16(response.contexts.length, "NegotiateContextCount");
  w.bytes(guidToBytes(response.serverGuid, "ServerGuid"));
  w.u32(response.capabilities, "Capabilities");
  w.u32(response.maxTransactSize, "MaxTransactSize");
  w.u32(response.maxReadSize, "MaxReadSize");
  w.u32(response.maxWriteSize, "MaxWriteSize");
  w.u64(response.systemTime, "SystemTime");
  w.u64(response.serverStartTime, "ServerStartTime");
  const bufferOffset = SMB2_HEADER_LENGTH + RESPONSE_STRUCTURE_SIZE - 1;
  w.u16(bufferOffset, "SecurityBufferOffset");
  w.u16(response.securityBuffer.length, "SecurityBufferLength");
  const contextOffsetAt = w.offset;
  w.u32(0, "NegotiateContextOffset");
  w.bytes(response.securityBuffer);
  if (response.contexts.length > 0) {
    w.align(8);
    w.patchU32(contextOffsetAt, w.offset, "NegotiateContextOffset");
    writeContexts(w, response.contexts);
  }
  return w.finish();
}

/**
 * §2.2.4. Contexts are decoded only for DialectRevision 0x0311 (the count field is Reserved
 * otherwise). A response to the §3.3.5.3.1 multi-protocol negotiate has DialectRevision 0x0202
 * or 0x02FF (SMB2_DIALECT.WILDCARD: send an SMB2 NEGOTIATE next). Never throws.
 */
export function decodeSmb2NegotiateResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2NegotiateResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.NEGOTIATE, "response", RESPONSE_STRUCTURE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const securityMode = r.u16("SecurityMode");
  const dialectRevision = r.u16("DialectRevision");
  const contextCount = r.u16("NegotiateContextCount");
  const guidAt = r.offset;
  r.skip(16, "ServerGuid");
  const capabilities = r.u32("Capabilities");
  const maxTransactSize = r.u32("MaxTransactSize");
  const maxReadSize = r.u32("MaxReadSize");
  const maxWriteSize = r.u32("MaxWriteSize");
  const systemTime = r.u64("SystemTime");
  const serverStartTime = r.u64("ServerStartTime");
  const bufferOffsetField = r.offset;
  const bufferOffset = r.u16("SecurityBufferOffset");
  const bufferLength = r.u16("SecurityBufferLength");
  const contextOffsetField = r.offset;
  const contextOffset = r.u32("NegotiateContextOffset");
  if (r.issue !== undefined) return r.issue;
  const serverGuid = guidFromBytes(message, guidAt);
  const securityBuffer = bufferAt(
    message,
    bufferOffset,
    bufferLength,
    "security-buffer",
    bufferOffsetField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(securityBuffer)) return securityBuffer;
  const contexts =
    dialectRevision === SMB2_DIALECT.SMB_3_1_1
      ? readContexts(message, contextOffset, contextCount, contextOffsetField)
      : [];
  if (isDecodeIssue(contexts)) return contexts;
  return {
    header,
    securityMode,
    dialectRevision,
    serverGuid,
    capabilities,
    maxTransactSize,
    maxReadSize,
    maxWriteSize,
    systemTime,
    serverStartTime,
    securityBuffer,
    contexts,
  };
}

function writeContexts(w: ByteWriter, contexts: readonly Smb2NegotiateContext[]): void {
  contexts.forEach((context, i) => {
    if (i > 0) w.align(8); // §2.2.3.1: every context after the first starts 8-aligned
    const { type, data } = contextData(context);
    if (data.length > 0xffff) throw new RangeError("negotiate context data exceeds 65535 bytes");
    w.u16(type, "ContextType");
    w.u16(data.length, "DataLength");
    w.u32(0, "Reserved");
    w.bytes(data);
  });
}

/** A context's ContextType and Data bytes (§2.2.3.1.x). */
function contextData(context: Smb2NegotiateContext): { type: number; data: Uint8Array } {
  // Context data is written on its own: nothing inside it aligns to the message.
  const w = new ByteWriter();
  const list = (values: readonly number[], what: string): void => {
    for (const value of values) w.u16(value, what);
  };
  switch (context.type) {
    case "preauth-integrity":
      w.u16(context.hashAlgorithms.length, "HashAlgorithmCount");
      w.u16(context.salt.length, "SaltLength");
      list(context.hashAlgorithms, "HashAlgorithm");
      w.bytes(context.salt);
      return { type: SMB2_NEGOTIATE_CONTEXT_TYPE.PREAUTH_INTEGRITY_CAPABILITIES, data: w.finish() };
    case "encryption":
      w.u16(context.ciphers.length, "CipherCount");
      list(context.ciphers, "Cipher");
      return { type: SMB2_NEGOTIATE_CONTEXT_TYPE.ENCRYPTION_CAPABILITIES, data: w.finish() };
    case "compression":
      w.u16(context.algorithms.length, "CompressionAlgorithmCount");
      w.u16(0, "Padding");
      w.u32(context.flags, "Flags");
      list(context.algorithms, "CompressionAlgorithm");
      return { type: SMB2_NEGOTIATE_CONTEXT_TYPE.COMPRESSION_CAPABILITIES, data: w.finish() };
    case "netname":
      return {
        type: SMB2_NEGOTIATE_CONTEXT_TYPE.NETNAME_NEGOTIATE_CONTEXT_ID,
        data: encodeUtf16le(context.netName),
      };
    case "transport":
      w.u32(context.flags, "Flags");
      return { type: SMB2_NEGOTIATE_CONTEXT_TYPE.TRANSPORT_CAPABILITIES, data: w.finish() };
    case "rdma-transform":
      w.u16(context.transformIds.length, "TransformCount");
      w.u16(0, "Reserved1");
      w.u32(0, "Reserved2");
      list(context.transformIds, "RDMATransformId");
      return { type: SMB2_NEGOTIATE_CONTEXT_TYPE.RDMA_TRANSFORM_CAPABILITIES, data: w.finish() };
    case "signing":
      w.u16(context.algorithms.length, "SigningAlgorithmCount");
      list(context.algorithms, "SigningAlgorithm");
      return { type: SMB2_NEGOTIATE_CONTEXT_TYPE.SIGNING_CAPABILITIES, data: w.finish() };
    case "other":
      if (KNOWN_TYPES.has(context.contextType)) {
        throw new RangeError(`context type ${context.contextType} has its own form; use it`);
      }
      return { type: context.contextType, data: context.data };
  }
}

const KNOWN_TYPES = new Set<number>(Object.values(SMB2_NEGOTIATE_CONTEXT_TYPE));

/**
 * Read `count` contexts from `offset` (§2.2.3.1 alignment). Each context is at least 8 bytes, so
 * a count that cannot fit in the bytes left is refused before the loop (a count of 0xFFFF costs
 * nothing), and the loop ends within the message.
 */
function readContexts(
  message: Uint8Array,
  offset: number,
  count: number,
  fieldOffset: number,
): Smb2NegotiateContext[] | DecodeIssue {
  if (count === 0) return [];
  if (offset < SMB2_HEADER_LENGTH || offset > message.length) {
    return decodeIssue(
      "negotiate-contexts",
      fieldOffset,
      `NegotiateContextOffset ${offset} is outside the ${message.length}-byte message`,
    );
  }
  const room = message.length - offset;
  if (count * CONTEXT_HEADER_LENGTH > room) {
    return decodeIssue(
      "negotiate-contexts",
      fieldOffset + 4,
      `${count} contexts cannot fit in the ${room} bytes after offset ${offset}`,
      count * CONTEXT_HEADER_LENGTH - room,
    );
  }
  const contexts: Smb2NegotiateContext[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (i > 0) at += (8 - (at % 8)) % 8;
    const r = new ByteReader(message, at);
    const type = r.u16("ContextType");
    const length = r.u16("DataLength");
    r.skip(4, "Reserved");
    const dataAt = r.offset;
    const data = r.bytesOf(length, "context-data");
    if (r.issue !== undefined) return { ...r.issue, what: "negotiate-context" };
    const context = parseContext(type, data, dataAt);
    if (isDecodeIssue(context)) return context;
    contexts.push(context);
    at = dataAt + length;
  }
  return contexts;
}

/** One context's Data (already cut to DataLength); counts are checked against it. */
function parseContext(
  type: number,
  data: Uint8Array,
  dataAt: number,
): Smb2NegotiateContext | DecodeIssue {
  const r = new ByteReader(data);
  const list = (count: number, what: string): number[] => {
    if (r.issue === undefined && count * 2 > r.remaining) {
      r.fail(
        what,
        `${count} entries need ${count * 2} bytes, ${r.remaining} left`,
        count * 2 - r.remaining,
      );
      return [];
    }
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(r.u16(what));
    return out;
  };
  let context: Smb2NegotiateContext;
  switch (type) {
    case SMB2_NEGOTIATE_CONTEXT_TYPE.PREAUTH_INTEGRITY_CAPABILITIES: {
      const hashCount = r.u16("HashAlgorithmCount");
      const saltLength = r.u16("SaltLength");
      const hashAlgorithms = list(hashCount, "HashAlgorithms");
      context = { type: "preauth-integrity", hashAlgorithms, salt: r.bytesOf(saltLength, "Salt") };
      break;
    }
    case SMB2_NEGOTIATE_CONTEXT_TYPE.ENCRYPTION_CAPABILITIES:
      context = { type: "encryption", ciphers: list(r.u16("CipherCount"), "Ciphers") };
      break;
    case SMB2_NEGOTIATE_CONTEXT_TYPE.COMPRESSION_CAPABILITIES: {
      const algorithmCount = r.u16("CompressionAlgorithmCount");
      r.skip(2, "Padding");
      const flags = r.u32("Flags");
      context = {
        type: "compression",
        flags,
        algorithms: list(algorithmCount, "CompressionAlgorithms"),
      };
      break;
    }
    case SMB2_NEGOTIATE_CONTEXT_TYPE.NETNAME_NEGOTIATE_CONTEXT_ID:
      context = { type: "netname", netName: decodeUtf16le(data) };
      break;
    case SMB2_NEGOTIATE_CONTEXT_TYPE.TRANSPORT_CAPABILITIES:
      context = { type: "transport", flags: r.u32("Flags") };
      break;
    case SMB2_NEGOTIATE_CONTEXT_TYPE.RDMA_TRANSFORM_CAPABILITIES: {
      const transformCount = r.u16("TransformCount");
      r.skip(6, "Reserved");
      context = { type: "rdma-transform", transformIds: list(transformCount, "RDMATransformIds") };
      break;
    }
    case SMB2_NEGOTIATE_CONTEXT_TYPE.SIGNING_CAPABILITIES:
      context = {
        type: "signing",
        algorithms: list(r.u16("SigningAlgorithmCount"), "SigningAlgorithms"),
      };
      break;
    default:
      context = { type: "other", contextType: type, data };
  }
  const issue = r.issue;
  if (issue !== undefined) return { ...issue, offset: issue.offset + dataAt };
  return context;
}
