import type { Socket } from "node:net";
import {
  BIND_NAK_REASON,
  CONTEXT_RESULT,
  EPMAPPER_STATUS_NO_MORE_ENTRIES,
  EPMAPPER_STATUS_OK,
  EPT_INQUIRY,
  EPT_VERS_OPTION,
  FragmentReassembler,
  LITTLE_ENDIAN_DREP,
  NDR64_TRANSFER_SYNTAX,
  NDR_TRANSFER_SYNTAX,
  NIL_UUID,
  NULL_CONTEXT_HANDLE,
  PFC_DID_NOT_EXECUTE,
  PFC_WHOLE,
  PROVIDER_REASON,
  PduFramer,
  RPC_VERSION_MINOR,
  decodeEptLookupRequest,
  decodePdu,
  encodeAlterContextResp,
  encodeBindAck,
  encodeBindNak,
  encodeEptLookupResponse,
  encodeFault,
  encodePdu,
  isDecodeIssue,
  isNullContextHandle,
  sameSyntax,
  splitIntoFragments,
  type AlterContextPdu,
  type BindPdu,
  type ContextHandle,
  type ContextResult,
  type EptEntry,
  type EptLookupRequest,
  type RequestPdu,
  type ResponsePdu,
  type SyntaxId,
} from "../protocols/dcerpc/index.js";
import {
  NCA_STATUS,
  decodeRemoteActivationRequest,
  decodeRemoteCreateInstanceRequest,
  decodeRemoteGetClassObjectRequest,
  encodeActivationReply,
  encodeRemoteActivationReply,
} from "../protocols/dcom/index.js";
import { serveHostileRpc } from "./hostile-rpc.js";
import type { Persona } from "./personas.js";
import {
  holdConnection,
  registerConnectionHandler,
  type ConnectionContext,
  type ConnectionHandler,
} from "./protocol-handlers.js";
import { acceptsNdr64, eptEntriesFor, servesEndpointMapper } from "./rpc-endpoints.js";
import {
  activationOutcome,
  classifyRequest,
  findServedInterface,
  fixOf,
  unboundContextFault,
  type ActivationOp,
  type ActivationRequest,
  type EmulatedRpcss,
  type RpcssFix,
} from "./rpcss-model.js";

/**
 * The lab's DCE/RPC server on TCP 135 (ncacn_ip_tcp) and 593 (ncacn_http, RPC over HTTP v1) for
 * personas with an RPC runtime (NT-family RPCSS, DCOM98, HP-UX dced): bind / alter_context for the
 * interfaces the persona's runtime has (C706 §12.6.4.1-4; rpcss-model.ts servedInterfaces),
 * ept_lookup (opnum 2, C706 Appendix O) over the persona's endpoint table (rpc-endpoints.ts), the
 * DCOM activation calls the MS03-026/MS03-039 checks make (IRemoteActivation opnum 0,
 * ISystemActivator opnums 3 and 4) answered by the per-patch-state model in rpcss-model.ts, a
 * fault for anything else. Just enough of RPCSS for rpcdump, getArch, nmap and our own checks.
 * Hostile personas (rpc-*) are handed to hostile-rpc.ts, except rpc-wrong-call-id, which is this
 * emulation (an unpatched Windows 2000) with a bind_ack for another call_id.
 *
 * Cost model: the daemon takes ~100k connections from scanners that never send a byte, so the
 * accept path only arms the idle timer and one `data` listener; the framer, reassembler and
 * context table exist only once a peer speaks. Hostile input never throws out of here: every
 * decoder returns a DecodeIssue, and the connection is closed on one (CO RPC cannot resync after
 * a bad frag_length, C706 §12.6.3.1), which is also what RPCSS does.
 */

