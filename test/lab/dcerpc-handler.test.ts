import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpcEndpointTable, rpcEndpointsOf } from "../../src/lab/ground-truth.js";
import { NCACN_HTTP_BANNER, serveDcerpc, serveNcacnHttp } from "../../src/lab/dcerpc-handler.js";
import { Estate, LAB_TCP_PORTS, PERSONAS, type LabHost } from "../../src/lab/personas.js";
import type { ConnectionHandler } from "../../src/lab/protocol-handlers.js";
import {
  CONTEXT_RESULT,
  EPMAPPER,
  EPMAPPER_STATUS_OK,
  EPT_INQUIRY,
  EPT_LOOKUP_OPNUM,
  EPT_VERS_OPTION,
  IREMOTE_ACTIVATION,
  NDR64_TRANSFER_SYNTAX,
  NDR_TRANSFER_SYNTAX,
  NULL_CONTEXT_HANDLE,
  PFC_DID_NOT_EXECUTE,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  PROVIDER_REASON,
  LITTLE_ENDIAN_DREP,
  decodeEptLookupResponse,
  encodeBind,
  encodeEptLookupRequest,
  encodePdu,
  encodeRequest,
  isDecodeIssue,
  isNullContextHandle,
  splitIntoFragments,
  type RequestPdu,
} from "../../src/protocols/dcerpc/index.js";
import { RpcTestClient, entryLine } from "./rpc-client.js";

const SHORT_IDLE_MS = 400;
/** One host per persona, so every persona (weight-0 ones included) is there. */
const estate = new Estate("rpc-handler-test", PERSONAS.length, "catalogue");

function firstHostOf(personaId: string): LabHost {
  for (let i = 0; i < estate.hosts; i++) {
    if (estate.persona(i).id === personaId) return estate.host(i);
  }
  throw new Error(`no ${personaId} in the test estate`);
}

/** One in-process server per (handler, host), like the daemon's bind mode, on an ephemeral port. */
async function serve(
  handler: ConnectionHandler,
  host: LabHost,
  nominalPort: number,
): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    handler(socket, {
      host,
      nominalPort,
      wirePort: socket.localPort ?? 0,
      idleTimeoutMs: SHORT_IDLE_MS,
      mode: "bind",
      tcpPorts: [...LAB_TCP_PORTS],
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, server };
}

const WINDOWS = PERSONAS.filter((p) => p.rpcss.kind === "windows" && p.tcpOpen.includes(135));
const servers: net.Server[] = [];
const ports = new Map<string, number>();
let httpPort = 0;
let linuxPort = 0;

