import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BIG_ENDIAN_DREP,
  CONTEXT_RESULT,
  ILOCAL_OBJECT_EXPORTER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  LITTLE_ENDIAN_DREP,
  NDR64_TRANSFER_SYNTAX,
  NDR_TRANSFER_SYNTAX,
  NdrReader,
  NdrWriter,
  PFC_DID_NOT_EXECUTE,
  PFC_OBJECT_UUID,
  PFC_WHOLE,
  PROVIDER_REASON,
  decodePdu,
  decodePduHeader,
  encodeBind,
  encodeBindAck,
  encodeBindNak,
  encodeFault,
  encodePdu,
  encodeRequest,
  encodeResponse,
  faultStatusName,
  isDecodeIssue,
  type Pdu,
} from "../../src/protocols/dcerpc/index.js";
import { fromDump, hex, mutate, pduArb } from "./arbitraries.js";

/** research §2.2: bind to IRemoteActivation v0.0, call_id 1, ctx 0, max frag 5840 (72 bytes). */
const BIND_IREMOTE_ACTIVATION = fromDump(`
0000  05 00 0b 03 10 00 00 00 48 00 00 00 01 00 00 00
0010  d0 16 d0 16 00 00 00 00 01 00 00 00 00 00 01 00
0020  b8 4a 9f 4d 1c 7d cf 11 86 1e 00 20 af 6e 7c 57
0030  00 00 00 00 04 5d 88 8a eb 1c c9 11 9f e8 08 00
0040  2b 10 48 60 02 00 00 00`);

/** research §2.2: bind to ISystemActivator v0.0 (byte-identical to Nessus msrpc_dcom2 bindstr). */
const BIND_ISYSTEM_ACTIVATOR = fromDump(`
0000  05 00 0b 03 10 00 00 00 48 00 00 00 01 00 00 00
0010  d0 16 d0 16 00 00 00 00 01 00 00 00 00 00 01 00
0020  a0 01 00 00 00 00 00 00 c0 00 00 00 00 00 00 46
0030  00 00 00 00 04 5d 88 8a eb 1c c9 11 9f e8 08 00
0040  2b 10 48 60 02 00 00 00`);

/** research §2.4.4: ILocalObjectExporter v2.0 bind, call_id "SSVA" (the Win9x discriminator). */
const BIND_ILOCAL_OBJECT_EXPORTER = fromDump(`
0000  05 00 0b 03 10 00 00 00 48 00 00 00 53 53 56 41
0010  d0 16 d0 16 00 00 00 00 01 00 00 00 00 00 01 00
0020  e6 73 0c e6 f9 88 cf 11 9a f1 00 20 af 6e 72 f4
0030  02 00 00 00 04 5d 88 8a eb 1c c9 11 9f e8 08 00
0040  2b 10 48 60 02 00 00 00`);

/** research §2.4.1: Check A RemoteActivation request, call_id 1, ctx 0, opnum 0 (156 bytes). */
const CHECK_A_REQUEST = fromDump(`
0000  05 00 00 03 10 00 00 00 9c 00 00 00 01 00 00 00
0010  84 00 00 00 00 00 00 00 05 00 06 00 01 00 00 00
0020  00 00 00 00 41 4e 45 54 4c 42 4e 45 45 54 57 4f
0030  52 4b 53 45 00 00 00 00 5b 4e 45 53 53 55 53 5d
0040  5b 4e 45 53 53 55 53 5d 04 00 02 00 0a 00 00 00
0050  00 00 00 00 0a 00 00 00 5c 00 5c 00 41 00 00 00
0060  41 00 5c 00 5c 00 41 00 41 00 00 00 00 00 00 00
0070  00 00 00 00 00 00 00 00 01 00 00 00 08 00 02 00
0080  01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0090  00 00 00 00 00 00 00 00 00 00 00 00`);

/** research §2.5: Check B RemoteGetClassObject request, call_id 2, ctx 0, opnum 3 (84 bytes). */
const CHECK_B_REQUEST = fromDump(`
0000  05 00 00 03 10 00 00 00 54 00 00 00 02 00 00 00
0010  3c 00 00 00 00 00 03 00 05 00 06 00 01 00 00 00
0020  00 00 00 00 41 4e 45 54 4c 42 4e 45 45 54 57 4f
0030  52 4b 53 45 00 00 00 00 00 00 02 00 0c 00 00 00
0040  0c 00 00 00 41 41 41 41 41 41 41 41 41 41 41 41
0050  00 00 00 00`);

