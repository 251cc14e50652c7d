import { describe, expect, it } from "vitest";
import {
  NMAP_NEGOTIATE_FLAGS,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  decodeChallenge,
  encodeNegotiate,
  isDecodeIssue,
} from "../../src/protocols/ntlmssp/index.js";
import { decodeOid, oidContents, readElement, tlv } from "../../src/protocols/spnego/der.js";
import {
  CONTEXT_FLAG,
  MECH_OID,
  NEG_STATE,
  decodeSecurityBlob,
  decodeSpnegoToken,
  encodeNegTokenInit,
  encodeNegTokenResp,
  mechName,
  ntlmsspTokenOf,
  type NegTokenInit,
  type NegTokenResp,
} from "../../src/protocols/spnego/index.js";
import { hex } from "./fixtures.js";

/**
 * nmap smb.lua start_session_extended(): 60 { 06 SPNEGO, a0 { 30 { a0 { 30 { 06 NTLMSSP } },
 * a2 { 04 <NEGOTIATE with flags 0x00088215> } } } }, research Appendix D.
 */
const NMAP_NTLMSSP = "4e544c4d53535000" + "01000000" + "15820800" + "00".repeat(16);
const NMAP_SPNEGO =
  "6040" +
  "06062b0601050502" +
  "a036" +
  "3034" +
  "a00e300c060a2b06010401823702020a" +
  "a222" +
  "0420" +
  NMAP_NTLMSSP;

/**
 * Captured from Samba 4.17.12-Debian smbd (standalone, netbios name LABSMB) on 127.0.0.61: the
 * SMB2 NEGOTIATE security buffer (NegTokenInit2 with Samba's negHints) and the SESSION_SETUP
 * reply to our NEGOTIATE (NegTokenResp, accept-incomplete, NTLMSSP CHALLENGE).
 */
const SAMBA_NEGOTIATE_HINT =
  "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566" +
  "696e65645f696e5f5246433431373840706c656173655f69676e6f7265";
const SAMBA_CHALLENGE_RESP =
  "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d5353500002000000" +
  "0c000c003800000015828ae2a9d1dd5123521cbe00000000000000003c003c0044000000060100000000000f" +
  "4c004100420053004d00420002000c004c004100420053004d00420001000c004c004100420053004d004200" +
  "040000000300040076006d0007000800f2adfe2b6e7edd0100000000";

describe("NegTokenInit (RFC 4178 §4.2.1, RFC 2743 §3.1 framing)", () => {
  it("encodes nmap's SPNEGO-wrapped NEGOTIATE byte for byte", () => {
    const token = encodeNegTokenInit({
      mechTypes: [MECH_OID.ntlmssp],
      mechToken: encodeNegotiate({
        flags: NMAP_NEGOTIATE_FLAGS | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
      }),
    });
    expect(hex(token)).toBe(NMAP_SPNEGO);
  });

  it("decodes nmap's token and finds the NTLMSSP inside", () => {
    const blob = decodeSecurityBlob(Buffer.from(NMAP_SPNEGO, "hex"));
    expect(blob).toMatchObject({
      kind: "negTokenInit",
      mechTypes: [MECH_OID.ntlmssp],
      reqFlags: null,
      negHints: null,
      mechListMIC: null,
      gssFramed: true,
    });
    expect(isDecodeIssue(blob) ? null : hex(ntlmsspTokenOf(blob)!)).toBe(NMAP_NTLMSSP);
  });

  it("decodes Samba's NegTokenInit2 with its negHints, and re-encodes it byte for byte", () => {
    const bytes = Buffer.from(SAMBA_NEGOTIATE_HINT, "hex");
    const token = decodeSpnegoToken(bytes) as NegTokenInit;
    expect(token).toEqual({
      kind: "negTokenInit",
      mechTypes: [MECH_OID.ntlmssp],
      reqFlags: null,
      mechToken: null,
      negHints: { hintName: "not_defined_in_RFC4178@please_ignore", hintAddress: null },
      mechListMIC: null,
      gssFramed: true,
    });
    expect(hex(encodeNegTokenInit(token))).toBe(SAMBA_NEGOTIATE_HINT);
  });

  it("round-trips a Windows-style hint listing Kerberos, NEGOEX and NTLMSSP", () => {
    const init = {
      mechTypes: [MECH_OID.msKerberos, MECH_OID.kerberos, MECH_OID.negoex, MECH_OID.ntlmssp],
      reqFlags: CONTEXT_FLAG.mutual | CONTEXT_FLAG.integ,
      mechToken: null,
      negHints: { hintName: "not_defined_in_RFC4178@please_ignore", hintAddress: null },
      mechListMIC: Uint8Array.from([1, 2, 3, 4]),
    };
    const decoded = decodeSpnegoToken(encodeNegTokenInit(init));
    expect(decoded).toEqual({ kind: "negTokenInit", gssFramed: true, ...init });
    expect(init.mechTypes.map(mechName)).toEqual([
      "MS Kerberos 5",
      "Kerberos 5",
      "NEGOEX",
      "NTLMSSP",
    ]);
    // Without negHints, mechListMIC is RFC 4178's [3].
    const plain = encodeNegTokenInit({
      mechTypes: [MECH_OID.ntlmssp],
      mechListMIC: Buffer.from([9]),
    });
    expect(decodeSpnegoToken(plain)).toMatchObject({ mechListMIC: Uint8Array.from([9]) });
  });

  it("decodes a bare [0] NegTokenInit without the GSS header", () => {
    const bare = encodeNegTokenInit({ mechTypes: [MECH_OID.ntlmssp], gssFramed: false });
    expect(bare[0]).toBe(0xa0);
    expect(decodeSpnegoToken(bare)).toMatchObject({ kind: "negTokenInit", gssFramed: false });
  });
});

