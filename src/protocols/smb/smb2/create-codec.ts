import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt, type ByteReader } from "../byte-reader.js";
import type { ByteWriter } from "../byte-writer.js";
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
 * SMB2 CREATE and CLOSE (MS-SMB2), used here to open named pipes on IPC$.
 *
 *  - §2.2.13  CREATE request: StructureSize 57, SecurityFlags, RequestedOplockLevel,
 *             ImpersonationLevel, SmbCreateFlags, Reserved, DesiredAccess, FileAttributes,
 *             ShareAccess, CreateDisposition, CreateOptions, NameOffset/Length,
 *             CreateContextsOffset/Length, Buffer. The name is UTF-16LE, no terminator, relative
 *             to the share ("srvsvc" on IPC$); the buffer is at least one byte
 *  - §2.2.14  CREATE response: StructureSize 89, ..., FileId (persistent + volatile), contexts
 *  - §2.2.14.1 SMB2_FILEID
 *  - §2.2.15 / §2.2.16  CLOSE request (StructureSize 24) / response (StructureSize 60)
 *
 * Create contexts are passed through as raw bytes (8-aligned after the name): pipe opens carry
 * none, and no check depends on them.
 */

/** §2.2.14.1 SMB2_FILEID. */
export interface Smb2FileId {
  readonly persistent: bigint;
  readonly volatile: bigint;
}

/** §2.2.13 RequestedOplockLevel / §2.2.14 OplockLevel. */
export const SMB2_OPLOCK_LEVEL = Object.freeze({
  NONE: 0x00,
  II: 0x01,
  EXCLUSIVE: 0x08,
  BATCH: 0x09,
  LEASE: 0xff,
} as const);

/** §2.2.13 ImpersonationLevel. */
export const SMB2_IMPERSONATION_LEVEL = Object.freeze({
  ANONYMOUS: 0,
  IDENTIFICATION: 1,
  IMPERSONATION: 2,
  DELEGATE: 3,
} as const);

/** §2.2.13 CreateDisposition. */
export const SMB2_CREATE_DISPOSITION = Object.freeze({
  SUPERSEDE: 0,
  OPEN: 1,
  CREATE: 2,
  OPEN_IF: 3,
  OVERWRITE: 4,
  OVERWRITE_IF: 5,
} as const);

/**
 * What impacket's SMBConnection.openFile asks for on a pipe: READ_DATA | WRITE_DATA | APPEND_DATA
 * | READ_EA | READ_ATTRIBUTES | WRITE_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE (0x0012019F).
 */
export const SMB2_PIPE_DESIRED_ACCESS = 0x0012019f;

export interface Smb2CreateRequest {
  readonly securityFlags: number;
  readonly requestedOplockLevel: number;
  readonly impersonationLevel: number;
  readonly smbCreateFlags: bigint;
  readonly desiredAccess: number;
  readonly fileAttributes: number;
  readonly shareAccess: number;
  readonly createDisposition: number;
  readonly createOptions: number;
  /** E.g. "epmapper" (no leading backslash on SMB2). */
  readonly name: string;
  /** Raw SMB2_CREATE_CONTEXT chain (§2.2.13.2); empty for pipes. */
  readonly createContexts: Uint8Array;
}

export interface Smb2CreateResponse {
  readonly oplockLevel: number;
  readonly flags: number;
  readonly createAction: number;
  readonly creationTime: bigint;
  readonly lastAccessTime: bigint;
  readonly lastWriteTime: bigint;
  readonly changeTime: bigint;
  readonly allocationSize: bigint;
  readonly endOfFile: bigint;
  readonly fileAttributes: number;
  readonly fileId: Smb2FileId;
  readonly createContexts: Uint8Array;
}

export interface Smb2CloseRequest {
  /** §2.2.15 SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB (1) asks for the attributes in the response. */
  readonly flags: number;
  readonly fileId: Smb2FileId;
}

export interface Smb2CloseResponse {
  readonly flags: number;
  readonly creationTime: bigint;
  readonly lastAccessTime: bigint;
  readonly lastWriteTime: bigint;
  readonly changeTime: bigint;
  readonly allocationSize: bigint;
  readonly endOfFile: bigint;
  readonly fileAttributes: number;
}

const CREATE_REQUEST_SIZE = 57;
const CREATE_RESPONSE_SIZE = 89;
const CLOSE_REQUEST_SIZE = 24;
const CLOSE_RESPONSE_SIZE = 60;