/** What Windows 2000-2003 answers in a bind_ack (0x16D0; research §2.1, the 2003 checks' value). */
const SERVER_MAX_FRAG = 5840;
/** C706 §12.6.3.1: every implementation must accept fragments of at least 1432 octets. */
const MUST_RECV_FRAG_SIZE = 1432;
/** A lookup request is 40 stub bytes (research Appendix E): anything close to this is abuse. */
const MAX_REQUEST_STUB = 16 * 1024;
const MAX_REQUEST_FRAGMENTS = 16;
/** Presentation contexts one association may hold (C706 leaves this to the server). */
const MAX_CONTEXTS = 16;
/** PDUs per connection: rpcdump needs 2, nmap's msrpc-enum (max_ents 1) ~30. Stops endless loops. */
const MAX_PDUS_PER_CONNECTION = 4096;
/** After our FIN, how long a peer that never closes keeps the descriptor (as holdConnection). */
const LINGER_AFTER_END_MS = 1_000;
/** RPC over HTTP v1 (research §2.3): the server speaks first with these 14 octets. */
export const NCACN_HTTP_BANNER = "ncacn_http/1.0";

/** C706 Appendix E / MS-RPCE §2.2.2.8 fault status codes the mapper sends. */
const NCA_S_OP_RNG_ERROR = NCA_STATUS.opRangeError;
const NCA_S_PROTO_ERROR = NCA_STATUS.protocolError;
const NCA_S_INVALID_PRES_CONTEXT_ID = NCA_STATUS.invalidPresContextId;
const RPC_X_BAD_STUB_DATA = NCA_STATUS.badStubData;

/** A rejected context names no transfer syntax: the all-zero p_syntax_id_t (C706 §12.6.3.1). */
const NO_SYNTAX: SyntaxId = Object.freeze({ uuid: NIL_UUID, major: 0, minor: 0 });

/** What one connection emulates: the runtime, its patch state, and the wrong-call-id lie. */
interface Emulation {
  readonly rpcss: EmulatedRpcss;
  readonly fix: RpcssFix;
  /** The call_id the bind_ack carries for a bind's call_id (C706 §12.6.4.4: the same one). */
  readonly ackCallId: (callId: number) => number;
  /**
   * The interfaces a bind may name on this endpoint, when not the runtime's RPCSS set: a named
   * pipe serves what is registered on it (\PIPE\lsass: LSA, SAMR, Netlogon; rpc-endpoints.ts).
   */
  readonly interfaces?: readonly SyntaxId[];
}

const SAME_CALL_ID = (callId: number): number => callId;

/**
 * rpc-wrong-call-id: everything an unpatched Windows 2000 does, so a client that does not check the
 * bind_ack's call_id (research §2.10: "verify call_id echo") goes on to a confident, wrong verdict.
 */
const WRONG_CALL_ID_EMULATION: Emulation = Object.freeze({
  rpcss: { kind: "windows", generation: "w2k", hardened: false, dcom: "enabled" } as const,
  fix: "none",
  ackCallId: (callId: number) => (callId + 1) >>> 0,
});

/** The emulation for a persona, or null when it has no RPC runtime the lab emulates call by call. */
function emulationOf(persona: Persona): Emulation | null {
  const rpcss = persona.rpcss;
  switch (rpcss.kind) {
    case "windows":
    case "win9x":
    case "dce":
      return { rpcss, fix: fixOf(persona.patches), ackCallId: SAME_CALL_ID };
    case "hostile":
      return rpcss.behaviour === "wrong-call-id" ? WRONG_CALL_ID_EMULATION : null;
    case "none":
      return null;
  }
}

/** Association group ids we hand out: nonzero and per process, as RPCSS does (MS-RPCE §3.3.1.5.5). */
let nextAssocGroup = 0x1000;

/** Register on the daemon's hook (protocol-handlers.ts): 135 for ncacn_ip_tcp, 593 for ncacn_http. */
export function registerDcerpcHandlers(): void {
  registerConnectionHandler(135, serveDcerpc);
  registerConnectionHandler(593, serveNcacnHttp);
}

