import {
  NDR_TRANSFER_SYNTAX,
  SRVSVC,
  encodeBind,
  encodeBindAck,
} from "../../src/protocols/dcerpc/index.js";
import {
  NT_STATUS,
  SMB1_CAPABILITIES,
  SMB1_COMMAND,
  SMB2_COMMAND,
  encodeSmb1CloseRequest,
  encodeSmb1CloseResponse,
  encodeSmb1ErrorResponse,
  encodeSmb1NegotiateRequest,
  encodeSmb1NegotiateResponse,
  encodeSmb1NtCreateRequest,
  encodeSmb1NtCreateResponse,
  encodeSmb1ReadRequest,
  encodeSmb1ReadResponse,
  encodeSmb1SessionSetupRequest,
  encodeSmb1SessionSetupResponse,
  encodeSmb1Transaction2Request,
  encodeSmb1Transaction2Response,
  encodeSmb1TransactionRequest,
  encodeSmb1TransactionResponse,
  encodeSmb1TreeConnectRequest,
  encodeSmb1TreeConnectResponse,
  encodeSmb1WriteRequest,
  encodeSmb1WriteResponse,
  encodeSmb2CloseRequest,
  encodeSmb2CloseResponse,
  encodeSmb2CreateRequest,
  encodeSmb2CreateResponse,
  encodeSmb2ErrorResponse,
  encodeSmb2IoctlRequest,
  encodeSmb2IoctlResponse,
  encodeSmb2LogoffRequest,
  encodeSmb2LogoffResponse,
  encodeSmb2NegotiateRequest,
  encodeSmb2NegotiateResponse,
  encodeSmb2ReadRequest,
  encodeSmb2ReadResponse,
  encodeSmb2SessionSetupRequest,
  encodeSmb2SessionSetupResponse,
  encodeSmb2TreeConnectRequest,
  encodeSmb2TreeConnectResponse,
  encodeSmb2TreeDisconnectRequest,
  encodeSmb2TreeDisconnectResponse,
  encodeSmb2WriteRequest,
  encodeSmb2WriteResponse,
  smb1PeekNamedPipeRequest,
  smb1PipeOpenRequest,
  smb1TransactNamedPipeRequest,
  smb2PipeOpenRequest,
  smb2PipeTransceiveRequest,
  type Smb2FileId,
} from "../../src/protocols/smb/index.js";

/**
 * One plausible conversation of every message type, encoded by our codecs: the tshark test
 * dissects them, the property tests mutate them. Values follow what Windows and Samba send
 * (Samba's answers seen in samba-codec.test.ts).
 */

export interface Sample {
  readonly name: string;
  readonly fromClient: boolean;
  readonly bytes: Uint8Array;
}

/** research Appendix D: nmap's 32-byte NTLMSSP NEGOTIATE (flags 0x00008215). */
export const NTLMSSP_NEGOTIATE = Uint8Array.from(
  Buffer.from("4e544c4d53535000010000001582000000000000000000000000000000000000", "hex"),
);

/** A stand-in SPNEGO NegTokenInit: just the outer tag and length, opaque to the SMB codecs. */
const SPNEGO_STUB = Uint8Array.from([0x60, 0x06, 0x06, 0x04, 0x2b, 0x06, 0x01, 0x05]);

export const BIND = encodeBind({
  callId: 1,
  contexts: [{ contextId: 0, abstractSyntax: SRVSVC, transferSyntaxes: [NDR_TRANSFER_SYNTAX] }],
});

export const BIND_ACK = encodeBindAck({
  callId: 1,
  maxXmitFrag: 4280,
  maxRecvFrag: 4280,
  assocGroupId: 0x1234,
  secondaryAddress: "\\PIPE\\srvsvc",
  results: [{ result: 0, reason: 0, transferSyntax: NDR_TRANSFER_SYNTAX }],
});

const GUID = "7362616c-626d-0000-0000-000000000000";
const FILETIME = 134402580914153284n;
const UNICODE = 0xc803; // UNICODE | NT_STATUS | EXTENDED_SECURITY | EAS | LONG_NAMES
const OEM = 0x4001; // NT_STATUS | LONG_NAMES