beforeAll(async () => {
  for (const persona of WINDOWS) {
    const host = firstHostOf(persona.id);
    const { port, server } = await serve(serveDcerpc, host, 135);
    servers.push(server);
    ports.set(persona.id, port);
  }
  const http = await serve(serveNcacnHttp, firstHostOf("w2k3-rtm"), 593);
  servers.push(http.server);
  httpPort = http.port;
  const linux = await serve(serveDcerpc, firstHostOf("linux-server"), 135);
  servers.push(linux.server);
  linuxPort = linux.port;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

function portOf(personaId: string): number {
  const port = ports.get(personaId);
  if (port === undefined) throw new Error(personaId);
  return port;
}

/** What the ground truth says rpcdump should list for the persona's first host on `port`. */
function expectedLines(personaId: string, wirePort: number, nominalPort: number): string[] {
  const host = firstHostOf(personaId);
  const table = rpcEndpointTable({
    name: "t",
    mode: "bind",
    tcpPorts: [...LAB_TCP_PORTS],
    portOffset: wirePort - nominalPort,
  });
  const endpoints = rpcEndpointsOf({ rpcEndpoints: table }, { ...host, persona: personaId }) ?? [];
  return endpoints.map((e) => `${e.uuid} v${e.version} ${e.binding}`);
}

describe("lab endpoint mapper (in process)", () => {
  it.each(WINDOWS.map((p) => p.id))(
    "%s: bind_ack, then ept_lookup lists exactly the ground truth",
    async (id) => {
      const client = await RpcTestClient.connect("127.0.0.1", portOf(id));
      const ack = await client.bind();
      expect(ack?.type).toBe("bind_ack");
      if (ack?.type !== "bind_ack") return;
      expect(ack.results).toEqual([
        { result: CONTEXT_RESULT.acceptance, reason: 0, transferSyntax: NDR_TRANSFER_SYNTAX },
      ]);
      expect(ack.secondaryAddress).toBe(String(portOf(id)));
      expect(ack.assocGroupId).not.toBe(0);
      const { entries, statuses } = await client.lookupAll(500);
      expect(statuses).toEqual([EPMAPPER_STATUS_OK]);
      const expected = expectedLines(id, portOf(id), 135);
      expect(entries.map(entryLine)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(4);
      client.close();
    },
  );

  it("2003 lists ncacn_http on 593, XP the messenger pipe, NT4 no ISystemActivator", () => {
    const w2k3 = expectedLines("w2k3-rtm", 135, 135);
    expect(w2k3).toContain(
      `e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0 ncacn_http:${firstHostOf("w2k3-rtm").address}[593]`,
    );
    expect(expectedLines("w2k-sp4", 135, 135).some((l) => l.includes("ncacn_http"))).toBe(false);
    expect(expectedLines("xp-sp1", 135, 135).some((l) => l.includes("[\\PIPE\\ntsvcs]"))).toBe(
      true,
    );
    expect(expectedLines("nt4-sp6a", 135, 135).some((l) => l.startsWith("000001a0"))).toBe(false);
    // Every TCP binding names a port the persona really has open.
    for (const persona of WINDOWS) {
      for (const line of expectedLines(persona.id, 135, 135)) {
        const port = /ncacn_(?:ip_tcp|http):[\d.]+\[(\d+)\]/.exec(line)?.[1];
        if (port !== undefined) expect(persona.tcpOpen).toContain(Number(port));
      }
    }
  });

  it("pages by entry handle: status 0 on every page and a null handle on the last", async () => {
    const port = portOf("xp-sp1");
    const whole = await RpcTestClient.connect("127.0.0.1", port);
    await whole.bind();
    const all = (await whole.lookupAll(500)).entries.map(entryLine);
    whole.close();
    for (const maxEnts of [1, 3, all.length - 1, all.length]) {
      const client = await RpcTestClient.connect("127.0.0.1", port);
      await client.bind();
      const { entries, statuses } = await client.lookupAll(maxEnts);
      expect(entries.map(entryLine)).toEqual(all);
      expect(statuses.every((s) => s === EPMAPPER_STATUS_OK)).toBe(true);
      expect(statuses).toHaveLength(Math.ceil(all.length / maxEnts));
      client.close();
    }
  });

  it("filters by interface and answers not_registered when nothing matches", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", portOf("w2k-sp4"));
    await client.bind();
    const lookup = async (uuid: string, major: number, callId: number) => {
      const stub = encodeEptLookupRequest({
        inquiryType: EPT_INQUIRY.matchByInterface,
        object: null,
        interfaceId: { uuid, major, minor: 0 },
        versOption: EPT_VERS_OPTION.exact,
        entryHandle: NULL_CONTEXT_HANDLE,
        maxEnts: 50,
      });
      const reply = await client.call(EPT_LOOKUP_OPNUM, stub, callId);
      if (!(reply instanceof Uint8Array)) throw new Error("no response");
      const response = decodeEptLookupResponse(reply);
      if (isDecodeIssue(response)) throw new Error(response.message);
      return response;
    };
    const ra = await lookup(IREMOTE_ACTIVATION.uuid, 0, 2);
    expect(ra.status).toBe(0);
    expect(ra.entries.map(entryLine).every((l) => l.startsWith(IREMOTE_ACTIVATION.uuid))).toBe(
      true,
    );
    expect(ra.entries.length).toBeGreaterThanOrEqual(3);
    const none = await lookup("01234567-89ab-cdef-0123-456789abcdef", 1, 3);
    expect(none.entries).toHaveLength(0);
    expect(none.status).toBe(0x16c9a0d6);
    expect(isNullContextHandle(none.entryHandle)).toBe(true);
    client.close();
  });

  it("rejects NDR64 as a 32-bit host does (getArch), and unknown interfaces", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", portOf("w2k3-sp1"));
    const ack = await client.bind([NDR64_TRANSFER_SYNTAX]);
    expect(ack?.type === "bind_ack" && ack.results[0]).toMatchObject({
      result: CONTEXT_RESULT.providerRejection,
      reason: PROVIDER_REASON.proposedTransferSyntaxesNotSupported,
    });
    client.close();

    const two = await RpcTestClient.connect("127.0.0.1", portOf("w2k3-sp1"));
    two.send(
      encodeBind({
        callId: 1,
        contexts: [
          { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
          { contextId: 1, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR64_TRANSFER_SYNTAX] },
          {
            contextId: 2,
            abstractSyntax: { uuid: "01234567-89ab-cdef-0123-456789abcdef", major: 1, minor: 0 },
            transferSyntaxes: [NDR_TRANSFER_SYNTAX],
          },
        ],
      }),
    );
    const ack2 = await two.next();
    expect(ack2?.type === "bind_ack" && ack2.results.map((r) => [r.result, r.reason])).toEqual([
      [CONTEXT_RESULT.acceptance, 0],
      [CONTEXT_RESULT.providerRejection, PROVIDER_REASON.proposedTransferSyntaxesNotSupported],
      [CONTEXT_RESULT.providerRejection, PROVIDER_REASON.abstractSyntaxNotSupported],
    ]);
    two.close();
  });

  it("faults other opnums with nca_s_op_rng_error and a request on no context", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", portOf("w2k-sp4"));
    await client.bind();
    const fault = await client.call(3, new Uint8Array(8), 2);
    expect(fault).toMatchObject({ type: "fault", status: 0x1c010002, callId: 2 });
    if (fault instanceof Uint8Array || fault === null) return;
    expect(fault.pfcFlags & PFC_DID_NOT_EXECUTE).toBe(PFC_DID_NOT_EXECUTE);
    client.send(encodeRequest({ callId: 3, contextId: 7, opnum: 2, stub: new Uint8Array(40) }));
    expect(await client.next()).toMatchObject({ type: "fault", status: 0x1c00001c, callId: 3 });
    client.close();
  });

  it("reassembles a fragmented request", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", portOf("w2k-sp4"));
    await client.bind();
    const stub = encodeEptLookupRequest({
      inquiryType: 0,
      object: null,
      interfaceId: null,
      versOption: 1,
      entryHandle: NULL_CONTEXT_HANDLE,
      maxEnts: 500,
    });
    const request: RequestPdu = {
      type: "request",
      callId: 9,
      pfcFlags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
      drep: LITTLE_ENDIAN_DREP,
      rpcVersMinor: 0,
      authVerifier: null,
      allocHint: stub.length,
      contextId: 0,
      opnum: EPT_LOOKUP_OPNUM,
      object: null,
      stub,
    };
    const fragments = splitIntoFragments(request, 24 + 16);
    expect(fragments.length).toBeGreaterThan(1);
    for (const f of fragments) client.send(encodePdu(f));
    expect(await client.next()).toMatchObject({ type: "response", callId: 9 });
    client.close();
  });

  it("ncacn_http on 593: banner first, then the same mapper", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", httpPort, true);
    expect((await client.bind())?.type).toBe("bind_ack");
    expect(client.banner).toBe(NCACN_HTTP_BANNER);
    const { entries, statuses } = await client.lookupAll();
    expect(statuses).toEqual([0]);
    expect(entries.map(entryLine)).toEqual(expectedLines("w2k3-rtm", httpPort, 593));
    client.close();
  });

  it("a Linux persona's port only holds the connection", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", linuxPort);
    expect(await client.bind()).toBeNull();
    client.close();
  });
});