/** research §2.6.1 req4: 154-byte request on ctx 1 (never bound), call_id 3, opnum 0. */
const REQ4 = fromDump(`
0000  05 00 00 03 10 00 00 00 9a 00 00 00 03 00 00 00
0010  82 00 00 00 01 00 00 00 05 00 02 00 00 00 00 00
0020  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 00 00 00 95 96 95 2a 8c da 6d 4a
0040  b2 36 19 bc af 2c 2d ea 34 eb 8f 00 07 00 00 00
0050  00 00 00 00 07 00 00 00 5c 00 5c 00 4d 00 45 00
0060  4f 00 57 00 00 00 00 00 00 00 00 00 5c 00 48 00
0070  5c 00 48 00 01 00 00 00 58 e9 8f 00 01 00 00 00
0080  95 96 95 2a 8c da 6d 4a b2 36 19 bc af 2c 2d ea
0090  01 00 00 00 01 00 00 00 5c 00`);

/** research §2.6.1 req6: eEye RemoteActivation, call_id 0, ctx 0, opnum 0 (198 bytes). */
const REQ6 = fromDump(`
0000  05 00 00 03 10 00 00 00 c6 00 00 00 00 00 00 00
0010  ae 00 00 00 00 00 00 00 05 00 01 00 00 00 00 00
0020  00 00 00 00 5b 4e 65 73 73 75 73 5d 5b 4e 65 73
0030  73 75 73 5d 00 00 00 00 4e 4e 4e 4e 4e 4e 4e 4e
0040  4e 4e 4e 4e 4e 4e 4e 4e 68 0f 0b 00 1e 00 00 00
0050  00 00 00 00 1e 00 00 00 5c 00 5c 00 41 00 00 00
0060  5c 00 00 00 63 00 24 00 5c 00 74 00 65 00 73 00
0070  74 00 5f 00 32 00 30 00 30 00 33 00 5f 00 6e 00
0080  65 00 73 00 73 00 75 00 73 00 2e 00 74 00 78 00
0090  74 00 00 00 00 00 00 00 02 00 00 00 02 00 00 00
00a0  01 00 00 00 b8 eb 0b 00 01 00 00 00 00 00 00 00
00b0  00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00
00c0  01 00 00 00 07 00`);

/** ORPCTHIS as the Tenable checks send it (research §2.4.1, stub offsets 0-31). */
function writeOrpcThis(w: NdrWriter): void {
  w.u16(5).u16(6).u32(1).u32(0);
  w.uuid("54454e41-424c-454e-4554-574f524b5345"); // cid
  w.pointer(0); // extensions: NULL
}

function decoded(bytes: Uint8Array): Pdu {
  const pdu = decodePdu(bytes);
  if (isDecodeIssue(pdu)) throw new Error(`unexpected issue: ${JSON.stringify(pdu)}`);
  return pdu;
}

