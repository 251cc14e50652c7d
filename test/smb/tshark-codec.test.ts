import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SMBSERVER_NAME,
  SMBSERVER_SUFFIX,
  encodeSessionMessage,
  encodeSessionPacket,
} from "../../src/protocols/netbios/index.js";
import {
  SMB1_DIALECT_SMB_2_002,
  SMB1_DIALECT_SMB_2_WILDCARD,
  SMB2_DIALECT,
  encodeSmb1NegotiateRequest,
  encodeSmb2NegotiateResponse,
} from "../../src/protocols/smb/index.js";
import { pcapFile, tcpConversation, type Segment } from "../dcerpc/pcap.js";
import { smb1Samples, smb2Samples, type Sample } from "./samples.js";

/**
 * Wireshark as an independent peer: every message our SMB1, SMB2 and NetBIOS session codecs
 * produce goes into a pcap (loopback addresses, synthetic frames) and tshark must dissect it as
 * the command we meant, with the fields we put in, and flag nothing as malformed
 * (lab-and-peers.md §2 "Capture for dissector checks").
 */

function findTshark(): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, "tshark"), constants.X_OK);
      return join(dir, "tshark");
    } catch {
      // not here
    }
  }
  return null;
}

const TSHARK = findTshark();
if (TSHARK === null) console.warn("skipping the SMB tshark dissection test: tshark not on PATH");

const client = (port: number) => ({ ip: [127, 0, 0, 61] as const, port });
const server = (port: number) => ({ ip: [127, 0, 0, 62] as const, port });
const direct = (samples: Sample[]): Segment[] =>
  samples.map((s) => ({ fromClient: s.fromClient, payload: encodeSessionMessage(s.bytes) }));

/** Every field the assertions read; tshark runs once for all of them (each run costs ~0.5 s). */
const FIELDS = [
  "frame.number",
  "tcp.port",
  "smb.cmd",
  "smb.flags.response",
  "smb.nt_status",
  "smb.dialect.name",
  "smb.challenge",
  "smb.primary_domain",
  "smb.server",
  "smb.native_os",
  "smb.path",
  "smb.service",
  "smb_pipe.function",
  "smb.fid",
  "smb.po",
  "smb.data_offset",
  "smb.trans_name",
  "smb.file",
  "smb2.cmd",
  "smb2.flags.response",
  "smb2.nt_status",
  "smb2.dialect",
  "smb2.negotiate_context.type",
  "smb2.negotiate_context.comp_alg_id",
  "smb2.negotiate_context.netname",
  "smb2.server_guid",
  "smb2.tree",
  "smb2.share_type",
  "smb2.filename",
  "smb2.ioctl.function",
  "dcerpc.pkt_type",
  "nbss.type",
  "nbss.called_name",
  "nbss.calling_name",
  "nbss.error_code",
] as const;

type Field = (typeof FIELDS)[number];
type Frame = Record<Field, string>;

