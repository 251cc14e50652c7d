import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  NIL_UUID,
  NULL_CONTEXT_HANDLE,
  NdrReader,
  NdrWriter,
  formatUuid,
  isNullContextHandle,
  isUuid,
  parseUuid,
} from "../../src/protocols/dcerpc/index.js";
import { contextHandleArb, fromDump, hex, u16, u32, u8, uuidArb } from "./arbitraries.js";

describe("UUID wire form (C706 Appendix A; research §2.2)", () => {
  it("writes the first three fields little-endian and the last 8 bytes as they are", () => {
    // The research doc's NDR transfer syntax bytes.
    expect(hex(parseUuid("8a885d04-1ceb-11c9-9fe8-08002b104860"))).toBe(
      "045d888aeb1cc9119fe808002b104860",
    );
    expect(formatUuid(fromDump("04 5d 88 8a eb 1c c9 11 9f e8 08 00 2b 10 48 60"))).toBe(
      "8a885d04-1ceb-11c9-9fe8-08002b104860",
    );
  });

  it("writes every field big-endian for a big-endian stream", () => {
    expect(hex(parseUuid("8A885D04-1CEB-11C9-9FE8-08002B104860", false))).toBe(
      "8a885d041ceb11c99fe808002b104860",
    );
  });

  it("round-trips and rejects malformed text", () => {
    fc.assert(
      fc.property(uuidArb, fc.boolean(), (uuid, littleEndian) => {
        expect(formatUuid(parseUuid(uuid, littleEndian), 0, littleEndian)).toBe(uuid);
      }),
    );
    expect(isUuid("8a885d04-1ceb-11c9-9fe8-08002b104860")).toBe(true);
    expect(() => parseUuid("8a885d04-1ceb-11c9-9fe8-08002b10486")).toThrow(TypeError);
    expect(() => formatUuid(new Uint8Array(15))).toThrow(RangeError);
  });
});

describe("NdrWriter / NdrReader primitives (C706 §14.2)", () => {
  it("aligns each primitive to its size from the stream start", () => {
    const w = new NdrWriter();
    w.u8(1).u16(0x0203).u8(4).u32(0x05060708).u8(9).u64(0x0a0b0c0d0e0f1011n);
    expect(hex(w.toBytes())).toBe(
      "01" + "00" + "0302" + "04" + "000000" + "08070605" + "09" + "000000" + "11100f0e0d0c0b0a",
    );
    const r = new NdrReader(w.toBytes());
    expect([r.u8(), r.u16(), r.u8(), r.u32(), r.u8(), r.u64()]).toEqual([
      1,
      0x0203,
      4,
      0x05060708,
      9,
      0x0a0b0c0d0e0f1011n,
    ]);
    expect(r.remaining).toBe(0);
    expect(r.issue).toBeUndefined();
  });

  it("reads big-endian streams", () => {
    const r = new NdrReader(fromDump("00 00 00 2a 00 07"), { littleEndian: false });
    expect([r.u32(), r.u16()]).toEqual([42, 7]);
  });

  it("reports truncation once, then returns zeros (sticky issue)", () => {
    const r = new NdrReader(Uint8Array.of(1, 2, 3), { baseOffset: 24 });
    expect(r.u16()).toBe(0x0201);
    expect(r.u32("field")).toBe(0);
    expect(r.issue).toMatchObject({ kind: "decode-issue", what: "field", offset: 26, needed: 1 });
    expect(r.u8()).toBe(0);
    expect(r.uuid()).toBe(NIL_UUID);
    expect(r.result("value")).toEqual(r.issue);
  });

  it("encodes context handles as 20 bytes", () => {
    const handle = { attributes: 0, uuid: "2f1e3d4c-5b6a-7980-8796-a5b4c3d2e1f0" };
    const w = new NdrWriter().contextHandle(handle);
    expect(w.toBytes().length).toBe(20);
    expect(new NdrReader(w.toBytes()).contextHandle()).toEqual(handle);
    expect(isNullContextHandle(NULL_CONTEXT_HANDLE)).toBe(true);
    expect(isNullContextHandle(handle)).toBe(false);
  });

  it("throws on values the wire cannot carry (programming errors)", () => {
    expect(() => new NdrWriter().u8(256)).toThrow(RangeError);
    expect(() => new NdrWriter().u16(-1)).toThrow(RangeError);
    expect(() => new NdrWriter().u32(2 ** 32)).toThrow(RangeError);
    expect(() => new NdrWriter().u32(1.5)).toThrow(RangeError);
    expect(() => new NdrWriter().varyingString("\u0100", 1)).toThrow(RangeError);
  });
});

