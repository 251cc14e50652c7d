import { describe, expect, it } from "vitest";
import {
  AV_ID,
  NMAP_NEGOTIATE_FLAGS,
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN,
  NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED,
  NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED,
  NTLMSSP_NEGOTIATE_TARGET_INFO,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_NEGOTIATE_VERSION,
  NTLMSSP_REQUEST_TARGET,
  buildTargetInfo,
  decodeChallenge,
  decodeNegotiate,
  decodeTargetInfo,
  encodeChallenge,
  encodeNegotiate,
  encodeTargetInfo,
  filetimeToIso,
  isDecodeIssue,
  isoToFiletime,
  negotiateFlagNames,
  ntlmsspMessageType,
  type ChallengeMessage,
} from "../../src/protocols/ntlmssp/index.js";
import { hex } from "./fixtures.js";
import { windows2000Challenge, windows2003Challenge, windows7Challenge } from "./personas.js";

/** Research Appendix D: nmap's NEGOTIATE, 32 bytes, flags 0x00008215. */
const NMAP_NEGOTIATE = "4e544c4d53535000" + "01000000" + "15820000" + "00".repeat(16);

describe("NEGOTIATE_MESSAGE (MS-NLMP §2.2.1.1)", () => {
  it("encodes nmap's 32-byte NEGOTIATE byte for byte", () => {
    expect(hex(encodeNegotiate({ flags: NMAP_NEGOTIATE_FLAGS }))).toBe(NMAP_NEGOTIATE);
    expect(NMAP_NEGOTIATE_FLAGS).toBe(0x00008215);
  });

  it("decodes nmap's NEGOTIATE", () => {
    expect(decodeNegotiate(Buffer.from(NMAP_NEGOTIATE, "hex"))).toEqual({
      flags: 0x8215,
      domain: null,
      workstation: null,
      version: null,
    });
  });

  it("decodes ZecOps' raw NEGOTIATE with VERSION 6.1.7601 (research Appendix D)", () => {
    // flags 32 90 88 e2 and VERSION 06 01 b1 1d 00 00 00 0f, 40-byte form.
    const bytes = Buffer.from(
      "4e544c4d53535000" + "01000000" + "329088e2" + "00".repeat(16) + "0601b11d0000000f",
      "hex",
    );
    const message = decodeNegotiate(bytes);
    expect(message).toMatchObject({
      flags: 0xe2889032,
      version: { major: 6, minor: 1, build: 7601, ntlmRevision: 15 },
    });
  });

  it("carries domain, workstation and VERSION, setting their flags", () => {
    const bytes = encodeNegotiate({
      flags: NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_REQUEST_TARGET,
      domain: "LABGROUP",
      workstation: "RINGFENCE",
      version: { major: 10, minor: 0, build: 19045, ntlmRevision: 15 },
    });
    const message = decodeNegotiate(bytes);
    expect(message).toEqual({
      flags:
        NTLMSSP_NEGOTIATE_UNICODE |
        NTLMSSP_REQUEST_TARGET |
        NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED |
        NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED |
        NTLMSSP_NEGOTIATE_VERSION,
      domain: "LABGROUP",
      workstation: "RINGFENCE",
      version: { major: 10, minor: 0, build: 19045, ntlmRevision: 15 },
    });
    expect(bytes.readUInt32LE(20)).toBe(40); // DomainName right after VERSION
  });

  it("refuses the VERSION flag without a version, and non-OEM names", () => {
    expect(() => encodeNegotiate({ flags: NTLMSSP_NEGOTIATE_VERSION })).toThrow(RangeError);
    expect(() => encodeNegotiate({ flags: 0, workstation: "ПК" })).toThrow(RangeError);
  });

  it("reports wrong signature, wrong type and short input as issues", () => {
    const good = encodeNegotiate({ flags: NMAP_NEGOTIATE_FLAGS });
    const badSig = Buffer.from(good);
    badSig[0] = 0x4f;
    expect(decodeNegotiate(badSig)).toMatchObject({ kind: "decode-issue", what: "signature" });
    const challenge = Buffer.from(good);
    challenge.writeUInt32LE(2, 8);
    expect(decodeNegotiate(challenge)).toMatchObject({ what: "message-type" });
    expect(decodeNegotiate(good.subarray(0, 20))).toMatchObject({ what: "header", needed: 12 });
    expect(decodeNegotiate(good.subarray(0, 5))).toMatchObject({ what: "signature", needed: 3 });
  });

  it("reports a workstation name running past the message", () => {
    const bytes = encodeNegotiate({ flags: 0, workstation: "WS01" });
    expect(decodeNegotiate(bytes.subarray(0, bytes.length - 1))).toMatchObject({
      what: "workstation",
      needed: 1,
    });
  });
});