/** TCP 135: DCE/RPC from the first byte (research §2.3). */
export const serveDcerpc: ConnectionHandler = (socket, context) => {
  const persona = context.host.persona;
  if (persona.rpcss.kind === "hostile" && persona.rpcss.behaviour !== "wrong-call-id") {
    serveHostileRpc(socket, context, persona.rpcss.behaviour);
    return;
  }
  const emulation = emulationOf(persona);
  if (emulation === null) {
    holdConnection(socket, context);
    return;
  }
  attach(socket, context, emulation);
};

/** TCP 593: the banner on connect, then the same PDUs as on 135 (impacket HTTPTransport). */
export const serveNcacnHttp: ConnectionHandler = (socket, context) => {
  const emulation = emulationOf(context.host.persona);
  if (emulation === null || !servesEndpointMapper(context.host.persona)) {
    holdConnection(socket, context);
    return;
  }
  socket.write(NCACN_HTTP_BANNER);
  attach(socket, context, emulation);
};

function attach(socket: Socket, context: ConnectionContext, emulation: Emulation): void {
  socket.setTimeout(context.idleTimeoutMs, () => endSocket(socket));
  // The connection state is built on the first byte only: a port scan never pays for it.
  socket.once("data", (first: Buffer) => {
    const connection = new RpcConnection(
      socketSink(socket),
      context,
      emulation,
      // sec_addr is the port the client reached, as text ("135"; research §2.1).
      String(context.wirePort),
    );
    socket.once("close", () => connection.dispose());
    connection.receive(first);
    socket.on("data", (chunk: Buffer) => connection.receive(chunk));
  });
}

/**
 * Where an association's PDUs go: a TCP socket (135, 593), or a named pipe of the lab's SMB server
 * (smb-pipes.ts), whose messages the client reads with TransactNmPipe, READ_ANDX or SMB2 READ.
 */
export interface RpcSink {
  /** One PDU (one fragment) to the client. */
  send(pdu: Uint8Array): void;
  /** The server ends the association (a bad PDU, a deadline, too many PDUs). */
  close(): void;
}

function socketSink(socket: Socket): RpcSink {
  return {
    send(bytes) {
      if (socket.destroyed) return;
      // A peer that pipelines requests without reading must not grow our write buffer: stop
      // reading until it drains (the idle timeout still ends a peer that never reads).
      if (!socket.write(bytes) && !socket.isPaused()) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    },
    close() {
      socket.removeAllListeners("data");
      endSocket(socket);
    },
  };
}

/** An association over a named pipe: bytes the client writes in, dispose when the pipe closes. */
export interface PipeAssociation {
  receive(bytes: Uint8Array): void;
  dispose(): void;
}

/**
 * DCE/RPC over a named pipe (ncacn_np, research §2.3): the same server as on TCP 135, bound to the
 * interfaces registered on the pipe; `null` when the persona has no RPC runtime the lab emulates.
 * sec_addr in the bind_ack is the pipe's name, as Windows sends it ("\PIPE\epmapper").
 */
export function openPipeAssociation(
  context: ConnectionContext,
  pipeName: string,
  interfaces: readonly SyntaxId[],
  sink: RpcSink,
): PipeAssociation | null {
  const emulation = emulationOf(context.host.persona);
  if (emulation === null) return null;
  return new RpcConnection(sink, context, { ...emulation, interfaces }, `\\PIPE\\${pipeName}`);
}

function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.setTimeout(LINGER_AFTER_END_MS, () => socket.destroy());
}

interface BoundContext {
  readonly iface: SyntaxId;
  readonly transferSyntax: SyntaxId;
}

class RpcConnection implements PipeAssociation {
  private readonly framer = new PduFramer({ maxFragLength: SERVER_MAX_FRAG });
  private readonly reassembler = new FragmentReassembler({
    maxFragments: MAX_REQUEST_FRAGMENTS,
    maxStubBytes: MAX_REQUEST_STUB,
  });
  private readonly contexts = new Map<number, BoundContext>();
  private bound = false;
  private closed = false;
  private pdus = 0;
  /** Largest fragment we may send: the peer's max_recv_frag, clamped (C706 §12.6.3.1). */
  private xmitFrag = SERVER_MAX_FRAG;
  /** Armed while a PDU or a fragmented call is incomplete, so a slow drip cannot hold us. */
  private deadline: NodeJS.Timeout | null = null;

