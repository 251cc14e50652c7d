import type { RingfenceError } from "../errors.js";
import type { DecodeIssue } from "../protocols/netbios/index.js";
import { formatNtStatus } from "../protocols/smb/index.js";

/**
 * Why an SMB exchange ended without the answer it wanted. A value, never an exception (like
 * ../rpc/rpc-failure.ts, STYLE.md "Errors"): a hostile, broken or merely unwilling server is data
 * for the fingerprint and the checks, which record every failure with its reason.
 */
export type SmbFailureCode =
  /** The address is outside the authorized scope; nothing was sent. */
  | "scope-violation"
  | "resolve"
  | "connection-refused"
  | "connect-timeout"
  /** No complete message before the read deadline (a drip, a stall, a server that never answers). */
  | "read-timeout"
  /** The per-host budget was spent before or during this exchange. */
  | "deadline"
  /** The peer closed or reset the connection. */
  | "connection-closed"
  /** The peer sent more than the per-connection byte cap. */
  | "byte-cap"
  /** TCP 139: every called name got a NEGATIVE SESSION RESPONSE (or a retarget, not followed). */
  | "session-refused"
  /** The bytes did not decode as SMB; see `issue`. */
  | "decode"
  /** A well-formed message that does not belong here (wrong command, message id, protocol). */
  | "protocol"
  /** The server answered with an error NTSTATUS; see `status`. */
  | "status"
  /** More STATUS_PENDING interim responses than the bound allows (MS-SMB2 §3.2.5.1.5). */
  | "pending-limit"
  /** The server left us no credit to send the next request (MS-SMB2 §3.2.4.1.3). */
  | "no-credits"
  /** The server encrypts or compresses its answers (transform header): not readable here. */
  | "unsupported"
  /** A second request while one is outstanding on the connection. */
  | "busy"
  /** The connection was already closed by an earlier failure or by close(). */
  | "closed"
  /** Ctrl-C: the exchange was cut short. */
  | "interrupted";

export interface SmbFailure {
  readonly kind: "smb-failure";
  readonly code: SmbFailureCode;
  /** One line: what happened and where. */
  readonly message: string;
  /** For "status": the NTSTATUS the server answered. */
  readonly status?: number;
  /** For "decode": the codec's issue. */
  readonly issue?: DecodeIssue;
  /** For "scope-violation": the error the CLI reports (exit status 3). */
  readonly error?: RingfenceError;
}

export function smbFailure(
  code: SmbFailureCode,
  message: string,
  extra: { status?: number; issue?: DecodeIssue; error?: RingfenceError } = {},
): SmbFailure {
  return { kind: "smb-failure", code, message, ...extra };
}

export function isSmbFailure(value: unknown): value is SmbFailure {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "smb-failure"
  );
}

/** A decode issue as a failure whose message names the structure and offset. */
export function smbDecodeFailure(issue: DecodeIssue, context: string): SmbFailure {
  return smbFailure(
    "decode",
    `${context}: cannot decode ${issue.what} at offset ${issue.offset}: ${issue.message}`,
    { issue },
  );
}

/** An error status as a failure, named ("STATUS_ACCESS_DENIED") where known. */
export function smbStatusFailure(status: number, context: string): SmbFailure {
  return smbFailure("status", `${context}: ${formatNtStatus(status)}`, { status: status >>> 0 });
}
