import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_ANONYMOUS,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
  NTLMSSP_NEGOTIATE_SEAL,
  NTLMSSP_NEGOTIATE_SIGN,
  NTLMSSP_NEGOTIATE_UNICODE,
  decodeAuthenticate,
  encodeAnonymousAuthenticate,
  isDecodeIssue,
} from "../../src/protocols/ntlmssp/index.js";

/**
 * The anonymous AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3, §3.3.1): its layout, its flags (no key,
 * so nothing to sign or seal), and a decoder that never throws on hostile bytes.
 */
describe("anonymous NTLMSSP AUTHENTICATE", () => {
  it("is the 64-byte header with every field empty and NEGOTIATE_ANONYMOUS set", () => {
    const bytes = encodeAnonymousAuthenticate({
      challengeFlags:
        NTLMSSP_NEGOTIATE_UNICODE |
        NTLMSSP_NEGOTIATE_SIGN |
        NTLMSSP_NEGOTIATE_SEAL |
        NTLMSSP_NEGOTIATE_KEY_EXCH |
        NTLMSSP_NEGOTIATE_128,
    });
    expect(bytes.length).toBe(64);
    expect(bytes.subarray(0, 12).toString("latin1")).toBe("NTLMSSP\0\u0003\0\0\0");
    const decoded = decodeAuthenticate(bytes);
    if (isDecodeIssue(decoded)) throw new Error(decoded.message);
    expect(decoded).toMatchObject({ user: "", domain: "", workstation: "", anonymous: true });
    expect(decoded.flags & NTLMSSP_NEGOTIATE_ANONYMOUS).toBe(NTLMSSP_NEGOTIATE_ANONYMOUS);
    expect(
      decoded.flags &
        (NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL | NTLMSSP_NEGOTIATE_KEY_EXCH),
    ).toBe(0);
    expect(decoded.flags & NTLMSSP_NEGOTIATE_128).toBe(NTLMSSP_NEGOTIATE_128);
  });

  it("offers the MS-NLMP pseudocode's Z(1) LM response as the alternative form", () => {
    const decoded = decodeAuthenticate(
      encodeAnonymousAuthenticate({ challengeFlags: 1, lmResponse: "z1" }),
    );
    if (isDecodeIssue(decoded)) throw new Error(decoded.message);
    expect(Array.from(decoded.lmChallengeResponse)).toEqual([0]);
    expect(decoded.anonymous).toBe(true);
  });

  it("decodes random and mutated input to a value or an issue, never a throw", () => {
    const base = encodeAnonymousAuthenticate({ challengeFlags: 0xe2888215 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .array(fc.tuple(fc.nat(63), fc.integer({ min: 0, max: 255 })), { maxLength: 12 })
            .map((edits) => {
              const copy = Uint8Array.from(base);
              for (const [at, value] of edits) copy[at] = value;
              return copy;
            }),
        ),
        (bytes) => {
          const decoded = decodeAuthenticate(bytes);
          expect(decoded).toBeTypeOf("object");
        },
      ),
      { numRuns: 2000 },
    );
  });
});
