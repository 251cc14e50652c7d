import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeSessionMessage } from "../../src/protocols/netbios/index.js";
import {
  NT_STATUS,
  SMB1_COMMAND,
  SMB1_MAX_ANDX_BLOCKS,
  SMB1_NO_DIALECT,
  decodeSmb1CloseRequest,
  decodeSmb1CloseResponse,
  decodeSmb1Header,
  decodeSmb1Message,
  decodeSmb1NegotiateRequest,
  decodeSmb1NegotiateResponse,
  decodeSmb1NtCreateRequest,
  decodeSmb1NtCreateResponse,
  decodeSmb1ReadRequest,
  decodeSmb1ReadResponse,
  decodeSmb1SessionSetupRequest,
  decodeSmb1SessionSetupResponse,
  decodeSmb1Transaction2Request,
  decodeSmb1Transaction2Response,
  decodeSmb1TransactionRequest,
  decodeSmb1TransactionResponse,
  decodeSmb1TreeConnectRequest,
  decodeSmb1TreeConnectResponse,
  decodeSmb1WriteRequest,
  decodeSmb1WriteResponse,
  encodeSmb1CloseRequest,
  encodeSmb1CloseResponse,
  encodeSmb1ErrorResponse,
  encodeSmb1Header,
  encodeSmb1NegotiateRequest,
  encodeSmb1NegotiateResponse,
  encodeSmb1NtCreateRequest,
  encodeSmb1NtCreateResponse,
  encodeSmb1ReadRequest,
  encodeSmb1ReadResponse,
  encodeSmb1SessionSetupRequest,
  encodeSmb1SessionSetupResponse,
  encodeSmb1Transaction2Request,
  encodeSmb1Transaction2Response,
  encodeSmb1TransactionRequest,
  encodeSmb1TransactionResponse,
  encodeSmb1TreeConnectRequest,
  encodeSmb1TreeConnectResponse,
  encodeSmb1WriteRequest,
  encodeSmb1WriteResponse,
  formatNtStatus,
  isDecodeIssue,
  smb1Header,
  smb1PeekNamedPipeRequest,
  smb1PipeOpenRequest,
  smb1ResponseHeader,
  smb1TransactNamedPipeRequest,
  type Smb1Header,
  type Smb1HeaderInit,
} from "../../src/protocols/smb/index.js";
import {
  bytes,
  guid,
  i16,
  isUnicodeInit,
  smb1Capabilities,
  smb1HeaderInit,
  smbText,
  u16,
  u32,
  u64,
  u8,
} from "./arbitraries.js";
import { BIND } from "./samples.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fromHex = (text: string): Uint8Array =>
  Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));

