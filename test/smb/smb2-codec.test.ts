import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeSessionMessage } from "../../src/protocols/netbios/index.js";
import {
  FSCTL,
  NT_STATUS,
  SMB2_ALL_DIALECTS,
  SMB2_COMMAND,
  SMB2_DIALECT,
  SMB2_FLAGS,
  decodeMultiProtocolNegotiateResponse,
  decodeSmb2CloseRequest,
  decodeSmb2CloseResponse,
  decodeSmb2CreateRequest,
  decodeSmb2CreateResponse,
  decodeSmb2ErrorResponse,
  decodeSmb2Header,
  decodeSmb2IoctlRequest,
  decodeSmb2IoctlResponse,
  decodeSmb2LogoffRequest,
  decodeSmb2LogoffResponse,
  decodeSmb2NegotiateRequest,
  decodeSmb2NegotiateResponse,
  decodeSmb2ReadRequest,
  decodeSmb2ReadResponse,
  decodeSmb2SessionSetupRequest,
  decodeSmb2SessionSetupResponse,
  decodeSmb2TreeConnectRequest,
  decodeSmb2TreeConnectResponse,
  decodeSmb2TreeDisconnectRequest,
  decodeSmb2TreeDisconnectResponse,
  decodeSmb2WriteRequest,
  decodeSmb2WriteResponse,
  encodeSmb1NegotiateResponse,
  encodeSmb2CloseRequest,
  encodeSmb2CloseResponse,
  encodeSmb2CreateRequest,
  encodeSmb2CreateResponse,
  encodeSmb2ErrorResponse,
  encodeSmb2Header,
  encodeSmb2IoctlRequest,
  encodeSmb2IoctlResponse,
  encodeSmb2LogoffRequest,
  encodeSmb2LogoffResponse,
  encodeSmb2NegotiateRequest,
  encodeSmb2NegotiateResponse,
  encodeSmb2ReadRequest,
  encodeSmb2ReadResponse,
  encodeSmb2SessionSetupRequest,
  encodeSmb2SessionSetupResponse,
  encodeSmb2TreeConnectRequest,
  encodeSmb2TreeConnectResponse,
  encodeSmb2TreeDisconnectRequest,
  encodeSmb2TreeDisconnectResponse,
  encodeSmb2WriteRequest,
  encodeSmb2WriteResponse,
  filetimeToIso,
  isDecodeIssue,
  isSmb2Unsupported,
  isoToFiletime,
  ntStatusName,
  ntStatusSeverity,
  selectMultiProtocolDialect,
  smb2Header,
  smb2PipeOpenRequest,
  smb2PipeTransceiveRequest,
  smb2ResponseHeader,
  sniffSmbProtocol,
  splitSmb2Compound,
  type Smb2Header,
  type Smb2HeaderInit,
  type Smb2NegotiateResponse,
} from "../../src/protocols/smb/index.js";
import {
  bytes,
  fileId,
  guid,
  negotiateContext,
  smb2HeaderInit,
  u16,
  u32,
  u64,
  u8,
} from "./arbitraries.js";
import { BIND } from "./samples.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fromHex = (text: string): Uint8Array =>
  Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));

/** Research Appendix C, the spec-aligned 182-byte request with two contexts. */
const APPENDIX_C = fromHex(`
  00 00 00 b2 fe 53 4d 42 40 00 00 00 00 00 00 00
  00 00 1f 00 00 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 24 00 05 00 01 00 00 00 7f 00 00 00
  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
  70 00 00 00 02 00 00 00 02 02 10 02 00 03 02 03
  11 03 00 00 01 00 26 00 00 00 00 00 01 00 20 00
  01 00 11 11 11 11 11 11 11 11 11 11 11 11 11 11
  11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11
  11 11 00 00 03 00 0a 00 00 00 00 00 01 00 00 00
  00 00 00 00 01 00`);

