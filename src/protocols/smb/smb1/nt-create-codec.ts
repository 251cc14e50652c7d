import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { decodeOem, decodeUtf16le, smbStringBytes } from "../strings.js";
import {
  SMB1_COMMAND,
  isUnicode,
  readSmb1Block,
  smb1Header,
  smb1ResponseHeader,
  writeNoAndX,
  writeSmb1Message,
  type Smb1Decoded,
  type Smb1HeaderInit,
} from "./header-codec.js";

/**
 * SMB_COM_NT_CREATE_ANDX (0xA2), used here to open named pipes on IPC$ (\epmapper, \srvsvc...).
 *
 *  - MS-CIFS §2.2.4.64.1  request (WordCount 24): ... NameLength, Flags, RootDirectoryFID,
 *                         DesiredAccess, AllocationSize, ExtFileAttributes, ShareAccess,
 *                         CreateDisposition, CreateOptions, ImpersonationLevel, SecurityFlags;
 *                         Bytes = Pad (Unicode), FileName
 *  - MS-CIFS §2.2.4.64.2  response (WordCount 34): OplockLevel, FID, CreateDisposition, four
 *                         times, attributes, sizes, ResourceType, NMPipeStatus, Directory
 *  - MS-SMB §2.2.4.9.2    extended response (WordCount 42, really 50 words; header-codec.ts):
 *                         the same first 68 bytes, then VolumeGUID, FileId, access rights, which
 *                         we do not decode (our requests never ask for it)
 *
 * NameLength is the FileName's byte length without the terminator, as impacket and Windows
 * clients send it; the decoder reads up to the terminator or NameLength, whichever comes first.
 */

/** The 2003 raw \wkssvc open and Tenable's \epmapper open (research §2.3 step 3). */
export const SMB1_PIPE_DESIRED_ACCESS = 0x0002019f;
/** MS-CIFS §2.2.4.64.1 CreateDisposition FILE_OPEN. */
const FILE_OPEN = 0x00000001;
/** MS-CIFS §2.2.4.64.1 CreateOptions FILE_NON_DIRECTORY_FILE. */
const FILE_NON_DIRECTORY_FILE = 0x00000040;
/** FILE_SHARE_READ | FILE_SHARE_WRITE. */
const FILE_SHARE_READ_WRITE = 0x00000003;
/** SECURITY_IMPERSONATION (MS-CIFS ImpersonationLevel 2); the 2003 packet used 1. */
const IMPERSONATION_IMPERSONATION = 0x00000002;

export interface Smb1NtCreateRequest {
  readonly flags: number;
  readonly rootDirectoryFid: number;
  readonly desiredAccess: number;
  readonly allocationSize: bigint;
  readonly extFileAttributes: number;
  readonly shareAccess: number;
  readonly createDisposition: number;
  readonly createOptions: number;
  readonly impersonationLevel: number;
  readonly securityFlags: number;
  /** E.g. "\\epmapper" for the endpoint mapper pipe. */
  readonly fileName: string;
}

export interface Smb1NtCreateResponse {
  readonly oplockLevel: number;
  readonly fid: number;
  readonly createDisposition: number;
  readonly creationTime: bigint;
  readonly lastAccessTime: bigint;
  readonly lastWriteTime: bigint;
  readonly lastChangeTime: bigint;
  readonly extFileAttributes: number;
  readonly allocationSize: bigint;
  readonly endOfFile: bigint;
  /** 2 = FileTypeMessageModePipe, 1 = byte-mode pipe, 0 = disk. */
  readonly resourceType: number;
  readonly nmPipeStatus: number;
  readonly directory: number;
}

/**
 * A pipe open like the 2003 raw packet (research §2.3 step 3): DesiredAccess 0x0002019F,
 * share read|write, FILE_OPEN, FILE_NON_DIRECTORY_FILE, impersonation, SecurityFlags 1.
 */
export function smb1PipeOpenRequest(pipeName: string): Smb1NtCreateRequest {
  return {
    flags: 0,
    rootDirectoryFid: 0,
    desiredAccess: SMB1_PIPE_DESIRED_ACCESS,
    allocationSize: 0n,
    extFileAttributes: 0,
    shareAccess: FILE_SHARE_READ_WRITE,
    createDisposition: FILE_OPEN,
    createOptions: FILE_NON_DIRECTORY_FILE,
    impersonationLevel: IMPERSONATION_IMPERSONATION,
    securityFlags: 1,
    fileName: pipeName.startsWith("\\") ? pipeName : `\\${pipeName}`,
  };
}