describe("SMB1 golden bytes (research appendices)", () => {
  it("Appendix B: the 51-byte NT LM 0.12 negotiate, NetBIOS header included", () => {
    const message = encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] });
    expect(hex(encodeSessionMessage(message))).toBe(
      hex(
        fromHex(`00 00 00 2f ff 53 4d 42 72 00 00 00 00 18 01 c0
                 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff fe
                 00 00 00 00 00 0c 00 02 4e 54 20 4c 4d 20 30 2e
                 31 32 00`),
      ),
    );
  });

  it("Appendix A: NetExec's four-dialect negotiate (NetBIOS length 0x54, ByteCount 0x31)", () => {
    const message = encodeSmb1NegotiateRequest(
      { dialects: ["LANMAN1.0", "LM1.2X002", "NT LANMAN 1.0", "NT LM 0.12"] },
      { flags2: 0x2801, pidLow: 0x4b2f, mid: 0x5ec5 },
    );
    const framed = encodeSessionMessage(message);
    expect(hex(framed.subarray(0, 4))).toBe("00000054");
    expect(hex(message.subarray(0, 32))).toBe(
      "ff534d4272000000001801280000" +
        "0000000000000000" +
        "0000" +
        "0000" +
        "2f4b" +
        "0000" +
        "c55e",
    );
    expect(hex(message.subarray(32, 35))).toBe("003100");
    expect(decodeSmb1NegotiateRequest(message)).toMatchObject({
      dialects: ["LANMAN1.0", "LM1.2X002", "NT LANMAN 1.0", "NT LM 0.12"],
    });
  });

  it("Appendix A: Metasploit's anonymous SESSION_SETUP_ANDX (NetBIOS length 0x63)", () => {
    const message = encodeSmb1SessionSetupRequest(
      {
        form: "basic",
        maxBufferSize: 0xffdf,
        maxMpxCount: 2,
        vcNumber: 1,
        sessionKey: 0,
        capabilities: 0x40,
        oemPassword: new Uint8Array(0),
        unicodePassword: new Uint8Array(0),
        accountName: "",
        primaryDomain: ".",
        nativeOs: "Windows 2000 2195",
        nativeLanMan: "Windows 2000 5.0",
      },
      { flags2: 0x2001 },
    );
    expect(message).toHaveLength(0x63);
    expect(hex(message.subarray(32))).toBe(
      "0d" + // WordCount 13
        "ff000000" + // AndX none
        "dfff" +
        "0200" +
        "0100" +
        "00000000" +
        "0000" +
        "0000" +
        "00000000" +
        "40000000" +
        "2600" + // ByteCount 0x26
        "00" +
        "2e00" +
        hex(Buffer.from("Windows 2000 2195\0Windows 2000 5.0\0", "latin1")),
    );
  });

  it("Appendix A: TREE_CONNECT_ANDX computes its ByteCount instead of NetExec's fixed 0x1A", () => {
    for (const path of ["\\\\127.0.0.1\\IPC$", "\\\\127.100.200.250\\IPC$"]) {
      const message = encodeSmb1TreeConnectRequest(
        { flags: 0, password: Uint8Array.of(0), path, service: "?????" },
        { flags2: 0x2001 },
      );
      const byteCount = message[32 + 1 + 8]! | (message[32 + 1 + 8 + 1]! << 8);
      expect(byteCount).toBe(1 + path.length + 1 + 6);
      expect(decodeSmb1TreeConnectRequest(message)).toMatchObject({ path, service: "?????" });
    }
  });

  it("Appendix A: PeekNamedPipe on FID 0, offsets 0x4A = 32 + 1 + 32 + 2 + 7", () => {
    const message = encodeSmb1TransactionRequest(smb1PeekNamedPipeRequest(0), {
      flags2: 0x2801,
      tid: 0x0800,
      pidLow: 0x4b2f,
      uid: 0x0800,
      mid: 0x5ec5,
    });
    expect(hex(encodeSessionMessage(message).subarray(0, 4))).toBe("0000004a");
    expect(hex(message)).toBe(
      hex(
        fromHex(`ff 53 4d 42 25 00 00 00 00 18 01 28 00 00 00 00 00 00 00 00 00 00 00 00
                 00 08 2f 4b 00 08 c5 5e
                 10
                 00 00 00 00 ff ff ff ff 00 00 00 00 00 00 00 00 00 00
                 00 00 4a 00 00 00 4a 00 02 00 23 00 00 00
                 07 00 5c 50 49 50 45 5c 00`),
      ),
    );
  });

  it("§2.3 step 4: a Unicode TransactNmPipe bind has ParameterOffset = DataOffset = 0x54", () => {
    const message = encodeSmb1TransactionRequest(smb1TransactNamedPipeRequest(0x4000, BIND, 0x400));
    const words = message.subarray(33);
    const u16le = (at: number) => words[at]! | (words[at + 1]! << 8);
    expect(message[32]).toBe(16); // WordCount
    expect([u16le(0), u16le(2), u16le(6)]).toEqual([0, 72, 0x400]); // totals, MaxDataCount
    expect([u16le(20), u16le(22), u16le(24), message[33 + 26]]).toEqual([0x54, 72, 0x54, 2]);
    const decoded = decodeSmb1TransactionRequest(message);
    expect(decoded).toMatchObject({ setup: [0x26, 0x4000], name: "\\PIPE\\", data: BIND });
  });

  it("SMB1 header fields land where MS-CIFS §2.2.3.1 puts them", () => {
    const header = smb1Header(SMB1_COMMAND.TRANSACTION, {
      status: NT_STATUS.INSUFF_SERVER_RESOURCES,
      flags: 0x98,
      flags2: 0xc801,
      pidHigh: 0x1234,
      signature: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
      tid: 0xaaaa,
      pidLow: 0xbbbb,
      uid: 0xcccc,
      mid: 0xdddd,
    });
    const bytes32 = encodeSmb1Header(header);
    // Status bytes 5–8 LE: 05 02 00 c0, as research Appendix A quotes them.
    expect(hex(bytes32)).toBe("ff534d4225050200c09801c8341201020304050607080000aaaabbbbccccdddd");
    expect(decodeSmb1Header(bytes32)).toEqual(header);
  });
});

