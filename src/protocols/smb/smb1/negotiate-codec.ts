import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { ByteReader } from "../byte-reader.js";
import { guidFromBytes, guidToBytes } from "../guid.js";
import { encodeOem, readTerminated, smbStringBytes, checkNoNul } from "../strings.js";
import {
  SMB1_CAPABILITIES,
  SMB1_COMMAND,
  checkWordCount,
  findSmb1Block,
  isUnicode,
  readSmb1Block,
  smb1Header,
  smb1ResponseHeader,
  writeSmb1Message,
  type Smb1Decoded,
  type Smb1HeaderInit,
} from "./header-codec.js";

/**
 * SMB_COM_NEGOTIATE (0x72).
 *
 *  - MS-CIFS §2.2.4.52.1  request: WordCount 0; Bytes = Dialects[], each BufferFormat 0x02 + an
 *                         OEM NUL-terminated dialect name
 *  - MS-CIFS §2.2.4.52.2  response: WordCount 1 (DialectIndex only: core dialect, or 0xFFFF =
 *                         none accepted), 13 (LANMAN), 17 (NT LM 0.12)
 *  - MS-SMB §2.2.4.5.2.1  NT LM 0.12 with extended security (CAP_EXTENDED_SECURITY): Bytes =
 *                         ServerGUID (16) + SecurityBlob (SPNEGO NegTokenInit)
 *  - MS-SMB §2.2.4.5.2.2  without: Bytes = Challenge (ChallengeLength) + DomainName + ServerName,
 *                         NUL-terminated and, unlike other SMB_Data strings, not aligned (Samba's
 *                         reply_nt1 pushes them STR_NOALIGN; Windows does the same)
 *  - MS-SMB2 §3.3.5.3.1   a server speaking SMB2 answers an SMB1 negotiate offering "SMB 2.002" /
 *                         "SMB 2.???" with an SMB2 NEGOTIATE response (see multi-protocol-negotiate.ts)
 */

/** "NT LM 0.12", the only SMB1 dialect our clients offer (research Appendix B). */
export const SMB1_DIALECT_NT_LM_012 = "NT LM 0.12";
/** MS-CIFS §2.2.4.52.2: DialectIndex when the server accepts none of the dialects. */
export const SMB1_NO_DIALECT = 0xffff;
/** MS-CIFS §2.2.4.52.1 BufferFormat of each dialect string. */
const DIALECT_BUFFER_FORMAT = 0x02;

export interface Smb1NegotiateRequest {
  /** Dialect names in preference order, e.g. ["NT LM 0.12"] or ["NT LM 0.12", "SMB 2.002", "SMB 2.???"]. */
  readonly dialects: readonly string[];
}

/** How an NT LM 0.12 server wants the client to authenticate. */
export type Smb1NegotiateSecurity =
  | {
      /** MS-SMB §2.2.4.5.2.1: CAP_EXTENDED_SECURITY set. */
      readonly kind: "extended";
      readonly serverGuid: string;
      /** SPNEGO NegTokenInit (often empty); opaque here. */
      readonly securityBlob: Uint8Array;
    }
  | {
      /** MS-SMB §2.2.4.5.2.2: challenge/response ("non-extended") authentication. */
      readonly kind: "challenge";
      /** The 8-byte LM/NTLM challenge (empty when the server does not encrypt passwords). */
      readonly challenge: Uint8Array;
      readonly domainName: string;
      /** MS-SMB adds ServerName; "" when the server sends only DomainName (MS-CIFS form). */
      readonly serverName: string;
    };

/** MS-CIFS §2.2.4.52.2 NT LM 0.12 response (WordCount 17). */
export interface Smb1NtLmNegotiateResponse {
  readonly form: "nt-lm";
  readonly dialectIndex: number;
  readonly securityMode: number;
  readonly maxMpxCount: number;
  readonly maxNumberVcs: number;
  readonly maxBufferSize: number;
  readonly maxRawSize: number;
  readonly sessionKey: number;
  readonly capabilities: number;
  /** FILETIME (see filetimeToIso). */
  readonly systemTime: bigint;
  /** Minutes from UTC, signed (MS-CIFS: "ServerTimeZone"). */
  readonly serverTimeZone: number;
  readonly security: Smb1NegotiateSecurity;
}

