import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt } from "../byte-reader.js";
import type { ByteWriter } from "../byte-writer.js";
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
  type Smb1Block,
  type Smb1Decoded,
  type Smb1HeaderInit,
} from "./header-codec.js";

/**
 * SMB_COM_SESSION_SETUP_ANDX (0x73), both forms.
 *
 *  - MS-CIFS §2.2.4.53.1  request, NT LM 0.12 "basic" form (WordCount 13): passwords in the clear
 *                         or LM/NTLM responses; empty ones make a null session (research §2.3)
 *  - MS-CIFS §2.2.4.53.2  response (WordCount 3): Action, then NativeOS, NativeLanMan,
 *                         PrimaryDomain, the OS strings research Appendix D reads
 *  - MS-SMB §2.2.4.6.1    request with extended security (WordCount 12): SecurityBlob
 *  - MS-SMB §2.2.4.6.2    response with extended security (WordCount 4): SecurityBlob; status
 *                         STATUS_MORE_PROCESSING_REQUIRED while the exchange continues
 *
 * Strings follow the header's SMB_FLAGS2_UNICODE; in Unicode a pad byte puts the first string on
 * an even offset from the SMB header (MS-CIFS §2.2.1.1). Blobs are opaque here (the SPNEGO and
 * NTLMSSP codecs own them).
 */

/** MS-CIFS §2.2.4.53.2 Action bits. */
export const SMB1_SESSION_ACTION = Object.freeze({
  GUEST: 0x0001,
  USE_LANMAN_KEY: 0x0002,
} as const);

interface Smb1SessionSetupRequestCommon {
  readonly maxBufferSize: number;
  readonly maxMpxCount: number;
  readonly vcNumber: number;
  readonly sessionKey: number;
  readonly capabilities: number;
  readonly nativeOs: string;
  readonly nativeLanMan: string;
}

export type Smb1SessionSetupRequest =
  | (Smb1SessionSetupRequestCommon & {
      readonly form: "basic";
      /** OEMPassword (LM response); empty for a null session. */
      readonly oemPassword: Uint8Array;
      /** UnicodePassword (NTLM response); empty for a null session. */
      readonly unicodePassword: Uint8Array;
      readonly accountName: string;
      readonly primaryDomain: string;
    })
  | (Smb1SessionSetupRequestCommon & {
      readonly form: "extended";
      readonly securityBlob: Uint8Array;
    });

export type Smb1SessionSetupResponse =
  | {
      readonly form: "basic";
      readonly action: number;
      readonly nativeOs: string;
      readonly nativeLanMan: string;
      readonly primaryDomain: string;
    }
  | {
      readonly form: "extended";
      readonly action: number;
      readonly securityBlob: Uint8Array;
      readonly nativeOs: string;
      readonly nativeLanMan: string;
      /** Not in MS-SMB's layout, but Samba and Windows send it; "" when absent. */
      readonly primaryDomain: string;
    };

interface NativeNames {
  readonly nativeOs: string;
  readonly nativeLanMan: string;
}

/** NativeOS then NativeLanMan, the two strings every form of either message carries. */
function writeNativeNames(w: ByteWriter, names: NativeNames, unicode: boolean): void {
  writeSmbString(w, names.nativeOs, unicode, "NativeOS");
  writeSmbString(w, names.nativeLanMan, unicode, "NativeLanMan");
}

function readNativeNames(
  message: Uint8Array,
  at: number,
  end: number,
  unicode: boolean,
): NativeNames & { readonly next: number } {
  const os = readSmbString(message, at, end, unicode);
  const lanMan = readSmbString(message, os.next, end, unicode);
  return { nativeOs: os.text, nativeLanMan: lanMan.text, next: lanMan.next };
}

/** `length` bytes at `at`, inside the block's SMB_Data; an issue names the block. */
function bytesIn(
  message: Uint8Array,
  block: Smb1Block,
  at: number,
  length: number,
  what: string,
): Uint8Array | DecodeIssue {
  const end = block.bytesOffset + block.byteCount;
  return bufferAt(message, at, length, what, block.offset, 0, end);
}

export function encodeSmb1SessionSetupRequest(
  request: Smb1SessionSetupRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  const h = smb1Header(SMB1_COMMAND.SESSION_SETUP_ANDX, header);
  const unicode = isUnicode(h);
  return writeSmb1Message(
    h,
    (w) => {
      writeNoAndX(w);
      w.u16(request.maxBufferSize, "MaxBufferSize");
      w.u16(request.maxMpxCount, "MaxMpxCount");
      w.u16(request.vcNumber, "VcNumber");
      w.u32(request.sessionKey, "SessionKey");
      if (request.form === "basic") {
        w.u16(request.oemPassword.length, "OEMPasswordLen");
        w.u16(request.unicodePassword.length, "UnicodePasswordLen");
      } else {
        w.u16(request.securityBlob.length, "SecurityBlobLength");
      }
      w.u32(0, "Reserved");
      w.u32(request.capabilities, "Capabilities");
    },
    (w) => {
      if (request.form === "basic") {
        w.bytes(request.oemPassword).bytes(request.unicodePassword);
        writeSmbString(w, request.accountName, unicode, "AccountName");
        writeSmbString(w, request.primaryDomain, unicode, "PrimaryDomain");
      } else {
        w.bytes(request.securityBlob);
      }
      writeNativeNames(w, request, unicode);
    },
  );
}