describe("NegTokenResp (RFC 4178 §4.2.2)", () => {
  it("decodes Samba's real reply and the CHALLENGE it carries", () => {
    const bytes = Buffer.from(SAMBA_CHALLENGE_RESP, "hex");
    const resp = decodeSecurityBlob(bytes) as NegTokenResp;
    expect(resp).toMatchObject({
      kind: "negTokenResp",
      negState: NEG_STATE.acceptIncomplete,
      negStateName: "accept-incomplete",
      supportedMech: MECH_OID.ntlmssp,
      mechListMIC: null,
    });
    expect(hex(encodeNegTokenResp(resp))).toBe(SAMBA_CHALLENGE_RESP);
    const challenge = decodeChallenge(ntlmsspTokenOf(resp)!);
    expect(challenge).toMatchObject({
      targetName: "LABSMB",
      version: { major: 6, minor: 1, build: 0, ntlmRevision: 15 },
      targetInfo: {
        nbDomainName: "LABSMB",
        nbComputerName: "LABSMB",
        dnsDomainName: "",
        dnsComputerName: "vm",
        timestamp: expect.stringMatching(/^\d{4}-/),
      },
    });
  });

  it("round-trips every combination of fields", () => {
    const token = Uint8Array.from([0xde, 0xad]);
    for (const negState of [null, 0, 1, 2, 3]) {
      for (const supportedMech of [null, MECH_OID.ntlmssp]) {
        for (const responseToken of [null, token]) {
          for (const mechListMIC of [null, token]) {
            const init = { negState, supportedMech, responseToken, mechListMIC };
            expect(decodeSpnegoToken(encodeNegTokenResp(init))).toMatchObject(init);
          }
        }
      }
    }
    expect(decodeSpnegoToken(encodeNegTokenResp({ negState: 2 }))).toMatchObject({
      negStateName: "reject",
    });
  });
});

describe("security blobs", () => {
  it("recognises raw NTLMSSP and empty buffers", () => {
    const raw = encodeNegotiate({ flags: NMAP_NEGOTIATE_FLAGS });
    const blob = decodeSecurityBlob(raw);
    expect(blob).toMatchObject({ kind: "ntlmssp", messageType: 1 });
    expect(isDecodeIssue(blob) ? null : ntlmsspTokenOf(blob)).toEqual(Uint8Array.from(raw));
    expect(decodeSecurityBlob(new Uint8Array(0))).toEqual({ kind: "empty" });
    expect(ntlmsspTokenOf({ kind: "empty" })).toBeNull();
  });

  it("does not take a Kerberos mechToken for NTLMSSP", () => {
    const token = encodeNegTokenInit({
      mechTypes: [MECH_OID.kerberos],
      mechToken: Buffer.from("6082", "hex"),
    });
    const blob = decodeSecurityBlob(token);
    expect(isDecodeIssue(blob) ? "issue" : ntlmsspTokenOf(blob)).toBeNull();
  });
});