export type Smb1NegotiateResponse =
  | Smb1NtLmNegotiateResponse
  | {
      /** WordCount 1: core dialect chosen, or SMB1_NO_DIALECT (0xFFFF) when none was. */
      readonly form: "index-only";
      readonly dialectIndex: number;
    }
  | {
      /** WordCount 13: a LANMAN dialect; kept raw (no check needs its fields). */
      readonly form: "lanman";
      readonly dialectIndex: number;
      /** The 24 parameter bytes after DialectIndex. */
      readonly words: Uint8Array;
      readonly bytes: Uint8Array;
    };

/** MS-CIFS §2.2.4.52.1. */
export function encodeSmb1NegotiateRequest(
  request: Smb1NegotiateRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  if (request.dialects.length === 0) throw new RangeError("offer at least one dialect");
  return writeSmb1Message(
    smb1Header(SMB1_COMMAND.NEGOTIATE, header),
    () => undefined,
    (w) => {
      for (const dialect of request.dialects) {
        checkNoNul(dialect, "dialect");
        w.u8(DIALECT_BUFFER_FORMAT, "BufferFormat")
          .bytes(encodeOem(dialect, "dialect"))
          .u8(0, "NUL");
      }
    },
  );
}

/** MS-CIFS §2.2.4.52.1, for the lab's server. Never throws. */
export function decodeSmb1NegotiateRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1NegotiateRequest> | DecodeIssue {
  const found = findSmb1Block(message, SMB1_COMMAND.NEGOTIATE, "request");
  if (isDecodeIssue(found)) return found;
  const { header, block } = found;
  const bad = checkWordCount(block, [0], "negotiate-request");
  if (bad !== null) return bad;
  const dialects: string[] = [];
  const end = block.bytesOffset + block.byteCount;
  let at = block.bytesOffset;
  // Each dialect takes at least 2 bytes, so this ends within ByteCount / 2 rounds.
  while (at < end) {
    if (message[at] !== DIALECT_BUFFER_FORMAT) {
      return decodeIssue(
        "dialect",
        at,
        `BufferFormat 0x${(message[at] ?? 0).toString(16)}, not 0x02`,
      );
    }
    const name = readTerminated(message, at + 1, end, false);
    dialects.push(name.text);
    at = name.next;
  }
  return { header, dialects };
}