describe("bind (C706 §12.6.4.3) known answers from the research doc", () => {
  it("encodes the IRemoteActivation bind byte for byte (§2.2)", () => {
    const bytes = encodeBind({
      callId: 1,
      maxXmitFrag: 0x16d0,
      maxRecvFrag: 0x16d0,
      contexts: [
        {
          contextId: 0,
          abstractSyntax: IREMOTE_ACTIVATION,
          transferSyntaxes: [NDR_TRANSFER_SYNTAX],
        },
      ],
    });
    expect(hex(bytes)).toBe(hex(BIND_IREMOTE_ACTIVATION));
  });

  it("encodes the ISystemActivator bind and the ILocalObjectExporter v2.0 bind", () => {
    const bind = (callId: number, abstractSyntax: typeof ISYSTEM_ACTIVATOR) =>
      encodeBind({
        callId,
        maxXmitFrag: 5840,
        maxRecvFrag: 5840,
        contexts: [{ contextId: 0, abstractSyntax, transferSyntaxes: [NDR_TRANSFER_SYNTAX] }],
      });
    expect(hex(bind(1, ISYSTEM_ACTIVATOR))).toBe(hex(BIND_ISYSTEM_ACTIVATOR));
    // call_id "SSVA" is 53 53 56 41 on the wire, i.e. 0x41565353 little-endian.
    expect(hex(bind(0x41565353, ILOCAL_OBJECT_EXPORTER))).toBe(hex(BIND_ILOCAL_OBJECT_EXPORTER));
  });

  it("decodes the bind into its presentation context", () => {
    expect(decoded(BIND_IREMOTE_ACTIVATION)).toEqual({
      type: "bind",
      callId: 1,
      pfcFlags: PFC_WHOLE,
      drep: LITTLE_ENDIAN_DREP,
      rpcVersMinor: 0,
      authVerifier: null,
      maxXmitFrag: 5840,
      maxRecvFrag: 5840,
      assocGroupId: 0,
      contexts: [
        {
          contextId: 0,
          abstractSyntax: { uuid: "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", major: 0, minor: 0 },
          transferSyntaxes: [{ uuid: "8a885d04-1ceb-11c9-9fe8-08002b104860", major: 2, minor: 0 }],
        },
      ],
    });
  });

  it("offers several transfer syntaxes in one context (getArch's NDR + NDR64)", () => {
    const bytes = encodeBind({
      callId: 7,
      contexts: [
        {
          contextId: 0,
          abstractSyntax: ISYSTEM_ACTIVATOR,
          transferSyntaxes: [NDR_TRANSFER_SYNTAX, NDR64_TRANSFER_SYNTAX],
        },
      ],
    });
    // 16 header + 12 bind fields + 4 (ctx id, count) + 3 × 20 syntaxes.
    expect(bytes.length).toBe(92);
    const pdu = decoded(bytes);
    expect(pdu.type === "bind" && pdu.contexts[0]?.transferSyntaxes[1]?.uuid).toBe(
      NDR64_TRANSFER_SYNTAX.uuid,
    );
  });
});

describe("bind_ack / bind_nak (C706 §12.6.4.4-5)", () => {
  /** A Windows-style bind_ack on TCP 135, built from the §2.1 layout: 60 bytes. */
  const ACK_135 = fromDump(`
    05 00 0c 03 10 00 00 00 3c 00 00 00 01 00 00 00
    b8 10 b8 10 f0 53 00 00 04 00 31 33 35 00 00 00
    01 00 00 00 00 00 00 00 04 5d 88 8a eb 1c c9 11
    9f e8 08 00 2b 10 48 60 02 00 00 00`);

  it('encodes sec_addr "135" with the pad that 4-aligns the result list', () => {
    const bytes = encodeBindAck({
      callId: 1,
      maxXmitFrag: 4280,
      maxRecvFrag: 4280,
      assocGroupId: 0x53f0,
      secondaryAddress: "135",
      results: [{ result: 0, reason: 0, transferSyntax: NDR_TRANSFER_SYNTAX }],
    });
    expect(hex(bytes)).toBe(hex(ACK_135));
    const pdu = decoded(ACK_135);
    expect(pdu).toMatchObject({
      type: "bind_ack",
      assocGroupId: 0x53f0,
      secondaryAddress: "135",
      results: [{ result: 0, reason: 0, transferSyntax: { uuid: NDR_TRANSFER_SYNTAX.uuid } }],
    });
  });

  it("puts a rejection's result/reason at len-24 (what the 2003 checks read, §2.1)", () => {
    const bytes = encodeBindAck({
      callId: 1,
      maxXmitFrag: 4280,
      maxRecvFrag: 4280,
      assocGroupId: 0,
      secondaryAddress: "\\PIPE\\epmapper",
      results: [
        {
          result: CONTEXT_RESULT.providerRejection,
          reason: PROVIDER_REASON.abstractSyntaxNotSupported,
          transferSyntax: { uuid: "00000000-0000-0000-0000-000000000000", major: 0, minor: 0 },
        },
      ],
    });
    // sec_addr_len 15 → pad (4 - (15 + 26) % 4) % 4 = 3.
    expect(bytes.length).toBe(16 + 8 + 2 + 15 + 3 + 4 + 24);
    expect(hex(bytes.slice(bytes.length - 24, bytes.length - 20))).toBe("02000100");
    expect(decoded(bytes)).toMatchObject({ secondaryAddress: "\\PIPE\\epmapper" });
  });

  it("encodes a zero-length secondary address as Windows' alter_context_resp does", () => {
    const pdu = decoded(
      encodeBindAck({
        callId: 2,
        maxXmitFrag: 4280,
        maxRecvFrag: 4280,
        assocGroupId: 1,
        secondaryAddress: "",
        results: [],
      }),
    );
    expect(pdu).toMatchObject({ type: "bind_ack", secondaryAddress: "", results: [] });
  });

  it("decodes a bind_nak with and without a version list", () => {
    const nak = encodeBindNak({ callId: 9, rejectReason: 4 });
    expect(hex(nak)).toBe("05000d03100000001500000009000000" + "0400" + "01" + "0500");
    expect(decoded(nak)).toMatchObject({
      type: "bind_nak",
      rejectReason: 4,
      versions: [{ major: 5, minor: 0 }],
    });
    // Some stacks send only the reason (frag_length 18).
    const bare = fromDump("05 00 0d 03 10 00 00 00 12 00 00 00 09 00 00 00 02 00");
    expect(decoded(bare)).toMatchObject({ rejectReason: 2, versions: [], extra: new Uint8Array() });
  });
});

