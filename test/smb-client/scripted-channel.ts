import {
  NT_STATUS,
  SMB2_COMMAND,
  SMB2_DIALECT,
  decodeSmb2Header,
  encodeSmb2ErrorResponse,
  encodeSmb2NegotiateResponse,
  isDecodeIssue,
  isSmb2Unsupported,
  type Smb2Header,
} from "../../src/protocols/smb/index.js";
import type { SmbChannel } from "../../src/smb/smb-connection.js";
import { smbFailure, type SmbFailure } from "../../src/smb/smb-failure.js";

/**
 * An in-memory SmbChannel driven by a script: every message the client sends is handed to
 * `respond`, whose answers are queued for the client's receive(). A receive with nothing queued
 * waits for its deadline (as a silent server would) and then fails "read-timeout".
 */
export class ScriptedChannel implements SmbChannel {
  readonly label = "scripted";
  readonly sent: Uint8Array[] = [];
  closed = false;
  private readonly queue: Uint8Array[] = [];

  constructor(private readonly respond: (message: Uint8Array, index: number) => Uint8Array[]) {}

  send(message: Uint8Array): SmbFailure | null {
    if (this.closed) return smbFailure("closed", "scripted: closed");
    this.sent.push(message);
    this.queue.push(...this.respond(message, this.sent.length - 1));
    return null;
  }

  async receive(deadline = performance.now() + 1000): Promise<Uint8Array | SmbFailure> {
    const next = this.queue.shift();
    if (next !== undefined) return next;
    if (this.closed) return smbFailure("closed", "scripted: closed");
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())));
    return smbFailure("read-timeout", "scripted: nothing more to say");
  }

  close(): void {
    this.closed = true;
  }
}

/** The SMB2 header of a message the client sent (tests only send valid ones). */
export function sentHeader(message: Uint8Array): Smb2Header {
  const header = decodeSmb2Header(message);
  if (isDecodeIssue(header) || isSmb2Unsupported(header)) throw new Error("not an SMB2 request");
  return header;
}

/** A NEGOTIATE response choosing `dialect`, granting `credits`. */
export function negotiateResponse(
  request: Smb2Header,
  dialect: number = SMB2_DIALECT.SMB_3_0_2,
  credits = 1,
  capabilities = 0x4,
): Uint8Array {
  return encodeSmb2NegotiateResponse(
    {
      securityMode: 1,
      dialectRevision: dialect,
      serverGuid: "11111111-2222-3333-4444-555555555555",
      capabilities,
      maxTransactSize: 65536,
      maxReadSize: 65536,
      maxWriteSize: 65536,
      systemTime: 0n,
      serverStartTime: 0n,
      securityBuffer: new Uint8Array(0),
      contexts: [],
    },
    { messageId: request.messageId, credits },
  );
}

/** The STATUS_PENDING interim response (MS-SMB2 §3.3.4.2: async header, ERROR body). */
export function pendingResponse(request: Smb2Header, credits = 0, asyncId = 7n): Uint8Array {
  return encodeSmb2ErrorResponse(request.command, NT_STATUS.PENDING, undefined, {
    messageId: request.messageId,
    credits,
    asyncId,
  });
}

/** An ERROR response with `status` to the request (e.g. for ECHO-like filler exchanges). */
export function errorResponse(request: Smb2Header, status: number, credits: number): Uint8Array {
  return encodeSmb2ErrorResponse(request.command, status, undefined, {
    messageId: request.messageId,
    credits,
    sessionId: request.sessionId,
  });
}

export const NEGOTIATE = SMB2_COMMAND.NEGOTIATE;