type Case = {
  name: string;
  property: fc.IPropertyWithHooks<[unknown]> | fc.IProperty<[unknown]>;
};

/** decode(encode(value, init)) = value + the header the encoder built. */
function roundTrip<T extends object>(
  name: string,
  direction: "request" | "response",
  command: number,
  arbitrary: (init: Smb1HeaderInit) => fc.Arbitrary<T>,
  encode: (value: T, header: Smb1HeaderInit) => Uint8Array,
  decode: (message: Uint8Array) => unknown,
): Case {
  const build = direction === "request" ? smb1Header : smb1ResponseHeader;
  const arb = smb1HeaderInit(direction).chain((init) =>
    arbitrary(init).map((value) => [value, init] as const),
  );
  return {
    name,
    property: fc.property(arb, ([value, init]) => {
      const decoded = decode(encode(value, init));
      expect(decoded).toEqual({ ...value, header: build(command, init) satisfies Smb1Header });
    }) as fc.IProperty<[unknown]>,
  };
}

const sessionCommon = (unicode: boolean) => ({
  maxBufferSize: u16,
  maxMpxCount: u16,
  vcNumber: u16,
  sessionKey: u32,
  capabilities: u32,
  nativeOs: smbText(unicode),
  nativeLanMan: smbText(unicode),
});

const transactionFields = {
  maxParameterCount: u16,
  maxDataCount: u16,
  maxSetupCount: u8,
  flags: u16,
  timeout: u32,
  setup: fc.array(u16, { maxLength: 5 }),
  parameters: bytes(80),
  data: bytes(300),
};
const transactionRequest = (unicode: boolean) =>
  fc.record({ ...transactionFields, name: smbText(unicode) });
const transaction2Request = fc.record(transactionFields);

const transactionResponse = fc.record({
  totalParameterCount: u16,
  totalDataCount: u16,
  parameterDisplacement: u16,
  dataDisplacement: u16,
  setup: fc.array(u16, { maxLength: 5 }),
  parameters: bytes(80),
  data: bytes(300),
});