describe("request / response / fault (C706 §12.6.4.7, .9, .10)", () => {
  it("re-encodes the Check A request from its field table (§2.4.1)", () => {
    const w = new NdrWriter();
    writeOrpcThis(w);
    w.uuid("53454e5b-5553-5d53-5b4e-45535355535d"); // Clsid "[NESSUS][NESSUS]"
    w.pointer(0x00020004).conformantVaryingString("\\\\A\0A\\\\AA", 2); // the embedded-NUL name
    w.pointer(0).u32(0).u32(0).u32(1); // pObjectStorage, ClientImpLevel, Mode, Interfaces
    w.pointer(0x00020008).conformance(1).uuid("00000000-0000-0000-0000-000000000000");
    w.u16(0).conformance(0); // cRequestedProtseqs, aRequestedProtseqs
    const stub = w.toBytes();
    expect(stub.length).toBe(132);
    expect(hex(encodeRequest({ callId: 1, contextId: 0, opnum: 0, stub }))).toBe(
      hex(CHECK_A_REQUEST),
    );
  });

  it("re-encodes the Check B request (§2.5)", () => {
    const w = new NdrWriter();
    writeOrpcThis(w);
    w.pointer(0x00020000).u32(12).conformantOctets(new Uint8Array(12).fill(0x41)).u32(0);
    expect(hex(encodeRequest({ callId: 2, contextId: 0, opnum: 3, stub: w.toBytes() }))).toBe(
      hex(CHECK_B_REQUEST),
    );
  });

  it("decodes Nessus' req4 (ctx 1, alloc_hint 130) exactly as captured", () => {
    const pdu = decoded(REQ4);
    expect(pdu).toMatchObject({ type: "request", callId: 3, contextId: 1, opnum: 0 });
    expect(pdu.type === "request" && [pdu.allocHint, pdu.stub.length, pdu.object]).toEqual([
      130,
      130,
      null,
    ]);
    expect(hex(encodePdu(pdu))).toBe(hex(REQ4));
  });

  it("decodes the eEye req6 stub's embedded-NUL name through NDR (§2.6.1)", () => {
    const pdu = decoded(REQ6);
    if (pdu.type !== "request") throw new Error("not a request");
    expect(pdu.stub.length).toBe(0xae);
    const r = new NdrReader(pdu.stub);
    r.skip(48); // ORPCTHIS (32) + Clsid (16)
    expect(r.uniquePointer()).toEqual({ referentId: 0x000b0f68, hasReferent: true });
    expect(r.conformantVaryingString(2)).toBe("\\\\A\0\\\0c$\\test_2003_nessus.txt");
    expect(r.issue).toBeUndefined();
  });

  it("puts a response's 68-byte stub where Check A reads phr (len-24, §2.4.2)", () => {
    const stub = new Uint8Array(68);
    new DataView(stub.buffer).setUint32(44, 0x80080004, true); // phr = CO_E_BAD_PATH
    const bytes = encodeResponse({ callId: 1, contextId: 0, stub });
    expect(bytes.length).toBe(92);
    expect(new DataView(bytes.buffer).getUint32(bytes.length - 24, true)).toBe(0x80080004);
    expect(decoded(bytes)).toMatchObject({ type: "response", allocHint: 68, stub });
  });

  it("encodes the 32-byte fault the 2003 checks parse (status at len-8, last dword 0)", () => {
    const bytes = encodeFault({
      callId: 3,
      contextId: 1,
      status: 0x1c010003,
      pfcFlags: PFC_WHOLE | PFC_DID_NOT_EXECUTE,
    });
    expect(hex(bytes)).toBe(
      "05000323100000002000000003000000" + "00000000010000000300011c00000000",
    );
    const pdu = decoded(bytes);
    expect(pdu).toMatchObject({ type: "fault", status: 0x1c010003, stub: new Uint8Array() });
    expect(faultStatusName(0x1c010003)).toBe("nca_s_unk_if");
    expect(faultStatusName(0x1c00001c)).toBe("nca_s_invalid_pres_context_id");
  });

  it("carries an object UUID when PFC_OBJECT_UUID is set, and sets the flag itself", () => {
    const object = "11223344-5566-7788-99aa-bbccddeeff00";
    const bytes = encodeRequest({
      callId: 5,
      contextId: 0,
      opnum: 4,
      object,
      stub: Uint8Array.of(1, 2),
    });
    expect(bytes[3]! & PFC_OBJECT_UUID).toBe(PFC_OBJECT_UUID);
    expect(bytes.length).toBe(24 + 16 + 2);
    expect(decoded(bytes)).toMatchObject({ object, stub: Uint8Array.of(1, 2) });
  });
});

