import {
  BIND_NAK_REASON,
  CONTEXT_RESULT,
  FragmentReassembler,
  NDR_TRANSFER_SYNTAX,
  PFC_DID_NOT_EXECUTE,
  PFC_WHOLE,
  PROVIDER_REASON,
  decodeIssue,
  decodePdu,
  encodeBind,
  encodePdu,
  faultStatusName,
  isDecodeIssue,
  splitIntoFragments,
  type DataRepresentation,
  type Pdu,
  type ReassemblyLimits,
  type RequestPdu,
  type SyntaxId,
} from "../protocols/dcerpc/index.js";
import { LITTLE_ENDIAN_DREP } from "../protocols/dcerpc/index.js";
import { decodeFailure, isRpcFailure, rpcFailure, type RpcFailure } from "./rpc-failure.js";
import type { RpcTransport } from "./socket-transport.js";

/**
 * A minimal connection-oriented RPC client (C706 ch. 12, MS-RPCE §3.3.1): bind, then one call at
 * a time. It never authenticates (research §2.1: auth_length 0), never pipelines and never
 * retransmits (research §3.2, CVE-2003-0813); after any failure the association is closed and
 * every later operation answers that failure.
 */

/** One presentation context to propose; context ids are assigned 0, 1, ... in order. */
export interface ContextProposal {
  readonly abstractSyntax: SyntaxId;
  /** Default: NDR 2.0 only (research §2.2). */
  readonly transferSyntaxes?: readonly SyntaxId[];
}

export type ContextResultName =
  "acceptance" | "user-rejection" | "provider-rejection" | "negotiate-ack" | "unknown";

/** A bind_ack's verdict on one proposed context (C706 §12.6.3.1 p_result_t). */
export interface ContextOutcome {
  readonly contextId: number;
  readonly abstractSyntax: SyntaxId;
  readonly accepted: boolean;
  readonly result: ContextResultName;
  readonly resultCode: number;
  /** p_provider_reason_t name, e.g. "abstractSyntaxNotSupported"; "notSpecified" on acceptance. */
  readonly reason: string;
  readonly reasonCode: number;
  readonly transferSyntax: SyntaxId;
}

export type BindOutcome =
  | {
      readonly kind: "bind-ack";
      readonly maxXmitFrag: number;
      readonly maxRecvFrag: number;
      readonly assocGroupId: number;
      /** e.g. "135" on TCP (research §2.1). */
      readonly secondaryAddress: string;
      readonly contexts: readonly ContextOutcome[];
    }
  | {
      readonly kind: "bind-nak";
      /** C706 §12.6.3.1 p_reject_reason_t name, e.g. "protocolVersionNotSupported". */
      readonly reason: string;
      readonly reasonCode: number;
    };

export type CallOutcome =
  | {
      readonly kind: "response";
      readonly stub: Uint8Array;
      readonly drep: DataRepresentation;
      readonly fragmentCount: number;
    }
  | {
      readonly kind: "fault";
      readonly status: number;
      /** nca_s_* / Win32 name when known, else the hex status. */
      readonly statusName: string;
      /** PFC_DID_NOT_EXECUTE (C706 §12.6.3.1): the server says the call never ran. */
      readonly didNotExecute: boolean;
    };

export interface CallOptions {
  /**
   * Send on a presentation context that was not accepted, on purpose: KB824146Scan's req4 reads
   * how the runtime faults such a call (research §2.6.4). Otherwise refused as a programming error.
   */
  readonly unboundContextProbe?: boolean;
}

export interface RpcClientOptions {
  /** Our max_xmit_frag; default 4280 as impacket and Tenable (research §2.1). */
  readonly maxXmitFrag?: number;
  /** Bounds on one reassembled reply; default 64 fragments, 1 MiB of stub. */
  readonly reassembly?: ReassemblyLimits;
}

const DEFAULT_REASSEMBLY: ReassemblyLimits = { maxFragments: 64, maxStubBytes: 1024 * 1024 };

export class RpcClient {
  private callId = 1;
  private outstanding = false;
  private failure: RpcFailure | null = null;
  private bound: Extract<BindOutcome, { kind: "bind-ack" }> | null = null;
  private readonly reassembler: FragmentReassembler;
  private readonly maxXmitFrag: number;