const C = SMB1_COMMAND;
const cases: Case[] = [
  roundTrip(
    "NEGOTIATE request",
    "request",
    C.NEGOTIATE,
    () => fc.record({ dialects: fc.array(smbText(false, 12), { minLength: 1, maxLength: 6 }) }),
    encodeSmb1NegotiateRequest,
    decodeSmb1NegotiateRequest,
  ),
  roundTrip(
    "NEGOTIATE response, all forms",
    "response",
    C.NEGOTIATE,
    (init) =>
      fc.oneof(
        fc.record({ form: fc.constant("index-only" as const), dialectIndex: u16 }),
        fc.record({
          form: fc.constant("lanman" as const),
          dialectIndex: u16,
          words: fc.uint8Array({ minLength: 24, maxLength: 24 }),
          bytes: bytes(40),
        }),
        fc.boolean().chain((extended) =>
          fc.record({
            form: fc.constant("nt-lm" as const),
            dialectIndex: u16,
            securityMode: u8,
            maxMpxCount: u16,
            maxNumberVcs: u16,
            maxBufferSize: u32,
            maxRawSize: u32,
            sessionKey: u32,
            capabilities: smb1Capabilities(extended),
            systemTime: u64,
            serverTimeZone: i16,
            security: extended
              ? fc.record({
                  kind: fc.constant("extended" as const),
                  serverGuid: guid,
                  securityBlob: bytes(100),
                })
              : fc.record({
                  kind: fc.constant("challenge" as const),
                  challenge: bytes(16),
                  domainName: smbText(isUnicodeInit(init)),
                  serverName: smbText(isUnicodeInit(init)),
                }),
          }),
        ),
      ),
    encodeSmb1NegotiateResponse,
    decodeSmb1NegotiateResponse,
  ),
  roundTrip(
    "SESSION_SETUP_ANDX request, basic and extended",
    "request",
    C.SESSION_SETUP_ANDX,
    (init) =>
      fc.oneof(
        fc.record({
          form: fc.constant("basic" as const),
          ...sessionCommon(isUnicodeInit(init)),
          oemPassword: bytes(24),
          unicodePassword: bytes(24),
          accountName: smbText(isUnicodeInit(init)),
          primaryDomain: smbText(isUnicodeInit(init)),
        }),
        fc.record({
          form: fc.constant("extended" as const),
          ...sessionCommon(isUnicodeInit(init)),
          securityBlob: bytes(120),
        }),
      ),
    encodeSmb1SessionSetupRequest,
    decodeSmb1SessionSetupRequest,
  ),
  roundTrip(
    "SESSION_SETUP_ANDX response, basic and extended",
    "response",
    C.SESSION_SETUP_ANDX,
    (init) => {
      const text = smbText(isUnicodeInit(init));
      return fc.oneof(
        fc.record({
          form: fc.constant("basic" as const),
          action: u16,
          nativeOs: text,
          nativeLanMan: text,
          primaryDomain: text,
        }),
        fc.record({
          form: fc.constant("extended" as const),
          action: u16,
          securityBlob: bytes(120),
          nativeOs: text,
          nativeLanMan: text,
          primaryDomain: text,
        }),
      );
    },
    encodeSmb1SessionSetupResponse,
    decodeSmb1SessionSetupResponse,
  ),
  roundTrip(
    "TREE_CONNECT_ANDX request",
    "request",
    C.TREE_CONNECT_ANDX,
    (init) =>
      fc.record({
        flags: u16,
        password: bytes(24),
        path: smbText(isUnicodeInit(init), 40),
        service: smbText(false, 8),
      }),
    encodeSmb1TreeConnectRequest,
    decodeSmb1TreeConnectRequest,
  ),
  roundTrip(
    "TREE_CONNECT_ANDX response, WordCount 3 and 7",
    "response",
    C.TREE_CONNECT_ANDX,
    (init) =>
      fc.oneof(
        fc.record({
          optionalSupport: u16,
          maximalShareAccessRights: fc.constant(null),
          guestMaximalShareAccessRights: fc.constant(null),
          service: smbText(false, 8),
          nativeFileSystem: smbText(isUnicodeInit(init)),
        }),
        fc.record({
          optionalSupport: u16,
          maximalShareAccessRights: u32,
          guestMaximalShareAccessRights: u32,
          service: smbText(false, 8),
          nativeFileSystem: smbText(isUnicodeInit(init)),
        }),
      ),
    encodeSmb1TreeConnectResponse,
    decodeSmb1TreeConnectResponse,
  ),
  roundTrip(
    "NT_CREATE_ANDX request",
    "request",
    C.NT_CREATE_ANDX,
    (init) =>
      fc.record({
        flags: u32,
        rootDirectoryFid: u32,
        desiredAccess: u32,
        allocationSize: u64,
        extFileAttributes: u32,
        shareAccess: u32,
        createDisposition: u32,
        createOptions: u32,
        impersonationLevel: u32,
        securityFlags: u8,
        fileName: smbText(isUnicodeInit(init), 30),
      }),
    encodeSmb1NtCreateRequest,
    decodeSmb1NtCreateRequest,
  ),
  roundTrip(
    "NT_CREATE_ANDX response",
    "response",
    C.NT_CREATE_ANDX,
    () =>
      fc.record({
        oplockLevel: u8,
        fid: u16,
        createDisposition: u32,
        creationTime: u64,
        lastAccessTime: u64,
        lastWriteTime: u64,
        lastChangeTime: u64,
        extFileAttributes: u32,
        allocationSize: u64,
        endOfFile: u64,
        resourceType: u16,
        nmPipeStatus: u16,
        directory: u8,
      }),
    encodeSmb1NtCreateResponse,
    decodeSmb1NtCreateResponse,
  ),
  roundTrip(
    "TRANSACTION request",
    "request",
    C.TRANSACTION,
    (init) => transactionRequest(isUnicodeInit(init)),
    encodeSmb1TransactionRequest,
    (message) => {
      const decoded = decodeSmb1TransactionRequest(message);
      if (isDecodeIssue(decoded)) return decoded;
      const { totalParameterCount, totalDataCount, ...rest } = decoded;
      expect([totalParameterCount, totalDataCount]).toEqual([
        rest.parameters.length,
        rest.data.length,
      ]);
      return rest;
    },
  ),
  roundTrip(
    "TRANSACTION response",
    "response",
    C.TRANSACTION,
    () => transactionResponse,
    encodeSmb1TransactionResponse,
    decodeSmb1TransactionResponse,
  ),
  roundTrip(
    "TRANSACTION2 request",
    "request",
    C.TRANSACTION2,
    () => transaction2Request,
    encodeSmb1Transaction2Request,
    (message) => {
      const decoded = decodeSmb1Transaction2Request(message);
      if (isDecodeIssue(decoded)) return decoded;
      const { totalParameterCount: _p, totalDataCount: _d, ...rest } = decoded;
      return rest;
    },
  ),
  roundTrip(
    "TRANSACTION2 response",
    "response",
    C.TRANSACTION2,
    () => transactionResponse,
    encodeSmb1Transaction2Response,
    decodeSmb1Transaction2Response,
  ),
  roundTrip(
    "READ_ANDX request, WordCount 10 and 12",
    "request",
    C.READ_ANDX,
    () =>
      fc.record({
        fid: u16,
        offset: u32,
        offsetHigh: fc.option(u32, { nil: null }),
        maxCountOfBytesToReturn: u16,
        minCountOfBytesToReturn: u16,
        timeout: u32,
        remaining: u16,
      }),
    encodeSmb1ReadRequest,
    decodeSmb1ReadRequest,
  ),
  roundTrip(
    "READ_ANDX response",
    "response",
    C.READ_ANDX,
    () => fc.record({ available: u16, dataCompactionMode: u16, data: bytes(400) }),
    encodeSmb1ReadResponse,
    decodeSmb1ReadResponse,
  ),
  roundTrip(
    "WRITE_ANDX request, WordCount 12 and 14",
    "request",
    C.WRITE_ANDX,
    () =>
      fc.record({
        fid: u16,
        offset: u32,
        offsetHigh: fc.option(u32, { nil: null }),
        timeout: u32,
        writeMode: u16,
        remaining: u16,
        data: bytes(400),
      }),
    encodeSmb1WriteRequest,
    decodeSmb1WriteRequest,
  ),
  roundTrip(
    "WRITE_ANDX response",
    "response",
    C.WRITE_ANDX,
    () => fc.record({ count: u32, available: u16 }),
    encodeSmb1WriteResponse,
    decodeSmb1WriteResponse,
  ),
  roundTrip(
    "CLOSE request",
    "request",
    C.CLOSE,
    () => fc.record({ fid: u16, lastTimeModified: u32 }),
    encodeSmb1CloseRequest,
    decodeSmb1CloseRequest,
  ),
  roundTrip(
    "CLOSE response",
    "response",
    C.CLOSE,
    () => fc.constant({}),
    (_value, header) => encodeSmb1CloseResponse(header),
    decodeSmb1CloseResponse,
  ),
];