export function encodeSmb1NtCreateRequest(
  request: Smb1NtCreateRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  const h = smb1Header(SMB1_COMMAND.NT_CREATE_ANDX, header);
  const unicode = isUnicode(h);
  const name = smbStringBytes(request.fileName, unicode, "FileName");
  return writeSmb1Message(
    h,
    (w) => {
      writeNoAndX(w);
      w.u8(0, "Reserved");
      w.u16(name.length - (unicode ? 2 : 1), "NameLength");
      w.u32(request.flags, "Flags");
      w.u32(request.rootDirectoryFid, "RootDirectoryFID");
      w.u32(request.desiredAccess, "DesiredAccess");
      w.u64(request.allocationSize, "AllocationSize");
      w.u32(request.extFileAttributes, "ExtFileAttributes");
      w.u32(request.shareAccess, "ShareAccess");
      w.u32(request.createDisposition, "CreateDisposition");
      w.u32(request.createOptions, "CreateOptions");
      w.u32(request.impersonationLevel, "ImpersonationLevel");
      w.u8(request.securityFlags, "SecurityFlags");
    },
    (w) => {
      if (unicode) w.align(2);
      w.bytes(name);
    },
  );
}

/** For the lab's server. Never throws. */
export function decodeSmb1NtCreateRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1NtCreateRequest> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.NT_CREATE_ANDX,
    "request",
    [24],
    "nt-create-request",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  r.skip(5, "AndX + Reserved");
  const nameLength = r.u16("NameLength");
  const fields = {
    flags: r.u32("Flags"),
    rootDirectoryFid: r.u32("RootDirectoryFID"),
    desiredAccess: r.u32("DesiredAccess"),
    allocationSize: r.u64("AllocationSize"),
    extFileAttributes: r.u32("ExtFileAttributes"),
    shareAccess: r.u32("ShareAccess"),
    createDisposition: r.u32("CreateDisposition"),
    createOptions: r.u32("CreateOptions"),
    impersonationLevel: r.u32("ImpersonationLevel"),
    securityFlags: r.u8("SecurityFlags"),
  };
  if (r.issue !== undefined) return r.issue;
  const unicode = isUnicode(header);
  const end = block.bytesOffset + block.byteCount;
  let at = block.bytesOffset;
  if (unicode && at % 2 === 1 && at < end) at++;
  // Up to NameLength bytes, cut at a terminator if one comes first.
  const limit = Math.min(end, at + nameLength);
  let stop = at;
  if (unicode) {
    while (stop + 1 < limit && (message[stop] !== 0 || message[stop + 1] !== 0)) stop += 2;
    if (stop + 1 >= limit) stop = limit;
  } else {
    while (stop < limit && message[stop] !== 0) stop++;
  }
  const raw = message.subarray(at, stop);
  return { header, ...fields, fileName: unicode ? decodeUtf16le(raw) : decodeOem(raw) };
}

/** For the lab's server: the WordCount 34 form. */
export function encodeSmb1NtCreateResponse(
  response: Smb1NtCreateResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return writeSmb1Message(
    smb1ResponseHeader(SMB1_COMMAND.NT_CREATE_ANDX, header),
    (w) => {
      writeNoAndX(w);
      w.u8(response.oplockLevel, "OplockLevel");
      w.u16(response.fid, "FID");
      w.u32(response.createDisposition, "CreateDisposition");
      w.u64(response.creationTime, "CreateTime");
      w.u64(response.lastAccessTime, "LastAccessTime");
      w.u64(response.lastWriteTime, "LastWriteTime");
      w.u64(response.lastChangeTime, "LastChangeTime");
      w.u32(response.extFileAttributes, "ExtFileAttributes");
      w.u64(response.allocationSize, "AllocationSize");
      w.u64(response.endOfFile, "EndOfFile");
      w.u16(response.resourceType, "ResourceType");
      w.u16(response.nmPipeStatus, "NMPipeStatus");
      w.u8(response.directory, "Directory");
    },
    () => undefined,
  );
}

/** Decodes WordCount 34 and the 42/50-word extended form (its first 68 bytes). Never throws. */
export function decodeSmb1NtCreateResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1NtCreateResponse> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.NT_CREATE_ANDX,
    "response",
    [34, 42],
    "nt-create-response",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, r } = opened;
  r.skip(4, "AndX");
  const value = {
    header,
    oplockLevel: r.u8("OplockLevel"),
    fid: r.u16("FID"),
    createDisposition: r.u32("CreateDisposition"),
    creationTime: r.u64("CreateTime"),
    lastAccessTime: r.u64("LastAccessTime"),
    lastWriteTime: r.u64("LastWriteTime"),
    lastChangeTime: r.u64("LastChangeTime"),
    extFileAttributes: r.u32("ExtFileAttributes"),
    allocationSize: r.u64("AllocationSize"),
    endOfFile: r.u64("EndOfFile"),
    resourceType: r.u16("ResourceType"),
    nmPipeStatus: r.u16("NMPipeStatus"),
    directory: r.u8("Directory"),
  };
  return r.result(value);
}