function negotiateResponse(overrides: Partial<Smb2NegotiateResponse> = {}): Smb2NegotiateResponse {
  return {
    securityMode: 1,
    dialectRevision: 0x0311,
    serverGuid: "7362616c-626d-0000-0000-000000000000",
    capabilities: 0x2f,
    maxTransactSize: 8388608,
    maxReadSize: 8388608,
    maxWriteSize: 8388608,
    systemTime: isoToFiletime("2026-11-27T12:00:00.000Z"),
    serverStartTime: 0n,
    securityBuffer: Uint8Array.of(0x60, 0x00),
    contexts: [
      { type: "preauth-integrity", hashAlgorithms: [1], salt: new Uint8Array(32).fill(0x22) },
      { type: "compression", flags: 0, algorithms: [1, 2, 3] },
    ],
    ...overrides,
  };
}

describe("SMB2 golden bytes", () => {
  it("Appendix C: the 182-byte 3.1.1 negotiate with preauth + compression contexts", () => {
    const message = encodeSmb2NegotiateRequest(
      {
        dialects: [0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
        securityMode: 1,
        capabilities: 0x7f,
        clientGuid: "03020100-0504-0706-0809-0a0b0c0d0e0f",
        contexts: [
          { type: "preauth-integrity", hashAlgorithms: [1], salt: new Uint8Array(32).fill(0x11) },
          { type: "compression", flags: 0, algorithms: [1] },
        ],
      },
      { credits: 31 },
    );
    expect(hex(encodeSessionMessage(message))).toBe(hex(APPENDIX_C));
    // Contexts at 112 from the SMB2 header, the second 8-aligned at 160 (46-byte first + 2 pad).
    expect(message[112]).toBe(1);
    expect(message[160]).toBe(3);
    const decoded = decodeSmb2NegotiateRequest(APPENDIX_C.subarray(4));
    expect(decoded).toMatchObject({
      dialects: [0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
      clientGuid: "03020100-0504-0706-0809-0a0b0c0d0e0f",
      contexts: [
        { type: "preauth-integrity", hashAlgorithms: [1] },
        { type: "compression", flags: 0, algorithms: [1] },
      ],
    });
  });

  it("puts DialectRevision and NegotiateContextCount where the SMBGhost scanner reads them", () => {
    const framed = encodeSessionMessage(encodeSmb2NegotiateResponse(negotiateResponse()));
    // ollypwn/ly4k scanner.py: strip 4 bytes of NetBIOS, then res[68:70] and res[70:72].
    const res = framed.subarray(4);
    expect(hex(res.subarray(68, 72))).toBe("11030200");
  });

  it("writes the sync and async header forms of MS-SMB2 §2.2.1", () => {
    const sync = smb2Header(SMB2_COMMAND.TREE_CONNECT, {
      creditCharge: 1,
      credits: 0x1f,
      messageId: 0x0102030405060708n,
      processId: 0xfeff,
      treeId: 0xaabbccdd,
      sessionId: 0x1122334455667788n,
    });
    expect(hex(encodeSmb2Header(sync))).toBe(
      "fe534d42" +
        "4000" +
        "0100" +
        "00000000" +
        "0300" +
        "1f00" +
        "00000000" +
        "00000000" +
        "0807060504030201" +
        "fffe0000" +
        "ddccbbaa" +
        "8877665544332211" +
        "00".repeat(16),
    );
    const async = smb2ResponseHeader(SMB2_COMMAND.IOCTL, {
      status: NT_STATUS.PENDING,
      asyncId: 0x5n,
      treeId: 9,
    });
    expect(async.flags).toBe(SMB2_FLAGS.SERVER_TO_REDIR | SMB2_FLAGS.ASYNC_COMMAND);
    expect(async.treeId).toBe(0);
    const bytes64 = encodeSmb2Header(async);
    expect(hex(bytes64.subarray(32, 40))).toBe("0500000000000000");
    expect(decodeSmb2Header(bytes64)).toEqual(async);
  });
});

describe("SMB2 unsupported forms are values, not errors", () => {
  it("recognises the encrypted TRANSFORM_HEADER (0xFD)", () => {
    const transform = new Uint8Array(52);
    transform.set([0xfd, 0x53, 0x4d, 0x42]);
    transform[36] = 0x40; // OriginalMessageSize 64
    transform[42] = 0x01; // Flags: encrypted
    transform[44] = 0x07; // SessionId
    expect(sniffSmbProtocol(transform)).toBe("smb2-transform");
    const header = decodeSmb2Header(transform);
    expect(isSmb2Unsupported(header)).toBe(true);
    expect(header).toMatchObject({
      form: "transform",
      originalMessageSize: 64,
      flags: 1,
      sessionId: 7n,
    });
    expect(decodeSmb2NegotiateResponse(transform)).toMatchObject({ kind: "decode-issue" });
  });

  it("recognises the COMPRESSION_TRANSFORM_HEADER (0xFC) without decompressing", () => {
    const compressed = fromHex("fc534d42 00100000 0100 0000 00000000 deadbeef");
    expect(sniffSmbProtocol(compressed)).toBe("smb2-compression");
    expect(decodeSmb2Header(compressed)).toEqual({
      kind: "smb2-unsupported",
      form: "compression",
      originalCompressedSegmentSize: 4096,
      compressionAlgorithm: 1,
      flags: 0,
      offsetOrLength: 0,
    });
    expect(splitSmb2Compound(compressed)).toEqual([compressed]);
  });
});

describe("SMB2 compounds (MS-SMB2 §3.2.4.1.4)", () => {
  const first = encodeSmb2CreateRequest(smb2PipeOpenRequest("srvsvc"));
  const padded = new Uint8Array(Math.ceil(first.length / 8) * 8);
  padded.set(first);
  padded[20] = padded.length; // NextCommand

  it("splits related messages by NextCommand", () => {
    const second = encodeSmb2CloseRequest({
      flags: 0,
      fileId: { persistent: ~0n & 0xffffffffffffffffn, volatile: ~0n & 0xffffffffffffffffn },
    });
    const compound = new Uint8Array(padded.length + second.length);
    compound.set(padded);
    compound.set(second, padded.length);
    const parts = splitSmb2Compound(compound);
    expect(isDecodeIssue(parts) ? parts : parts.map((p) => p.length)).toEqual([
      padded.length,
      second.length,
    ]);
    if (!isDecodeIssue(parts)) {
      expect(decodeSmb2CreateRequest(parts[0]!)).toMatchObject({ name: "srvsvc" });
      expect(decodeSmb2CloseRequest(parts[1]!)).toMatchObject({ flags: 0 });
    }
  });

  it("refuses NextCommand values that do not move forward or leave the payload", () => {
    for (const next of [1, 63, padded.length + 8]) {
      const bad = Uint8Array.from(padded);
      new DataView(bad.buffer).setUint32(20, next, true);
      expect(splitSmb2Compound(bad)).toMatchObject({ kind: "decode-issue", what: "next-command" });
    }
  });

  it("caps the number of compounded messages", () => {
    const unit = new Uint8Array(64);
    unit.set(encodeSmb2Header(smb2Header(SMB2_COMMAND.ECHO, { nextCommand: 64 })));
    const many = new Uint8Array(64 * 100);
    for (let i = 0; i < 100; i++) many.set(unit, i * 64);
    expect(splitSmb2Compound(many)).toMatchObject({ kind: "decode-issue", what: "next-command" });
  });
});

type Case = { name: string; property: fc.IProperty<[unknown]> };

function roundTrip<T extends object>(
  name: string,
  direction: "request" | "response",
  command: number,
  arbitrary: fc.Arbitrary<T>,
  encode: (value: T, header: Smb2HeaderInit) => Uint8Array,
  decode: (message: Uint8Array) => unknown,
  status?: fc.Arbitrary<number>,
): Case {
  const build = direction === "request" ? smb2Header : smb2ResponseHeader;
  return {
    name,
    property: fc.property(
      fc.tuple(arbitrary, smb2HeaderInit(direction, status)),
      ([value, init]) => {
        expect(decode(encode(value, init))).toEqual({
          ...value,
          header: build(command, init) satisfies Smb2Header,
        });
      },
    ) as fc.IProperty<[unknown]>,
  };
}

const C = SMB2_COMMAND;
const times = { creationTime: u64, lastAccessTime: u64, lastWriteTime: u64, changeTime: u64 };
const empty = fc.constant({});
const cases: Case[] = [
  roundTrip(
    "NEGOTIATE request",
    "request",
    C.NEGOTIATE,
    fc.oneof(
      fc.record({
        dialects: fc.array(
          u16.filter((d) => d !== 0x0311),
          { minLength: 1, maxLength: 8 },
        ),
        securityMode: u16,
        capabilities: u32,
        clientGuid: guid,
        contexts: fc.constant([]),
      }),
      fc.record({
        dialects: fc
          .array(u16, { maxLength: 7 })
          .chain((ds) => fc.shuffledSubarray([...ds, 0x0311], { minLength: ds.length + 1 })),
        securityMode: u16,
        capabilities: u32,
        clientGuid: guid,
        contexts: fc.array(negotiateContext, { maxLength: 6 }),
      }),
    ),
    encodeSmb2NegotiateRequest,
    decodeSmb2NegotiateRequest,
  ),
  roundTrip(
    "NEGOTIATE response",
    "response",
    C.NEGOTIATE,
    fc.boolean().chain((v311) =>
      fc.record({
        securityMode: u16,
        dialectRevision: v311 ? fc.constant(0x0311) : u16.filter((d) => d !== 0x0311),
        serverGuid: guid,
        capabilities: u32,
        maxTransactSize: u32,
        maxReadSize: u32,
        maxWriteSize: u32,
        systemTime: u64,
        serverStartTime: u64,
        securityBuffer: bytes(120),
        contexts: v311 ? fc.array(negotiateContext, { maxLength: 6 }) : fc.constant([]),
      }),
    ),
    encodeSmb2NegotiateResponse,
    decodeSmb2NegotiateResponse,
  ),
  roundTrip(
    "SESSION_SETUP request",
    "request",
    C.SESSION_SETUP,
    fc.record({
      flags: u8,
      securityMode: u8,
      capabilities: u32,
      channel: u32,
      previousSessionId: u64,
      securityBuffer: bytes(200),
    }),
    encodeSmb2SessionSetupRequest,
    decodeSmb2SessionSetupRequest,
  ),
  roundTrip(
    "SESSION_SETUP response (SUCCESS / MORE_PROCESSING_REQUIRED)",
    "response",
    C.SESSION_SETUP,
    fc.record({ sessionFlags: u16, securityBuffer: bytes(200) }),
    encodeSmb2SessionSetupResponse,
    decodeSmb2SessionSetupResponse,
    fc.constantFrom(NT_STATUS.SUCCESS, NT_STATUS.MORE_PROCESSING_REQUIRED),
  ),
  roundTrip(
    "LOGOFF request",
    "request",
    C.LOGOFF,
    empty,
    (_v, h) => encodeSmb2LogoffRequest(h),
    decodeSmb2LogoffRequest,
  ),
  roundTrip(
    "LOGOFF response",
    "response",
    C.LOGOFF,
    empty,
    (_v, h) => encodeSmb2LogoffResponse(h),
    decodeSmb2LogoffResponse,
  ),
  roundTrip(
    "TREE_CONNECT request",
    "request",
    C.TREE_CONNECT,
    fc.record({ flags: u16, path: fc.string({ unit: "binary", maxLength: 40 }) }),
    encodeSmb2TreeConnectRequest,
    decodeSmb2TreeConnectRequest,
  ),
  roundTrip(
    "TREE_CONNECT response",
    "response",
    C.TREE_CONNECT,
    fc.record({ shareType: u8, shareFlags: u32, capabilities: u32, maximalAccess: u32 }),
    encodeSmb2TreeConnectResponse,
    decodeSmb2TreeConnectResponse,
  ),
  roundTrip(
    "TREE_DISCONNECT request",
    "request",
    C.TREE_DISCONNECT,
    empty,
    (_v, h) => encodeSmb2TreeDisconnectRequest(h),
    decodeSmb2TreeDisconnectRequest,
  ),
  roundTrip(
    "TREE_DISCONNECT response",
    "response",
    C.TREE_DISCONNECT,
    empty,
    (_v, h) => encodeSmb2TreeDisconnectResponse(h),
    decodeSmb2TreeDisconnectResponse,
  ),
  roundTrip(
    "CREATE request",
    "request",
    C.CREATE,
    fc.record({
      securityFlags: u8,
      requestedOplockLevel: u8,
      impersonationLevel: u32,
      smbCreateFlags: u64,
      desiredAccess: u32,
      fileAttributes: u32,
      shareAccess: u32,
      createDisposition: u32,
      createOptions: u32,
      name: fc.string({ unit: "binary", maxLength: 30 }),
      createContexts: bytes(60),
    }),
    encodeSmb2CreateRequest,
    decodeSmb2CreateRequest,
  ),
  roundTrip(
    "CREATE response",
    "response",
    C.CREATE,
    fc.record({
      oplockLevel: u8,
      flags: u8,
      createAction: u32,
      ...times,
      allocationSize: u64,
      endOfFile: u64,
      fileAttributes: u32,
      fileId,
      createContexts: bytes(60),
    }),
    encodeSmb2CreateResponse,
    decodeSmb2CreateResponse,
  ),
  roundTrip(
    "CLOSE request",
    "request",
    C.CLOSE,
    fc.record({ flags: u16, fileId }),
    encodeSmb2CloseRequest,
    decodeSmb2CloseRequest,
  ),
  roundTrip(
    "CLOSE response",
    "response",
    C.CLOSE,
    fc.record({ flags: u16, ...times, allocationSize: u64, endOfFile: u64, fileAttributes: u32 }),
    encodeSmb2CloseResponse,
    decodeSmb2CloseResponse,
  ),
  roundTrip(
    "IOCTL request",
    "request",
    C.IOCTL,
    fc.record({
      ctlCode: u32,
      fileId,
      input: bytes(200),
      maxInputResponse: u32,
      output: bytes(40),
      maxOutputResponse: u32,
      flags: u32,
    }),
    encodeSmb2IoctlRequest,
    decodeSmb2IoctlRequest,
  ),
  roundTrip(
    "IOCTL response",
    "response",
    C.IOCTL,
    fc.record({ ctlCode: u32, fileId, input: bytes(40), output: bytes(200), flags: u32 }),
    encodeSmb2IoctlResponse,
    decodeSmb2IoctlResponse,
  ),
  roundTrip(
    "READ request",
    "request",
    C.READ,
    fc.record({
      padding: u8,
      flags: u8,
      length: u32,
      offset: u64,
      fileId,
      minimumCount: u32,
      channel: u32,
      remainingBytes: u32,
    }),
    encodeSmb2ReadRequest,
    decodeSmb2ReadRequest,
  ),
  roundTrip(
    "READ response",
    "response",
    C.READ,
    fc.record({ dataRemaining: u32, flags: u32, data: bytes(300) }),
    encodeSmb2ReadResponse,
    decodeSmb2ReadResponse,
  ),
  roundTrip(
    "WRITE request",
    "request",
    C.WRITE,
    fc.record({
      offset: u64,
      fileId,
      channel: u32,
      remainingBytes: u32,
      flags: u32,
      data: bytes(300),
    }),
    encodeSmb2WriteRequest,
    decodeSmb2WriteRequest,
  ),
  roundTrip(
    "WRITE response",
    "response",
    C.WRITE,
    fc.record({ count: u32, remaining: u32 }),
    encodeSmb2WriteResponse,
    decodeSmb2WriteResponse,
  ),
];

describe("SMB2 round trips (encode → decode), both directions", () => {
  for (const { name, property } of cases) {
    it(name, () => fc.assert(property, { numRuns: 150 }));
  }

  it("ERROR response for any command and status", () => {
    fc.assert(
      fc.property(
        u16,
        u32,
        u8,
        bytes(40),
        smb2HeaderInit("response"),
        (command, status, count, data, init) => {
          const message = encodeSmb2ErrorResponse(
            command,
            status,
            { errorContextCount: count, errorData: data },
            init,
          );
          expect(decodeSmb2ErrorResponse(message)).toEqual({
            header: smb2ResponseHeader(command, { ...init, status }),
            errorContextCount: count,
            errorData: data,
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("SMB2 decoders on real-world shapes", () => {
  it("sends one ErrorData byte when ByteCount is 0 (§2.2.2) and points command decoders to it", () => {
    const message = encodeSmb2ErrorResponse(SMB2_COMMAND.TREE_CONNECT, NT_STATUS.BAD_NETWORK_NAME);
    expect(message).toHaveLength(64 + 9);
    const decoded = decodeSmb2TreeConnectResponse(message);
    expect(isDecodeIssue(decoded) && decoded.message).toContain("STATUS_BAD_NETWORK_NAME");
    expect(decodeSmb2ErrorResponse(message)).toMatchObject({ errorData: new Uint8Array(0) });
  });

  it("tells a SESSION_SETUP error body from a MORE_PROCESSING_REQUIRED reply (both StructureSize 9)", () => {
    const failed = encodeSmb2ErrorResponse(SMB2_COMMAND.SESSION_SETUP, NT_STATUS.LOGON_FAILURE);
    expect(decodeSmb2SessionSetupResponse(failed)).toMatchObject({ what: "error-response" });
    const more = encodeSmb2SessionSetupResponse(
      { sessionFlags: 0, securityBuffer: Uint8Array.of(1, 2, 3) },
      { status: NT_STATUS.MORE_PROCESSING_REQUIRED, sessionId: 5n },
    );
    expect(decodeSmb2SessionSetupResponse(more)).toMatchObject({
      securityBuffer: Uint8Array.of(1, 2, 3),
      header: { sessionId: 5n },
    });
  });

  it("decodes an IOCTL transceive answered with STATUS_BUFFER_OVERFLOW", () => {
    const message = encodeSmb2IoctlResponse(
      {
        ctlCode: FSCTL.PIPE_TRANSCEIVE,
        fileId: { persistent: 1n, volatile: 2n },
        input: new Uint8Array(0),
        output: BIND,
        flags: 0,
      },
      { status: NT_STATUS.BUFFER_OVERFLOW },
    );
    expect(decodeSmb2IoctlResponse(message)).toMatchObject({
      output: BIND,
      header: { status: 0x80000005 },
    });
    // Windows' layout: the output at 112 (0x70), right after the fixed part.
    expect(new DataView(message.buffer).getUint32(64 + 32, true)).toBe(112);
  });

  it("builds the FSCTL_PIPE_TRANSCEIVE request with the input at 120", () => {
    const message = encodeSmb2IoctlRequest(
      smb2PipeTransceiveRequest({ persistent: 1n, volatile: 2n }, BIND, 4280),
    );
    const view = new DataView(message.buffer);
    expect(view.getUint32(68, true)).toBe(0x0011c017);
    expect([
      view.getUint32(88, true),
      view.getUint32(92, true),
      view.getUint32(108, true),
      view.getUint32(112, true),
    ]).toEqual([120, BIND.length, 4280, 1]);
  });

  it("refuses a negotiate context count of 0xFFFF before looping", () => {
    const message = encodeSmb2NegotiateResponse(negotiateResponse());
    new DataView(message.buffer).setUint16(64 + 6, 0xffff, true);
    expect(decodeSmb2NegotiateResponse(message)).toMatchObject({ what: "negotiate-contexts" });
  });

  it("refuses buffers that point outside the message or into the header", () => {
    const message = encodeSmb2SessionSetupResponse({
      sessionFlags: 0,
      securityBuffer: Uint8Array.of(1, 2),
    });
    const outside = Uint8Array.from(message);
    new DataView(outside.buffer).setUint16(68, 0xfff0, true);
    expect(decodeSmb2SessionSetupResponse(outside)).toMatchObject({ what: "security-buffer" });
    const intoHeader = Uint8Array.from(message);
    new DataView(intoHeader.buffer).setUint16(68, 0, true);
    expect(decodeSmb2SessionSetupResponse(intoHeader)).toMatchObject({ what: "security-buffer" });
  });

  it("requires contexts to go with dialect 0x0311 (our bad arguments)", () => {
    expect(() =>
      encodeSmb2NegotiateRequest({
        dialects: [0x0202],
        securityMode: 1,
        capabilities: 0,
        clientGuid: "00000000-0000-0000-0000-000000000000",
        contexts: [{ type: "encryption", ciphers: [1] }],
      }),
    ).toThrow(RangeError);
    expect(() =>
      encodeSmb2NegotiateResponse(negotiateResponse({ dialectRevision: 0x0302 })),
    ).toThrow(RangeError);
    expect(() =>
      encodeSmb2NegotiateRequest({
        dialects: [],
        securityMode: 0,
        capabilities: 0,
        clientGuid: "x",
        contexts: [],
      }),
    ).toThrow(RangeError);
  });
});

describe("multi-protocol negotiate (MS-SMB2 §3.3.5.3.1)", () => {
  it("decodes whichever protocol answered", () => {
    const smb2 = decodeMultiProtocolNegotiateResponse(
      encodeSmb2NegotiateResponse(
        negotiateResponse({ dialectRevision: SMB2_DIALECT.WILDCARD, contexts: [] }),
      ),
    );
    expect(smb2).toMatchObject({ protocol: "smb2", response: { dialectRevision: 0x02ff } });
    const smb1 = decodeMultiProtocolNegotiateResponse(
      encodeSmb1NegotiateResponse({ form: "index-only", dialectIndex: 0 }),
    );
    expect(smb1).toMatchObject({ protocol: "smb1", response: { form: "index-only" } });
    expect(decodeMultiProtocolNegotiateResponse(Uint8Array.of(1, 2, 3, 4))).toMatchObject({
      kind: "decode-issue",
    });
  });

  it("picks the server's answer as §3.3.5.3.1 says", () => {
    const offered = ["NT LM 0.12", "SMB 2.002", "SMB 2.???"];
    expect(selectMultiProtocolDialect(offered, SMB2_ALL_DIALECTS)).toBe(0x02ff);
    expect(selectMultiProtocolDialect(offered, [0x0202])).toBe(0x0202);
    expect(selectMultiProtocolDialect(["NT LM 0.12", "SMB 2.002"], SMB2_ALL_DIALECTS)).toBe(0x0202);
    expect(selectMultiProtocolDialect(["NT LM 0.12", "SMB 2.002"], [0x0300])).toBeNull();
    expect(selectMultiProtocolDialect(["NT LM 0.12"], SMB2_ALL_DIALECTS)).toBeNull();
  });
});

describe("shared helpers", () => {
  it("converts FILETIME to ISO and back (MS-DTYP §2.3.3)", () => {
    expect(filetimeToIso(116444736000000000n)).toBe("1970-01-01T00:00:00.000Z");
    expect(filetimeToIso(0n)).toBeNull();
    expect(filetimeToIso(1n)).toBe("1601-01-01T00:00:00.000Z");
    expect(filetimeToIso(0xffffffffffffffffn)).toMatch(/^\+060056-/);
    expect(isoToFiletime("2003-08-11T00:00:00Z")).toBe(127050336000000000n);
    expect(() => isoToFiletime("not a date")).toThrow(RangeError);
    expect(() => isoToFiletime("1600-01-01T00:00:00Z")).toThrow(RangeError);
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("1601-01-01T00:00:00Z"),
          max: new Date("9999-12-31T00:00:00Z"),
          noInvalidDate: true,
        }),
        (date) => {
          expect(filetimeToIso(isoToFiletime(date.toISOString()))).toBe(
            date.getTime() === Date.parse("1601-01-01T00:00:00Z") ? null : date.toISOString(),
          );
        },
      ),
    );
  });

  it("names NT status codes and their severity", () => {
    expect(ntStatusName(0xc0000016)).toBe("STATUS_MORE_PROCESSING_REQUIRED");
    expect(ntStatusName(0xc0000205)).toBe("STATUS_INSUFF_SERVER_RESOURCES");
    expect(ntStatusName(0x00000103)).toBe("STATUS_PENDING");
    expect(ntStatusName(0x80000005)).toBe("STATUS_BUFFER_OVERFLOW");
    expect(ntStatusName(0x12345678)).toBeUndefined();
    expect([0, 0x40000000, 0x80000005, 0xc0000022].map(ntStatusSeverity)).toEqual([
      "success",
      "informational",
      "warning",
      "error",
    ]);
  });
});