/** A pipe open as impacket's SMB2 client sends it (FILE_OPEN, non-directory, impersonation). */
export function smb2PipeOpenRequest(pipeName: string): Smb2CreateRequest {
  return {
    securityFlags: 0,
    requestedOplockLevel: SMB2_OPLOCK_LEVEL.NONE,
    impersonationLevel: SMB2_IMPERSONATION_LEVEL.IMPERSONATION,
    smbCreateFlags: 0n,
    desiredAccess: SMB2_PIPE_DESIRED_ACCESS,
    fileAttributes: 0,
    shareAccess: 0x00000003, // FILE_SHARE_READ | FILE_SHARE_WRITE
    createDisposition: SMB2_CREATE_DISPOSITION.OPEN,
    createOptions: 0x00000040, // FILE_NON_DIRECTORY_FILE
    name: pipeName.replace(/^\\+/, ""),
    createContexts: new Uint8Array(0),
  };
}

export function writeFileId(w: ByteWriter, fileId: Smb2FileId): void {
  w.u64(fileId.persistent, "FileId.Persistent");
  w.u64(fileId.volatile, "FileId.Volatile");
}

export function readFileId(r: ByteReader): Smb2FileId {
  return { persistent: r.u64("FileId.Persistent"), volatile: r.u64("FileId.Volatile") };
}

export function encodeSmb2CreateRequest(
  request: Smb2CreateRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const name = encodeUtf16le(request.name);
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.CREATE, header), CREATE_REQUEST_SIZE);
  w.u8(request.securityFlags, "SecurityFlags");
  w.u8(request.requestedOplockLevel, "RequestedOplockLevel");
  w.u32(request.impersonationLevel, "ImpersonationLevel");
  w.u64(request.smbCreateFlags, "SmbCreateFlags");
  w.u64(0n, "Reserved");
  w.u32(request.desiredAccess, "DesiredAccess");
  w.u32(request.fileAttributes, "FileAttributes");
  w.u32(request.shareAccess, "ShareAccess");
  w.u32(request.createDisposition, "CreateDisposition");
  w.u32(request.createOptions, "CreateOptions");
  const nameOffset = SMB2_HEADER_LENGTH + CREATE_REQUEST_SIZE - 1;
  w.u16(nameOffset, "NameOffset");
  w.u16(name.length, "NameLength");
  const contextsAt = w.offset;
  w.u32(0, "CreateContextsOffset");
  w.u32(request.createContexts.length, "CreateContextsLength");
  w.bytes(name);
  if (request.createContexts.length > 0) {
    w.align(8); // §2.2.13: CreateContextsOffset is 8-byte aligned
    w.patchU32(contextsAt, w.offset, "CreateContextsOffset");
    w.bytes(request.createContexts);
  }
  if (w.offset === nameOffset) w.zeros(1); // §2.2.13: the Buffer is at least one byte
  return w.finish();
}

/** For the lab's server. Never throws. */
export function decodeSmb2CreateRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2CreateRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.CREATE, "request", CREATE_REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const securityFlags = r.u8("SecurityFlags");
  const requestedOplockLevel = r.u8("RequestedOplockLevel");
  const impersonationLevel = r.u32("ImpersonationLevel");
  const smbCreateFlags = r.u64("SmbCreateFlags");
  r.skip(8, "Reserved");
  const desiredAccess = r.u32("DesiredAccess");
  const fileAttributes = r.u32("FileAttributes");
  const shareAccess = r.u32("ShareAccess");
  const createDisposition = r.u32("CreateDisposition");
  const createOptions = r.u32("CreateOptions");
  const nameField = r.offset;
  const nameOffset = r.u16("NameOffset");
  const nameLength = r.u16("NameLength");
  const contextsField = r.offset;
  const contextsOffset = r.u32("CreateContextsOffset");
  const contextsLength = r.u32("CreateContextsLength");
  if (r.issue !== undefined) return r.issue;
  const name = bufferAt(message, nameOffset, nameLength, "name", nameField, SMB2_HEADER_LENGTH);
  if (isDecodeIssue(name)) return name;
  const createContexts = bufferAt(
    message,
    contextsOffset,
    contextsLength,
    "create-contexts",
    contextsField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(createContexts)) return createContexts;
  return {
    header,
    securityFlags,
    requestedOplockLevel,
    impersonationLevel,
    smbCreateFlags,
    desiredAccess,
    fileAttributes,
    shareAccess,
    createDisposition,
    createOptions,
    name: decodeUtf16le(name),
    createContexts,
  };
}

