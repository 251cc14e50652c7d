import type { Socket } from "node:net";
import {
  NTLMSSP_NEGOTIATE_NTLM,
  NTLMSSP_NEGOTIATE_UNICODE,
  decodeAuthenticate,
  encodeChallenge,
  isDecodeIssue,
} from "../../src/protocols/ntlmssp/index.js";
import { SessionFramer, encodeSessionMessage } from "../../src/protocols/netbios/index.js";
import {
  FSCTL,
  NT_STATUS,
  SMB2_COMMAND,
  SMB2_DIALECT,
  SMB2_SHARE_TYPE,
  decodeSmb2Header,
  decodeSmb2IoctlRequest,
  decodeSmb2NegotiateRequest,
  decodeSmb2SessionSetupRequest,
  decodeSmb2WriteRequest,
  encodeSmb2CloseResponse,
  encodeSmb2CreateResponse,
  encodeSmb2ErrorResponse,
  encodeSmb2IoctlResponse,
  encodeSmb2NegotiateResponse,
  encodeSmb2ReadResponse,
  encodeSmb2SessionSetupResponse,
  encodeSmb2TreeConnectResponse,
  encodeSmb2WriteResponse,
  isSmb2Unsupported,
  type Smb2Header,
} from "../../src/protocols/smb/index.js";
import {
  decodeSecurityBlob,
  encodeNegTokenResp,
  ntlmsspTokenOf,
} from "../../src/protocols/spnego/index.js";

/**
 * A miniature SMB2 server with one named pipe whose other end is `onPdu` (e.g. the miniature
 * mapper): enough of MS-SMB2 for the ncacn_np transport to run the shared transport suite
 * (negotiate up to 3.0.2, the anonymous NTLMSSP session, IPC$, CREATE, FSCTL_PIPE_TRANSCEIVE,
 * READ, WRITE, CLOSE). Pipe messages queue up: a transceive returns the first, READ the next.
 * It checks what a real server checks for an anonymous logon (an anonymous AUTHENTICATE).
 */