describe.skipIf(TSHARK === null)("tshark dissects our SMB and NetBIOS session messages", () => {
  let dir = "";
  let file = "";
  let frames: Frame[] = [];
  const smb1 = smb1Samples();
  const smb2 = smb2Samples();

  const tshark = (...args: string[]): string => {
    const result = spawnSync(TSHARK ?? "tshark", ["-r", file, ...args], {
      encoding: "utf8",
      timeout: 60_000,
    });
    if (result.status !== 0) throw new Error(`tshark failed: ${result.stderr}`);
    return result.stdout;
  };
  /** Frames on one client port that have `field`, in capture order. */
  const on = (port: number, field: Field): Frame[] =>
    frames.filter((f) => f["tcp.port"].split(",").includes(String(port)) && f[field] !== "");
  const pick = (frame: Frame | undefined, ...names: Field[]): string[] =>
    names.map((n) => frame?.[n] ?? "<no frame>");

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ringfence-smb-"));
    file = join(dir, "smb.pcap");
    const packets = [
      ...tcpConversation(client(50001), server(445), direct(smb1)),
      ...tcpConversation(client(50002), server(445), direct(smb2)),
      // TCP 139: session request to *SMBSERVER, then SMB over RFC 1002 framing.
      ...tcpConversation(client(50003), server(139), [
        {
          fromClient: true,
          payload: encodeSessionPacket({
            type: "session-request",
            calledName: SMBSERVER_NAME,
            calledSuffix: SMBSERVER_SUFFIX,
            callingName: "RINGFENCE",
            callingSuffix: 0x00,
          }),
        },
        { fromClient: false, payload: encodeSessionPacket({ type: "positive-response" }) },
        { fromClient: true, payload: encodeSessionMessage(smb1[0]!.bytes, "netbios") },
        { fromClient: false, payload: encodeSessionPacket({ type: "keep-alive" }) },
        {
          fromClient: false,
          payload: encodeSessionPacket({ type: "negative-response", errorCode: 0x82 }),
        },
      ]),
      // MS-SMB2 §3.3.5.3.1: SMB1 negotiate offering SMB 2.x, answered in SMB2 with 0x02FF.
      ...tcpConversation(client(50004), server(445), [
        {
          fromClient: true,
          payload: encodeSessionMessage(
            encodeSmb1NegotiateRequest({
              dialects: ["NT LM 0.12", SMB1_DIALECT_SMB_2_002, SMB1_DIALECT_SMB_2_WILDCARD],
            }),
          ),
        },
        {
          fromClient: false,
          payload: encodeSessionMessage(
            encodeSmb2NegotiateResponse({
              securityMode: 1,
              dialectRevision: SMB2_DIALECT.WILDCARD,
              serverGuid: "7362616c-626d-0000-0000-000000000000",
              capabilities: 7,
              maxTransactSize: 65536,
              maxReadSize: 65536,
              maxWriteSize: 65536,
              systemTime: 134402580914153284n,
              serverStartTime: 0n,
              securityBuffer: new Uint8Array(0),
              contexts: [],
            }),
          ),
        },
      ]),
    ];
    writeFileSync(file, pcapFile(packets));
    const args = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"];
    frames = tshark(...args, ...FIELDS.flatMap((f) => ["-e", f]))
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const values = line.split("\t");
        return Object.fromEntries(FIELDS.map((f, i) => [f, values[i] ?? ""])) as Frame;
      });
  });

  afterAll(() => {
    if (dir !== "" && process.env.KEEP_PCAP === undefined)
      rmSync(dir, { recursive: true, force: true });
  });

  it("finds nothing malformed and no expert warning or error", () => {
    expect(tshark("-Y", "_ws.malformed").trim()).toBe("");
    expect(tshark("-Y", "_ws.expert.severity >= 0x00600000").trim()).toBe("");
  });

  it("dissects every SMB1 message as the command and direction we encoded", () => {
    const rows = on(50001, "smb.cmd").map((f) => [
      f["smb.cmd"].split(",")[0],
      f["smb.flags.response"],
    ]);
    const expected = smb1.map((s) => [
      `0x${s.bytes[4]!.toString(16).padStart(2, "0")}`,
      s.fromClient ? "0" : "1",
    ]);
    expect(rows).toEqual(expected);
  });

  it("reads the SMB1 fields our codecs wrote", () => {
    const smb = on(50001, "smb.cmd");
    const find = (cmd: string, response: "0" | "1", extra: (f: Frame) => boolean = () => true) =>
      smb.find(
        (f) => f["smb.cmd"].startsWith(cmd) && f["smb.flags.response"] === response && extra(f),
      );
    expect(pick(find("0x72", "0"), "smb.dialect.name")).toEqual(["NT LM 0.12"]);
    expect(pick(find("0x72", "1"), "smb.challenge", "smb.primary_domain", "smb.server")).toEqual([
      "0102030405060708",
      "LABGROUP",
      "LABSMB",
    ]);
    expect(pick(find("0x73", "1"), "smb.native_os", "smb.primary_domain")).toEqual([
      "Windows 5.0",
      "LABGROUP",
    ]);
    expect(pick(find("0x75", "0"), "smb.path", "smb.service")).toEqual([
      "\\\\127.0.0.62\\IPC$",
      "?????",
    ]);
    // research Appendix A: PeekNamedPipe on FID 0 with both offsets at 0x4A, and its reply.
    const peek = find("0x25", "0", (f) => f["smb_pipe.function"] === "0x0023");
    expect(pick(peek, "smb.fid", "smb.po", "smb.data_offset", "smb.trans_name")).toEqual([
      "0x0000",
      "74",
      "74",
      "\\PIPE\\",
    ]);
    expect(
      pick(
        find("0x25", "1", (f) => f["smb.nt_status"] !== "0x00000000"),
        "smb.nt_status",
      ),
    ).toEqual(["0xc0000205"]);
    expect(pick(find("0xa2", "1"), "smb.file", "smb.fid")).toEqual(["\\srvsvc", "0x4000"]);
    // TransactNmPipe in Unicode: ParameterOffset = DataOffset = 0x54 (research §2.3 step 4).
    const transact = find("0x25", "0", (f) => f["smb_pipe.function"] === "0x0026");
    expect(pick(transact, "smb.po", "smb.data_offset")).toEqual(["84", "84"]);
  });

  it("finds the DCE/RPC PDUs we carried over TRANSACTION, WRITE/READ_ANDX, IOCTL and WRITE/READ", () => {
    // bind, bind_ack through the pipe transaction, then again through write + read.
    expect(on(50001, "dcerpc.pkt_type").map((f) => f["dcerpc.pkt_type"])).toEqual([
      "11",
      "12",
      "11",
      "12",
    ]);
    expect(on(50002, "dcerpc.pkt_type").map((f) => f["dcerpc.pkt_type"])).toEqual([
      "11",
      "12",
      "11",
      "12",
    ]);
  });

  it("dissects every SMB2 message as the command and direction we encoded", () => {
    const rows = on(50002, "smb2.cmd").map((f) => [f["smb2.cmd"], f["smb2.flags.response"]]);
    const expected = smb2.map((s) => [
      String(s.bytes[12]! | (s.bytes[13]! << 8)),
      s.fromClient ? "0" : "1",
    ]);
    expect(rows).toEqual(expected);
  });

  it("reads the SMB2 negotiate contexts, names and ids our codecs wrote", () => {
    const smb2Frames = on(50002, "smb2.cmd");
    const find = (cmd: string, response: "0" | "1", extra: (f: Frame) => boolean = () => true) =>
      smb2Frames.find(
        (f) => f["smb2.cmd"] === cmd && f["smb2.flags.response"] === response && extra(f),
      );
    expect(
      pick(
        find("0", "0"),
        "smb2.dialect",
        "smb2.negotiate_context.type",
        "smb2.negotiate_context.comp_alg_id",
        "smb2.negotiate_context.netname",
      ),
    ).toEqual([
      "0x0202,0x0210,0x0300,0x0302,0x0311",
      "0x0001,0x0002,0x0003,0x0005,0x0008",
      "0x0001,0x0002,0x0003",
      "127.0.0.62",
    ]);
    expect(
      pick(find("0", "1"), "smb2.dialect", "smb2.server_guid", "smb2.negotiate_context.type"),
    ).toEqual(["0x0311", "7362616c-626d-0000-0000-000000000000", "0x0001,0x0002,0x0003"]);
    expect(pick(find("1", "1"), "smb2.nt_status")).toEqual(["0xc0000016"]);
    expect(pick(find("3", "0"), "smb2.tree")).toEqual(["\\\\127.0.0.62\\IPC$"]);
    expect(pick(find("3", "1"), "smb2.share_type")).toEqual(["0x02"]);
    expect(pick(find("5", "0"), "smb2.filename")).toEqual(["srvsvc"]);
    expect(pick(find("11", "0"), "smb2.ioctl.function")).toEqual(["0x0011c017"]);
    expect(
      pick(
        find("6", "1", (f) => f["smb2.nt_status"] !== "0x00000000"),
        "smb2.nt_status",
      ),
    ).toEqual(["0xc0000128"]);
  });

  it("dissects the NetBIOS session service on TCP 139", () => {
    const rows = on(50003, "nbss.type").map((f) =>
      pick(f, "nbss.type", "nbss.called_name", "nbss.calling_name", "nbss.error_code"),
    );
    expect(rows).toEqual([
      ["0x81", "*SMBSERVER<20>", "RINGFENCE<00>", ""],
      ["0x82", "", "", ""],
      ["0x00", "", "", ""],
      ["0x85", "", "", ""],
      ["0x83", "", "", "0x82"],
    ]);
    expect(on(50003, "smb.cmd").map((f) => f["smb.dialect.name"])).toEqual(["NT LM 0.12"]);
  });

  it("dissects the multi-protocol negotiate and its SMB2 wildcard answer", () => {
    expect(on(50004, "smb.cmd").map((f) => f["smb.dialect.name"])).toEqual([
      "NT LM 0.12,SMB 2.002,SMB 2.???",
    ]);
    expect(on(50004, "smb2.cmd").map((f) => f["smb2.dialect"])).toEqual(["0x02ff"]);
  });
});