  constructor(
    private readonly sink: RpcSink,
    private readonly context: ConnectionContext,
    private readonly emulation: Emulation,
    private readonly secondaryAddress: string,
  ) {}

  /** The transport went away: nothing more will be received, no timer may outlive it. */
  dispose(): void {
    this.closed = true;
    this.clearDeadline();
  }

  receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      const { pdus, issue } = this.framer.push(chunk);
      for (const pdu of pdus) {
        if (this.closed) return;
        if (++this.pdus > MAX_PDUS_PER_CONNECTION) return this.close();
        this.onPdu(pdu);
      }
      if (issue !== null) return this.close();
      this.armDeadline();
    } catch {
      // Defence in depth: the codec is not supposed to throw on input, but the daemon must live.
      this.close();
    }
  }

  /**
   * The idle timer restarts on every byte, so one byte every few seconds would keep a partial PDU
   * (and its buffer) alive forever; an incomplete PDU or call must complete within one idle period.
   */
  private armDeadline(): void {
    const pending = this.framer.buffered > 0 || this.reassembler.inProgress;
    if (!pending) {
      this.clearDeadline();
      return;
    }
    if (this.deadline !== null) return;
    this.deadline = setTimeout(() => this.close(), this.context.idleTimeoutMs);
    this.deadline.unref();
  }

  private clearDeadline(): void {
    if (this.deadline === null) return;
    clearTimeout(this.deadline);
    this.deadline = null;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearDeadline();
    this.sink.close();
  }

  private send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.sink.send(bytes);
  }

  private onPdu(bytes: Uint8Array): void {
    const pdu = decodePdu(bytes);
    if (isDecodeIssue(pdu)) return this.close();
    switch (pdu.type) {
      case "bind":
      case "alter_context":
        return this.onBind(pdu);
      case "request":
        return this.onRequest(pdu);
      case "auth3":
      case "co_cancel":
        // Nothing to authenticate and nothing long-running to cancel.
        return;
      case "orphaned":
        // C706 §12.6.4.8: the client abandons the call it was sending.
        this.reassembler.reset();
        return;
      default:
        // Server-to-client PDUs (bind_ack, response, fault, shutdown...) from a client.
        return this.close();
    }
  }

  // ---- bind / alter_context (C706 §12.6.4.1-5, MS-RPCE §3.3.1.5.3) ----

  private onBind(pdu: BindPdu | AlterContextPdu): void {
    const alter = pdu.type === "alter_context";
    const callId = this.emulation.ackCallId(pdu.callId);
    const nak = (reason: number): void =>
      this.send(encodeBindNak({ callId, rejectReason: reason }));
    if (!alter) {
      // C706 §12.6.4.5: minor versions 0 and 1 of CO RPC 5 are the ones we speak.
      if (pdu.rpcVersMinor > 1) return nak(BIND_NAK_REASON.protocolVersionNotSupported);
      // A second bind on one association is a protocol error (C706 §12.6.4.3: use alter_context).
      if (this.bound) return nak(BIND_NAK_REASON.notSpecified);
      // We cannot run NTLM/Kerberos; refusing the bind is clearer than a silent unauthenticated ack.
      if (pdu.authVerifier !== null) return nak(BIND_NAK_REASON.authenticationTypeNotRecognized);
      if (pdu.contexts.length === 0) return nak(BIND_NAK_REASON.notSpecified);
    } else if (!this.bound) {
      // alter_context before any bind: there is no association to alter.
      return this.close();
    }

    const results: ContextResult[] = pdu.contexts.map((offered) => {
      const iface = this.findInterface(offered.abstractSyntax);
      if (iface === null) {
        return reject(PROVIDER_REASON.abstractSyntaxNotSupported);
      }
      const transfer = this.chooseTransferSyntax(offered.transferSyntaxes);
      if (transfer === null) return reject(PROVIDER_REASON.proposedTransferSyntaxesNotSupported);
      if (!this.contexts.has(offered.contextId) && this.contexts.size >= MAX_CONTEXTS) {
        return reject(PROVIDER_REASON.localLimitExceeded);
      }
      this.contexts.set(offered.contextId, { iface, transferSyntax: transfer });
      return { result: CONTEXT_RESULT.acceptance, reason: 0, transferSyntax: copy(transfer) };
    });

    // C706 §12.6.3.1 / MS-RPCE §3.3.1.5.3: we send no fragment larger than the peer can receive,
    // but no smaller than the size every implementation must accept.
    this.xmitFrag = Math.max(MUST_RECV_FRAG_SIZE, Math.min(pdu.maxRecvFrag, SERVER_MAX_FRAG));
    const body = {
      callId,
      maxXmitFrag: this.xmitFrag,
      maxRecvFrag: SERVER_MAX_FRAG,
      assocGroupId: pdu.assocGroupId !== 0 ? pdu.assocGroupId : nextGroup(),
      results,
    };
    if (alter) {
      // Windows leaves sec_addr empty in alter_context_resp (pdu-codec BindAckBody).
      this.send(encodeAlterContextResp({ ...body, secondaryAddress: "" }));
    } else {
      this.bound = true;
      this.send(encodeBindAck({ ...body, secondaryAddress: this.secondaryAddress }));
    }
  }

  /** The served interface a bind's abstract syntax selects (same UUID and major, minor ≤ ours). */
  private findInterface(offered: SyntaxId): SyntaxId | null {
    const own = this.emulation.interfaces;
    if (own === undefined) return findServedInterface(this.emulation.rpcss, offered);
    const uuid = offered.uuid.toLowerCase();
    return (
      own.find((s) => s.uuid === uuid && s.major === offered.major && offered.minor <= s.minor) ??
      null
    );
  }

  /** NDR 2.0 always; NDR64 only on 64-bit personas (MS-RPCE §3.3.1.5.3 transfer syntax choice). */
  private chooseTransferSyntax(offered: readonly SyntaxId[]): SyntaxId | null {
    for (const ts of offered) if (sameSyntax(ts, NDR_TRANSFER_SYNTAX)) return NDR_TRANSFER_SYNTAX;
    if (acceptsNdr64(this.context.host.persona)) {
      for (const ts of offered) {
        if (sameSyntax(ts, NDR64_TRANSFER_SYNTAX)) return NDR64_TRANSFER_SYNTAX;
      }
    }
    // Bind time feature negotiation (MS-RPCE §3.3.1.5.3) postdates these personas: to a 2003-era
    // runtime it is one more unknown transfer syntax.
    return null;
  }

  // ---- request (C706 §12.6.4.9) ----

  private onRequest(pdu: RequestPdu): void {
    // One call at a time: the reassembler refuses a second call_id before the first's last
    // fragment, which a single-threaded RPCSS association also treats as a protocol error.
    const step = this.reassembler.push(pdu);
    if (isDecodeIssue(step)) {
      this.fault(pdu, NCA_S_PROTO_ERROR);
      return this.close();
    }
    if (!step.done) return;
    const first = step.call.first as RequestPdu;
    const bound = this.contexts.get(first.contextId);
    if (bound === undefined) {
      // KB824146Scan's req4 asks exactly this (research §2.6.4, §2.10a).
      return this.fault(first, unboundContextFault(this.emulation.rpcss));
    }
    if (!sameSyntax(bound.transferSyntax, NDR_TRANSFER_SYNTAX)) {
      return this.fault(first, NCA_S_INVALID_PRES_CONTEXT_ID);
    }
    const kind = classifyRequest(bound.iface, first.opnum);
    if (kind === "ept_lookup") return this.eptLookup(first, step.call.stub);
    if (kind !== null) return this.activation(first, kind, step.call.stub);
    // ept_insert/delete/map/..., ServerAlive2, mgmt calls are not emulated: "operation out of
    // range" is what RPC says for an opnum the interface does not implement (C706 Appendix E
    // nca_s_op_rng_error).
    return this.fault(first, NCA_S_OP_RNG_ERROR);
  }

  /** An activation call, decoded with the codec and answered by the model (rpcss-model.ts). */
  private activation(request: RequestPdu, op: ActivationOp, stub: Uint8Array): void {
    const outcome = activationOutcome(
      this.emulation.rpcss,
      this.emulation.fix,
      op,
      decodeActivation(op, stub, request.drep.integer === "little-endian"),
    );
    switch (outcome.kind) {
      case "fault":
        return this.fault(request, outcome.status);
      case "remote-activation-reply":
        return this.respond(request, encodeRemoteActivationReply({ phr: outcome.phr }));
      case "activation-reply":
        return this.respond(request, encodeActivationReply(outcome.hresult));
    }
  }

  private fault(pdu: RequestPdu, status: number): void {
    this.send(
      encodeFault({
        callId: pdu.callId,
        contextId: pdu.contextId,
        status,
        // The manager routine was never entered (MS-RPCE §2.2.2.8; research §2.1: 0x23).
        pfcFlags: PFC_WHOLE | PFC_DID_NOT_EXECUTE,
      }),
    );
  }

  private respond(request: RequestPdu, stub: Uint8Array): void {
    const response: ResponsePdu = {
      type: "response",
      callId: request.callId,
      pfcFlags: PFC_WHOLE,
      drep: LITTLE_ENDIAN_DREP,
      rpcVersMinor: RPC_VERSION_MINOR,
      authVerifier: null,
      allocHint: stub.length,
      contextId: request.contextId,
      cancelCount: 0,
      stub,
    };
    for (const fragment of splitIntoFragments(response, this.xmitFrag)) {
      this.send(encodePdu(fragment));
    }
  }

  /**
   * ept_lookup (C706 Appendix O): a page of at most max_ents entries and a handle to continue.
   * Windows ends with status 0 and a null handle on the last page (impacket's rpcdump requires it,
   * lab-and-peers.md §2-3), and answers ept_s_not_registered only when nothing matches at all;
   * Samba's "last page + not_registered" quirk is deliberately not copied.
   */
  private eptLookup(request: RequestPdu, stub: Uint8Array): void {
    const lookup = decodeEptLookupRequest(stub, request.drep);
    if (isDecodeIssue(lookup) || lookup.maxEnts === 0) {
      return this.fault(request, RPC_X_BAD_STUB_DATA);
    }
    const { host, mode, tcpPorts, wirePort, nominalPort } = this.context;
    const all = eptEntriesFor(host, mode, tcpPorts, wirePort - nominalPort).filter((entry) =>
      matches(entry, lookup),
    );
    const start = pageStart(lookup.entryHandle, host.index);
    let entryHandle: ContextHandle = NULL_CONTEXT_HANDLE;
    let entries: EptEntry[] = [];
    let status = EPMAPPER_STATUS_NO_MORE_ENTRIES;
    if (start !== null && start < all.length) {
      entries = all.slice(start, start + Math.min(lookup.maxEnts, all.length));
      const next = start + entries.length;
      if (next < all.length) entryHandle = pageHandle(next, host.index);
      status = EPMAPPER_STATUS_OK;
    }
    const body = encodeEptLookupResponse(
      { entryHandle, entries, status },
      { maxEnts: Math.max(lookup.maxEnts, entries.length) },
    );
    this.respond(request, body);
  }
}

