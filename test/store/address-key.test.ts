import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressFamily, addressSortKey } from "../../src/store/address-key.js";

function ipv4ToNumber(address: string): number {
  return address.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

function ipv6ToBigInt(groups: number[]): bigint {
  return groups.reduce((sum, group) => (sum << 16n) + BigInt(group), 0n);
}

/** The shortest RFC 5952-ish text for eight groups, with the longest zero run compressed. */
function ipv6Text(groups: number[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start === -1) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}

describe("addressSortKey", () => {
  it("orders IPv4 addresses numerically", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), (a, b) => {
        // SQLite and PostgreSQL (C collation) compare text by bytes, like < on these ASCII keys.
        const ka = addressSortKey(a);
        const kb = addressSortKey(b);
        expect(ka < kb ? -1 : ka > kb ? 1 : 0).toBe(Math.sign(ipv4ToNumber(a) - ipv4ToNumber(b)));
      }),
    );
  });

  it("orders IPv6 addresses numerically, however they are written", () => {
    const groups = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    });
    fc.assert(
      fc.property(groups, groups, (a, b) => {
        const ka = addressSortKey(ipv6Text(a));
        const kb = addressSortKey(ipv6Text(b));
        const numeric =
          ipv6ToBigInt(a) < ipv6ToBigInt(b) ? -1 : ipv6ToBigInt(a) > ipv6ToBigInt(b) ? 1 : 0;
        expect(ka < kb ? -1 : ka > kb ? 1 : 0).toBe(numeric);
        expect(addressSortKey(a.map((g) => g.toString(16)).join(":"))).toBe(ka);
      }),
    );
  });

  it("expands the special forms", () => {
    expect(addressSortKey("::")).toBe("6" + "0".repeat(32));
    expect(addressSortKey("::1")).toBe("6" + "0".repeat(31) + "1");
    expect(addressSortKey("::ffff:192.0.2.1")).toBe("6" + "0".repeat(20) + "ffffc0000201");
    expect(addressSortKey("fe80::1%eth0")).toBe("6fe80" + "0".repeat(27) + "1%eth0");
    expect(addressSortKey("255.255.255.255") < addressSortKey("::")).toBe(true);
  });

  it("refuses what is not an IP literal", () => {
    expect(() => addressFamily("dc1.example")).toThrow(TypeError);
    expect(addressFamily("192.0.2.1")).toBe("ipv4");
    expect(addressFamily("2001:db8::1")).toBe("ipv6");
  });
});