describe("packed_drep (C706 §14.1)", () => {
  it("decodes a big-endian peer's bind_ack", () => {
    // HP-UX dced-style: drep 00 00 00 00, every integer and UUID field big-endian.
    const bytes = fromDump(`
      05 00 0c 03 00 00 00 00 00 3c 00 00 00 00 00 07
      10 b8 10 b8 00 00 12 34 00 04 31 33 35 00 00 00
      01 00 00 00 00 02 00 01 8a 88 5d 04 1c eb 11 c9
      9f e8 08 00 2b 10 48 60 00 00 00 02`);
    expect(decoded(bytes)).toEqual({
      type: "bind_ack",
      callId: 7,
      pfcFlags: PFC_WHOLE,
      drep: BIG_ENDIAN_DREP,
      rpcVersMinor: 0,
      authVerifier: null,
      maxXmitFrag: 4280,
      maxRecvFrag: 4280,
      assocGroupId: 0x1234,
      secondaryAddress: "135",
      results: [{ result: 2, reason: 1, transferSyntax: NDR_TRANSFER_SYNTAX }],
    });
  });

  it("rejects undefined drep codes", () => {
    const bytes = Uint8Array.from(BIND_IREMOTE_ACTIVATION);
    bytes[4] = 0x20; // integer representation 2 does not exist
    const issue = decodePdu(bytes);
    expect(isDecodeIssue(issue) && [issue.what, issue.offset]).toEqual(["header", 4]);
  });
});

describe("auth verifier (MS-RPCE §2.2.2.11) passed through", () => {
  it("strips auth padding from the stub and keeps the verifier", () => {
    const authValue = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const pdu: Pdu = {
      type: "request",
      callId: 4,
      pfcFlags: PFC_WHOLE,
      drep: LITTLE_ENDIAN_DREP,
      rpcVersMinor: 0,
      authVerifier: {
        authType: 10,
        authLevel: 6,
        authPadLength: 2,
        authContextId: 79231,
        authValue,
      },
      allocHint: 6,
      contextId: 0,
      opnum: 1,
      object: null,
      stub: Uint8Array.of(9, 9, 9, 9, 9, 9),
    };
    const bytes = encodePdu(pdu);
    // header 24 + stub 6 + pad 2 + sec_trailer 8 + auth_value 16
    expect(bytes.length).toBe(56);
    expect(new DataView(bytes.buffer).getUint16(10, true)).toBe(16);
    expect(decoded(bytes)).toEqual(pdu);
  });

  it("reports an auth_length that cannot fit", () => {
    const bytes = Uint8Array.from(CHECK_B_REQUEST);
    new DataView(bytes.buffer).setUint16(10, 0x100, true);
    const issue = decodePdu(bytes);
    expect(isDecodeIssue(issue) && issue.offset).toBe(10);
  });
});