  constructor(
    readonly transport: RpcTransport,
    options: RpcClientOptions = {},
  ) {
    this.maxXmitFrag = options.maxXmitFrag ?? 4280;
    this.reassembler = new FragmentReassembler(options.reassembly ?? DEFAULT_REASSEMBLY);
  }

  /** C706 §12.6.4.3 bind: propose the contexts, report the bind_ack or bind_nak as a value. */
  async bind(proposals: readonly ContextProposal[]): Promise<BindOutcome | RpcFailure> {
    return this.exclusive(async () => {
      const contexts = proposals.map((p, contextId) => ({
        contextId,
        abstractSyntax: p.abstractSyntax,
        transferSyntaxes: p.transferSyntaxes ?? [NDR_TRANSFER_SYNTAX],
      }));
      const callId = this.callId++;
      const sent = this.transport.send(
        encodeBind({
          callId,
          contexts,
          maxXmitFrag: this.maxXmitFrag,
          // What the transport's framer accepts is what we may advertise (C706 §12.6.4.3).
          maxRecvFrag: this.transport.maxFragLength,
        }),
      );
      if (sent !== null) return this.fail(sent);
      const pdu = await this.receivePdu(performance.now() + this.transport.readTimeoutMs);
      if (isRpcFailure(pdu)) return pdu;
      if (pdu.callId !== callId) {
        return this.fail(
          rpcFailure(
            "protocol",
            `${pdu.type} for call_id ${pdu.callId}, sent bind call_id ${callId}`,
          ),
        );
      }
      if (pdu.type === "bind_nak") {
        return {
          kind: "bind-nak",
          reasonCode: pdu.rejectReason,
          reason: nameOf(BIND_NAK_REASON, pdu.rejectReason),
        };
      }
      if (pdu.type !== "bind_ack") {
        return this.fail(rpcFailure("protocol", `expected bind_ack or bind_nak, got ${pdu.type}`));
      }
      const outcome: BindOutcome = {
        kind: "bind-ack",
        maxXmitFrag: pdu.maxXmitFrag,
        maxRecvFrag: pdu.maxRecvFrag,
        assocGroupId: pdu.assocGroupId,
        secondaryAddress: pdu.secondaryAddress,
        // C706 §12.6.3.1: results come in the order of the proposed contexts.
        contexts: pdu.results.map((r, i): ContextOutcome => {
          const proposed = contexts[i];
          return {
            contextId: proposed?.contextId ?? i,
            abstractSyntax: proposed?.abstractSyntax ?? r.transferSyntax,
            accepted: r.result === CONTEXT_RESULT.acceptance,
            result: resultName(r.result),
            resultCode: r.result,
            reason: nameOf(PROVIDER_REASON, r.reason),
            reasonCode: r.reason,
            transferSyntax: r.transferSyntax,
          };
        }),
      };
      if (outcome.contexts.length !== contexts.length) {
        return this.fail(
          rpcFailure(
            "protocol",
            `bind_ack has ${outcome.contexts.length} results for ${contexts.length} contexts`,
          ),
        );
      }
      this.bound = outcome;
      return outcome;
    });
  }