export function encodeSmb2CreateResponse(
  response: Smb2CreateResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.CREATE, header), CREATE_RESPONSE_SIZE);
  w.u8(response.oplockLevel, "OplockLevel");
  w.u8(response.flags, "Flags");
  w.u32(response.createAction, "CreateAction");
  w.u64(response.creationTime, "CreationTime");
  w.u64(response.lastAccessTime, "LastAccessTime");
  w.u64(response.lastWriteTime, "LastWriteTime");
  w.u64(response.changeTime, "ChangeTime");
  w.u64(response.allocationSize, "AllocationSize");
  w.u64(response.endOfFile, "EndofFile");
  w.u32(response.fileAttributes, "FileAttributes");
  w.u32(0, "Reserved2");
  writeFileId(w, response.fileId);
  const hasContexts = response.createContexts.length > 0;
  // The buffer starts at 152, already 8-aligned (§2.2.14).
  w.u32(hasContexts ? SMB2_HEADER_LENGTH + CREATE_RESPONSE_SIZE - 1 : 0, "CreateContextsOffset");
  w.u32(response.createContexts.length, "CreateContextsLength");
  w.bytes(response.createContexts);
  return w.finish();
}

export function decodeSmb2CreateResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2CreateResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.CREATE, "response", CREATE_RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const oplockLevel = r.u8("OplockLevel");
  const flags = r.u8("Flags");
  const createAction = r.u32("CreateAction");
  const creationTime = r.u64("CreationTime");
  const lastAccessTime = r.u64("LastAccessTime");
  const lastWriteTime = r.u64("LastWriteTime");
  const changeTime = r.u64("ChangeTime");
  const allocationSize = r.u64("AllocationSize");
  const endOfFile = r.u64("EndofFile");
  const fileAttributes = r.u32("FileAttributes");
  r.skip(4, "Reserved2");
  const fileId = readFileId(r);
  const contextsField = r.offset;
  const contextsOffset = r.u32("CreateContextsOffset");
  const contextsLength = r.u32("CreateContextsLength");
  if (r.issue !== undefined) return r.issue;
  const createContexts = bufferAt(
    message,
    contextsOffset,
    contextsLength,
    "create-contexts",
    contextsField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(createContexts)) return createContexts;
  return {
    header,
    oplockLevel,
    flags,
    createAction,
    creationTime,
    lastAccessTime,
    lastWriteTime,
    changeTime,
    allocationSize,
    endOfFile,
    fileAttributes,
    fileId,
    createContexts,
  };
}

export function encodeSmb2CloseRequest(
  request: Smb2CloseRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.CLOSE, header), CLOSE_REQUEST_SIZE);
  w.u16(request.flags, "Flags");
  w.u32(0, "Reserved");
  writeFileId(w, request.fileId);
  return w.finish();
}

export function decodeSmb2CloseRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2CloseRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.CLOSE, "request", CLOSE_REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const flags = r.u16("Flags");
  r.skip(4, "Reserved");
  const fileId = readFileId(r);
  return r.result({ header, flags, fileId });
}

export function encodeSmb2CloseResponse(
  response: Smb2CloseResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.CLOSE, header), CLOSE_RESPONSE_SIZE);
  w.u16(response.flags, "Flags");
  w.u32(0, "Reserved");
  w.u64(response.creationTime, "CreationTime");
  w.u64(response.lastAccessTime, "LastAccessTime");
  w.u64(response.lastWriteTime, "LastWriteTime");
  w.u64(response.changeTime, "ChangeTime");
  w.u64(response.allocationSize, "AllocationSize");
  w.u64(response.endOfFile, "EndofFile");
  w.u32(response.fileAttributes, "FileAttributes");
  return w.finish();
}

export function decodeSmb2CloseResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2CloseResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.CLOSE, "response", CLOSE_RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const flags = r.u16("Flags");
  r.skip(4, "Reserved");
  const value = {
    header,
    flags,
    creationTime: r.u64("CreationTime"),
    lastAccessTime: r.u64("LastAccessTime"),
    lastWriteTime: r.u64("LastWriteTime"),
    changeTime: r.u64("ChangeTime"),
    allocationSize: r.u64("AllocationSize"),
    endOfFile: r.u64("EndofFile"),
    fileAttributes: r.u32("FileAttributes"),
  };
  return r.result(value);
}
