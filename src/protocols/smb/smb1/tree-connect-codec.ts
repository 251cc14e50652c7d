import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt } from "../byte-reader.js";
import { smbStringBytes } from "../strings.js";
import {
  SMB1_COMMAND,
  isUnicode,
  readSmb1Block,
  readSmbString,
  smb1Header,
  smb1ResponseHeader,
  writeNoAndX,
  writeSmb1Message,
  writeSmbString,
  type Smb1Decoded,
  type Smb1HeaderInit,
} from "./header-codec.js";

/**
 * SMB_COM_TREE_CONNECT_ANDX (0x75).
 *
 *  - MS-CIFS §2.2.4.55.1  request (WordCount 4): Flags, PasswordLength; Bytes = Password, Pad,
 *                         Path (SMB_STRING, e.g. \\host\IPC$), Service (always OEM: "?????",
 *                         "IPC", "A:")
 *  - MS-CIFS §2.2.4.55.2  response (WordCount 3): OptionalSupport; Bytes = Service (OEM),
 *                         NativeFileSystem (SMB_STRING)
 *  - MS-SMB §2.2.4.7.2    extended response (WordCount 7) adds MaximalShareAccessRights and
 *                         GuestMaximalShareAccessRights
 *
 * The password is one NUL byte under user-level security (research Appendix A, NetExec). The
 * lengths are computed, never hard-coded (NetExec's fixed ByteCount 0x1A only fits one address).
 */

/** MS-CIFS §2.2.4.55.1 / MS-SMB §2.2.4.7.1 Flags. */
export const SMB1_TREE_CONNECT_FLAGS = Object.freeze({
  DISCONNECT_TID: 0x0001,
  EXTENDED_SIGNATURES: 0x0004,
  EXTENDED_RESPONSE: 0x0008,
} as const);

/** Service strings (MS-CIFS §2.2.4.55.1). */
export const SMB1_SERVICE = Object.freeze({
  ANY: "?????",
  IPC: "IPC",
  DISK: "A:",
  PRINTER: "LPT1:",
} as const);

export interface Smb1TreeConnectRequest {
  readonly flags: number;
  readonly password: Uint8Array;
  /** UNC path, e.g. \\127.0.0.2\IPC$. */
  readonly path: string;
  readonly service: string;
}

export interface Smb1TreeConnectResponse {
  readonly optionalSupport: number;
  /** MS-SMB extended response only (WordCount 7); null in the WordCount 3 form. */
  readonly maximalShareAccessRights: number | null;
  readonly guestMaximalShareAccessRights: number | null;
  readonly service: string;
  readonly nativeFileSystem: string;
}

export function encodeSmb1TreeConnectRequest(
  request: Smb1TreeConnectRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  const h = smb1Header(SMB1_COMMAND.TREE_CONNECT_ANDX, header);
  return writeSmb1Message(
    h,
    (w) => {
      writeNoAndX(w);
      w.u16(request.flags, "Flags");
      w.u16(request.password.length, "PasswordLength");
    },
    (w) => {
      w.bytes(request.password);
      writeSmbString(w, request.path, isUnicode(h), "Path");
      w.bytes(smbStringBytes(request.service, false, "Service"));
    },
  );
}

/** For the lab's server. Never throws. */
export function decodeSmb1TreeConnectRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1TreeConnectRequest> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.TREE_CONNECT_ANDX,
    "request",
    [4],
    "tree-connect-request",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  r.skip(4, "AndX");
  const flags = r.u16("Flags");
  const passwordLength = r.u16("PasswordLength");
  if (r.issue !== undefined) return r.issue;
  const end = block.bytesOffset + block.byteCount;
  const password = bufferAt(
    message,
    block.bytesOffset,
    passwordLength,
    "Password",
    block.offset,
    0,
    end,
  );
  if (isDecodeIssue(password)) return password;
  const path = readSmbString(message, block.bytesOffset + passwordLength, end, isUnicode(header));
  const service = readSmbString(message, path.next, end, false);
  return { header, flags, password, path: path.text, service: service.text };
}

/** For the lab's server: WordCount 7 when the access rights are given, else 3. */
export function encodeSmb1TreeConnectResponse(
  response: Smb1TreeConnectResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  const extended = response.maximalShareAccessRights !== null;
  if (extended !== (response.guestMaximalShareAccessRights !== null)) {
    throw new RangeError("give both maximal access rights (WordCount 7) or neither (WordCount 3)");
  }
  const h = smb1ResponseHeader(SMB1_COMMAND.TREE_CONNECT_ANDX, header);
  return writeSmb1Message(
    h,
    (w) => {
      writeNoAndX(w);
      w.u16(response.optionalSupport, "OptionalSupport");
      if (extended) {
        w.u32(response.maximalShareAccessRights ?? 0, "MaximalShareAccessRights");
        w.u32(response.guestMaximalShareAccessRights ?? 0, "GuestMaximalShareAccessRights");
      }
    },
    (w) => {
      w.bytes(smbStringBytes(response.service, false, "Service"));
      writeSmbString(w, response.nativeFileSystem, isUnicode(h), "NativeFileSystem");
    },
  );
}

/** header.tid is the TID to use from now on. Never throws. */
export function decodeSmb1TreeConnectResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1TreeConnectResponse> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.TREE_CONNECT_ANDX,
    "response",
    [3, 7],
    "tree-connect-response",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  r.skip(4, "AndX");
  const optionalSupport = r.u16("OptionalSupport");
  const extended = block.wordCount === 7;
  const maximal = extended ? r.u32("MaximalShareAccessRights") : null;
  const guest = extended ? r.u32("GuestMaximalShareAccessRights") : null;
  if (r.issue !== undefined) return r.issue;
  const end = block.bytesOffset + block.byteCount;
  if (block.byteCount === 0) {
    return decodeIssue("service", block.bytesOffset, "no Service string", 1);
  }
  const service = readSmbString(message, block.bytesOffset, end, false);
  const fileSystem = readSmbString(message, service.next, end, isUnicode(header));
  return {
    header,
    optionalSupport,
    maximalShareAccessRights: maximal,
    guestMaximalShareAccessRights: guest,
    service: service.text,
    nativeFileSystem: fileSystem.text,
  };
}