describe("SMB1 round trips (encode → decode), both directions", () => {
  for (const { name, property } of cases) {
    it(name, () => fc.assert(property, { numRuns: 150 }));
  }

  it("a Unicode string after an odd-length blob gets its pad byte (MS-CIFS §2.2.1.1)", () => {
    const message = encodeSmb1SessionSetupResponse(
      {
        form: "extended",
        action: 0,
        securityBlob: Uint8Array.of(1, 2, 3),
        nativeOs: "OS",
        nativeLanMan: "LM",
        primaryDomain: "",
      },
      { flags2: 0xc801 },
    );
    // WordCount at 32, 4 words, ByteCount at 41, bytes from 43: blob 43..45, pad 46, "OS" at 47?
    // 43 + 3 = 46 is even: no pad, the string starts at 46.
    expect(hex(message.subarray(43, 52))).toBe("010203" + "4f005300" + "0000");
    const odd = encodeSmb1SessionSetupResponse(
      {
        form: "extended",
        action: 0,
        securityBlob: Uint8Array.of(1, 2),
        nativeOs: "OS",
        nativeLanMan: "",
        primaryDomain: "",
      },
      { flags2: 0xc801 },
    );
    expect(hex(odd.subarray(43, 50))).toBe("0102" + "00" + "4f005300");
  });
});