describe("lab endpoint mapper under hostile clients", () => {
  const port = (): number => portOf("w2k-sp4");

  async function stillServes(): Promise<void> {
    const client = await RpcTestClient.connect("127.0.0.1", port());
    expect((await client.bind())?.type).toBe("bind_ack");
    expect((await client.lookupAll()).statuses).toEqual([0]);
    client.close();
  }

  it("closes on garbage", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", port());
    client.send(Buffer.from("GET / HTTP/1.0\r\n\r\n"));
    expect(await client.next()).toBeNull();
    await client.closed;
    await stillServes();
  });

  it("closes a truncated PDU after the idle period", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", port());
    const bind = encodeBind({
      callId: 1,
      contexts: [
        { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
      ],
    });
    client.send(bind.subarray(0, 30));
    await stillServes();
    await client.closed;
  });

  it("closes an oversized frag_length at once", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", port());
    const header = Buffer.from("05000b0310000000ffff000001000000", "hex");
    client.send(header);
    await client.closed;
    await stillServes();
  });

  it("ends an endless fragment stream", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", port());
    await client.bind();
    let sent = 0;
    const fragment = (first: boolean): Uint8Array =>
      encodeRequest({
        callId: 5,
        contextId: 0,
        opnum: 2,
        stub: new Uint8Array(4000),
        pfcFlags: first ? PFC_FIRST_FRAG : 0,
      });
    client.send(fragment(true));
    const closed = client.closed.then(() => true);
    while (sent < 200 && !client.socket.destroyed) {
      client.send(fragment(false));
      sent++;
      await new Promise((r) => setImmediate(r));
    }
    expect(await closed).toBe(true);
    expect(sent).toBeLessThan(200);
    await stillServes();
  });

  it("ends a slow drip that keeps resetting the idle timer", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", port());
    const bind = encodeBind({
      callId: 1,
      contexts: [
        { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
      ],
    });
    let at = 0;
    const drip = setInterval(() => {
      if (at < bind.length - 1) client.send(bind.subarray(at, ++at));
    }, SHORT_IDLE_MS / 4);
    const started = Date.now();
    await stillServes();
    await client.closed;
    clearInterval(drip);
    // Closed by the PDU deadline (one idle period), long before the drip would have finished.
    expect(Date.now() - started).toBeLessThan(SHORT_IDLE_MS * 6);
    expect(at).toBeLessThan(bind.length - 1);
  });

  it("survives random bytes after a valid bind", async () => {
    for (let round = 0; round < 20; round++) {
      const client = await RpcTestClient.connect("127.0.0.1", port());
      await client.bind();
      const junk = Buffer.alloc(64 + round * 13);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + round * 17) & 0xff;
      // Make some rounds look like a plausible header with random body.
      if (round % 2 === 0) Buffer.from("05000003100000004000000002000000", "hex").copy(junk);
      client.send(junk);
      await client.next(200);
      client.close();
    }
    await stillServes();
  });
});
