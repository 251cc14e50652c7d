import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createScope,
  defaultScope,
  LAB_RANGE,
  scopeViolation,
  type Scope,
} from "../../src/scope/index.js";
import { parseRangeExpression, TargetSpace, type AddressRange } from "../../src/targets/index.js";

function ranges(...expressions: string[]): AddressRange[] {
  return expressions.map((e) => {
    const r = parseRangeExpression(e);
    if ("reason" in r) throw new Error(r.reason);
    return r;
  });
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const LAB_FIRST = 0x7f140000; // 127.20.0.0
const LAB_LAST = 0x7f17ffff; // 127.23.255.255

describe("defaultScope", () => {
  const scope = defaultScope();

  it("allows the lab range and nothing else", () => {
    expect(LAB_RANGE).toBe("127.20.0.0/14");
    expect(scope.name).toBe("lab");
    expect(scope.source).toBe("default");
    for (const inside of ["127.20.0.0", "127.20.0.1", "127.23.255.255", "::ffff:127.21.0.1"]) {
      expect(scope.allows(inside), inside).toBe(true);
    }
    for (const outside of [
      "127.19.255.255",
      "127.24.0.0",
      "127.99.0.1",
      "127.0.0.1",
      "::1",
      "::ffff:127.99.0.1",
      "garbage",
      "",
    ]) {
      expect(scope.allows(outside), outside).toBe(false);
    }
  });

  it("allowsV4 agrees with allows, densely around the edges", () => {
    const near = (edge: number) =>
      fc.integer({ min: Math.max(0, edge - 3), max: Math.min(0xffffffff, edge + 3) });
    const addr = fc.oneof(
      near(LAB_FIRST),
      near(LAB_LAST),
      near(0),
      near(0xffffffff),
      fc.integer({ min: 0, max: 0xffffffff }),
    );
    fc.assert(
      fc.property(addr, (n) => {
        const expected = n >= LAB_FIRST && n <= LAB_LAST;
        expect(scope.allowsV4(n)).toBe(expected);
        expect(scope.allows(ipv4(n))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    for (const notAnAddress of [Number.NaN, -1, LAB_FIRST + 0.5, 2 ** 32 + LAB_FIRST]) {
      expect(scope.allowsV4(notAnAddress), String(notAnAddress)).toBe(false);
    }
  });

  it("describes itself", () => {
    expect(scope.describe()).toBe('scope "lab" (127.20.0.0/14) from built-in default');
  });
});

describe("createScope", () => {
  it("subtracts deny from allow", () => {
    const scope = createScope({
      name: "x",
      source: "x.yaml",
      allow: ranges("127.20.0.0/16"),
      deny: ranges("127.20.5.0/24", "127.20.9.9"),
    });
    expect(scope.allows("127.20.4.255")).toBe(true);
    expect(scope.allows("127.20.5.0")).toBe(false);
    expect(scope.allows("127.20.5.255")).toBe(false);
    expect(scope.allows("127.20.6.0")).toBe(true);
    expect(scope.allowsV4(0x7f140909)).toBe(false);
    expect(scope.allowsV4(0x7f14090a)).toBe(true);
  });

  it("judges IPv4-mapped IPv6 as the IPv4 address it reaches", () => {
    const scope = createScope({
      name: "x",
      source: "x",
      allow: ranges("127.20.0.0/24", "::ffff:127.30.0.0/120"),
      deny: ranges("::ffff:127.20.0.5"),
    });
    expect(scope.allows("127.30.0.9")).toBe(true); // written as mapped, reaches v4
    expect(scope.allows("::ffff:127.30.0.9")).toBe(true);
    expect(scope.allows("127.20.0.5")).toBe(false); // denied through its mapped spelling
    expect(scope.allows("::ffff:127.20.0.5")).toBe(false);
    expect(scope.allows("::ffff:127.20.0.6")).toBe(true);
  });

  it("matches a Set model for random allow/deny lists", () => {
    const r = fc
      .tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
    const base = 0x7f140000;
    const toRange = ([a, b]: readonly [number, number]): AddressRange => ({
      family: 4,
      first: BigInt(base + a),
      last: BigInt(base + b),
    });
    fc.assert(
      fc.property(
        fc.array(r, { minLength: 1, maxLength: 5 }),
        fc.array(r, { maxLength: 5 }),
        fc.integer({ min: 0, max: 62 }),
        (allow, deny, probe) => {
          const scope = createScope({
            name: "m",
            source: "m",
            allow: allow.map(toRange),
            deny: deny.map(toRange),
          });
          const inside = (list: (readonly [number, number])[]) =>
            list.some(([a, b]) => probe >= a && probe <= b);
          const expected = inside(allow) && !inside(deny);
          expect(scope.allowsV4(base + probe)).toBe(expected);
          expect(scope.allows(ipv4(base + probe))).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("digest", () => {
  it("depends on the normalised ranges only", () => {
    const a = createScope({
      name: "a",
      source: "a",
      allow: ranges("127.20.0.0/15", "127.22.0.0/15"),
    });
    const b = createScope({ name: "b", source: "b", allow: ranges(LAB_RANGE) });
    const c = createScope({
      name: "a",
      source: "a",
      allow: ranges(LAB_RANGE),
      deny: ranges("127.20.0.1"),
    });
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(a.digest).toBe(b.digest);
    expect(a.digest).toBe(defaultScope().digest);
    expect(c.digest).not.toBe(a.digest);
  });

  it("does not depend on the network namespace", () => {
    const def = { name: "t", source: "t", allow: ranges("192.0.2.0/24") };
    expect(createScope(def, { initialNetworkNamespace: true }).digest).toBe(
      createScope(def, { initialNetworkNamespace: false }).digest,
    );
  });
});

describe("TEST-NET guard", () => {
  // Pure parsing: these scopes only answer questions, nothing is sent anywhere.
  const def = {
    name: "docs",
    source: "docs.yaml",
    allow: ranges("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "127.20.0.0/16"),
  };

  it("refuses TEST-NET from the initial network namespace whatever the scope says", () => {
    const scope = createScope(def, { initialNetworkNamespace: true });
    expect(scope.testNetGuard).toBe(true);
    for (const a of ["192.0.2.1", "198.51.100.7", "203.0.113.255", "::ffff:192.0.2.1"])
      expect(scope.allows(a), a).toBe(false);
    expect(scope.allowsV4(0xc0000201)).toBe(false);
    expect(scope.allows("127.20.0.1")).toBe(true);
    expect(scope.describe()).toContain("TEST-NET refused in the initial network namespace");
    const error = scopeViolation("192.0.2.1", scope);
    expect(error.code).toBe("RINGFENCE_SCOPE_VIOLATION");
    expect(error.message).toMatch(/192\.0\.2\.1 is in a TEST-NET range.*initial network namespace/);
    expect(error.hint).toMatch(/network namespace/);
  });

  it("lets the scope decide inside a network namespace", () => {
    const scope = createScope(def, { initialNetworkNamespace: false });
    expect(scope.testNetGuard).toBe(false);
    expect(scope.allows("192.0.2.1")).toBe(true);
    expect(scope.allowsV4(0xcb0071ff)).toBe(true);
    expect(scope.describe()).not.toContain("TEST-NET");
    expect(
      createScope(
        { ...def, allow: ranges("127.20.0.0/16") },
        { initialNetworkNamespace: false },
      ).allows("192.0.2.1"),
    ).toBe(false);
  });
});

describe("firstOutside", () => {
  const scope: Scope = defaultScope();

  it("is undefined when the space is inside", () => {
    expect(scope.firstOutside(TargetSpace.fromRanges(ranges("127.20.0.0/14")))).toBeUndefined();
    expect(
      scope.firstOutside(TargetSpace.fromRanges(ranges("::ffff:127.20.0.0/120"))),
    ).toBeUndefined();
  });

  it("names the first address in index order", () => {
    expect(scope.firstOutside(TargetSpace.fromRanges(ranges("127.23.255.250-127.24.0.5")))).toBe(
      "127.24.0.0",
    );
    expect(
      scope.firstOutside(TargetSpace.fromRanges(ranges("127.20.0.1", "127.99.0.1", "127.99.0.2"))),
    ).toBe("127.99.0.1");
    expect(scope.firstOutside(TargetSpace.fromRanges(ranges("127.20.0.1", "::1")))).toBe("::1");
    expect(scope.firstOutside(TargetSpace.fromRanges(ranges("127.19.255.255-127.20.0.3")))).toBe(
      "127.19.255.255",
    );
  });

  it("answers for a whole /8 without iterating it", () => {
    // 2^32 addresses: iterating would take minutes, range algebra takes microseconds.
    expect(scope.firstOutside(TargetSpace.fromRanges(ranges("0.0.0.0/0")))).toBe("0.0.0.0");
    expect(
      scope.firstOutside(TargetSpace.fromRanges(ranges("127.20.0.0/14", "127.24.0.0/13"))),
    ).toBe("127.24.0.0");
  });

  it("agrees with allows() on random spaces", () => {
    const r = fc
      .tuple(fc.integer({ min: 0, max: 0x3ffff }), fc.integer({ min: 0, max: 64 }))
      .map(([a, len]): AddressRange => ({
        family: 4,
        first: BigInt(0x7f120000 + a),
        last: BigInt(0x7f120000 + a + len),
      }));
    fc.assert(
      fc.property(fc.array(r, { minLength: 1, maxLength: 4 }), (list) => {
        const space = TargetSpace.fromRanges(list);
        let expected: string | undefined;
        for (let i = 0; i < space.size && expected === undefined; i++) {
          if (!scope.allows(space.at(i))) expected = space.at(i);
        }
        expect(scope.firstOutside(space)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe("scopeViolation", () => {
  it("says what is outside, which scope, and how to authorize it", () => {
    const error = scopeViolation("127.99.0.1", defaultScope());
    expect(error.code).toBe("RINGFENCE_SCOPE_VIOLATION");
    expect(error.message).toBe(
      '127.99.0.1 is outside the authorized scope "lab" (127.20.0.0/14); add it to a scope file and pass --scope FILE if you are authorized to scan it',
    );
  });

  it("abbreviates long scopes", () => {
    const scope = createScope({
      name: "many",
      source: "m",
      allow: ranges(
        "127.20.0.1",
        "127.20.0.3",
        "127.20.0.5",
        "127.20.0.7",
        "127.20.0.9",
        "127.20.0.11",
      ),
    });
    expect(scopeViolation("127.99.0.1", scope).message).toContain(
      "(127.20.0.1, 127.20.0.3, 127.20.0.5, 127.20.0.7 and 2 more)",
    );
  });
});