describe("arrays and strings (C706 §14.3.3-4)", () => {
  it("writes a wchar_t conformant varying string with its NUL, keeping embedded NULs", () => {
    // The Check A object name (research §2.4.1): max 10, offset 0, actual 10.
    const w = new NdrWriter().conformantVaryingString("\\\\A\0A\\\\AA", 2);
    expect(hex(w.toBytes())).toBe(
      "0a000000" + "00000000" + "0a000000" + "5c005c004100000041005c005c004100410000" + "00",
    );
    expect(new NdrReader(w.toBytes()).conformantVaryingString(2)).toBe("\\\\A\0A\\\\AA");
  });

  it("rejects strings without a terminator or with count 0", () => {
    const noNul = new NdrReader(fromDump("02 00 00 00 00 00 00 00 02 00 00 00 41 00 42 00"));
    expect(noNul.conformantVaryingString(2)).toBe("");
    expect(noNul.issue?.message).toMatch(/NUL/);
    const empty = new NdrReader(fromDump("00 00 00 00 00 00 00 00 00 00 00 00"));
    empty.conformantVaryingString(1);
    expect(empty.issue?.message).toMatch(/actual_count 0/);
  });

  it("rejects a varying array whose offset + actual_count exceeds max_count", () => {
    const r = new NdrReader(fromDump("01 00 00 00 00 00 00 00 02 00 00 00 41 42 00 00"));
    r.conformantVaryingString(1);
    expect(r.issue?.message).toMatch(/exceeds max_count 1/);
  });

  it("refuses a conformant count of 0xFFFFFFFF before allocating anything", () => {
    const r = new NdrReader(fromDump("ff ff ff ff 01 02 03 04"));
    const octets = r.conformantOctets();
    expect(octets.length).toBe(0);
    expect(r.issue).toMatchObject({ what: "conformant-octets", needed: 0xffffffff - 4 });
    // Same for a varying string claiming 2^32-1 wide characters.
    const s = new NdrReader(fromDump("ff ff ff ff 00 00 00 00 ff ff ff ff 41 00 00 00"));
    expect(s.conformantVaryingString(2)).toBe("");
    expect(s.issue?.needed).toBe(0xffffffff * 2 - 4);
  });

  it("lets max_count of a conformant-varying array exceed the bytes present", () => {
    // epm sends max_count = max_ents (500) with far fewer entries.
    const r = new NdrReader(fromDump("f4 01 00 00 00 00 00 00 01 00 00 00 07"));
    const max = r.maxCount();
    expect(r.variance(1, max)).toEqual({ offset: 0, actualCount: 1 });
    expect(r.u8()).toBe(7);
    expect(r.issue).toBeUndefined();
  });
});

