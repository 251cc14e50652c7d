import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeSessionHeader,
  decodeSessionPacket,
  encodeSessionMessage,
} from "../../src/protocols/netbios/index.js";
import * as smb from "../../src/protocols/smb/index.js";
import { decodedSize } from "./arbitraries.js";
import { smb1Samples, smb2Samples } from "./samples.js";

/**
 * Every decoder against random bytes and against mutated valid messages (bit flips, truncation,
 * extension, huge length/offset/count fields, self-referencing AndX offsets, context counts of
 * 0xFFFF). Each must return a value or a well-formed DecodeIssue, never throw, and hold no more
 * than the input can justify (decodedSize counts bytes, characters and array elements).
 */

type Decoder = (bytes: Uint8Array) => unknown;

const decoders: [string, Decoder][] = [
  ["decodeSessionHeader(netbios)", (b) => decodeSessionHeader(b, "netbios")],
  ["decodeSessionHeader(direct-tcp)", (b) => decodeSessionHeader(b, "direct-tcp")],
  ["decodeSessionPacket(netbios)", (b) => decodeSessionPacket(b, "netbios")],
  ["decodeSessionPacket(direct-tcp)", (b) => decodeSessionPacket(b, "direct-tcp")],
  ["sniffSmbProtocol", smb.sniffSmbProtocol],
  ["decodeMultiProtocolNegotiateResponse", smb.decodeMultiProtocolNegotiateResponse],
  ...Object.entries(smb)
    .filter(([name, fn]) => /^decodeSmb[12]/.test(name) && typeof fn === "function")
    .map(([name, fn]) => [name, fn as Decoder] as [string, Decoder]),
  ["splitSmb2Compound", smb.splitSmb2Compound],
];

const samples = [...smb1Samples(), ...smb2Samples()].map((s) => s.bytes);

/** Plain checks (not expect) in the hot loop: tens of thousands of decoder calls per test. */
function checkOutcome(name: string, input: Uint8Array, decode: Decoder): void {
  const fail = (why: string): never => {
    throw new Error(`${name} ${why} on ${Buffer.from(input).toString("hex")}`);
  };
  let out: unknown;
  try {
    out = decode(input);
  } catch (error) {
    return fail(`threw ${String(error)}`);
  }
  if (smb.isDecodeIssue(out)) {
    if (typeof out.what !== "string" || typeof out.message !== "string") fail("gave a bad issue");
    if (!Number.isInteger(out.offset) || out.offset < 0) fail(`gave offset ${out.offset}`);
    if (out.needed !== undefined && !(out.needed > 0)) fail(`gave needed ${out.needed}`);
    return;
  }
  // Allocation bounded by the input: a count field can never buy more than the bytes present.
  const size = decodedSize(out);
  if (size > 2 * input.length + 64) fail(`holds ${size} units from ${input.length} bytes`);
}

function checkAll(input: Uint8Array): void {
  for (const [name, decode] of decoders) checkOutcome(name, input, decode);
}

/** Overwrite `width` bytes at `at` with `value` (little-endian), if they fit. */
function poke(bytes: Uint8Array, at: number, width: 1 | 2 | 4, value: number): void {
  for (let i = 0; i < width && at + i < bytes.length; i++)
    bytes[at + i] = (value >>> (8 * i)) & 0xff;
}

type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "extend"; readonly extra: Uint8Array }
  | {
      readonly kind: "poke";
      readonly at: number;
      readonly width: 1 | 2 | 4;
      readonly value: number;
    };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("extend" as const),
    extra: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant("poke" as const),
    at: fc.nat(),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const),
    value: fc.constantFrom(0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x10000, 64, 32),
  }),
);

function mutate(base: Uint8Array, steps: readonly Mutation[]): Uint8Array {
  let out = Uint8Array.from(base);
  for (const step of steps) {
    switch (step.kind) {
      case "flip":
        if (out.length > 0) out[step.at % out.length]! ^= 1 << step.bit;
        break;
      case "truncate":
        out = out.slice(0, step.at % (out.length + 1));
        break;
      case "extend": {
        const grown = new Uint8Array(out.length + step.extra.length);
        grown.set(out);
        grown.set(step.extra, out.length);
        out = grown;
        break;
      }
      case "poke":
        if (out.length > 0) poke(out, step.at % out.length, step.width, step.value);
        break;
    }
  }
  return out;
}

