import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import {
  EPMAPPER,
  NDR_TRANSFER_SYNTAX,
  NULL_CONTEXT_HANDLE,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  buildTower,
  decodePdu,
  encodeBindAck,
  encodeEptLookupResponse,
  encodeResponse,
  isDecodeIssue,
  type ContextHandle,
} from "../../src/protocols/dcerpc/index.js";
import { createScope, type Scope } from "../../src/scope/index.js";
import { parseRangeExpression } from "../../src/targets/index.js";

/** A scope allowing all of loopback, for the library-level tests. */
export function loopbackScope(): Scope {
  const range = parseRangeExpression("127.0.0.0/8");
  if ("reason" in range) throw new Error(range.reason);
  return createScope({ name: "loopback", source: "test", allow: [range] });
}

export interface TestServer {
  readonly server: Server;
  readonly port: number;
  readonly connections: () => number;
  close(): Promise<void>;
}

/** A TCP server on `host` whose behaviour per connection is `onConnection`. */
export function startServer(host: string, onConnection: (s: Socket) => void): Promise<TestServer> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onConnection(socket);
  });
  return new Promise((resolve) =>
    server.listen(0, host, () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        connections: () => count,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

/** Calls `handler` with each whole PDU the client sends (frag_length framing, no validation). */
export function onPdus(socket: Socket, handler: (pdu: Uint8Array) => void): void {
  let buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 16) {
      const length = buffer.readUInt16LE(8);
      if (buffer.length < length) break;
      handler(buffer.subarray(0, length));
      buffer = buffer.subarray(length);
    }
  });
}

export function callIdOf(pdu: Uint8Array): number {
  return Buffer.from(pdu).readUInt32LE(12);
}

/** A bind_ack accepting context 0 with NDR, for `callId`. */
export function bindAck(callId: number): Uint8Array {
  return encodeBindAck({
    callId,
    maxXmitFrag: 4280,
    maxRecvFrag: 4280,
    assocGroupId: 0x1234,
    secondaryAddress: "135",
    results: [{ result: 0, reason: 0, transferSyntax: NDR_TRANSFER_SYNTAX }],
  });
}

/**
 * A well-behaved miniature mapper: two pages (status 0 + handle, then Samba's last page with
 * 0x16c9a0d6), the second split into two fragments as Samba does (lab-and-peers.md §2).
 */
export function miniMapper(socket: Socket, banner: boolean): void {
  if (banner) socket.write("ncacn_http/1.0");
  onPdus(socket, (bytes) => {
    const replies = mapperReplies(bytes);
    if (replies === null) return void socket.destroy();
    for (const reply of replies) socket.write(reply);
  });
}

/**
 * The miniature mapper's answer to one PDU (a bind_ack, or one or two response fragments), or
 * null for a PDU it does not take; shared by the TCP and the SMB-pipe peers.
 */
export function mapperReplies(bytes: Uint8Array): Uint8Array[] | null {
  const handle: ContextHandle = { attributes: 0, uuid: "11111111-2222-3333-4444-555555555555" };
  const pdu = decodePdu(bytes);
  if (isDecodeIssue(pdu)) return null;
  if (pdu.type === "bind") return [bindAck(pdu.callId)];
  if (pdu.type !== "request") return null;
  const firstPage = pdu.stub.subarray(16, 36).every((b) => b === 0);
  const entry = (port: number) => ({
    object: "00000000-0000-0000-0000-000000000000",
    tower: buildTower(EPMAPPER, { protseq: "ncacn_ip_tcp", address: "127.0.0.9", port }),
    annotation: `page ${firstPage ? 1 : 2}`,
  });
  const stub = firstPage
    ? encodeEptLookupResponse({ entryHandle: handle, entries: [entry(135)], status: 0 })
    : encodeEptLookupResponse({
        entryHandle: NULL_CONTEXT_HANDLE,
        entries: [entry(49152), entry(49153)],
        status: 0x16c9a0d6,
      });
  if (firstPage) return [encodeResponse({ callId: pdu.callId, contextId: 0, stub })];
  const cut = 40;
  return [
    encodeResponse({
      callId: pdu.callId,
      contextId: 0,
      stub: stub.subarray(0, cut),
      allocHint: stub.length,
      pfcFlags: PFC_FIRST_FRAG,
    }),
    encodeResponse({
      callId: pdu.callId,
      contextId: 0,
      stub: stub.subarray(cut),
      pfcFlags: PFC_LAST_FRAG,
    }),
  ];
}
