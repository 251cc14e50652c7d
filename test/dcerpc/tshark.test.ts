import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONTEXT_RESULT,
  EPMAPPER,
  EPMAPPER_STATUS_NO_MORE_ENTRIES,
  EPT_LOOKUP_OPNUM,
  IREMOTE_ACTIVATION,
  LITTLE_ENDIAN_DREP,
  LSARPC,
  NDR64_TRANSFER_SYNTAX,
  NDR_TRANSFER_SYNTAX,
  NIL_UUID,
  NULL_CONTEXT_HANDLE,
  PFC_DID_NOT_EXECUTE,
  PFC_WHOLE,
  PROVIDER_REASON,
  SRVSVC,
  WINREG,
  buildTower,
  encodeAlterContext,
  encodeAlterContextResp,
  encodeBind,
  encodeBindAck,
  encodeBindNak,
  encodeEptLookupRequest,
  encodeEptLookupResponse,
  encodeFault,
  encodePdu,
  encodeRequest,
  encodeResponse,
  splitIntoFragments,
  type ResponsePdu,
} from "../../src/protocols/dcerpc/index.js";
import { pcapFile, tcpConversation, type Segment } from "./pcap.js";

/**
 * Wireshark as an independent peer: write our PDUs into a pcap on TCP 135 and check that tshark
 * dissects each as the DCERPC type we meant, reassembles our fragments, decodes the EPM towers,
 * and flags nothing as malformed (lab-and-peers.md §2, "Capture for dissector checks").
 */

/** tshark's path if an executable of that name is on PATH (no shell, no `which`). */
function findTshark(): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "tshark");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const TSHARK = findTshark();
const title =
  TSHARK === null ? "tshark dissection [skipped: tshark not found on PATH]" : "tshark dissection";

const client = (port: number) => ({ ip: [10, 99, 0, 1] as const, port });
const server = { ip: [10, 99, 0, 2] as const, port: 135 };

function eptLookupPage(): Uint8Array {
  // Like Samba's last page: entries + EPMAPPER_STATUS_NO_MORE_ENTRIES (lab-and-peers.md §2).
  return encodeEptLookupResponse(
    {
      entryHandle: NULL_CONTEXT_HANDLE,
      entries: [
        {
          object: NIL_UUID,
          tower: buildTower(EPMAPPER, { protseq: "ncacn_ip_tcp", address: "127.0.0.2", port: 135 }),
          annotation: "",
        },
        {
          object: NIL_UUID,
          tower: buildTower(LSARPC, {
            protseq: "ncacn_np",
            host: "\\\\LABSMB",
            pipe: "\\pipe\\lsass",
          }),
          annotation: "",
        },
        {
          object: NIL_UUID,
          tower: buildTower(EPMAPPER, { protseq: "ncacn_http", address: "127.0.0.2", port: 593 }),
          annotation: "",
        },
        {
          object: NIL_UUID,
          tower: buildTower(SRVSVC, { protseq: "ncalrpc", endpoint: "LRPC-0123abcd" }),
          annotation: "Impl friendly name",
        },
        {
          object: NIL_UUID,
          tower: buildTower(WINREG, { protseq: "ncacn_ip_tcp", address: "127.0.0.2", port: 49154 }),
          annotation: "",
        },
        {
          object: NIL_UUID,
          tower: buildTower(EPMAPPER, { protseq: "ncadg_ip_udp", address: "127.0.0.2", port: 135 }),
          annotation: "",
        },
      ],
      status: EPMAPPER_STATUS_NO_MORE_ENTRIES,
    },
    { maxEnts: 500 },
  );
}

