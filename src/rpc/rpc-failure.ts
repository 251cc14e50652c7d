import type { RingfenceError } from "../errors.js";
import type { DecodeIssue } from "../protocols/dcerpc/index.js";

/**
 * Why an RPC exchange ended without an answer. A value, not an exception (STYLE.md "Protocol
 * code"): a hostile or broken peer is data to report, so transports and the client return these
 * and never throw at their callers.
 */
export type RpcFailureCode =
  /** The resolved address is outside the authorized scope; nothing was sent. */
  | "scope-violation"
  /** The host name did not resolve. */
  | "resolve"
  /** The protocol sequence is known but has no transport yet (ncacn_np). */
  | "transport-unavailable"
  | "connection-refused"
  | "connect-timeout"
  /** No complete PDU before the read deadline (includes a slow drip). */
  | "read-timeout"
  /** The peer closed, or the socket failed, before the reply was complete. */
  | "connection-closed"
  /** The peer sent more than the per-association byte cap allows. */
  | "byte-cap"
  /** ncacn_http: the first 14 bytes were not the `ncacn_http/1.0` banner. */
  | "bad-banner"
  /** The bytes did not decode as connection-oriented DCE/RPC; see `issue`. */
  | "decode"
  /** A well-formed PDU that does not belong here (wrong type, wrong call_id, ...). */
  | "protocol"
  /** The peer answered, but not as an endpoint mapper (bind refused, or not CO RPC). */
  | "not-endpoint-mapper"
  /** A second request while one is outstanding: refused to keep one call per connection. */
  | "busy"
  /** The association was already closed by an earlier failure or by close(). */
  | "closed";

export interface RpcFailure {
  readonly kind: "rpc-failure";
  readonly code: RpcFailureCode;
  /** One line, meant for the CLI: what happened and where. */
  readonly message: string;
  /** For "decode": the codec's issue, whose offset is counted in the association's stream. */
  readonly issue?: DecodeIssue;
  /** For "scope-violation": the error the CLI reports (exit status 3). */
  readonly error?: RingfenceError;
}

export function rpcFailure(
  code: RpcFailureCode,
  message: string,
  extra: { issue?: DecodeIssue; error?: RingfenceError } = {},
): RpcFailure {
  return { kind: "rpc-failure", code, message, ...extra };
}

export function isRpcFailure(value: unknown): value is RpcFailure {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "rpc-failure"
  );
}

/** A decode issue as a failure, its message naming the structure and stream offset. */
export function decodeFailure(issue: DecodeIssue, context: string): RpcFailure {
  return rpcFailure(
    "decode",
    `${context}: cannot decode ${issue.what} at offset ${issue.offset}: ${issue.message}`,
    { issue },
  );
}