export function miniSmbPipeServer(
  socket: Socket,
  onPdu: (pdu: Uint8Array) => Uint8Array[] | null,
): { readonly sessionsSetUp: () => number } {
  const framer = new SessionFramer({ transport: "direct-tcp" });
  const pipe: Uint8Array[] = [];
  let sessions = 0;
  const fileId = { persistent: 1n, volatile: 2n };
  const reply = (bytes: Uint8Array) => socket.write(encodeSessionMessage(bytes));
  const init = (h: Smb2Header, extra: { status?: number } = {}) => ({
    messageId: h.messageId,
    credits: 8,
    sessionId: 0x99n,
    treeId: h.command === SMB2_COMMAND.NEGOTIATE ? 0 : 5,
    ...extra,
  });
  const feed = (data: Uint8Array): boolean => {
    const out = onPdu(data);
    if (out === null) return false;
    pipe.push(...out);
    return true;
  };
  socket.on("data", (chunk: Buffer) => {
    const { packets, issue } = framer.push(chunk);
    if (issue !== null) return void socket.destroy();
    for (const packet of packets) {
      if (packet.type !== "session-message") continue;
      const message = packet.payload;
      const h = decodeSmb2Header(message);
      if (isDecodeIssue(h) || isSmb2Unsupported(h)) return void socket.destroy();
      switch (h.command) {
        case SMB2_COMMAND.NEGOTIATE: {
          const request = decodeSmb2NegotiateRequest(message);
          if (isDecodeIssue(request)) return void socket.destroy();
          const dialect = Math.max(...request.dialects.filter((d) => d <= SMB2_DIALECT.SMB_3_0_2));
          reply(
            encodeSmb2NegotiateResponse(
              {
                securityMode: 1,
                dialectRevision: dialect,
                serverGuid: "00000000-1111-2222-3333-444444444444",
                capabilities: 0x4,
                maxTransactSize: 65536,
                maxReadSize: 65536,
                maxWriteSize: 65536,
                systemTime: 0n,
                serverStartTime: 0n,
                securityBuffer: new Uint8Array(0),
                contexts: [],
              },
              init(h),
            ),
          );
          break;
        }
        case SMB2_COMMAND.SESSION_SETUP: {
          const request = decodeSmb2SessionSetupRequest(message);
          if (isDecodeIssue(request)) return void socket.destroy();
          const blob = decodeSecurityBlob(request.securityBuffer);
          const token = isDecodeIssue(blob) ? null : ntlmsspTokenOf(blob);
          if (token === null) return void socket.destroy();
          if (token[8] === 1) {
            const challenge = encodeChallenge({
              flags: NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_NTLM,
              targetName: "MINI",
              serverChallenge: new Uint8Array(8).fill(7),
              targetInfo: [],
            });
            reply(
              encodeSmb2SessionSetupResponse(
                {
                  sessionFlags: 0,
                  securityBuffer: encodeNegTokenResp({ negState: 1, responseToken: challenge }),
                },
                init(h, { status: NT_STATUS.MORE_PROCESSING_REQUIRED }),
              ),
            );
          } else {
            const auth = decodeAuthenticate(token);
            const ok = !isDecodeIssue(auth) && auth.anonymous;
            if (ok) sessions++;
            reply(
              ok
                ? encodeSmb2SessionSetupResponse(
                    { sessionFlags: 0x2, securityBuffer: encodeNegTokenResp({ negState: 0 }) },
                    init(h),
                  )
                : encodeSmb2ErrorResponse(h.command, NT_STATUS.LOGON_FAILURE, undefined, init(h)),
            );
          }
          break;
        }
        case SMB2_COMMAND.TREE_CONNECT:
          reply(
            encodeSmb2TreeConnectResponse(
              {
                shareType: SMB2_SHARE_TYPE.PIPE,
                shareFlags: 0x30,
                capabilities: 0,
                maximalAccess: 0x1f01ff,
              },
              init(h),
            ),
          );
          break;
        case SMB2_COMMAND.CREATE:
          reply(
            encodeSmb2CreateResponse(
              {
                oplockLevel: 0,
                flags: 0,
                createAction: 1,
                creationTime: 0n,
                lastAccessTime: 0n,
                lastWriteTime: 0n,
                changeTime: 0n,
                allocationSize: 4096n,
                endOfFile: 0n,
                fileAttributes: 0x80,
                fileId,
                createContexts: new Uint8Array(0),
              },
              init(h),
            ),
          );
          break;
        case SMB2_COMMAND.IOCTL: {
          const request = decodeSmb2IoctlRequest(message);
          if (isDecodeIssue(request) || request.ctlCode !== FSCTL.PIPE_TRANSCEIVE)
            return void socket.destroy();
          if (!feed(request.input)) return void socket.destroy();
          const output = pipe.shift() ?? new Uint8Array(0);
          reply(
            encodeSmb2IoctlResponse(
              {
                ctlCode: FSCTL.PIPE_TRANSCEIVE,
                fileId,
                input: new Uint8Array(0),
                output,
                flags: 0,
              },
              init(h),
            ),
          );
          break;
        }
        case SMB2_COMMAND.WRITE: {
          const request = decodeSmb2WriteRequest(message);
          if (isDecodeIssue(request) || !feed(request.data)) return void socket.destroy();
          reply(encodeSmb2WriteResponse({ count: request.data.length, remaining: 0 }, init(h)));
          break;
        }
        case SMB2_COMMAND.READ: {
          const next = pipe.shift();
          reply(
            next === undefined
              ? encodeSmb2ErrorResponse(h.command, NT_STATUS.PIPE_EMPTY, undefined, init(h))
              : encodeSmb2ReadResponse({ dataRemaining: 0, flags: 0, data: next }, init(h)),
          );
          break;
        }
        case SMB2_COMMAND.CLOSE:
          reply(
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
              init(h),
            ),
          );
          break;
        default:
          reply(encodeSmb2ErrorResponse(h.command, NT_STATUS.NOT_SUPPORTED, undefined, init(h)));
      }
    }
  });
  return { sessionsSetUp: () => sessions };
}