function mainConversation(): { segments: Segment[]; responseFragments: number } {
  const c = (payload: Uint8Array): Segment => ({ fromClient: true, payload });
  const s = (payload: Uint8Array): Segment => ({ fromClient: false, payload });
  const page = eptLookupPage();
  const responseFragments = splitIntoFragments<ResponsePdu>(
    {
      type: "response",
      callId: 2,
      pfcFlags: PFC_WHOLE,
      drep: LITTLE_ENDIAN_DREP,
      rpcVersMinor: 0,
      authVerifier: null,
      allocHint: page.length,
      contextId: 0,
      cancelCount: 0,
      stub: page,
    },
    // Small fragments force tshark to reassemble, as Samba's 4280-byte split does.
    256,
  );
  const segments = [
    c(
      encodeBind({
        callId: 1,
        contexts: [
          { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
          { contextId: 1, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR64_TRANSFER_SYNTAX] },
        ],
      }),
    ),
    s(
      encodeBindAck({
        callId: 1,
        maxXmitFrag: 4280,
        maxRecvFrag: 4280,
        assocGroupId: 0x1234,
        secondaryAddress: "135",
        results: [
          { result: CONTEXT_RESULT.acceptance, reason: 0, transferSyntax: NDR_TRANSFER_SYNTAX },
          {
            result: CONTEXT_RESULT.providerRejection,
            reason: PROVIDER_REASON.proposedTransferSyntaxesNotSupported,
            transferSyntax: { uuid: NIL_UUID, major: 0, minor: 0 },
          },
        ],
      }),
    ),
    c(
      encodeRequest({
        callId: 2,
        contextId: 0,
        opnum: EPT_LOOKUP_OPNUM,
        stub: encodeEptLookupRequest({
          inquiryType: 0,
          object: null,
          interfaceId: null,
          versOption: 1,
          entryHandle: NULL_CONTEXT_HANDLE,
          maxEnts: 500,
        }),
      }),
    ),
    ...responseFragments.map((fragment) => s(encodePdu(fragment))),
    c(
      encodeAlterContext({
        callId: 3,
        assocGroupId: 0x1234,
        contexts: [
          {
            contextId: 2,
            abstractSyntax: IREMOTE_ACTIVATION,
            transferSyntaxes: [NDR_TRANSFER_SYNTAX],
          },
        ],
      }),
    ),
    s(
      encodeAlterContextResp({
        callId: 3,
        maxXmitFrag: 4280,
        maxRecvFrag: 4280,
        assocGroupId: 0x1234,
        secondaryAddress: "",
        results: [{ result: 0, reason: 0, transferSyntax: NDR_TRANSFER_SYNTAX }],
      }),
    ),
    // Unbound context 7, as Nessus' req4 probes (research §2.6.1): answered with a fault.
    c(encodeRequest({ callId: 4, contextId: 7, opnum: 0, stub: new Uint8Array(16) })),
    s(
      encodeFault({
        callId: 4,
        contextId: 7,
        status: 0x1c00001c,
        pfcFlags: PFC_WHOLE | PFC_DID_NOT_EXECUTE,
      }),
    ),
  ];
  return { segments, responseFragments: responseFragments.length };
}

interface Row {
  frame: string;
  ptype: string;
  callId: string;
}