/** The model's view of an activation stub, or null when the codec cannot unmarshal it. */
function decodeActivation(
  op: ActivationOp,
  stub: Uint8Array,
  littleEndian: boolean,
): ActivationRequest | null {
  switch (op) {
    case "RemoteActivation": {
      const request = decodeRemoteActivationRequest(stub, littleEndian);
      return isDecodeIssue(request) ? null : { op, objectName: request.objectName };
    }
    case "RemoteCreateInstance": {
      const request = decodeRemoteCreateInstanceRequest(stub, littleEndian);
      return isDecodeIssue(request) ? null : { op, propertyClsids: request.propertyClsids };
    }
    case "RemoteGetClassObject": {
      const request = decodeRemoteGetClassObjectRequest(stub, littleEndian);
      return isDecodeIssue(request) ? null : { op, objrefSignature: request.objrefSignature };
    }
  }
}

function reject(reason: number): ContextResult {
  return { result: CONTEXT_RESULT.providerRejection, reason, transferSyntax: NO_SYNTAX };
}

function copy(syntax: SyntaxId): SyntaxId {
  return { uuid: syntax.uuid, major: syntax.major, minor: syntax.minor };
}

function nextGroup(): number {
  nextAssocGroup = nextAssocGroup >= 0xfffff ? 0x1000 : nextAssocGroup + 1;
  return nextAssocGroup;
}

