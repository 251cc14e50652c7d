import net from "node:net";
import {
  EPMAPPER,
  EPT_INQUIRY,
  EPT_LOOKUP_OPNUM,
  EPT_VERS_OPTION,
  FragmentReassembler,
  NDR_TRANSFER_SYNTAX,
  NULL_CONTEXT_HANDLE,
  PduFramer,
  decodeEptLookupResponse,
  decodePdu,
  describeTower,
  encodeBind,
  encodeEptLookupRequest,
  encodeRequest,
  isDecodeIssue,
  isNullContextHandle,
  type ContextHandle,
  type EptEntry,
  type Pdu,
  type SyntaxId,
} from "../../src/protocols/dcerpc/index.js";

/**
 * A minimal DCE/RPC client over a socket for the lab's handler tests: raw PDUs in, decoded PDUs
 * out, plus an rpcdump-style ept_lookup loop. Independent of the handler (it only shares the codec).
 */
export class RpcTestClient {
  private readonly framer = new PduFramer({ maxFragLength: 0xffff });
  private readonly queue: Pdu[] = [];
  private waiters: ((pdu: Pdu | null) => void)[] = [];
  private raw = Buffer.alloc(0);
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    private readonly skipBanner: boolean,
  ) {
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  static connect(host: string, port: number, ncacnHttp = false): Promise<RpcTestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once("error", reject);
      socket.once("connect", () => resolve(new RpcTestClient(socket, ncacnHttp)));
    });
  }

  /** The banner bytes received on ncacn_http before the first PDU. */
  banner = "";

  private onData(chunk: Buffer): void {
    let data: Buffer = chunk;
    if (this.skipBanner && this.banner.length < 14) {
      this.raw = Buffer.concat([this.raw, data]);
      if (this.raw.length < 14) return;
      this.banner = this.raw.subarray(0, 14).toString("latin1");
      data = this.raw.subarray(14);
    }
    const { pdus } = this.framer.push(data);
    for (const bytes of pdus) {
      const pdu = decodePdu(bytes);
      if (isDecodeIssue(pdu)) throw new Error(`server sent a bad PDU: ${pdu.message}`);
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter(pdu);
      else this.queue.push(pdu);
    }
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next PDU, or null if the server closes first or nothing comes within timeoutMs. */
  next(timeoutMs = 2_000): Promise<Pdu | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      const done = (pdu: Pdu | null): void => {
        clearTimeout(timer);
        resolve(pdu);
      };
      this.waiters.push(done);
    });
  }

  async bind(
    transferSyntaxes: readonly SyntaxId[] = [NDR_TRANSFER_SYNTAX],
    iface: SyntaxId = EPMAPPER,
  ): Promise<Pdu | null> {
    this.send(
      encodeBind({
        callId: 1,
        contexts: [{ contextId: 0, abstractSyntax: iface, transferSyntaxes }],
      }),
    );
    return this.next();
  }

  /** A whole response call (reassembled), or the fault / null that replaced it. */
  async call(opnum: number, stub: Uint8Array, callId: number): Promise<Uint8Array | Pdu | null> {
    this.send(encodeRequest({ callId, contextId: 0, opnum, stub }));
    const reassembler = new FragmentReassembler();
    for (;;) {
      const pdu = await this.next();
      if (pdu === null || pdu.type !== "response") return pdu;
      const step = reassembler.push(pdu);
      if (isDecodeIssue(step)) throw new Error(step.message);
      if (step.done) return step.call.stub;
    }
  }

  /** rpcdump's loop (lab-and-peers.md §2): pages until a null handle; every page must be status 0. */
  async lookupAll(maxEnts = 500): Promise<{ entries: EptEntry[]; statuses: number[] }> {
    const entries: EptEntry[] = [];
    const statuses: number[] = [];
    let handle: ContextHandle = NULL_CONTEXT_HANDLE;
    for (let callId = 2; callId < 200; callId++) {
      const stub = encodeEptLookupRequest({
        inquiryType: EPT_INQUIRY.allElements,
        object: null,
        interfaceId: null,
        versOption: EPT_VERS_OPTION.all,
        entryHandle: handle,
        maxEnts,
      });
      const reply = await this.call(EPT_LOOKUP_OPNUM, stub, callId);
      if (!(reply instanceof Uint8Array))
        throw new Error(`lookup failed: ${JSON.stringify(reply)}`);
      const response = decodeEptLookupResponse(reply);
      if (isDecodeIssue(response)) throw new Error(response.message);
      entries.push(...response.entries);
      statuses.push(response.status);
      handle = response.entryHandle;
      if (response.status !== 0 || isNullContextHandle(handle)) break;
    }
    return { entries, statuses };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** An entry as rpcdump prints it: "uuid vM.m binding". */
export function entryLine(entry: EptEntry): string {
  const tower = describeTower(entry.tower ?? []);
  const iface = tower.interface;
  return `${iface?.uuid ?? "?"} v${iface?.major ?? "?"}.${iface?.minor ?? "?"} ${tower.binding ?? "?"}`;
}
