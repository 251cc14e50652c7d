import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED,
  NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED,
  NTLMSSP_NEGOTIATE_TARGET_INFO,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_NEGOTIATE_VERSION,
  decodeChallenge,
  decodeNegotiate,
  decodeTargetInfo,
  encodeChallenge,
  encodeNegotiate,
  encodeTargetInfo,
  isDecodeIssue,
  type AvPair,
  type NtlmVersion,
} from "../../src/protocols/ntlmssp/index.js";
import {
  MECH_OID,
  decodeSecurityBlob,
  decodeSpnegoToken,
  encodeNegTokenInit,
  encodeNegTokenResp,
} from "../../src/protocols/spnego/index.js";
import { decodedSize, mutate } from "./fixtures.js";
import { windows2000Challenge, windows2003Challenge, windows7Challenge } from "./personas.js";

/** Property-based tests for every decoder: round trips; random and mutated input never throws. */

const u8 = fc.integer({ min: 0, max: 0xff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const versionArb: fc.Arbitrary<NtlmVersion> = fc.record({
  major: u8,
  minor: u8,
  build: fc.integer({ min: 0, max: 0xffff }),
  ntlmRevision: u8,
});
const oemText = fc.string({
  maxLength: 40,
  unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
});
const unicodeText = fc.string({ maxLength: 40, unit: "binary-ascii" });
const oidArb = fc
  .tuple(
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 0, max: 39 }),
    fc.array(fc.nat(), { maxLength: 8 }),
  )
  .map(([x, y, rest]) => [x, y, ...rest].join("."));
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const avPairArb: fc.Arbitrary<AvPair> = fc.oneof(
  fc.record({
    id: fc.integer({ min: 1, max: 5 }),
    value: unicodeText.map((s) => Uint8Array.from(Buffer.from(s, "utf16le"))),
  }),
  fc.record({ id: fc.constant(6), value: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
  fc.record({ id: fc.constant(7), value: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
  fc.record({ id: fc.integer({ min: 8, max: 0xffff }).filter((id) => id !== 9), value: bytes(24) }),
);

/** Every decoder, for the fuzz properties. */
const DECODERS: readonly [string, (b: Uint8Array) => unknown][] = [
  ["decodeNegotiate", decodeNegotiate],
  ["decodeChallenge", decodeChallenge],
  ["decodeTargetInfo", (b) => decodeTargetInfo(b)],
  ["decodeSpnegoToken", decodeSpnegoToken],
  ["decodeSecurityBlob", decodeSecurityBlob],
];

function decodesSafely(input: Uint8Array): void {
  for (const [, decode] of DECODERS) {
    const result = decode(input);
    expect(result).toBeDefined();
    // Bounded: nothing decoded is larger than a small multiple of the input.
    expect(decodedSize(result)).toBeLessThanOrEqual(4 * input.length + 400);
  }
}

describe("round trips", () => {
  it("NEGOTIATE", () => {
    fc.assert(
      fc.property(
        u32,
        fc.option(oemText, { nil: null }),
        fc.option(oemText, { nil: null }),
        fc.option(versionArb, { nil: null }),
        (rawFlags, domain, workstation, version) => {
          // Flags consistent with the fields, as encodeNegotiate makes them.
          let flags =
            rawFlags &
            ~NTLMSSP_NEGOTIATE_VERSION &
            ~NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED &
            ~NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED;
          if (domain !== null) flags |= NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED;
          if (workstation !== null) flags |= NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED;
          if (version !== null) flags |= NTLMSSP_NEGOTIATE_VERSION;
          const init = { flags: flags >>> 0, domain, workstation, version };
          expect(decodeNegotiate(encodeNegotiate(init))).toEqual(init);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("CHALLENGE", () => {
    fc.assert(
      fc.property(
        u32,
        fc.option(
          unicodeText.filter((s) => s.length > 0),
          { nil: null },
        ),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.option(fc.array(avPairArb, { maxLength: 8 }), { nil: null }),
        fc.option(versionArb, { nil: null }),
        (rawFlags, targetName, serverChallenge, targetInfo, version) => {
          let flags =
            (rawFlags | NTLMSSP_NEGOTIATE_UNICODE) &
            ~NTLMSSP_NEGOTIATE_VERSION &
            ~NTLMSSP_NEGOTIATE_TARGET_INFO;
          if (version !== null) flags |= NTLMSSP_NEGOTIATE_VERSION;
          if (targetInfo !== null) flags |= NTLMSSP_NEGOTIATE_TARGET_INFO;
          const bytes = encodeChallenge({
            flags,
            targetName,
            serverChallenge,
            targetInfo,
            version,
          });
          const decoded = decodeChallenge(bytes);
          expect(decoded).toMatchObject({
            flags: flags >>> 0,
            targetName,
            serverChallenge,
            version,
            headerLength: version === null ? 48 : 56,
            notes: [],
          });
          if (isDecodeIssue(decoded)) return;
          // An empty list is sent as just MsvAvEOL, which decodes to no pairs.
          expect(decoded.targetInfo?.pairs ?? []).toEqual(targetInfo ?? []);
          // Re-encoding what was decoded gives the same bytes.
          const again = encodeChallenge({
            ...decoded,
            targetInfo: decoded.targetInfo?.pairs ?? null,
          });
          expect(again.equals(bytes)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("AV_PAIR lists", () => {
    fc.assert(
      fc.property(fc.array(avPairArb, { maxLength: 12 }), (pairs) => {
        const decoded = decodeTargetInfo(encodeTargetInfo(pairs));
        expect(isDecodeIssue(decoded) ? decoded : decoded.pairs).toEqual(pairs);
      }),
      { numRuns: 500 },
    );
  });

  it("NegTokenInit and NegTokenResp", () => {
    fc.assert(
      fc.property(
        fc.array(oidArb, { maxLength: 6 }),
        fc.option(fc.integer({ min: 0, max: 0x7fffffff }), { nil: null }),
        fc.option(bytes(300), { nil: null }),
        fc.option(
          fc.record({
            hintName: fc.option(fc.string({ maxLength: 40, unit: "binary-ascii" }), { nil: null }),
            hintAddress: fc.option(bytes(20), { nil: null }),
          }),
          { nil: null },
        ),
        fc.option(bytes(40), { nil: null }),
        fc.boolean(),
        (mechTypes, reqFlags, mechToken, negHints, mechListMIC, gssFramed) => {
          const init = { mechTypes, reqFlags, mechToken, negHints, mechListMIC, gssFramed };
          expect(decodeSpnegoToken(encodeNegTokenInit(init))).toEqual({
            kind: "negTokenInit",
            ...init,
          });
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 0x7f }), { nil: null }),
        fc.option(oidArb, { nil: null }),
        fc.option(bytes(300), { nil: null }),
        fc.option(bytes(40), { nil: null }),
        (negState, supportedMech, responseToken, mechListMIC) => {
          const resp = { negState, supportedMech, responseToken, mechListMIC };
          expect(decodeSpnegoToken(encodeNegTokenResp(resp))).toMatchObject(resp);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("hostile input never throws, terminates, and stays bounded", () => {
  const samples: Uint8Array[] = [
    windows7Challenge(),
    windows2000Challenge(),
    windows2003Challenge(),
    encodeNegotiate({
      flags: 0x8215,
      domain: "D",
      workstation: "W",
      version: { major: 6, minor: 1, build: 7601, ntlmRevision: 15 },
    }),
    encodeNegTokenInit({
      mechTypes: [MECH_OID.ntlmssp, MECH_OID.kerberos],
      mechToken: windows7Challenge(),
      negHints: { hintName: "x", hintAddress: null },
    }),
    encodeNegTokenResp({
      negState: 1,
      supportedMech: MECH_OID.ntlmssp,
      responseToken: windows7Challenge(),
      mechListMIC: Buffer.alloc(16),
    }),
  ];

  it("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), decodesSafely), { numRuns: 1000 });
  });

  it("random bytes behind a valid prefix (NTLMSSP signature, GSS header, [1] SEQUENCE)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          "4e544c4d5353500002000000",
          "4e544c4d5353500001000000",
          "6082ffff06062b0601050502",
          "a1823000308230",
          "a0",
        ),
        fc.uint8Array({ maxLength: 600 }),
        (prefix, tail) => decodesSafely(Uint8Array.from([...Buffer.from(prefix, "hex"), ...tail])),
      ),
      { numRuns: 1000 },
    );
  });

  it("mutated valid messages", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples).chain((sample) => mutate(sample)),
        decodesSafely,
      ),
      { numRuns: 3000 },
    );
  });

  it("deeply nested constructed DER does not recurse", () => {
    // 2000 levels of [0] { [0] { ... } }: the walk follows the SPNEGO grammar, not the input.
    let nested = Buffer.alloc(0);
    for (let i = 0; i < 2000; i++) {
      const n = nested.length;
      const header = n < 0x80 ? [0xa0, n] : [0xa0, 0x82, n >> 8, n & 0xff];
      nested = Buffer.concat([Buffer.from(header), nested]);
    }
    decodesSafely(nested);
    expect(isDecodeIssue(decodeSpnegoToken(nested))).toBe(true);
  });
});