/** For the lab's server. Never throws. */
export function decodeSmb1SessionSetupRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1SessionSetupRequest> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.SESSION_SETUP_ANDX,
    "request",
    [12, 13],
    "session-setup-request",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  const unicode = isUnicode(header);
  r.skip(4, "AndX");
  const common = {
    maxBufferSize: r.u16("MaxBufferSize"),
    maxMpxCount: r.u16("MaxMpxCount"),
    vcNumber: r.u16("VcNumber"),
    sessionKey: r.u32("SessionKey"),
  };
  const end = block.bytesOffset + block.byteCount;
  if (block.wordCount === 13) {
    const oemLength = r.u16("OEMPasswordLen");
    const unicodeLength = r.u16("UnicodePasswordLen");
    r.skip(4, "Reserved");
    const capabilities = r.u32("Capabilities");
    if (r.issue !== undefined) return r.issue;
    const oemPassword = bytesIn(message, block, block.bytesOffset, oemLength, "OEMPassword");
    if (isDecodeIssue(oemPassword)) return oemPassword;
    const unicodePassword = bytesIn(
      message,
      block,
      block.bytesOffset + oemLength,
      unicodeLength,
      "UnicodePassword",
    );
    if (isDecodeIssue(unicodePassword)) return unicodePassword;
    const account = readSmbString(
      message,
      block.bytesOffset + oemLength + unicodeLength,
      end,
      unicode,
    );
    const domain = readSmbString(message, account.next, end, unicode);
    const names = readNativeNames(message, domain.next, end, unicode);
    return {
      header,
      form: "basic",
      ...common,
      capabilities,
      oemPassword,
      unicodePassword,
      accountName: account.text,
      primaryDomain: domain.text,
      nativeOs: names.nativeOs,
      nativeLanMan: names.nativeLanMan,
    };
  }
  const blobLength = r.u16("SecurityBlobLength");
  r.skip(4, "Reserved");
  const capabilities = r.u32("Capabilities");
  if (r.issue !== undefined) return r.issue;
  const securityBlob = bytesIn(message, block, block.bytesOffset, blobLength, "SecurityBlob");
  if (isDecodeIssue(securityBlob)) return securityBlob;
  const names = readNativeNames(message, block.bytesOffset + blobLength, end, unicode);
  return {
    header,
    form: "extended",
    ...common,
    capabilities,
    securityBlob,
    nativeOs: names.nativeOs,
    nativeLanMan: names.nativeLanMan,
  };
}

/** For the lab's server: WordCount 3 (basic) or 4 (extended). */
export function encodeSmb1SessionSetupResponse(
  response: Smb1SessionSetupResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  const h = smb1ResponseHeader(SMB1_COMMAND.SESSION_SETUP_ANDX, header);
  const unicode = isUnicode(h);
  return writeSmb1Message(
    h,
    (w) => {
      writeNoAndX(w);
      w.u16(response.action, "Action");
      if (response.form === "extended") w.u16(response.securityBlob.length, "SecurityBlobLength");
    },
    (w) => {
      if (response.form === "extended") w.bytes(response.securityBlob);
      writeNativeNames(w, response, unicode);
      writeSmbString(w, response.primaryDomain, unicode, "PrimaryDomain");
    },
  );
}

/**
 * Decode either response form. Callers check header.status first: STATUS_SUCCESS or
 * STATUS_MORE_PROCESSING_REQUIRED come with these fields, other errors with WordCount 0 (an issue
 * here). header.uid is the UID to use from now on. Never throws.
 */
export function decodeSmb1SessionSetupResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1SessionSetupResponse> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.SESSION_SETUP_ANDX,
    "response",
    [3, 4],
    "session-setup-response",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  const unicode = isUnicode(header);
  r.skip(4, "AndX");
  const action = r.u16("Action");
  const blobLength = block.wordCount === 4 ? r.u16("SecurityBlobLength") : 0;
  if (r.issue !== undefined) return r.issue;
  const end = block.bytesOffset + block.byteCount;
  const securityBlob = bytesIn(message, block, block.bytesOffset, blobLength, "SecurityBlob");
  if (isDecodeIssue(securityBlob)) return securityBlob;
  const names = readNativeNames(message, block.bytesOffset + blobLength, end, unicode);
  const domain = readSmbString(message, names.next, end, unicode);
  const strings = {
    nativeOs: names.nativeOs,
    nativeLanMan: names.nativeLanMan,
    primaryDomain: domain.text,
  };
  return block.wordCount === 4
    ? { header, form: "extended", action, securityBlob, ...strings }
    : { header, form: "basic", action, ...strings };
}
