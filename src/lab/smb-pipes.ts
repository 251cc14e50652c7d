import { NT_STATUS } from "../protocols/smb/index.js";
import { openPipeAssociation, type PipeAssociation } from "./dcerpc-handler.js";
import type { ConnectionContext } from "./protocol-handlers.js";
import { canonicalPipeName, namedPipeInterfaces } from "./rpc-endpoints.js";
import type { SmbServerProfile } from "./smb-profiles.js";

/**
 * Named pipes on the lab's IPC$ share: the SMB side of ncacn_np (research §2.3). A pipe is a
 * message-mode pipe (MS-CIFS §2.2.4.64.2 ResourceType 2): every DCE/RPC fragment the server writes
 * is one message, read whole (TransactNmPipe, READ_ANDX, SMB2 READ or FSCTL_PIPE_TRANSCEIVE) or
 * in parts with STATUS_BUFFER_OVERFLOW until its end (MS-SMB2 §3.3.5.12, MS-FSCC §2.3.49). The
 * server behind it is dcerpc-handler.ts's, the same as on TCP 135, bound to the interfaces the
 * persona registers on that pipe (rpc-endpoints.ts).
 *
 * Which pipes open: those of the persona's endpoint table (`\PIPE\epmapper`, `\PIPE\lsass` and its
 * aliases lsarpc/samr/netlogon, XP's `\PIPE\ntsvcs`), names compared case-insensitively with or
 * without a `\PIPE\` prefix; others are STATUS_OBJECT_NAME_NOT_FOUND. Releases with XP SP2's
 * hardening and later refuse them to null sessions with STATUS_ACCESS_DENIED (research §2.3:
 * "anonymous access to \epmapper may be refused" [I]; NullSessionPipes is empty from Vista on).
 *
 * Bounds: a pipe holds at most MAX_PIPE_MESSAGES / MAX_PIPE_BYTES unread; past that the server
 * end breaks the pipe (a client that writes and never reads cannot grow the daemon).
 */

const MAX_PIPE_MESSAGES = 64;
const MAX_PIPE_BYTES = 256 * 1024;

/** What a read gets: data and the status that goes with it. */
export interface PipeRead {
  /** SUCCESS, BUFFER_OVERFLOW (more of this message waits), PIPE_EMPTY or PIPE_BROKEN. */
  readonly status: number;
  readonly data: Uint8Array;
  /** Bytes of the current message still unread after this read. */
  readonly remaining: number;
}

export class NamedPipe {
  private readonly messages: Uint8Array[] = [];
  /** Bytes of messages[0] already read. */
  private offset = 0;
  private bytes = 0;
  /** The server end closed (a bad PDU, a deadline, an overflow): reads drain, then fail. */
  private broken = false;
  private association: PipeAssociation | null = null;

  constructor(readonly name: string) {}

  /** Wire the server end (done by openPipe once the pipe exists). */
  attach(association: PipeAssociation): void {
    this.association = association;
  }

  /** The server writes one message. */
  push(message: Uint8Array): void {
    if (this.broken) return;
    if (this.messages.length >= MAX_PIPE_MESSAGES || this.bytes + message.length > MAX_PIPE_BYTES) {
      this.breakPipe();
      return;
    }
    this.messages.push(Uint8Array.from(message));
    this.bytes += message.length;
  }

  /** The client writes: the bytes go to the RPC server. False when the pipe is broken. */
  write(data: Uint8Array): boolean {
    if (this.broken || this.association === null) return false;
    this.association.receive(data);
    return true;
  }

  /** Read up to `max` bytes of the next message. */
  read(max: number): PipeRead {
    const message = this.messages[0];
    if (message === undefined) {
      return {
        status: this.broken ? NT_STATUS.PIPE_BROKEN : NT_STATUS.PIPE_EMPTY,
        data: new Uint8Array(0),
        remaining: 0,
      };
    }
    const take = Math.max(0, Math.min(max, message.length - this.offset));
    const data = message.subarray(this.offset, this.offset + take);
    this.offset += take;
    const remaining = message.length - this.offset;
    if (remaining === 0) {
      this.messages.shift();
      this.bytes -= message.length;
      this.offset = 0;
    }
    return {
      status: remaining > 0 ? NT_STATUS.BUFFER_OVERFLOW : NT_STATUS.SUCCESS,
      data,
      remaining,
    };
  }

  /** TRANS_PEEK_NMPIPE's view (MS-CIFS §2.2.5.5.2): bytes readable, bytes left in this message. */
  peek(): { readonly available: number; readonly messageLength: number } {
    const message = this.messages[0];
    return {
      available: this.bytes - this.offset,
      messageLength: message === undefined ? 0 : message.length - this.offset,
    };
  }

  get isBroken(): boolean {
    return this.broken;
  }

  /** The server end goes away; unread messages stay readable. */
  breakPipe(): void {
    this.broken = true;
  }

  /** The client closes its handle (or the session, tree or connection goes). */
  close(): void {
    this.broken = true;
    this.messages.length = 0;
    this.bytes = 0;
    this.association?.dispose();
    this.association = null;
  }
}

/** `\PIPE\epmapper`, `\epmapper`, `epmapper` (SMB2) → "epmapper". */
export function normalisePipeName(raw: string): string {
  return raw
    .replace(/^\\+/, "")
    .replace(/^pipe\\+/i, "")
    .toLowerCase();
}

/** Open a pipe on IPC$ for a session (anonymous or not), or the status that refuses it. */
export function openPipe(
  context: ConnectionContext,
  profile: SmbServerProfile,
  rawName: string,
  anonymous: boolean,
): NamedPipe | number {
  const name = normalisePipeName(rawName);
  const table = namedPipeInterfaces(context.host.persona, context.mode, context.tcpPorts);
  const interfaces = table.get(name);
  if (interfaces === undefined) return NT_STATUS.OBJECT_NAME_NOT_FOUND;
  if (anonymous && !profile.anonymousPipes) return NT_STATUS.ACCESS_DENIED;
  const pipe = new NamedPipe(name);
  const association = openPipeAssociation(context, canonicalPipeName(name), interfaces, {
    send: (pdu) => pipe.push(pdu),
    close: () => pipe.breakPipe(),
  });
  if (association === null) return NT_STATUS.OBJECT_NAME_NOT_FOUND;
  pipe.attach(association);
  return pipe;
}