describe.skipIf(TSHARK === null)(title, () => {
  let dir = "";
  let file = "";
  const main = mainConversation();
  const run = (...args: string[]) => {
    const result = spawnSync(TSHARK ?? "tshark", ["-r", file, ...args], {
      encoding: "utf8",
      timeout: 60_000,
    });
    if (result.status !== 0) throw new Error(`tshark failed: ${result.stderr}`);
    return result.stdout;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ringfence-dcerpc-"));
    file = join(dir, "dcerpc.pcap");
    const frames = [
      ...tcpConversation(client(49999), server, main.segments),
      ...tcpConversation(client(50001), server, [
        {
          fromClient: true,
          payload: encodeBind({
            callId: 1,
            contexts: [
              { contextId: 0, abstractSyntax: LSARPC, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
            ],
          }),
        },
        { fromClient: false, payload: encodeBindNak({ callId: 1, rejectReason: 4 }) },
        {
          fromClient: false,
          payload: encodeResponse({ callId: 9, contextId: 0, stub: new Uint8Array(8) }),
        },
      ]),
    ];
    writeFileSync(file, pcapFile(frames));
  });

  afterAll(() => {
    if (dir !== "" && process.env.KEEP_PCAP === undefined)
      rmSync(dir, { recursive: true, force: true });
  });

  it("dissects every PDU as the DCERPC type we encoded", () => {
    const rows: Row[] = run(
      "-Y",
      "dcerpc",
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=/",
      "-e",
      "frame.number",
      "-e",
      "dcerpc.pkt_type",
      "-e",
      "dcerpc.cn_call_id",
    )
      .trim()
      .split("\n")
      .map((line) => {
        const [frame = "", ptype = "", callId = ""] = line.split("\t");
        return { frame, ptype, callId };
      });
    const n = main.responseFragments;
    expect(n).toBeGreaterThan(2); // small fragments, so tshark has to reassemble
    // bind, bind_ack, ept_lookup request, its response fragments, alter_context(_resp), a
    // request on an unbound context and its fault; then bind, bind_nak, response.
    expect(rows.map((row) => row.ptype)).toEqual([
      "11",
      "12",
      "0",
      ...Array<string>(n).fill("2"),
      "14",
      "15",
      "0",
      "3",
      "11",
      "13",
      "2",
    ]);
    expect(rows.map((row) => row.callId)).toEqual([
      "1",
      "1",
      "2",
      ...Array<string>(n).fill("2"),
      "3",
      "3",
      "4",
      "4",
      "1",
      "1",
      "9",
    ]);
  });

  it("finds nothing malformed", () => {
    expect(run("-Y", "_ws.malformed").trim()).toBe("");
    // Expert severity "error" (0x00800000); Wireshark's own notes and warnings are allowed (it
    // does not decode the RHS of an ncalrpc protocol floor, for one).
    expect(run("-Y", "_ws.expert.severity >= 0x00800000").trim()).toBe("");
    expect(run("-Y", "dcerpc.fragment.error || dcerpc.fragment.toolongfragment").trim()).toBe("");
  });

  it("reassembles the fragmented ept_lookup response and reads its towers", () => {
    const out = run(
      "-Y",
      "epm.num_ents",
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=,",
      "-e",
      "epm.max_ents",
      "-e",
      "epm.num_ents",
      "-e",
      "epm.proto.tcp_port",
      "-e",
      "epm.proto.ip",
      "-e",
      "epm.proto.named_pipe",
      "-e",
      "epm.proto.netbios_name",
      "-e",
      "epm.rc",
    );
    const lines = out.split("\n").filter((line) => line.trim() !== "");
    const response = lines.find((line) => line.includes("127.0.0.2"));
    expect(response, out).toBeDefined();
    const [, numEnts, tcpPorts, ips, pipes, netbios, rc] = (response ?? "").split("\t");
    expect(numEnts).toBe("6");
    expect(tcpPorts?.split(",")).toEqual(expect.arrayContaining(["135", "49154"]));
    expect(ips).toContain("127.0.0.2");
    expect(pipes).toContain("\\pipe\\lsass");
    expect(netbios).toContain("\\\\LABSMB");
    expect(Number(rc)).toBe(EPMAPPER_STATUS_NO_MORE_ENTRIES);
  });

  it("reads the bind_ack results, the fault status and the bind_nak reason", () => {
    const out = run(
      "-Y",
      "dcerpc.cn_ack_result || dcerpc.cn_status || dcerpc.cn_reject_reason",
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=,",
      "-e",
      "dcerpc.pkt_type",
      "-e",
      "dcerpc.cn_ack_result",
      "-e",
      "dcerpc.cn_ack_reason",
      "-e",
      "dcerpc.cn_sec_addr",
      "-e",
      "dcerpc.cn_status",
      "-e",
      "dcerpc.cn_reject_reason",
    );
    const rows = out
      .trim()
      .split("\n")
      .map((line) => line.split("\t"));
    expect(rows).toContainEqual(["12", "0,2", "2", "135", "", ""]);
    expect(rows).toContainEqual(["15", "0", "", "", "", ""]);
    expect(rows).toContainEqual(["3", "", "", "", "0x1c00001c", ""]);
    expect(rows).toContainEqual(["13", "", "", "", "", "4"]);
  });
});