describe("pointers (C706 §14.3.10-12)", () => {
  it("numbers unique pointers MIDL-style and full pointers from 1", () => {
    const w = new NdrWriter();
    expect([w.uniquePointer(true), w.uniquePointer(false), w.uniquePointer(true)]).toEqual([
      0x20000, 0, 0x20004,
    ]);
    expect([w.fullPointer(true), w.fullPointer(true)]).toEqual([1, 2]);
  });

  it("reads a non-zero unique referent as present, NULL as absent", () => {
    const r = new NdrReader(fromDump("04 00 02 00 00 00 00 00"));
    expect(r.uniquePointer()).toEqual({ referentId: 0x20004, hasReferent: true });
    expect(r.uniquePointer()).toEqual({ referentId: 0, hasReferent: false });
  });

  it("treats a repeated full-pointer id as an alias with no second referent", () => {
    const r = new NdrReader(fromDump("03 00 00 00 03 00 00 00 00 00 00 00"));
    expect(r.fullPointer()).toEqual({ referentId: 3, hasReferent: true });
    expect(r.fullPointer()).toEqual({ referentId: 3, hasReferent: false });
    expect(r.fullPointer()).toEqual({ referentId: 0, hasReferent: false });
  });
});

describe("properties", () => {
  type Op =
    | { t: "u8"; v: number }
    | { t: "u16"; v: number }
    | { t: "u32"; v: number }
    | { t: "u64"; v: bigint }
    | { t: "uuid"; v: string }
    | { t: "handle"; v: { attributes: number; uuid: string } }
    | { t: "wstr"; v: string }
    | { t: "cstr"; v: string }
    | { t: "octets"; v: Uint8Array };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    u8.map((v): Op => ({ t: "u8", v })),
    u16.map((v): Op => ({ t: "u16", v })),
    u32.map((v): Op => ({ t: "u32", v })),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v): Op => ({ t: "u64", v })),
    uuidArb.map((v): Op => ({ t: "uuid", v })),
    contextHandleArb.map((v): Op => ({ t: "handle", v })),
    fc.string({ unit: "binary", maxLength: 20 }).map((v): Op => ({ t: "wstr", v })),
    fc
      .array(fc.integer({ min: 0, max: 0xff }), { maxLength: 20 })
      .map((codes): Op => ({ t: "cstr", v: String.fromCharCode(...codes) })),
    fc.uint8Array({ maxLength: 20 }).map((v): Op => ({ t: "octets", v })),
  );

  it("reads back any sequence of primitives in either byte order", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 12 }), fc.boolean(), (ops, littleEndian) => {
        const w = new NdrWriter({ littleEndian });
        for (const op of ops) {
          if (op.t === "u8") w.u8(op.v);
          else if (op.t === "u16") w.u16(op.v);
          else if (op.t === "u32") w.u32(op.v);
          else if (op.t === "u64") w.u64(op.v);
          else if (op.t === "uuid") w.uuid(op.v);
          else if (op.t === "handle") w.contextHandle(op.v);
          else if (op.t === "wstr") w.conformantVaryingString(op.v, 2);
          else if (op.t === "cstr") w.conformantVaryingString(op.v, 1);
          else w.conformantOctets(op.v);
        }
        const r = new NdrReader(w.toBytes(), { littleEndian });
        for (const op of ops) {
          const value =
            op.t === "u8"
              ? r.u8()
              : op.t === "u16"
                ? r.u16()
                : op.t === "u32"
                  ? r.u32()
                  : op.t === "u64"
                    ? r.u64()
                    : op.t === "uuid"
                      ? r.uuid()
                      : op.t === "handle"
                        ? r.contextHandle()
                        : op.t === "wstr"
                          ? r.conformantVaryingString(2)
                          : op.t === "cstr"
                            ? r.conformantVaryingString(1)
                            : r.conformantOctets();
          expect(value).toEqual(op.v);
        }
        expect(r.issue).toBeUndefined();
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws and never over-reads on random input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, littleEndian) => {
        const r = new NdrReader(bytes, { littleEndian });
        r.conformantVaryingString(2);
        r.conformantOctets();
        r.contextHandle();
        r.u64();
        r.varyingString(1, 64);
        expect(r.offset).toBeLessThanOrEqual(bytes.length);
        expect(r.remaining).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 1000 },
    );
  });
});