describe("CHALLENGE_MESSAGE (MS-NLMP §2.2.1.2)", () => {
  it("decodes a Vista+ challenge: VERSION, AV_PAIRs, timestamp", () => {
    const message = decodeChallenge(windows7Challenge());
    expect(isDecodeIssue(message)).toBe(false);
    const m = message as ChallengeMessage;
    expect(m.headerLength).toBe(56);
    expect(m.targetName).toBe("LAB");
    expect(hex(m.serverChallenge)).toBe("0123456789abcdef");
    expect(m.version).toEqual({ major: 6, minor: 1, build: 7601, ntlmRevision: 15 });
    expect(m.targetInfo).toMatchObject({
      nbDomainName: "LAB",
      nbComputerName: "WIN7-0001",
      dnsDomainName: "lab.example",
      dnsComputerName: "win7-0001.lab.example",
      dnsTreeName: "lab.example",
      timestamp: "2011-02-22T12:00:00.000Z",
    });
    expect(m.targetInfo?.pairs.map((p) => p.id)).toEqual([2, 1, 4, 3, 5, 7]);
    expect(m.notes).toEqual([]);
  });

  it("decodes Windows 2000/XP-era challenges: no VERSION, 48-byte header", () => {
    const m = decodeChallenge(windows2000Challenge()) as ChallengeMessage;
    expect(m.headerLength).toBe(48);
    expect(m.version).toBeNull();
    expect(m.targetInfo?.timestamp).toBeUndefined();
    expect(m.targetInfo?.nbComputerName).toBe("WIN2K-0001");
    const w2003 = decodeChallenge(windows2003Challenge()) as ChallengeMessage;
    expect(w2003.version).toEqual({ major: 5, minor: 2, build: 3790, ntlmRevision: 15 });
  });

  it("decodes a challenge with no TargetInfo at all (32- and 40-byte headers)", () => {
    const name = Buffer.from("DOMAIN", "latin1");
    for (const header of [32, 40]) {
      const bytes = Buffer.alloc(header + name.length);
      bytes.write("NTLMSSP\0", 0, "latin1");
      bytes.writeUInt32LE(2, 8);
      bytes.writeUInt16LE(name.length, 12);
      bytes.writeUInt16LE(name.length, 14);
      bytes.writeUInt32LE(header, 16);
      bytes.writeUInt32LE(0x00000206, 20); // OEM | NTLM | REQUEST_TARGET
      name.copy(bytes, header);
      expect(decodeChallenge(bytes)).toMatchObject({
        headerLength: header,
        targetName: "DOMAIN",
        targetInfo: null,
        version: null,
      });
    }
  });

  it("notes the VERSION flag when the payload leaves no room for VERSION", () => {
    const bytes = encodeChallenge({
      flags: NTLMSSP_NEGOTIATE_UNICODE,
      targetName: "AB",
      serverChallenge: Buffer.alloc(8),
      targetInfo: [],
    });
    bytes.writeUInt32LE(bytes.readUInt32LE(20) | NTLMSSP_NEGOTIATE_VERSION, 20);
    const m = decodeChallenge(bytes) as ChallengeMessage;
    expect(m.version).toBeNull();
    expect(m.notes[0]).toMatch(/no room for VERSION/);
  });

  it("refuses payload fields that overlap the header, each other, or run past the end", () => {
    const good = windows7Challenge();
    const intoHeader = encodeChallenge({
      flags: NTLMSSP_NEGOTIATE_UNICODE,
      targetName: "LAB",
      serverChallenge: Buffer.alloc(8),
    });
    intoHeader.writeUInt32LE(20, 16); // TargetName over NegotiateFlags
    expect(decodeChallenge(intoHeader)).toMatchObject({ what: "target-name" });

    // TargetName inside where VERSION would be: VERSION is then absent, and that is noted.
    const intoVersion = Buffer.from(good);
    intoVersion.writeUInt32LE(50, 16);
    expect(decodeChallenge(intoVersion)).toMatchObject({ version: null, headerLength: 48 });

    const overlapping = Buffer.from(good);
    overlapping.writeUInt32LE(overlapping.readUInt32LE(16), 44); // TargetInfo := TargetName
    expect(decodeChallenge(overlapping)).toMatchObject({
      what: "target-info",
      message: expect.stringMatching(/overlaps/),
    });

    const past = Buffer.from(good);
    past.writeUInt32LE(0xfffffff0, 44);
    expect(decodeChallenge(past)).toMatchObject({ what: "target-info" });

    const noInfoFields = Buffer.from(good.subarray(0, 40));
    noInfoFields.writeUInt32LE(NTLMSSP_NEGOTIATE_TARGET_INFO, 20);
    noInfoFields.writeUInt16LE(0, 12);
    expect(decodeChallenge(noInfoFields)).toMatchObject({ what: "target-info" });
  });

  it("refuses a UTF-16 TargetName of odd length", () => {
    const bytes = encodeChallenge({
      flags: NTLMSSP_NEGOTIATE_UNICODE,
      targetName: "LAB",
      serverChallenge: Buffer.alloc(8),
    });
    bytes.writeUInt16LE(5, 12);
    expect(decodeChallenge(bytes)).toMatchObject({ what: "target-name" });
  });

  it("decodes an OEM TargetName when NEGOTIATE_UNICODE is clear", () => {
    const bytes = encodeChallenge({
      flags: NTLMSSP_NEGOTIATE_ALWAYS_SIGN,
      targetName: "LAB",
      serverChallenge: Buffer.alloc(8),
    });
    expect(decodeChallenge(bytes)).toMatchObject({ targetName: "LAB", targetInfo: null });
  });

  it("encodes a challenge whose flags follow the fields given", () => {
    expect(() =>
      encodeChallenge({ flags: NTLMSSP_NEGOTIATE_VERSION, serverChallenge: Buffer.alloc(8) }),
    ).toThrow(RangeError);
    expect(() =>
      encodeChallenge({ flags: NTLMSSP_NEGOTIATE_TARGET_INFO, serverChallenge: Buffer.alloc(8) }),
    ).toThrow(RangeError);
    expect(() => encodeChallenge({ flags: 0, serverChallenge: Buffer.alloc(7) })).toThrow(
      RangeError,
    );
    // A signed int32 from `|`-ing NEGOTIATE_56 is accepted as its bit pattern.
    const bytes = encodeChallenge({ flags: 0x80000000 | 1, serverChallenge: Buffer.alloc(8) });
    expect(bytes.readUInt32LE(20)).toBe(0x80000001);
    expect(ntlmsspMessageType(bytes)).toBe(2);
  });
});

