import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatAddress,
  formatIPv4,
  formatIPv6,
  IPV6_MAX,
  parseAddress,
  parseIPv4,
  parseIPv6,
} from "../../src/targets/address.js";

/** The WHATWG URL parser canonicalises IPv6 hosts the RFC 5952 way (minus the mapped form). */
function urlCanonical(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

const groupsArb = fc.array(
  fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
  { minLength: 8, maxLength: 8 },
);

function groupsValue(groups: readonly number[]): bigint {
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

describe("IPv4 text", () => {
  it("parses dotted quads and refuses everything else", () => {
    expect(parseIPv4("127.20.0.1")).toBe(0x7f140001);
    expect(parseIPv4("0.0.0.0")).toBe(0);
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
    for (const bad of [
      "127.1",
      "127.20.0.256",
      "010.0.0.1",
      "1.2.3.4.5",
      "1.2.3.",
      " 1.2.3.4",
      "a.b.c.d",
      "",
    ]) {
      expect(parseIPv4(bad), bad).toBeUndefined();
    }
  });

  it("round-trips every uint32", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const text = formatIPv4(n);
        expect(isIP(text)).toBe(4);
        expect(parseIPv4(text)).toBe(n);
      }),
    );
  });
});

describe("IPv6 text", () => {
  it("formats the RFC 5952 examples", () => {
    const cases: [string, string][] = [
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single 0 group stays
      ["2001:DB8::AAAA", "2001:db8::aaaa"],
      ["::", "::"],
      ["::1", "::1"],
      ["1::", "1::"],
      ["fd00:0:0:0:0:0:0:0", "fd00::"],
      ["::ffff:7f14:1", "::ffff:127.20.0.1"], // section 5: mapped keeps the dotted quad
      ["::ffff:127.20.0.1", "::ffff:127.20.0.1"],
      ["64:ff9b::127.20.0.1", "64:ff9b::7f14:1"],
    ];
    for (const [input, canonical] of cases) {
      const value = parseIPv6(input);
      expect(value, input).toBeDefined();
      expect(formatIPv6(value as bigint)).toBe(canonical);
    }
  });

  it("refuses malformed text", () => {
    for (const bad of [
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":1::",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "g::",
      "::1.2.3",
      "1.2.3.4::",
      "fe80::1%eth0",
      "[::1]",
      "",
    ]) {
      expect(parseIPv6(bad), bad).toBeUndefined();
    }
  });

  it("formats like the URL parser for every non-mapped address", () => {
    fc.assert(
      fc.property(groupsArb, (groups) => {
        const value = groupsValue(groups);
        fc.pre(value >> 32n !== 0xffffn);
        expect(formatIPv6(value)).toBe(urlCanonical(formatIPv6(value)));
        expect(formatIPv6(value)).toBe(urlCanonical(groups.map((g) => g.toString(16)).join(":")));
      }),
    );
  });

  it("parses every spelling of an address back to it", () => {
    const spelling = fc.record({
      groups: groupsArb,
      pad: fc.boolean(),
      upper: fc.boolean(),
      compressAt: fc.integer({ min: 0, max: 7 }),
      compressLength: fc.integer({ min: 1, max: 8 }),
      dottedTail: fc.boolean(),
    });
    fc.assert(
      fc.property(spelling, ({ groups, pad, upper, compressAt, compressLength, dottedTail }) => {
        let parts = groups.map((g) => {
          const hex = g.toString(16);
          return pad ? hex.padStart(4, "0") : hex;
        });
        if (dottedTail) {
          const low = ((groups[6] ?? 0) << 16) | (groups[7] ?? 0);
          parts = [...parts.slice(0, 6), formatIPv4(low >>> 0)];
        }
        let text = parts.join(":");
        // Compress a run of zero groups when there is one at compressAt.
        const end = Math.min(compressAt + compressLength, dottedTail ? 6 : 8);
        const run = groups.slice(compressAt, end);
        if (end > compressAt && run.every((g) => g === 0)) {
          text = `${parts.slice(0, compressAt).join(":")}::${parts.slice(end).join(":")}`;
        }
        if (upper) text = text.toUpperCase();
        expect(isIP(text)).toBe(6);
        expect(parseIPv6(text)).toBe(groupsValue(groups));
      }),
    );
  });

  it("round-trips through parseAddress and formatAddress", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: IPV6_MAX }), (value) => {
        const text = formatAddress(6, value);
        expect(isIP(text)).toBe(6);
        expect(parseAddress(text)).toEqual({ family: 6, value });
      }),
    );
  });
});
