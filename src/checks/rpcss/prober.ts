import {
  RpcClient,
  connectTransport,
  isRpcFailure,
  type ContextOutcome,
  type RpcFailure,
} from "../../rpc/index.js";
import type { SyntaxId } from "../../protocols/dcerpc/index.js";
import { describeStatus } from "../../protocols/dcom/index.js";
import type { Scope } from "../../scope/index.js";
import type { EvidenceStep } from "../types.js";

/**
 * The RPCSS checks' only way to talk to a host. Every exchange is one fresh TCP connection (as
 * the 2003 plugins and KB824146Scan do, research §3.3): connect, bind, at most one request, close.
 * Requests are never pipelined or retransmitted (CVE-2003-0813, research §3.2), and the whole host
 * shares one budget, so a host that drips or stalls ends the sequence, not the scan.
 */

export type RpcssProtseq = "ncacn_ip_tcp" | "ncacn_http" | "ncacn_np";

export interface RpcssTarget {
  readonly address: string;
  /**
   * The port on the wire (a lab in bind mode adds its offset to the nominal 135 / 593); for
   * ncacn_np the SMB port (445, or 139 with a NetBIOS session), the pipe being \pipe\epmapper.
   */
  readonly port: number;
  readonly protseq: RpcssProtseq;
  /** ncacn_np: the SMB framing of `port` (TCP 139 is "netbios"). */
  readonly smbTransport?: "direct-tcp" | "netbios";
  /** ncacn_np over TCP 139: NetBIOS names to call after *SMBSERVER (from NBSTAT). */
  readonly calledNames?: readonly string[];
}

export interface RpcssTimeouts {
  /** Research §3.3: connect 3–5 s. */
  readonly connectMs: number;
  /** Research §3.3: per PDU 5–10 s; one deadline covers a whole (fragmented) reply. */
  readonly readMs: number;
  /** Research §3.3: a hard per-host budget of ~30 s. */
  readonly hostMs: number;
}

export type BindAnswer =
  | { readonly kind: "accepted" }
  | {
      readonly kind: "rejected";
      /** C706 §12.6.3.1 p_provider_reason_t: 1 abstract syntax not supported, 3 local limit. */
      readonly reasonCode: number;
      readonly reason: string;
    }
  | { readonly kind: "nak"; readonly reasonCode: number; readonly reason: string };

export type CallAnswer =
  | { readonly kind: "response"; readonly stub: Uint8Array }
  | { readonly kind: "fault"; readonly status: number; readonly didNotExecute: boolean };

export interface ProbeFailure {
  readonly kind: "failure";
  readonly failure: RpcFailure;
  /** A connection failed after earlier ones on this host succeeded: it may have crashed. */
  readonly possiblyCrashed: boolean;
}

export interface Exchange {
  readonly bind: BindAnswer;
  /** Absent when the bind did not accept the interface (nothing was sent). */
  readonly call?: CallAnswer;
}

export interface CallSpec {
  readonly opnum: number;
  readonly stub: Uint8Array;
  /** Presentation context id to send on; 0 (the bound one) unless probing an unbound one. */
  readonly contextId?: number;
}

export class RpcssProber {
  readonly evidence: EvidenceStep[] = [];
  private readonly deadline: number;
  private connections = 0;
  private answered = 0;

  constructor(
    readonly target: RpcssTarget,
    private readonly scope: Scope,
    readonly timeouts: RpcssTimeouts,
    /** Ctrl-C: the exchange in progress is closed and nothing more is sent. */
    private readonly signal?: AbortSignal,
  ) {
    this.deadline = performance.now() + timeouts.hostMs;
  }

  /** Bind only (the Windows-family discriminators send no request). */
  async bindOnly(label: string, iface: SyntaxId): Promise<BindAnswer | ProbeFailure> {
    const result = await this.exchange(label, iface, null);
    return "kind" in result ? result : result.bind;
  }

