import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatAddress, IPV4_MAX, IPV6_MAX } from "../../src/targets/address.js";
import { formatRange, type AddressRange } from "../../src/targets/address-range.js";
import {
  parseRangeExpression,
  parseTargetExpression,
  splitExpressions,
  type TargetExpression,
} from "../../src/targets/target-expression.js";

function range(token: string): AddressRange {
  const parsed = parseTargetExpression(token);
  if (parsed.kind !== "range")
    throw new Error(`${token} did not parse as a range: ${JSON.stringify(parsed)}`);
  return parsed.range;
}

const v4 = (text: string): bigint => {
  const parts = text.split(".").map(BigInt);
  return parts.reduce((acc, p) => acc * 256n + p, 0n);
};

describe("parseTargetExpression", () => {
  it("reads single addresses of both families", () => {
    expect(range("127.20.0.1")).toEqual({
      family: 4,
      first: v4("127.20.0.1"),
      last: v4("127.20.0.1"),
    });
    expect(range("::1")).toEqual({ family: 6, first: 1n, last: 1n });
  });

  it("normalises CIDR blocks with host bits set", () => {
    expect(range("127.20.0.5/20")).toEqual({
      family: 4,
      first: v4("127.20.0.0"),
      last: v4("127.20.15.255"),
    });
    expect(range("127.20.0.0/32")).toEqual({
      family: 4,
      first: v4("127.20.0.0"),
      last: v4("127.20.0.0"),
    });
    expect(range("0.0.0.0/0")).toEqual({ family: 4, first: 0n, last: IPV4_MAX });
    const fd = range("fd00::1/120");
    expect(formatRange(fd)).toBe("fd00::/120");
  });

  it("reads dash ranges, including ones crossing octet boundaries", () => {
    expect(range("127.20.0.10-127.20.3.200")).toEqual({
      family: 4,
      first: v4("127.20.0.10"),
      last: v4("127.20.3.200"),
    });
    // Documentation range: parsed only, nothing is sent.
    const doc = range("198.51.100.0-198.51.101.255");
    expect(doc.last - doc.first + 1n).toBe(512n);
    expect(range("fd00::1-fd00::10")).toEqual({
      family: 6,
      first: (0xfd00n << 112n) + 1n,
      last: (0xfd00n << 112n) + 16n,
    });
  });

  it("reads nmap's short last-octet form", () => {
    expect(range("127.20.0.1-50")).toEqual({
      family: 4,
      first: v4("127.20.0.1"),
      last: v4("127.20.0.50"),
    });
    expect(range("127.20.0.7-7")).toEqual({
      family: 4,
      first: v4("127.20.0.7"),
      last: v4("127.20.0.7"),
    });
  });

  it("recognises hostnames, lower-cased, trailing dot dropped", () => {
    expect(parseTargetExpression("Lab-DC01.Example.")).toEqual({
      kind: "hostname",
      name: "lab-dc01.example",
    });
    expect(parseTargetExpression("localhost")).toEqual({ kind: "hostname", name: "localhost" });
  });

  it.each<[string, RegExp]>([
    ["127.20.0.256", /not a valid IPv4 address/],
    ["127.20.0", /not a valid IPv4 address/],
    ["127.020.0.1", /leading zeros/],
    ["127.20.0.1/33", /prefix length \/33.*\/0 to \/32/],
    ["::1/129", /prefix length \/129.*\/0 to \/128/],
    ["127.20.0.1/", /prefix length/],
    ["127.20.0.1/abc", /prefix length/],
    ["127.20.0.9-127.20.0.1", /end is below its start/],
    ["127.20.0.9-5", /end is below its start/],
    ["127.20.0.1-256", /above 255/],
    ["127.20.0.1-::1", /mix IPv4 and IPv6/],
    ["127.20.0.1-127.20.0.x", /not a valid IPv4 address/],
    ["127.20.0.*", /wildcards/],
    ["127.20.0.1,2", /one expression per entry/],
    ["fe80::1%eth0", /zone ids/],
    ["[::1]", /brackets/],
    ["1::2::3", /not a valid IPv6 address/],
    ["-host", /not an address/],
    ["bad_host!", /not an address/],
    ["host.123", /not an address/],
    ["", /empty/],
  ])("refuses %s", (token, reason) => {
    const parsed = parseTargetExpression(token);
    expect(parsed.kind).toBe("invalid");
    expect((parsed as Extract<TargetExpression, { kind: "invalid" }>).reason).toMatch(reason);
  });

  it("round-trips formatRange for any range", () => {
    const rangeArb = fc
      .constantFrom(4 as const, 6 as const)
      .chain((family) => {
        const max = family === 4 ? IPV4_MAX : IPV6_MAX;
        return fc.tuple(fc.constant(family), fc.bigInt(0n, max), fc.bigInt(0n, max));
      })
      .map(([family, a, b]): AddressRange => ({
        family,
        first: a < b ? a : b,
        last: a < b ? b : a,
      }));
    fc.assert(
      fc.property(rangeArb, (r) => {
        expect(range(formatRange(r))).toEqual(r);
      }),
    );
  });

  it("gives every CIDR block the right size and alignment", () => {
    const cidrArb = fc.constantFrom(4 as const, 6 as const).chain((family) => {
      const bits = family === 4 ? 32 : 128;
      return fc.tuple(
        fc.constant(family),
        fc.bigInt(0n, family === 4 ? IPV4_MAX : IPV6_MAX),
        fc.integer({ min: 0, max: bits }),
      );
    });
    fc.assert(
      fc.property(cidrArb, ([family, value, length]) => {
        const r = range(`${formatAddress(family, value)}/${length}`);
        const size = 1n << BigInt((family === 4 ? 32 : 128) - length);
        expect(r.last - r.first + 1n).toBe(size);
        expect(r.first % size).toBe(0n);
        expect(r.first <= value && value <= r.last).toBe(true);
      }),
    );
  });
});

describe("parseRangeExpression", () => {
  it("refuses hostnames", () => {
    expect(parseRangeExpression("lab.example")).toEqual({
      reason: expect.stringMatching(/hostnames are not allowed/),
    });
    expect(parseRangeExpression("127.20.0.0/14")).toEqual({
      family: 4,
      first: v4("127.20.0.0"),
      last: v4("127.23.255.255"),
    });
  });
});

describe("splitExpressions", () => {
  it("splits on commas and any whitespace", () => {
    expect(splitExpressions(" 127.20.0.1,127.20.0.2\t::1 \n,, lab.example ")).toEqual([
      "127.20.0.1",
      "127.20.0.2",
      "::1",
      "lab.example",
    ]);
  });
});