export function smb1Samples(): Sample[] {
  const c = (name: string, bytes: Uint8Array): Sample => ({ name, fromClient: true, bytes });
  const s = (name: string, bytes: Uint8Array): Sample => ({ name, fromClient: false, bytes });
  const ids = { uid: 0x7429, tid: 0xdc46, mid: 7 };
  return [
    c("negotiate request", encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] }, { mid: 1 })),
    s(
      "negotiate response (challenge)",
      encodeSmb1NegotiateResponse(
        {
          form: "nt-lm",
          dialectIndex: 0,
          securityMode: 3,
          maxMpxCount: 50,
          maxNumberVcs: 1,
          maxBufferSize: 16644,
          maxRawSize: 65536,
          sessionKey: 0x7109,
          capabilities: 0x0080f3fd,
          systemTime: FILETIME,
          serverTimeZone: -60,
          security: {
            kind: "challenge",
            challenge: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
            domainName: "LABGROUP",
            serverName: "LABSMB",
          },
        },
        { flags2: 0xc003, mid: 1 },
      ),
    ),
    c(
      "session setup request (null session, OEM)",
      encodeSmb1SessionSetupRequest(
        {
          form: "basic",
          maxBufferSize: 0xffdf,
          maxMpxCount: 2,
          vcNumber: 1,
          sessionKey: 0,
          capabilities: SMB1_CAPABILITIES.STATUS32,
          oemPassword: new Uint8Array(0),
          unicodePassword: new Uint8Array(0),
          accountName: "",
          primaryDomain: ".",
          nativeOs: "Windows 2000 2195",
          nativeLanMan: "Windows 2000 5.0",
        },
        { flags2: OEM, mid: 2 },
      ),
    ),
    s(
      "session setup response (basic, Unicode)",
      encodeSmb1SessionSetupResponse(
        {
          form: "basic",
          action: 0,
          nativeOs: "Windows 5.0",
          nativeLanMan: "Windows 2000 LAN Manager",
          primaryDomain: "LABGROUP",
        },
        { flags2: 0xc001, uid: ids.uid, mid: 2 },
      ),
    ),
    c(
      "session setup request (extended security)",
      encodeSmb1SessionSetupRequest(
        {
          form: "extended",
          maxBufferSize: 0xffff,
          maxMpxCount: 2,
          vcNumber: 1,
          sessionKey: 0,
          capabilities: SMB1_CAPABILITIES.EXTENDED_SECURITY | SMB1_CAPABILITIES.UNICODE,
          securityBlob: NTLMSSP_NEGOTIATE,
          nativeOs: "Unix",
          nativeLanMan: "ringfence",
        },
        { flags2: UNICODE, mid: 3 },
      ),
    ),
    s(
      "session setup response (extended security, more processing)",
      encodeSmb1SessionSetupResponse(
        {
          form: "extended",
          action: 0,
          securityBlob: SPNEGO_STUB,
          nativeOs: "Windows 6.1",
          nativeLanMan: "Samba 4.17.12-Debian",
          primaryDomain: "LABGROUP",
        },
        { flags2: UNICODE, uid: ids.uid, mid: 3, status: NT_STATUS.MORE_PROCESSING_REQUIRED },
      ),
    ),
    c(
      "tree connect request",
      encodeSmb1TreeConnectRequest(
        { flags: 0, password: Uint8Array.of(0), path: "\\\\127.0.0.62\\IPC$", service: "?????" },
        { flags2: 0xc001, uid: ids.uid, mid: 4 },
      ),
    ),
    s(
      "tree connect response",
      encodeSmb1TreeConnectResponse(
        {
          optionalSupport: 1,
          maximalShareAccessRights: 0x1f01ff,
          guestMaximalShareAccessRights: 0,
          service: "IPC",
          nativeFileSystem: "",
        },
        { flags2: 0xc001, ...ids, mid: 4 },
      ),
    ),
    c(
      "peek named pipe on FID 0 (MS17-010)",
      encodeSmb1TransactionRequest(smb1PeekNamedPipeRequest(0), {
        flags2: 0x2801,
        ...ids,
        mid: 5,
      }),
    ),
    s(
      "peek answered STATUS_INSUFF_SERVER_RESOURCES",
      encodeSmb1ErrorResponse(SMB1_COMMAND.TRANSACTION, NT_STATUS.INSUFF_SERVER_RESOURCES, {
        flags2: 0xc801,
        ...ids,
        mid: 5,
      }),
    ),
    c(
      "nt create request (\\srvsvc)",
      encodeSmb1NtCreateRequest(smb1PipeOpenRequest("srvsvc"), { flags2: 0xc001, ...ids, mid: 6 }),
    ),
    s(
      "nt create response",
      encodeSmb1NtCreateResponse(
        {
          oplockLevel: 0,
          fid: 0x4000,
          createDisposition: 1,
          creationTime: 0n,
          lastAccessTime: 0n,
          lastWriteTime: 0n,
          lastChangeTime: 0n,
          extFileAttributes: 0x80,
          allocationSize: 4096n,
          endOfFile: 0n,
          resourceType: 2,
          nmPipeStatus: 0x05ff,
          directory: 0,
        },
        { flags2: 0xc001, ...ids, mid: 6 },
      ),
    ),
    c(
      "transact named pipe (DCE bind)",
      encodeSmb1TransactionRequest(smb1TransactNamedPipeRequest(0x4000, BIND, 4280), {
        flags2: 0xc001,
        ...ids,
        mid: 7,
      }),
    ),
    s(
      "transact named pipe response (bind_ack)",
      encodeSmb1TransactionResponse(
        {
          totalParameterCount: 0,
          totalDataCount: BIND_ACK.length,
          parameterDisplacement: 0,
          dataDisplacement: 0,
          setup: [],
          parameters: new Uint8Array(0),
          data: BIND_ACK,
        },
        { flags2: 0xc001, ...ids, mid: 7 },
      ),
    ),
    c(
      "write andx (DCE bind)",
      encodeSmb1WriteRequest(
        {
          fid: 0x4000,
          offset: 0,
          offsetHigh: 0,
          timeout: 0,
          writeMode: 0x0008,
          remaining: BIND.length,
          data: BIND,
        },
        { flags2: 0xc001, ...ids, mid: 8 },
      ),
    ),
    s(
      "write andx response",
      encodeSmb1WriteResponse(
        { count: BIND.length, available: 0xffff },
        {
          flags2: 0xc001,
          ...ids,
          mid: 8,
        },
      ),
    ),
    c(
      "read andx",
      encodeSmb1ReadRequest(
        {
          fid: 0x4000,
          offset: 0,
          offsetHigh: 0,
          maxCountOfBytesToReturn: 4280,
          minCountOfBytesToReturn: 4280,
          timeout: 0xffffffff,
          remaining: 4280,
        },
        { flags2: 0xc001, ...ids, mid: 9 },
      ),
    ),
    s(
      "read andx response (bind_ack)",
      encodeSmb1ReadResponse(
        { available: 0, dataCompactionMode: 0, data: BIND_ACK },
        {
          flags2: 0xc001,
          ...ids,
          mid: 9,
        },
      ),
    ),
    c(
      "trans2 query fs information",
      encodeSmb1Transaction2Request(
        {
          maxParameterCount: 0,
          maxDataCount: 560,
          maxSetupCount: 0,
          flags: 0,
          timeout: 0,
          setup: [0x0003],
          parameters: Uint8Array.of(0x05, 0x01),
          data: new Uint8Array(0),
        },
        { flags2: 0xc001, ...ids, mid: 10 },
      ),
    ),
    s(
      "trans2 response",
      encodeSmb1Transaction2Response(
        {
          totalParameterCount: 0,
          totalDataCount: 8,
          parameterDisplacement: 0,
          dataDisplacement: 0,
          setup: [],
          parameters: new Uint8Array(0),
          data: new Uint8Array(8),
        },
        { flags2: 0xc001, ...ids, mid: 10 },
      ),
    ),
    c(
      "close",
      encodeSmb1CloseRequest(
        { fid: 0x4000, lastTimeModified: 0 },
        { flags2: 0xc001, ...ids, mid: 11 },
      ),
    ),
    s("close response", encodeSmb1CloseResponse({ flags2: 0xc001, ...ids, mid: 11 })),
  ];
}

