import type net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveDcerpc } from "../../src/lab/dcerpc-handler.js";
import { rpcEndpointTable, rpcEndpointsOf } from "../../src/lab/ground-truth.js";
import { Estate, LAB_TCP_PORTS, PERSONAS, type LabHost } from "../../src/lab/personas.js";
import {
  CONTEXT_RESULT,
  EPMAPPER,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  MGMT,
  NDR_TRANSFER_SYNTAX,
  PFC_DID_NOT_EXECUTE,
  PFC_LAST_FRAG,
  PROVIDER_REASON,
  encodeBind,
  encodeRequest,
  type SyntaxId,
} from "../../src/protocols/dcerpc/index.js";
import {
  HRESULT,
  NCA_STATUS,
  checkARemoteActivationStub,
  decodeRemoteActivationReply,
} from "../../src/protocols/dcom/index.js";
import { closeServers, serveInProcess } from "./in-process.js";
import { RpcTestClient, entryLine } from "./rpc-client.js";
import { referenceVerdict, type Observed, type RpcssOracle } from "./rpcss-reference.js";

/**
 * The RPCSS emulation over real sockets (the handler the daemon runs, in process): each persona
 * family's bind answers, the activation faults and replies, and the research's reference procedure
 * reaching every persona's hand-written verdict through the wire.
 */

const IDLE_MS = 500;
const estate = new Estate("rpcss-wire", PERSONAS.length, "catalogue");
const RPC_PERSONAS = PERSONAS.filter(
  (p) =>
    p.tcpOpen.includes(135) &&
    (p.rpcss.kind === "windows" ||
      p.rpcss.kind === "win9x" ||
      p.rpcss.kind === "dce" ||
      (p.rpcss.kind === "hostile" && p.rpcss.behaviour === "wrong-call-id")),
);
const servers: net.Server[] = [];
const ports = new Map<string, number>();

function hostOf(personaId: string): LabHost {
  const index = PERSONAS.findIndex((p) => p.id === personaId);
  return estate.host(index);
}

function portOf(personaId: string): number {
  const port = ports.get(personaId);
  if (port === undefined) throw new Error(personaId);
  return port;
}

beforeAll(async () => {
  for (const persona of RPC_PERSONAS) {
    const { port, server } = await serveInProcess(serveDcerpc, hostOf(persona.id), 135, IDLE_MS);
    servers.push(server);
    ports.set(persona.id, port);
  }
});

afterAll(() => closeServers(servers));