describe("AV_PAIRs (MS-NLMP §2.2.2.1)", () => {
  it("round-trips named fields and keeps unknown ids", () => {
    const pairs = [
      ...buildTargetInfo({ nbComputerName: "HOST", flags: 2, targetName: "cifs/host" }),
      { id: 0x42, value: Uint8Array.from([1, 2, 3]) },
    ];
    const decoded = decodeTargetInfo(encodeTargetInfo(pairs));
    expect(decoded).toMatchObject({ nbComputerName: "HOST", flags: 2, targetName: "cifs/host" });
    expect(isDecodeIssue(decoded) ? [] : decoded.pairs.map((p) => p.id)).toEqual([
      AV_ID.nbComputerName,
      AV_ID.flags,
      AV_ID.targetName,
      0x42,
    ]);
  });

  it("requires MsvAvEOL and well-sized Flags/Timestamp", () => {
    const list = encodeTargetInfo(buildTargetInfo({ nbComputerName: "HOST" }));
    expect(decodeTargetInfo(list.subarray(0, list.length - 4))).toMatchObject({
      what: "av-pair",
      message: expect.stringMatching(/MsvAvEOL/),
    });
    const badFlags = encodeTargetInfo([{ id: AV_ID.flags, value: Uint8Array.from([1, 0]) }]);
    expect(decodeTargetInfo(badFlags)).toMatchObject({ what: "av-pair-6" });
    const longPair = Buffer.from(list);
    longPair.writeUInt16LE(0x7fff, 2);
    expect(decodeTargetInfo(longPair)).toMatchObject({ what: "av-pair" });
  });

  it("converts FILETIME both ways", () => {
    expect(filetimeToIso(0n)).toBe("1601-01-01T00:00:00.000Z");
    expect(filetimeToIso(0xffffffffffffffffn)).toMatch(/^\+?\d+-/);
    expect(filetimeToIso(isoToFiletime("2020-03-10T00:00:00.000Z"))).toBe(
      "2020-03-10T00:00:00.000Z",
    );
    expect(() => isoToFiletime("yesterday")).toThrow(RangeError);
  });
});

describe("NegotiateFlags (MS-NLMP §2.2.2.5)", () => {
  it("names the bits, most significant first", () => {
    expect(negotiateFlagNames(0xe2898215)).toEqual([
      "NEGOTIATE_56",
      "NEGOTIATE_KEY_EXCH",
      "NEGOTIATE_128",
      "NEGOTIATE_VERSION",
      "NEGOTIATE_TARGET_INFO",
      "NEGOTIATE_EXTENDED_SESSIONSECURITY",
      "TARGET_TYPE_DOMAIN",
      "NEGOTIATE_ALWAYS_SIGN",
      "NEGOTIATE_NTLM",
      "NEGOTIATE_SIGN",
      "REQUEST_TARGET",
      "NEGOTIATE_UNICODE",
    ]);
    expect(negotiateFlagNames(0x10000008)).toEqual(["0x10000000", "0x00000008"]);
  });
});
