import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HRESULT,
  OBJREF_SIGNATURE,
  checkARemoteActivationStub,
  decodeActivationReply,
  decodeRemoteActivationReply,
  decodeRemoteActivationRequest,
  decodeRemoteCreateInstanceRequest,
  decodeRemoteGetClassObjectRequest,
  encodeActivationReply,
  encodeRemoteActivationReply,
  encodeRemoteActivationRequest,
  encodeRemoteGetClassObjectStub,
  kb824146ScanCreateInstanceStub,
  kb824146ScanEeyeStub,
  kb824146ScanUnboundContextStub,
  parseObjectName,
} from "../../src/protocols/dcom/index.js";
import { isDecodeIssue } from "../../src/protocols/dcerpc/index.js";

const fixtures = JSON.parse(
  readFileSync(new URL("./fixtures/research-pdus.json", import.meta.url), "utf8"),
) as Record<string, string>;

/** The stub of a research request PDU: everything after the 24-byte request header. */
function stubOf(name: string): Uint8Array {
  return Uint8Array.from(Buffer.from(fixtures[name] ?? "", "hex").subarray(24));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("DCOM probe stubs equal the research's re-encoding of their public sources", () => {
  it("Check A with Tenable's ids is byte-identical (research §2.4.1, 132 bytes)", () => {
    const ours = checkARemoteActivationStub({
      cid: "54454e41-424c-454e-4554-574f524b5345",
      clsid: "53454e5b-5553-5d53-5b4e-45535355535d",
    });
    expect(ours.length).toBe(132);
    expect(hex(ours)).toBe(hex(stubOf("checkA")));
  });

  it("our own Check A differs from Tenable's only in the cid and CLSID", () => {
    const ours = checkARemoteActivationStub();
    const theirs = stubOf("checkA");
    const differing = [...ours.keys()].filter((i) => ours[i] !== theirs[i]);
    expect(differing.every((i) => (i >= 12 && i < 28) || (i >= 32 && i < 48))).toBe(true);
  });

  it("KB824146Scan req1, req2, req4, req6, req7 are byte-identical (research §2.6.4)", () => {
    expect(hex(kb824146ScanCreateInstanceStub("req1"))).toBe(hex(stubOf("kb824146Req1")));
    const req2 = Buffer.from(stubOf("kb824146Req1"));
    req2[0xf4 - 24] = 0xf6;
    req2[0x104 - 24] = 0xff;
    expect(hex(kb824146ScanCreateInstanceStub("req2"))).toBe(req2.toString("hex"));
    expect(hex(kb824146ScanUnboundContextStub())).toBe(hex(stubOf("kb824146Req4")));
    expect(hex(kb824146ScanEeyeStub("req6"))).toBe(hex(stubOf("kb824146Req6")));
    expect(hex(kb824146ScanEeyeStub("req7"))).toBe(hex(stubOf("kb824146Req7")));
  });

  it("Check B's RemoteGetClassObject stub is byte-identical with Tenable's cid (research §2.5)", () => {
    const ours = encodeRemoteGetClassObjectStub("54454e41-424c-454e-4554-574f524b5345");
    expect(hex(ours)).toBe(hex(stubOf("checkB")));
  });
});

describe("server-side decoders (the lab's RPCSS stand-in)", () => {
  it("decode every RemoteActivation probe back to its object name", () => {
    const names = [
      [checkARemoteActivationStub(), "\\\\A\0A\\\\AA"],
      [kb824146ScanEeyeStub("req6"), "\\\\A\0\\\0c$\\test_2003_nessus.txt"],
      [kb824146ScanEeyeStub("req7"), "\\\\172.42.142.142\0\\test_Nessus"],
      [kb824146ScanUnboundContextStub(), "\\\\MEOW"],
      [stubOf("checkAPrime"), "\\\\\u4f53C\0\0c$\\SSVA_2003_NESSES.txt"],
    ] as const;
    for (const [stub, name] of names) {
      const decoded = decodeRemoteActivationRequest(stub);
      if (isDecodeIssue(decoded)) throw new Error(decoded.message);
      expect(decoded.objectName).toBe(name);
      expect(hex(encodeRemoteActivationRequest(decoded))).toBe(hex(stub));
    }
  });

  it("parseObjectName finds the embedded NUL after the UNC server component", () => {
    expect(parseObjectName("\\\\A\0A\\\\AA")).toEqual({
      server: "A",
      embeddedNulAfterServer: true,
    });
    expect(parseObjectName("\\\\172.42.142.142\0\\test_Nessus")).toEqual({
      server: "172.42.142.142",
      embeddedNulAfterServer: true,
    });
    expect(parseObjectName("\\\\MEOW")).toEqual({ server: "MEOW", embeddedNulAfterServer: false });
    expect(parseObjectName("C:\\x")).toEqual({ server: null, embeddedNulAfterServer: false });
  });

  it("lists req1's and req2's activation property CLSIDs", () => {
    const one = decodeRemoteCreateInstanceRequest(kb824146ScanCreateInstanceStub("req1"));
    const two = decodeRemoteCreateInstanceRequest(kb824146ScanCreateInstanceStub("req2"));
    if (isDecodeIssue(one) || isDecodeIssue(two)) throw new Error("decode failed");
    expect(one.propertyClsids.map((c) => c.slice(0, 8))).toEqual([
      "000001b9",
      "000001ab",
      "000001a5",
      "000001a6",
      "000001a4",
      "000001ad",
      "000001aa",
    ]);
    expect(two.propertyClsids.map((c) => c.slice(0, 8))).toEqual([
      "000001b9",
      "000001ab",
      "000001a5",
      "000001f6",
      "000001ff",
      "000001ad",
      "000001aa",
    ]);
  });

  it("reads Check B's junk OBJREF signature ('AAAA', not MEOW)", () => {
    const decoded = decodeRemoteGetClassObjectRequest(
      encodeRemoteGetClassObjectStub("54454e41-424c-454e-4554-574f524b5345"),
    );
    if (isDecodeIssue(decoded)) throw new Error(decoded.message);
    expect(decoded.objrefSignature).toBe(0x41414141);
    expect(decoded.objrefSignature).not.toBe(OBJREF_SIGNATURE);
  });
});

describe("reply codecs", () => {
  it("a failed RemoteActivation reply is 68 bytes with phr at stub_len − 24 (research §2.4.2)", () => {
    const stub = encodeRemoteActivationReply({ phr: HRESULT.CO_E_BAD_PATH });
    expect(stub.length).toBe(68);
    expect(Buffer.from(stub).readUInt32LE(44)).toBe(HRESULT.CO_E_BAD_PATH);
    expect(decodeRemoteActivationReply(stub)).toEqual({
      stubLength: 68,
      phr: HRESULT.CO_E_BAD_PATH,
    });
    expect(decodeRemoteActivationReply(stub.subarray(0, 64))).toEqual({
      stubLength: 64,
      phr: null,
    });
  });

  it("an activation failure reply is 16 bytes ending in the HRESULT", () => {
    const stub = encodeActivationReply(HRESULT.E_INVALIDARG);
    expect(stub.length).toBe(16);
    expect(decodeActivationReply(stub)).toEqual({
      stubLength: 16,
      lastDword: HRESULT.E_INVALIDARG,
    });
    expect(decodeActivationReply(new Uint8Array(2))).toEqual({ stubLength: 2, lastDword: null });
  });
});

describe("hostile bytes never escape the decoders", () => {
  const decoders = [
    decodeRemoteActivationRequest,
    decodeRemoteCreateInstanceRequest,
    decodeRemoteGetClassObjectRequest,
  ];

  it("random bytes give a value or a DecodeIssue", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        for (const decode of decoders) {
          const out = decode(bytes);
          expect(typeof out).toBe("object");
        }
        decodeRemoteActivationReply(bytes);
        decodeActivationReply(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it("mutated probes (bit flips, truncation, huge counts) give a value or a DecodeIssue", () => {
    const seeds = [
      checkARemoteActivationStub(),
      kb824146ScanCreateInstanceStub("req1"),
      kb824146ScanEeyeStub("req7"),
      encodeRemoteGetClassObjectStub("54454e41-424c-454e-4554-574f524b5345"),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (seed, edits, cut) => {
          const bytes = Uint8Array.from(seed);
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          const input = bytes.subarray(0, cut % (bytes.length + 1));
          for (const decode of decoders) {
            const out = decode(input);
            if (!isDecodeIssue(out)) expect(out).toBeTypeOf("object");
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("a count of 0xffffffff is refused without allocating it", () => {
    const stub = Buffer.from(kb824146ScanCreateInstanceStub("req1"));
    stub.writeUInt32LE(0xffffffff, 0x28); // ulCntData
    stub.writeUInt32LE(0xffffffff, 0x2c); // max_count
    const out = decodeRemoteCreateInstanceRequest(stub);
    expect(isDecodeIssue(out)).toBe(true);
  });
});