describe("header validation", () => {
  it.each([
    ["not version 5", 0, 4, "header"],
    ["a connectionless PTYPE", 2, 4, "header"],
    ["an unknown PTYPE", 2, 0x30, "header"],
  ])("rejects %s", (_name, at, value, what) => {
    const bytes = Uint8Array.from(BIND_ISYSTEM_ACTIVATOR);
    bytes[at] = value;
    const issue = decodePdu(bytes);
    expect(isDecodeIssue(issue) && issue.what).toBe(what);
  });

  it("requires exactly frag_length bytes", () => {
    const short = decodePdu(BIND_ISYSTEM_ACTIVATOR.slice(0, 60));
    expect(isDecodeIssue(short) && short.needed).toBe(12);
    const long = decodePdu(Uint8Array.from([...BIND_ISYSTEM_ACTIVATOR, 0]));
    expect(isDecodeIssue(long) && long.what).toBe("pdu");
    expect(isDecodeIssue(decodePduHeader(new Uint8Array(10)))).toBe(true);
  });

  it("reports a context list running past frag_length", () => {
    const bytes = Uint8Array.from(BIND_ISYSTEM_ACTIVATOR);
    bytes[24] = 2; // n_context_elem 2, but only one is present
    const issue = decodePdu(bytes);
    expect(isDecodeIssue(issue) && issue.what).toBe("p_cont_id");
  });

  it("refuses to encode PDUs a peer could not parse", () => {
    expect(() =>
      encodeRequest({ callId: 1, contextId: 0, opnum: 0, stub: new Uint8Array(70000) }),
    ).toThrow(RangeError);
    expect(() =>
      encodeRequest({ callId: -1, contextId: 0, opnum: 0, stub: new Uint8Array() }),
    ).toThrow(RangeError);
    expect(() =>
      encodeBindAck({
        callId: 1,
        maxXmitFrag: 1,
        maxRecvFrag: 1,
        assocGroupId: 0,
        secondaryAddress: "a\0b",
        results: [],
      }),
    ).toThrow(TypeError);
  });
});

describe("properties", () => {
  it("decode(encode(pdu)) = pdu for every PDU type", () => {
    fc.assert(
      fc.property(pduArb, (pdu) => {
        const bytes = encodePdu(pdu);
        expect(decodePdu(bytes)).toEqual(pdu);
        expect(decodePduHeader(bytes)).toMatchObject({
          fragLength: bytes.length,
          callId: pdu.callId,
        });
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const result = decodePdu(bytes);
        expect(result).toBeDefined();
      }),
      { numRuns: 1000 },
    );
  });

  it("never throws on random bytes behind a valid-looking header", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 2, 3, 11, 12, 13, 14, 15, 16, 17, 18, 19),
        fc.constantFrom(0x10, 0x00),
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 0, max: 64 }),
        (ptype, drep, body, authLength) => {
          const bytes = new Uint8Array(16 + body.length);
          bytes.set([5, 0, ptype, 3, drep, 0, 0, 0]);
          const view = new DataView(bytes.buffer);
          view.setUint16(8, bytes.length, drep === 0x10);
          view.setUint16(10, authLength, drep === 0x10);
          bytes.set(body, 16);
          expect(decodePdu(bytes)).toBeDefined();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("never throws on mutated valid PDUs", () => {
    const samples = [BIND_IREMOTE_ACTIVATION, CHECK_A_REQUEST, REQ6, CHECK_B_REQUEST];
    fc.assert(
      fc.property(
        fc.constantFrom(...samples).chain((bytes) => mutate(bytes)),
        (bytes) => {
          expect(decodePdu(bytes)).toBeDefined();
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        pduArb.chain((pdu) => mutate(encodePdu(pdu))),
        (bytes) => {
          expect(decodePdu(bytes)).toBeDefined();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