/**
 * Entry handles are stateless: the next offset and the host index in a UUID with a fixed middle
 * ("LAB" tag), so a forged or foreign handle is recognised and nothing is kept per lookup.
 */
const HANDLE_TAG = "524c-4142-8000";

function pageHandle(offset: number, hostIndex: number): ContextHandle {
  const head = offset.toString(16).padStart(8, "0");
  const tail = hostIndex.toString(16).padStart(12, "0");
  return { attributes: 0, uuid: `${head}-${HANDLE_TAG}-${tail}` };
}

/** The offset a handle continues from: 0 for a null handle, null for one we never issued. */
function pageStart(handle: ContextHandle, hostIndex: number): number | null {
  if (isNullContextHandle(handle)) return 0;
  const parts = handle.uuid.toLowerCase().split("-");
  if (handle.attributes !== 0 || parts.length !== 5) return null;
  if (parts.slice(1, 4).join("-") !== HANDLE_TAG) return null;
  if (parseInt(parts[4] ?? "", 16) !== hostIndex) return null;
  const offset = parseInt(parts[0] ?? "", 16);
  return Number.isFinite(offset) ? offset : null;
}

/** C706 Appendix O inquiry_type / vers_option semantics over one entry. */
function matches(entry: EptEntry, lookup: EptLookupRequest): boolean {
  const floor = entry.tower?.[0];
  const iface = floor?.protocol === "uuid" ? floor.syntax : null;
  const byObject =
    lookup.inquiryType === EPT_INQUIRY.matchByObject ||
    lookup.inquiryType === EPT_INQUIRY.matchByBoth;
  const byInterface =
    lookup.inquiryType === EPT_INQUIRY.matchByInterface ||
    lookup.inquiryType === EPT_INQUIRY.matchByBoth;
  if (!byObject && !byInterface && lookup.inquiryType !== EPT_INQUIRY.allElements) return false;
  if (byObject && (lookup.object ?? NIL_UUID).toLowerCase() !== entry.object) return false;
  if (byInterface && lookup.interfaceId !== null) {
    const want = lookup.interfaceId;
    if (iface === null || iface.uuid !== want.uuid.toLowerCase()) return false;
    switch (lookup.versOption) {
      case EPT_VERS_OPTION.all:
        return true;
      case EPT_VERS_OPTION.compatible:
        return iface.major === want.major && iface.minor >= want.minor;
      case EPT_VERS_OPTION.exact:
        return iface.major === want.major && iface.minor === want.minor;
      case EPT_VERS_OPTION.majorOnly:
        return iface.major === want.major;
      case EPT_VERS_OPTION.upTo:
        return (
          iface.major < want.major || (iface.major === want.major && iface.minor <= want.minor)
        );
      default:
        return false;
    }
  }
  return true;
}