  /**
   * C706 §12.6.4.9-10 request/response: send one call (fragmented to the negotiated
   * max_xmit_frag if needed), wait for its whole reply within one read deadline, reassemble.
   */
  async call(
    contextId: number,
    opnum: number,
    stub: Uint8Array,
    options: CallOptions = {},
  ): Promise<CallOutcome | RpcFailure> {
    return this.exclusive(async () => {
      if (this.bound === null) return rpcFailure("protocol", "call before a successful bind");
      const accepted = this.bound.contexts.some((c) => c.contextId === contextId && c.accepted);
      if (!accepted && options.unboundContextProbe !== true) {
        return rpcFailure("protocol", `presentation context ${contextId} was not accepted`);
      }
      const callId = this.callId++;
      const request: RequestPdu = {
        type: "request",
        callId,
        pfcFlags: PFC_WHOLE,
        drep: LITTLE_ENDIAN_DREP,
        rpcVersMinor: 0,
        authVerifier: null,
        allocHint: stub.length,
        contextId,
        opnum,
        object: null,
        stub,
      };
      // The peer's max_recv_frag bounds what we send (C706 §12.6.4.4 bind_ack max_recv_frag).
      const limit = Math.min(this.maxXmitFrag, this.bound.maxRecvFrag);
      for (const fragment of splitIntoFragments(request, limit)) {
        const sent = this.transport.send(encodePdu(fragment));
        if (sent !== null) return this.fail(sent);
      }
      // One deadline for the whole reply: a peer dripping fragments cannot extend it.
      const deadline = performance.now() + this.transport.readTimeoutMs;
      this.reassembler.reset();
      for (;;) {
        const pdu = await this.receivePdu(deadline);
        if (isRpcFailure(pdu)) return pdu;
        if (pdu.callId !== callId) {
          return this.fail(
            rpcFailure(
              "protocol",
              `${pdu.type} for call_id ${pdu.callId} while waiting for ${callId}`,
            ),
          );
        }
        if (pdu.type === "fault") {
          return {
            kind: "fault",
            status: pdu.status,
            statusName:
              faultStatusName(pdu.status) ?? `0x${pdu.status.toString(16).padStart(8, "0")}`,
            didNotExecute: (pdu.pfcFlags & PFC_DID_NOT_EXECUTE) !== 0,
          };
        }
        if (pdu.type !== "response") {
          return this.fail(
            rpcFailure("protocol", `expected a response to call_id ${callId}, got ${pdu.type}`),
          );
        }
        const step = this.reassembler.push(pdu);
        if (isDecodeIssue(step)) return this.fail(decodeFailure(step, this.label()));
        if (step.done) {
          return {
            kind: "response",
            stub: step.call.stub,
            drep: step.call.first.drep,
            fragmentCount: step.call.fragmentCount,
          };
        }
      }
    });
  }

  /** The bind_ack this association was bound with, if any. */
  get binding(): Extract<BindOutcome, { kind: "bind-ack" }> | null {
    return this.bound;
  }

  close(): void {
    this.failure ??= rpcFailure("closed", `${this.label()}: the client is closed`);
    this.transport.close();
  }

  /** Exactly one outstanding operation per association (research §3.2). */
  private async exclusive<T>(run: () => Promise<T | RpcFailure>): Promise<T | RpcFailure> {
    if (this.failure !== null) return this.failure;
    if (this.outstanding) {
      return rpcFailure(
        "busy",
        `${this.label()}: a call is already outstanding on this association`,
      );
    }
    this.outstanding = true;
    try {
      return await run();
    } finally {
      this.outstanding = false;
    }
  }

  private async receivePdu(deadline: number): Promise<Pdu | RpcFailure> {
    const received = await this.transport.receive(deadline);
    if (isRpcFailure(received)) return this.fail(received);
    const pdu = decodePdu(received.bytes);
    if (isDecodeIssue(pdu)) {
      const issue = decodeIssue(pdu.what, received.offset + pdu.offset, pdu.message, pdu.needed);
      return this.fail(decodeFailure(issue, this.label()));
    }
    return pdu;
  }

  private fail(failure: RpcFailure): RpcFailure {
    this.failure ??= failure;
    this.transport.close();
    return failure;
  }

  private label(): string {
    const t = this.transport;
    return `${t.binding.protseq}:${t.remoteAddress}[${t.remotePort}]`;
  }
}

function resultName(code: number): ContextResultName {
  switch (code) {
    case CONTEXT_RESULT.acceptance:
      return "acceptance";
    case CONTEXT_RESULT.userRejection:
      return "user-rejection";
    case CONTEXT_RESULT.providerRejection:
      return "provider-rejection";
    case CONTEXT_RESULT.negotiateAck:
      return "negotiate-ack";
    default:
      return "unknown";
  }
}

function nameOf(table: Readonly<Record<string, number>>, code: number): string {
  return Object.entries(table).find(([, value]) => value === code)?.[0] ?? `unknown(${code})`;
}