/** The research procedure's I/O over sockets: a fresh connection per bind and per request. */
function wireOracle(port: number): RpcssOracle {
  const bindOn = async (client: RpcTestClient, iface: SyntaxId) => {
    client.send(
      encodeBind({
        callId: 1,
        contexts: [
          { contextId: 0, abstractSyntax: iface, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
        ],
      }),
    );
    const pdu = await client.next();
    // research §2.10 I/O rules: verify the call_id echo and the PTYPE.
    if (pdu?.type === "bind_nak" && pdu.callId === 1) return "rejected" as const;
    if (pdu?.type !== "bind_ack" || pdu.callId !== 1 || pdu.results.length !== 1) {
      return "invalid" as const;
    }
    return pdu.results[0]?.result === CONTEXT_RESULT.acceptance
      ? ("accepted" as const)
      : ("rejected" as const);
  };
  return {
    async bind(iface) {
      const client = await RpcTestClient.connect("127.0.0.1", port);
      try {
        return await bindOn(client, iface);
      } finally {
        client.close();
      }
    },
    async call(iface, opnum, stub, contextId = 0): Promise<Observed> {
      const client = await RpcTestClient.connect("127.0.0.1", port);
      try {
        if ((await bindOn(client, iface)) !== "accepted") return { kind: "invalid" };
        client.send(encodeRequest({ callId: 2, contextId, opnum, stub }));
        const pdu = await client.next();
        if (pdu?.type === "fault" && pdu.callId === 2) return { kind: "fault", status: pdu.status };
        if (pdu?.type === "response" && pdu.callId === 2 && (pdu.pfcFlags & PFC_LAST_FRAG) !== 0) {
          return { kind: "response", stub: pdu.stub };
        }
        return { kind: "invalid" };
      } finally {
        client.close();
      }
    },
  };
}

/** Bind several contexts at once and return [result, reason] per context. */
async function bindResults(personaId: string, ifaces: readonly SyntaxId[]): Promise<number[][]> {
  const client = await RpcTestClient.connect("127.0.0.1", portOf(personaId));
  client.send(
    encodeBind({
      callId: 1,
      contexts: ifaces.map((abstractSyntax, contextId) => ({
        contextId,
        abstractSyntax,
        transferSyntaxes: [NDR_TRANSFER_SYNTAX],
      })),
    }),
  );
  const ack = await client.next();
  client.close();
  if (ack?.type !== "bind_ack") throw new Error(`no bind_ack: ${JSON.stringify(ack)}`);
  return ack.results.map((r) => [r.result, r.reason]);
}

const ACCEPT = [CONTEXT_RESULT.acceptance, 0];
const ABSENT = [CONTEXT_RESULT.providerRejection, PROVIDER_REASON.abstractSyntaxNotSupported];
const FIVE = [
  EPMAPPER,
  IREMOTE_ACTIVATION,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  ISYSTEM_ACTIVATOR,
];

describe("binds per persona family", () => {
  it.each([
    "w2k-sp4",
    "w2k-sp2-patched",
    "xp-rtm",
    "xp-sp2-open",
    "w2k3-sp1",
    "w2k-sp4-dcom-disabled",
  ])("%s (NT 5.x) accepts the mapper and all four DCOM interfaces", async (id) => {
    expect(await bindResults(id, FIVE)).toEqual([ACCEPT, ACCEPT, ACCEPT, ACCEPT, ACCEPT]);
  });

  it.each(["nt4-sp6a", "nt4-sp6a-kb823980", "nt4-sp6a-patched"])(
    "%s rejects ISystemActivator only",
    async (id) => {
      expect(await bindResults(id, FIVE)).toEqual([ACCEPT, ACCEPT, ACCEPT, ACCEPT, ABSENT]);
    },
  );

  it("win98-dcom accepts the mapper and IRemoteActivation, rejects ILocalObjectExporter v2.0 and ISystemActivator", async () => {
    expect(await bindResults("win98-dcom", FIVE)).toEqual([ACCEPT, ACCEPT, ABSENT, ACCEPT, ABSENT]);
  });

  it("hpux-dced accepts the mapper and mgmt, rejects the three DCOM interfaces", async () => {
    expect(
      await bindResults("hpux-dced", [
        EPMAPPER,
        MGMT,
        IREMOTE_ACTIVATION,
        ILOCAL_OBJECT_EXPORTER,
        ISYSTEM_ACTIVATOR,
      ]),
    ).toEqual([ACCEPT, ACCEPT, ABSENT, ABSENT, ABSENT]);
  });

  it.each(["win98-dcom", "hpux-dced"])("%s lists exactly its ground-truth table", async (id) => {
    const client = await RpcTestClient.connect("127.0.0.1", portOf(id));
    await client.bind();
    const { entries, statuses } = await client.lookupAll();
    client.close();
    const table = rpcEndpointTable({
      name: "t",
      mode: "bind",
      tcpPorts: [...LAB_TCP_PORTS],
      portOffset: portOf(id) - 135,
    });
    const expected = (
      rpcEndpointsOf({ rpcEndpoints: table }, { ...hostOf(id), persona: id }) ?? []
    ).map((e) => `${e.uuid} v${e.version} ${e.binding}`);
    expect(statuses).toEqual([0]);
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(entries.map(entryLine)).toEqual(expected);
  });
});

describe("activation requests on the wire", () => {
  async function call(id: string, iface: SyntaxId, opnum: number, stub: Uint8Array, contextId = 0) {
    const client = await RpcTestClient.connect("127.0.0.1", portOf(id));
    await client.bind([NDR_TRANSFER_SYNTAX], iface);
    client.send(encodeRequest({ callId: 9, contextId, opnum, stub }));
    const pdu = await client.next();
    client.close();
    return pdu;
  }

  it("hardened: access denied without executing; an unbound context is nca_s_unk_if", async () => {
    for (const id of ["xp-sp2-open", "w2k3-sp1"]) {
      const denied = await call(id, IREMOTE_ACTIVATION, 0, checkARemoteActivationStub());
      expect(denied).toMatchObject({ type: "fault", callId: 9, status: NCA_STATUS.accessDenied });
      expect(denied !== null && (denied.pfcFlags & PFC_DID_NOT_EXECUTE) !== 0).toBe(true);
      expect(await call(id, ISYSTEM_ACTIVATOR, 4, new Uint8Array(8))).toMatchObject({
        type: "fault",
        status: NCA_STATUS.accessDenied,
      });
      expect(await call(id, IREMOTE_ACTIVATION, 0, checkARemoteActivationStub(), 1)).toMatchObject({
        type: "fault",
        status: NCA_STATUS.unknownInterface,
      });
    }
  });

  it("not hardened: an unbound context is nca_s_invalid_pres_context_id", async () => {
    for (const id of ["w2k-sp4", "nt4-sp6a", "hpux-dced", "win98-dcom"]) {
      expect(await call(id, EPMAPPER, 0, new Uint8Array(8), 1)).toMatchObject({
        type: "fault",
        status: NCA_STATUS.invalidPresContextId,
      });
    }
  });

  it("a 68-byte RemoteActivation reply carrying the patch state's phr", async () => {
    const cases: [string, number][] = [
      ["w2k-sp4", HRESULT.REGDB_E_CLASSNOTREG],
      ["w2k-sp3-kb823980", HRESULT.CO_E_BAD_PATH],
      ["w2k-sp4-dcom-disabled", HRESULT.E_ACCESSDENIED],
    ];
    for (const [id, phr] of cases) {
      const pdu = await call(id, IREMOTE_ACTIVATION, 0, checkARemoteActivationStub());
      expect(pdu?.type, id).toBe("response");
      if (pdu?.type !== "response") continue;
      expect(decodeRemoteActivationReply(pdu.stub), id).toEqual({ stubLength: 68, phr });
    }
  });

  it("undecodable stubs fault rpc_x_bad_stub_data; other opnums nca_s_op_rng_error", async () => {
    expect(await call("w2k-sp4", IREMOTE_ACTIVATION, 0, new Uint8Array(12))).toMatchObject({
      type: "fault",
      status: NCA_STATUS.badStubData,
    });
    expect(await call("w2k-sp4", ISYSTEM_ACTIVATOR, 3, new Uint8Array(12))).toMatchObject({
      type: "fault",
      status: NCA_STATUS.badStubData,
    });
    expect(await call("w2k-sp4", IOXID_RESOLVER, 5, new Uint8Array(0))).toMatchObject({
      type: "fault",
      status: NCA_STATUS.opRangeError,
    });
    expect(await call("hpux-dced", MGMT, 0, new Uint8Array(0))).toMatchObject({
      type: "fault",
      status: NCA_STATUS.opRangeError,
    });
  });

  it("rpc-wrong-call-id acks another call_id, then answers like an unpatched host", async () => {
    const client = await RpcTestClient.connect("127.0.0.1", portOf("rpc-wrong-call-id"));
    const ack = await client.bind([NDR_TRANSFER_SYNTAX], IREMOTE_ACTIVATION);
    expect(ack?.type).toBe("bind_ack");
    expect(ack?.callId).not.toBe(1);
    client.send(
      encodeRequest({ callId: 2, contextId: 0, opnum: 0, stub: checkARemoteActivationStub() }),
    );
    const reply = await client.next();
    client.close();
    expect(reply).toMatchObject({ type: "response", callId: 2 });
  });
});

describe("the reference procedure reaches every persona's expected verdict over the wire", () => {
  it.each(RPC_PERSONAS.map((p) => [p.id, p.expected.rpcss] as const))(
    "%s → %s",
    async (id, expected) => {
      expect(await referenceVerdict(wireOracle(portOf(id)))).toBe(expected);
    },
  );
});