  /** Bind `iface` on a fresh connection and, if it is accepted, send one call. */
  async exchange(
    label: string,
    iface: SyntaxId,
    call: CallSpec | null,
  ): Promise<Exchange | ProbeFailure> {
    const remaining = this.deadline - performance.now();
    const connection = ++this.connections;
    if (this.signal?.aborted === true) {
      return this.failed(label, connection, {
        kind: "rpc-failure",
        code: "closed",
        message: "interrupted before this exchange",
      });
    }
    if (remaining <= 0) {
      return this.failed(label, connection, {
        kind: "rpc-failure",
        code: "read-timeout",
        message: `the per-host budget of ${this.timeouts.hostMs} ms is spent`,
      });
    }
    const np = this.target.protseq === "ncacn_np";
    const transport = await connectTransport(
      {
        protseq: this.target.protseq,
        host: this.target.address,
        // Tenable's MS03-026/039 plugins talk to RPCSS over \epmapper (research §2.3).
        endpoint: np ? "\\pipe\\epmapper" : String(this.target.port),
      },
      {
        ...(np
          ? {
              smb: {
                ports: [
                  { port: this.target.port, transport: this.target.smbTransport ?? "direct-tcp" },
                ],
                ...(this.target.calledNames !== undefined
                  ? { calledNames: this.target.calledNames }
                  : {}),
              },
            }
          : {}),
        scope: this.scope,
        connectTimeoutMs: Math.min(this.timeouts.connectMs, remaining),
        readTimeoutMs: Math.min(this.timeouts.readMs, remaining),
        // The largest legitimate answer here is an ept-free 68-byte stub; 64 KiB is plenty.
        maxAssociationBytes: 64 * 1024,
      },
    );
    if (isRpcFailure(transport)) return this.failed(label, connection, transport);
    const client = new RpcClient(transport, {
      reassembly: { maxFragments: 16, maxStubBytes: 16 * 1024 },
    });
    const abort = () => client.close();
    this.signal?.addEventListener("abort", abort, { once: true });
    try {
      const bound = await client.bind([{ abstractSyntax: iface }]);
      if (isRpcFailure(bound)) return this.failed(label, connection, bound);
      this.answered++;
      const bind = bindAnswer(bound);
      if (call === null || bind.kind !== "accepted") {
        this.record(label, connection, describeBind(bind));
        return { bind };
      }
      const contextId = call.contextId ?? 0;
      const answer = await client.call(contextId, call.opnum, call.stub, {
        unboundContextProbe: contextId !== 0,
      });
      if (isRpcFailure(answer)) return this.failed(label, connection, answer);
      if (answer.kind === "fault") {
        this.record(label, connection, "fault", {
          status: describeStatus(answer.status),
          details: { didNotExecute: answer.didNotExecute },
        });
        return {
          bind,
          call: { kind: "fault", status: answer.status, didNotExecute: answer.didNotExecute },
        };
      }
      this.record(label, connection, "response", { stubLength: answer.stub.length });
      return { bind, call: { kind: "response", stub: answer.stub } };
    } finally {
      this.signal?.removeEventListener("abort", abort);
      client.close();
    }
  }

  /** Attach the value read from the last step (the procedure decodes it). */
  annotateLast(status: string): void {
    const last = this.evidence.pop();
    if (last !== undefined) this.evidence.push({ ...last, status });
  }

  private failed(label: string, connection: number, failure: RpcFailure): ProbeFailure {
    const possiblyCrashed =
      this.answered > 0 &&
      (failure.code === "connection-refused" || failure.code === "connect-timeout");
    this.record(label, connection, `failed: ${failure.code}`, {
      details: { message: failure.message, possiblyCrashed },
    });
    return { kind: "failure", failure, possiblyCrashed };
  }

  private record(
    step: string,
    connection: number,
    outcome: string,
    extra: Omit<EvidenceStep, "step" | "connection" | "outcome"> = {},
  ): void {
    this.evidence.push({ step, connection, outcome, ...extra });
  }
}

function bindAnswer(
  outcome: Exclude<Awaited<ReturnType<RpcClient["bind"]>>, RpcFailure>,
): BindAnswer {
  if (outcome.kind === "bind-nak") {
    return { kind: "nak", reasonCode: outcome.reasonCode, reason: outcome.reason };
  }
  const context: ContextOutcome | undefined = outcome.contexts[0];
  if (context?.accepted === true) return { kind: "accepted" };
  return {
    kind: "rejected",
    reasonCode: context?.reasonCode ?? -1,
    reason: context?.reason ?? "no result",
  };
}

function describeBind(bind: BindAnswer): string {
  switch (bind.kind) {
    case "accepted":
      return "bind accepted";
    case "rejected":
      return `bind rejected: ${bind.reason} (${bind.reasonCode})`;
    case "nak":
      return `bind_nak: ${bind.reason} (${bind.reasonCode})`;
  }
}