const u16Edge = fc.oneof(
  fc.constantFrom(0, 1, 2, 0x7fff, 0xfffe, 0xffff),
  fc.integer({ min: 0, max: 0xffff }),
);
const u32Edge = fc.oneof(
  fc.constantFrom(0, 63, 64, 112, 0xffff, 0x7fffffff, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);

describe("every SMB/NetBIOS decoder on hostile input", () => {
  it("covers the whole public decoder surface", () => {
    const names = decoders.map(([name]) => name);
    expect(names.filter((n) => n.startsWith("decodeSmb1")).length).toBeGreaterThanOrEqual(20);
    expect(names.filter((n) => n.startsWith("decodeSmb2")).length).toBeGreaterThanOrEqual(22);
  });

  it("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), checkAll), { numRuns: 1500 });
  });

  it("random bodies behind a valid SMB1 or SMB2 header of every command", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.uint8Array({ maxLength: 400 }),
        (sample, body) => {
          const headerLength = sample[0] === 0xff ? 32 : 64;
          const input = new Uint8Array(headerLength + body.length);
          input.set(sample.subarray(0, headerLength));
          input.set(body, headerLength);
          checkAll(input);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("mutated valid messages: bit flips, truncations, extensions, huge fields", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        (sample, steps) => checkAll(mutate(sample, steps)),
      ),
      { numRuns: 3000 },
    );
  });

  it("self-referencing and backward AndX offsets in every SMB1 AndX message", () => {
    const andx = smb1Samples()
      .map((s) => s.bytes)
      .filter((b) => [0x73, 0x75, 0xa2, 0x2e, 0x2f].includes(b[4]!) && b[32]! >= 2);
    expect(andx.length).toBeGreaterThan(5);
    fc.assert(
      fc.property(
        fc.constantFrom(...andx),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0x73, 0x75, 0xa2, 0x2e, 0x2f),
        (sample, offset, next) => {
          const bytes = Uint8Array.from(sample);
          bytes[33] = next;
          poke(bytes, 35, 2, offset);
          checkAll(bytes);
          poke(bytes, 35, 2, 32); // pointing at its own WordCount
          checkAll(bytes);
          const decoded = smb.decodeSmb1Message(bytes);
          expect(smb.isDecodeIssue(decoded) && decoded.what).toBe("andx");
        },
      ),
      { numRuns: 500 },
    );
  });

  it("negotiate context counts and offsets pushed to their limits", () => {
    const negotiate = smb2Samples()
      .map((s) => s.bytes)
      .filter((b) => b[12] === 0 && b[13] === 0);
    expect(negotiate).toHaveLength(2);
    const [request, response] = negotiate as [Uint8Array, Uint8Array];
    fc.assert(
      fc.property(u16Edge, u32Edge, (count, offset) => {
        const req = Uint8Array.from(request);
        poke(req, 64 + 32, 2, count); // NegotiateContextCount
        checkAll(req);
        poke(req, 64 + 28, 4, offset); // NegotiateContextOffset
        checkAll(req);
        const res = Uint8Array.from(response);
        poke(res, 64 + 6, 2, count);
        checkAll(res);
        poke(res, 64 + 60, 4, offset);
        checkAll(res);
      }),
      { numRuns: 500 },
    );
    const huge = Uint8Array.from(response);
    poke(huge, 64 + 6, 2, 0xffff);
    expect(smb.decodeSmb2NegotiateResponse(huge)).toMatchObject({ what: "negotiate-contexts" });
  });

  it("frames mutated messages the same way through the NetBIOS layer", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(mutation, { maxLength: 3 }),
        (sample, steps) => {
          const framed = mutate(encodeSessionMessage(sample), steps);
          checkAll(framed);
          const packet = decodeSessionPacket(framed, "direct-tcp");
          if (!smb.isDecodeIssue(packet) && packet.type === "session-message")
            checkAll(packet.payload);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