/** MS-CIFS §2.2.4.52.2 / MS-SMB §2.2.4.5.2, for the lab's server. */
export function encodeSmb1NegotiateResponse(
  response: Smb1NegotiateResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  const h = smb1ResponseHeader(SMB1_COMMAND.NEGOTIATE, header);
  switch (response.form) {
    case "index-only":
      return writeSmb1Message(
        h,
        (w) => w.u16(response.dialectIndex, "DialectIndex"),
        () => undefined,
      );
    case "lanman":
      if (response.words.length !== 24) throw new RangeError("LANMAN response words are 24 bytes");
      return writeSmb1Message(
        h,
        (w) => w.u16(response.dialectIndex, "DialectIndex").bytes(response.words),
        (w) => w.bytes(response.bytes),
      );
    case "nt-lm":
      break;
  }
  const r = response;
  const extended = (r.capabilities & SMB1_CAPABILITIES.EXTENDED_SECURITY) !== 0;
  if (extended !== (r.security.kind === "extended")) {
    throw new RangeError(
      "CAP_EXTENDED_SECURITY in capabilities must match security.kind (MS-SMB §2.2.4.5.2)",
    );
  }
  const security = r.security;
  const challengeLength = security.kind === "challenge" ? security.challenge.length : 0;
  return writeSmb1Message(
    h,
    (w) => {
      w.u16(r.dialectIndex, "DialectIndex");
      w.u8(r.securityMode, "SecurityMode");
      w.u16(r.maxMpxCount, "MaxMpxCount");
      w.u16(r.maxNumberVcs, "MaxNumberVcs");
      w.u32(r.maxBufferSize, "MaxBufferSize");
      w.u32(r.maxRawSize, "MaxRawSize");
      w.u32(r.sessionKey, "SessionKey");
      w.u32(r.capabilities, "Capabilities");
      w.u64(r.systemTime, "SystemTime");
      w.i16(r.serverTimeZone, "ServerTimeZone");
      w.u8(challengeLength, "ChallengeLength");
    },
    (w) => {
      if (security.kind === "extended") {
        w.bytes(guidToBytes(security.serverGuid, "ServerGUID")).bytes(security.securityBlob);
        return;
      }
      const unicode = isUnicode(h);
      w.bytes(security.challenge);
      w.bytes(smbStringBytes(security.domainName, unicode, "DomainName"));
      w.bytes(smbStringBytes(security.serverName, unicode, "ServerName"));
    },
  );
}

/** Decode an SMB1 NEGOTIATE response (all three forms). Never throws. */
export function decodeSmb1NegotiateResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1NegotiateResponse> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.NEGOTIATE,
    "response",
    [1, 13, 17],
    "negotiate-response",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  const dialectIndex = r.u16("DialectIndex");
  if (block.wordCount === 1) return { header, form: "index-only", dialectIndex };
  if (block.wordCount === 13) {
    return {
      header,
      form: "lanman",
      dialectIndex,
      words: r.bytesOf(24, "words"),
      bytes: block.bytes,
    };
  }
  const fields = {
    dialectIndex,
    securityMode: r.u8("SecurityMode"),
    maxMpxCount: r.u16("MaxMpxCount"),
    maxNumberVcs: r.u16("MaxNumberVcs"),
    maxBufferSize: r.u32("MaxBufferSize"),
    maxRawSize: r.u32("MaxRawSize"),
    sessionKey: r.u32("SessionKey"),
    capabilities: r.u32("Capabilities"),
    systemTime: r.u64("SystemTime"),
    serverTimeZone: r.i16("ServerTimeZone"),
  };
  const challengeLength = r.u8("ChallengeLength");
  if (r.issue !== undefined) return r.issue;
  const security = readSecurity(message, block.bytesOffset, block.byteCount, {
    extended: (fields.capabilities & SMB1_CAPABILITIES.EXTENDED_SECURITY) !== 0,
    challengeLength,
    unicode: isUnicode(header),
  });
  if (isDecodeIssue(security)) return security;
  return { header, form: "nt-lm", ...fields, security };
}

function readSecurity(
  message: Uint8Array,
  start: number,
  length: number,
  how: { extended: boolean; challengeLength: number; unicode: boolean },
): Smb1NegotiateSecurity | DecodeIssue {
  const end = start + length;
  const b = new ByteReader(message, start, end);
  if (how.extended) {
    // MS-SMB §2.2.4.5.2.1: ServerGUID then the blob, which runs to the end of SMB_Data.
    if (length < 16) {
      return decodeIssue(
        "server-guid",
        start,
        "extended security without a ServerGUID",
        16 - length,
      );
    }
    const serverGuid = guidFromBytes(message, start);
    return { kind: "extended", serverGuid, securityBlob: message.slice(start + 16, end) };
  }
  const challenge = b.bytesOf(how.challengeLength, "Challenge");
  if (b.issue !== undefined) return b.issue;
  const domain = readTerminated(message, b.offset, end, how.unicode);
  const server = readTerminated(message, domain.next, end, how.unicode);
  return { kind: "challenge", challenge, domainName: domain.text, serverName: server.text };
}