describe("DER reader bounds (X.690 §8.1.3, §8.19)", () => {
  const wrap = (inner: string) => Buffer.from(inner, "hex");

  it("refuses indefinite lengths, over-long length octets and lengths past the end", () => {
    expect(decodeSpnegoToken(wrap("6080"))).toMatchObject({
      message: expect.stringMatching(/indefinite/),
    });
    expect(decodeSpnegoToken(wrap("6085ffffffffff"))).toMatchObject({
      message: expect.stringMatching(/length octets/),
    });
    expect(decodeSpnegoToken(wrap("6084ffffffff"))).toMatchObject({
      message: expect.stringMatching(/runs past/),
    });
    expect(decodeSpnegoToken(wrap("6082"))).toMatchObject({ needed: 2 });
    expect(decodeSpnegoToken(wrap(""))).toMatchObject({ kind: "decode-issue" });
  });

  it("refuses trailing bytes, high tags and wrong mechanisms", () => {
    expect(decodeSpnegoToken(Buffer.concat([wrap(NMAP_SPNEGO), wrap("00")]))).toMatchObject({
      message: expect.stringMatching(/after the token/),
    });
    expect(decodeSpnegoToken(wrap("7f0100"))).toMatchObject({
      message: expect.stringMatching(/high-tag/),
    });
    const kerberosGss = tlv(0x60, tlv(0x06, oidContents(MECH_OID.kerberos)), Buffer.from([1, 0]));
    expect(decodeSpnegoToken(kerberosGss)).toMatchObject({ what: "this-mech" });
    expect(decodeSpnegoToken(tlv(0xa2, tlv(0x30)))).toMatchObject({ what: "negotiation-token" });
  });

  it("refuses a NegTokenInit without mechTypes, or with fields out of order or repeated", () => {
    const noMechs = tlv(0xa0, tlv(0x30, tlv(0xa2, tlv(0x04, Buffer.from([1])))));
    expect(decodeSpnegoToken(noMechs)).toMatchObject({ what: "mech-types" });
    const mechs = tlv(0xa0, tlv(0x30, tlv(0x06, oidContents(MECH_OID.ntlmssp))));
    const reversed = tlv(0xa0, tlv(0x30, tlv(0xa2, tlv(0x04)), mechs));
    expect(decodeSpnegoToken(reversed)).toMatchObject({ message: expect.stringMatching(/order/) });
    const twice = tlv(0xa0, tlv(0x30, mechs, mechs));
    expect(decodeSpnegoToken(twice)).toMatchObject({ message: expect.stringMatching(/repeated/) });
    const primitive = tlv(0xa0, tlv(0x30, tlv(0x80, Buffer.from([0]))));
    expect(decodeSpnegoToken(primitive)).toMatchObject({ what: "neg-token-init" });
  });

  it("skips unknown extension fields without descending into them", () => {
    const mechs = tlv(0xa0, tlv(0x30, tlv(0x06, oidContents(MECH_OID.ntlmssp))));
    const extended = tlv(0xa0, tlv(0x30, mechs, tlv(0xa9, Buffer.from("ffff", "hex"))));
    expect(decodeSpnegoToken(extended)).toMatchObject({ mechTypes: [MECH_OID.ntlmssp] });
  });

  it("decodes and encodes OIDs per X.690 §8.19, refusing malformed ones", () => {
    const read = (contents: string) => {
      const bytes = tlv(0x06, Buffer.from(contents, "hex"));
      const el = readElement(bytes, 0, bytes.length, "oid");
      return isDecodeIssue(el) ? el : decodeOid(el);
    };
    expect(read("2b06010401823702020a")).toBe("1.3.6.1.4.1.311.2.2.10");
    expect(read("2a864882f712010202")).toBe("1.2.840.48018.1.2.2");
    expect(read("8837")).toBe("2.999");
    expect(read("")).toMatchObject({ message: expect.stringMatching(/empty/) });
    expect(read("2b80")).toMatchObject({ message: expect.stringMatching(/non-minimal/) });
    expect(read("2b86")).toMatchObject({ message: expect.stringMatching(/ends inside/) });
    expect(read("2b" + "ff".repeat(9) + "7f")).toMatchObject({
      message: expect.stringMatching(/too large/),
    });
    expect(hex(oidContents("2.999"))).toBe("8837");
    expect(() => oidContents("1.40")).toThrow(RangeError);
    expect(() => oidContents("3.1")).toThrow(RangeError);
    expect(() => oidContents("1")).toThrow(RangeError);
  });

  it("encodes reqFlags as a DER BIT STRING without trailing zero bits", () => {
    const token = encodeNegTokenInit({
      mechTypes: [MECH_OID.ntlmssp],
      reqFlags: CONTEXT_FLAG.mutual,
      gssFramed: false,
    });
    expect(hex(token)).toContain("a104030206" + "40");
    expect(decodeSpnegoToken(token)).toMatchObject({ reqFlags: CONTEXT_FLAG.mutual });
    const zero = encodeNegTokenInit({ mechTypes: [], reqFlags: 0, gssFramed: false });
    expect(hex(zero)).toContain("a103030100");
    expect(decodeSpnegoToken(zero)).toMatchObject({ reqFlags: 0, mechTypes: [] });
  });
});