export function smb2Samples(): Sample[] {
  const c = (name: string, bytes: Uint8Array): Sample => ({ name, fromClient: true, bytes });
  const s = (name: string, bytes: Uint8Array): Sample => ({ name, fromClient: false, bytes });
  const sessionId = 0x411f3bc0n;
  const treeId = 0xfce1f04e;
  const fileId: Smb2FileId = { persistent: 0xba6e4e15n, volatile: 0xb5d08bedn };
  const h = (messageId: bigint, extra: object = {}) => ({
    messageId,
    credits: 31,
    creditCharge: 1,
    sessionId,
    treeId,
    ...extra,
  });
  return [
    c(
      "negotiate request (3.1.1 with contexts)",
      encodeSmb2NegotiateRequest(
        {
          dialects: [0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
          securityMode: 1,
          capabilities: 0x7f,
          clientGuid: "03020100-0504-0706-0809-0a0b0c0d0e0f",
          contexts: [
            { type: "preauth-integrity", hashAlgorithms: [1], salt: new Uint8Array(32).fill(0x11) },
            { type: "encryption", ciphers: [2, 1] },
            { type: "compression", flags: 0, algorithms: [1, 2, 3] },
            { type: "netname", netName: "127.0.0.62" },
            { type: "signing", algorithms: [2, 1, 0] },
          ],
        },
        { credits: 31 },
      ),
    ),
    s(
      "negotiate response (3.1.1, compression offered)",
      encodeSmb2NegotiateResponse(
        {
          securityMode: 1,
          dialectRevision: 0x0311,
          serverGuid: GUID,
          capabilities: 0x2f,
          maxTransactSize: 8388608,
          maxReadSize: 8388608,
          maxWriteSize: 8388608,
          systemTime: FILETIME,
          serverStartTime: 0n,
          securityBuffer: SPNEGO_STUB,
          contexts: [
            { type: "preauth-integrity", hashAlgorithms: [1], salt: new Uint8Array(32).fill(0x22) },
            { type: "encryption", ciphers: [2] },
            { type: "compression", flags: 0, algorithms: [1] },
          ],
        },
        { credits: 1 },
      ),
    ),
    c(
      "session setup request (NTLMSSP NEGOTIATE)",
      encodeSmb2SessionSetupRequest(
        {
          flags: 0,
          securityMode: 1,
          capabilities: 1,
          channel: 0,
          previousSessionId: 0n,
          securityBuffer: NTLMSSP_NEGOTIATE,
        },
        h(1n, { sessionId: 0n, treeId: 0 }),
      ),
    ),
    s(
      "session setup response (more processing)",
      encodeSmb2SessionSetupResponse(
        { sessionFlags: 0, securityBuffer: SPNEGO_STUB },
        h(1n, { treeId: 0, status: NT_STATUS.MORE_PROCESSING_REQUIRED }),
      ),
    ),
    c(
      "tree connect request",
      encodeSmb2TreeConnectRequest(
        { flags: 0, path: "\\\\127.0.0.62\\IPC$" },
        h(2n, { treeId: 0 }),
      ),
    ),
    s(
      "tree connect response",
      encodeSmb2TreeConnectResponse(
        { shareType: 2, shareFlags: 0x30, capabilities: 0, maximalAccess: 0x1f00a9 },
        h(2n),
      ),
    ),
    c("create request (srvsvc)", encodeSmb2CreateRequest(smb2PipeOpenRequest("srvsvc"), h(3n))),
    s(
      "create response",
      encodeSmb2CreateResponse(
        {
          oplockLevel: 0,
          flags: 0,
          createAction: 1,
          creationTime: FILETIME,
          lastAccessTime: FILETIME,
          lastWriteTime: FILETIME,
          changeTime: FILETIME,
          allocationSize: 4096n,
          endOfFile: 0n,
          fileAttributes: 0x80,
          fileId,
          createContexts: new Uint8Array(0),
        },
        h(3n),
      ),
    ),
    c(
      "ioctl pipe transceive (DCE bind)",
      encodeSmb2IoctlRequest(smb2PipeTransceiveRequest(fileId, BIND, 4280), h(4n)),
    ),
    s(
      "ioctl response (bind_ack)",
      encodeSmb2IoctlResponse(
        {
          ctlCode: 0x0011c017,
          fileId,
          input: new Uint8Array(0),
          output: BIND_ACK,
          flags: 0,
        },
        h(4n),
      ),
    ),
    c(
      "write request (DCE bind)",
      encodeSmb2WriteRequest(
        { offset: 0n, fileId, channel: 0, remainingBytes: 0, flags: 0, data: BIND },
        h(5n),
      ),
    ),
    s("write response", encodeSmb2WriteResponse({ count: BIND.length, remaining: 0 }, h(5n))),
    c(
      "read request",
      encodeSmb2ReadRequest(
        {
          padding: 0x50,
          flags: 0,
          length: 4280,
          offset: 0n,
          fileId,
          minimumCount: 0,
          channel: 0,
          remainingBytes: 0,
        },
        h(6n),
      ),
    ),
    s(
      "read response (bind_ack)",
      encodeSmb2ReadResponse({ dataRemaining: 0, flags: 0, data: BIND_ACK }, h(6n)),
    ),
    c("close request", encodeSmb2CloseRequest({ flags: 0, fileId }, h(7n))),
    s(
      "close response",
      encodeSmb2CloseResponse(
        {
          flags: 0,
          creationTime: 0n,
          lastAccessTime: 0n,
          lastWriteTime: 0n,
          changeTime: 0n,
          allocationSize: 0n,
          endOfFile: 0n,
          fileAttributes: 0,
        },
        h(7n),
      ),
    ),
    c("close request again", encodeSmb2CloseRequest({ flags: 0, fileId }, h(8n))),
    s(
      "error response (STATUS_FILE_CLOSED)",
      encodeSmb2ErrorResponse(SMB2_COMMAND.CLOSE, NT_STATUS.FILE_CLOSED, undefined, h(8n)),
    ),
    c("tree disconnect request", encodeSmb2TreeDisconnectRequest(h(9n))),
    s("tree disconnect response", encodeSmb2TreeDisconnectResponse(h(9n))),
    c("logoff request", encodeSmb2LogoffRequest(h(10n, { treeId: 0 }))),
    s("logoff response", encodeSmb2LogoffResponse(h(10n, { treeId: 0 }))),
  ];
}
