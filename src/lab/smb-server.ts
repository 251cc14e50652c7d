import { createHash } from "node:crypto";
import { formatUuid } from "../protocols/dcerpc/index.js";
import { FILETIME_UNIX_EPOCH } from "../protocols/smb/index.js";
import { LAB_WORKGROUP, computerName } from "./personas.js";
import type { ConnectionContext } from "./protocol-handlers.js";
import type { ServerNames } from "./smb-auth.js";
import type { SmbServerProfile } from "./smb-profiles.js";

/**
 * What the SMB1 and SMB2 halves of the lab's SMB server (smb1-server.ts, smb2-server.ts) share
 * for one connection: the persona's profile, the host's names and identity, the bounds.
 */

/** Per connection (MS-SMB2 §3.3.5.5 / MS-CIFS §3.3.5.3 leave these to the server). */
export const SMB_LIMITS = Object.freeze({
  sessions: 8,
  trees: 16,
  openPipes: 16,
  /** Messages (SMB1 messages or SMB2 compounds) one connection may send. */
  messages: 4096,
  /** Largest SMB message accepted: above every Max*Size the lab advertises, below 0x1FFFF. */
  messageBytes: 96 * 1024,
  /** Max{Transact,Read,Write}Size and SMB1 MaxRawSize advertised. */
  ioSize: 65536,
});

export interface SmbServer {
  readonly context: ConnectionContext;
  readonly profile: SmbServerProfile;
  readonly names: ServerNames;
  /** The workgroup: SMB1 PrimaryDomain and the non-extended NEGOTIATE's DomainName. */
  readonly workgroup: string;
  /** ServerGuid / ServerGUID (MS-SMB2 §2.2.4, MS-SMB §2.2.4.5.2.1), GUID text. */
  readonly serverGuid: string;
  /** Boot time as a FILETIME (SMB2 ServerStartTime), stable per host and daemon run. */
  readonly bootTime: bigint;
}

/** A server's answer to one message (an SMB1 message or an SMB2 compound). */
export interface SmbReply {
  /** Whole SMB messages to send, each framed on its own. */
  readonly responses: readonly Uint8Array[];
  /** Close the connection after sending (what Windows does on a protocol violation). */
  readonly close: boolean;
  /** A multi-protocol NEGOTIATE was answered in SMB2: the connection speaks SMB2 from now on. */
  readonly switchToSmb2?: boolean;
}

export const CLOSE: SmbReply = Object.freeze({ responses: [], close: true });

export function reply(...responses: Uint8Array[]): SmbReply {
  return { responses, close: false };
}

/** When this daemon started: hosts "booted" a stable while before it. */
const DAEMON_START_MS = Date.now();
const DAY_MS = 86_400_000;

export function smbServerFor(context: ConnectionContext, profile: SmbServerProfile): SmbServer {
  const { host } = context;
  const name = host.netbios?.computerName ?? computerName(host.index);
  const digest = createHash("sha256").update(`ringfence lab smb host ${host.index}`).digest();
  return {
    context,
    profile,
    names: { computerName: name },
    workgroup: host.netbios?.workgroup ?? LAB_WORKGROUP,
    serverGuid: profile.serverGuid === "netbios-name" ? nameGuid(name) : hostGuid(digest),
    bootTime: msToFiletime(DAEMON_START_MS - (digest.readUInt32LE(16) % (30 * DAY_MS))),
  };
}

/** A random-looking but stable version-4 GUID per host (Windows makes one per install). */
function hostGuid(digest: Buffer): string {
  const bytes = Uint8Array.from(digest.subarray(0, 16));
  bytes[7] = ((bytes[7] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return formatUuid(bytes, 0, true);
}

/** Samba's ServerGuid: the NetBIOS name in lower case, zero padded to 16 bytes [O]. */
function nameGuid(name: string): string {
  const bytes = new Uint8Array(16);
  bytes.set(Buffer.from(name.toLowerCase().slice(0, 16), "latin1"));
  return formatUuid(bytes, 0, true);
}

export function msToFiletime(ms: number): bigint {
  return BigInt(Math.max(0, Math.floor(ms))) * 10_000n + FILETIME_UNIX_EPOCH;
}

export function nowFiletime(): bigint {
  return msToFiletime(Date.now());
}

/** The share a UNC path names ("\\host\IPC$" → "IPC$"), upper case. */
export function shareOf(path: string): string {
  const parts = path.split("\\").filter((p) => p !== "");
  return (parts[parts.length - 1] ?? "").toUpperCase();
}