describe("SMB1 decoders on real-world shapes", () => {
  it("reads the status of an error response and explains why the command decoder refuses it", () => {
    const message = encodeSmb1ErrorResponse(
      SMB1_COMMAND.TRANSACTION,
      NT_STATUS.INSUFF_SERVER_RESOURCES,
      {
        flags2: 0xc801,
      },
    );
    expect(message).toHaveLength(35);
    const header = decodeSmb1Header(message);
    expect(isDecodeIssue(header) ? null : formatNtStatus(header.status)).toBe(
      "STATUS_INSUFF_SERVER_RESOURCES",
    );
    const decoded = decodeSmb1TransactionResponse(message);
    expect(isDecodeIssue(decoded) && decoded.message).toContain("check header.status");
  });

  it("decodes a negotiate response that accepts no dialect (0xFFFF)", () => {
    const message = encodeSmb1NegotiateResponse({
      form: "index-only",
      dialectIndex: SMB1_NO_DIALECT,
    });
    expect(decodeSmb1NegotiateResponse(message)).toMatchObject({
      form: "index-only",
      dialectIndex: 0xffff,
    });
  });

  it("follows an AndX chain to the command asked for (SESSION_SETUP + TREE_CONNECT)", () => {
    const chained = chain(
      encodeSmb1SessionSetupResponse(
        {
          form: "basic",
          action: 1,
          nativeOs: "Windows 5.1",
          nativeLanMan: "Windows 2000 LAN Manager",
          primaryDomain: "LAB",
        },
        { flags2: 0xc001, uid: 0x800 },
      ),
      encodeSmb1TreeConnectResponse(
        {
          optionalSupport: 1,
          maximalShareAccessRights: null,
          guestMaximalShareAccessRights: null,
          service: "IPC",
          nativeFileSystem: "",
        },
        { flags2: 0xc001 },
      ),
      SMB1_COMMAND.TREE_CONNECT_ANDX,
    );
    const message = decodeSmb1Message(chained);
    expect(isDecodeIssue(message) ? message : message.blocks.map((b) => b.command)).toEqual([
      0x73, 0x75,
    ]);
    expect(decodeSmb1SessionSetupResponse(chained)).toMatchObject({
      nativeOs: "Windows 5.1",
      action: 1,
    });
    expect(decodeSmb1TreeConnectResponse(chained)).toMatchObject({ service: "IPC" });
  });

  it("refuses self-pointing, backward and endless AndX offsets without looping", () => {
    const base = encodeSmb1SessionSetupResponse(
      { form: "basic", action: 0, nativeOs: "", nativeLanMan: "", primaryDomain: "" },
      { flags2: 0x4001 },
    );
    const self = Uint8Array.from(base);
    self[33] = SMB1_COMMAND.SESSION_SETUP_ANDX; // AndXCommand
    self[35] = 32; // AndXOffset → its own WordCount
    expect(decodeSmb1Message(self)).toMatchObject({ kind: "decode-issue", what: "andx" });
    const backward = Uint8Array.from(self);
    backward[35] = 0;
    expect(decodeSmb1Message(backward)).toMatchObject({ kind: "decode-issue", what: "andx" });

    // SMB1_MAX_ANDX_BLOCKS + 1 well-formed links: capped, not followed for ever.
    const block = Uint8Array.of(2, SMB1_COMMAND.SESSION_SETUP_ANDX, 0, 0, 0, 0, 0);
    const n = SMB1_MAX_ANDX_BLOCKS + 1;
    const long = new Uint8Array(32 + n * block.length);
    long.set(base.subarray(0, 32));
    for (let i = 0; i < n; i++) {
      const at = 32 + i * block.length;
      long.set(block, at);
      const next = at + block.length;
      long[at + 3] = next & 0xff;
      long[at + 4] = next >> 8;
    }
    expect(decodeSmb1Message(long)).toMatchObject({ kind: "decode-issue", what: "andx" });
  });

  it("reads an NT_CREATE_ANDX extended response that says WordCount 42 but carries 50 words", () => {
    const base = encodeSmb1NtCreateResponse({
      oplockLevel: 0,
      fid: 0x4001,
      createDisposition: 1,
      creationTime: 0n,
      lastAccessTime: 0n,
      lastWriteTime: 0n,
      lastChangeTime: 0n,
      extFileAttributes: 0x80,
      allocationSize: 0n,
      endOfFile: 0n,
      resourceType: 2,
      nmPipeStatus: 0x05ff,
      directory: 0,
    });
    // Samba's reply_ntcreate_and_X: 50 words (100 bytes), wct 42, then ByteCount 0.
    const quirk = new Uint8Array(32 + 1 + 100 + 2);
    quirk.set(base.subarray(0, 33 + 68));
    quirk[32] = 42;
    expect(decodeSmb1NtCreateResponse(quirk)).toMatchObject({ fid: 0x4001, resourceType: 2 });
  });

  it("cuts TRANSACTION data by offset and refuses offsets past the message", () => {
    const message = encodeSmb1TransactionResponse({
      totalParameterCount: 0,
      totalDataCount: 4,
      parameterDisplacement: 0,
      dataDisplacement: 0,
      setup: [],
      parameters: new Uint8Array(0),
      data: Uint8Array.of(1, 2, 3, 4),
    });
    const bad = Uint8Array.from(message);
    bad[33 + 14] = 0xff; // DataOffset low byte
    expect(decodeSmb1TransactionResponse(bad)).toMatchObject({
      kind: "decode-issue",
      what: "data",
    });
  });

  it("throws RangeError on our own bad arguments only", () => {
    expect(() => encodeSmb1NegotiateRequest({ dialects: [] })).toThrow(RangeError);
    expect(() => encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12\u0000"] })).toThrow(
      RangeError,
    );
    expect(() =>
      encodeSmb1NtCreateRequest(smb1PipeOpenRequest("\u263a"), { flags2: 0x4001 }),
    ).toThrow(RangeError);
    expect(() =>
      encodeSmb1ReadRequest({
        fid: 0x10000,
        offset: 0,
        offsetHigh: null,
        maxCountOfBytesToReturn: 0,
        minCountOfBytesToReturn: 0,
        timeout: 0,
        remaining: 0,
      }),
    ).toThrow(/FID/);
    expect(() =>
      encodeSmb1NegotiateResponse({
        form: "nt-lm",
        dialectIndex: 0,
        securityMode: 0,
        maxMpxCount: 0,
        maxNumberVcs: 0,
        maxBufferSize: 0,
        maxRawSize: 0,
        sessionKey: 0,
        capabilities: 0,
        systemTime: 0n,
        serverTimeZone: 0,
        security: {
          kind: "extended",
          serverGuid: "00000000-0000-0000-0000-000000000000",
          securityBlob: new Uint8Array(0),
        },
      }),
    ).toThrow(/CAP_EXTENDED_SECURITY/);
  });
});

/** Append `second`'s block to `first` and link them with AndX (MS-CIFS §2.2.3.4). */
function chain(first: Uint8Array, second: Uint8Array, command: number): Uint8Array {
  const out = new Uint8Array(first.length + second.length - 32);
  out.set(first);
  out.set(second.subarray(32), first.length);
  out[33] = command;
  out[35] = first.length & 0xff;
  out[36] = first.length >> 8;
  return out;
}
