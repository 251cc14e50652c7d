/**
 * The policy model: canonical address sets (properties over random ranges), the checks of
 * createPolicy (each a ShieldPolicyError naming the path), immutability, and the plan file's
 * policy document round trip.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeRanges, type AddressRange } from "../../src/targets/index.js";
import {
  addressSet,
  createPolicy,
  formatPrefix,
  policyFromDocument,
  PolicyDocumentSchema,
  policyToDocument,
  prefixesOf,
  rangesOf,
  service,
  ShieldPolicyError,
  term,
  zone,
} from "../../src/shield/index.js";

const v4Range = fc
  .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 1 << 20 }))
  .map(([first, size]): AddressRange => ({
    family: 4,
    first: BigInt(first),
    last: BigInt(Math.min(first + size, 0xffffffff)),
  }));
const v6Range = fc
  .tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 80n }))
  .map(([first, size]): AddressRange => ({
    family: 6,
    first,
    last: first + size > (1n << 128n) - 1n ? (1n << 128n) - 1n : first + size,
  }));

describe("address sets", () => {
  it("the CIDR cover holds exactly the addresses of the ranges", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(v4Range, v6Range), { maxLength: 6 }), (ranges) => {
        const prefixes = prefixesOf(ranges);
        expect(rangesOf(prefixes)).toEqual(normalizeRanges(ranges));
        // Canonical: the cover of the cover is itself, whatever the input order.
        expect(prefixesOf(rangesOf(prefixes))).toEqual(prefixes);
        expect(prefixesOf([...ranges].reverse())).toEqual(prefixes);
      }),
    );
  });

  it("is the same set whatever the spelling", () => {
    const a = addressSet("a", [
      "203.0.113.12",
      "203.0.113.10-203.0.113.11",
      "203.0.113.13",
      "2001:db8::1",
      "10.0.0.0/8",
    ]);
    const b = addressSet("a", [
      "10.1.2.3/8",
      "2001:DB8:0::1",
      "203.0.113.12-203.0.113.13",
      "203.0.113.10-203.0.113.12",
    ]);
    expect(a.addresses).toEqual(b.addresses);
    expect(a.addresses.map(formatPrefix)).toEqual([
      "10.0.0.0/8",
      "203.0.113.10/31",
      "203.0.113.12/31",
      "2001:db8::1/128",
    ]);
  });

  it("refuses what is not an address", () => {
    expect(() => zone("z", ["10.0.0.256"])).toThrow(ShieldPolicyError);
    expect(() => zone("z", ["host.example"])).toThrow(/zones\.z: host\.example/);
  });
});

describe("createPolicy", () => {
  const base = () => ({
    name: "p",
    zones: [zone("outside", ["198.51.100.0/24"])],
    addressSets: [addressSet("hosts", ["203.0.113.1"]), addressSet("v6", ["2001:db8::1"])],
    services: [service("smb", "tcp", [445])],
  });

  it("refuses names that could carry anything but an identifier", () => {
    for (const name of ['a"b', "a;b", "a\nb", "a\\b", "A", "-a", "1a", "a b", "a".repeat(25), ""]) {
      expect(() => zone(name, ["10.0.0.0/8"])).toThrow(ShieldPolicyError);
      expect(() => term({ name, action: "drop", direction: "in" })).toThrow(
        /not a lower-case kebab-case name/,
      );
    }
    expect(() => createPolicy({ name: "Bad" })).toThrow(ShieldPolicyError);
  });

  it("refuses duplicates, dangling references, empty sets and impossible terms, naming the path", () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => createPolicy({ ...base(), zones: [zone("hosts", ["10.0.0.0/8"])] }),
        /addressSets\.hosts: zones and address sets share one namespace/,
      ],
      [
        () =>
          createPolicy({
            ...base(),
            services: [service("smb", "tcp", [445]), service("smb", "udp", [445])],
          }),
        /services\.smb: this name is used twice/,
      ],
      [
        () =>
          createPolicy({
            ...base(),
            terms: [term({ name: "t", action: "drop", direction: "in", to: ["nowhere"] })],
          }),
        /terms\.t\.to: no zone or address set named nowhere/,
      ],
      [
        () =>
          createPolicy({
            ...base(),
            terms: [term({ name: "t", action: "drop", direction: "in", services: ["ftp"] })],
          }),
        /terms\.t\.services: no service named ftp/,
      ],
      [
        () =>
          createPolicy({
            ...base(),
            terms: [
              term({ name: "t", action: "drop", direction: "in" }),
              term({ name: "t", action: "accept", direction: "in" }),
            ],
          }),
        /terms\.t: this name is used twice/,
      ],
      [
        () =>
          createPolicy({
            ...base(),
            terms: [
              term({ name: "t", action: "drop", direction: "in", from: ["outside"], to: ["v6"] }),
            ],
          }),
        /terms\.t: matches no packet/,
      ],
      [
        () => createPolicy({ ...base(), addressSets: [addressSet("e", [])] }),
        /addressSets\.e: has no addresses/,
      ],
      [() => service("s", "tcp", [70000]), /services\.s\.ports: 70000 is not a port/],
      [() => service("s", "tcp", ["20-10"]), /is not a port/],
      [
        () => term({ name: "t", action: "drop", direction: "in", from: [] }),
        /terms\.t\.from: empty list/,
      ],
      [
        () => term({ name: "t", action: "allow" as never, direction: "in" }),
        /unknown action allow/,
      ],
    ];
    for (const [make, message] of cases) expect(make).toThrow(message);
  });

  it("is deeply frozen and defaults to deny all, stateful", () => {
    const policy = createPolicy({
      ...base(),
      terms: [
        term({ name: "t", action: "drop", direction: "in", to: ["hosts"], services: ["smb"] }),
      ],
    });
    expect(policy.stance).toEqual({ in: "deny", out: "deny", forward: "deny" });
    expect(policy.stateful).toBe(true);
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.terms)).toBe(true);
    expect(Object.isFrozen(policy.terms[0]!.to)).toBe(true);
    expect(Object.isFrozen(policy.addressSets[0]!.addresses[0])).toBe(true);
    expect(() => (policy.terms as unknown as unknown[]).push(1)).toThrow(TypeError);
  });
});

describe("policy documents", () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
  const policyArb = fc
    .record({
      names: fc.uniqueArray(name, { minLength: 3, maxLength: 3 }),
      ranges: fc.array(fc.oneof(v4Range, v6Range), { minLength: 1, maxLength: 4 }),
      ports: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 5 }),
      comment: fc.string(),
      stateful: fc.boolean(),
      action: fc.constantFrom("accept" as const, "drop" as const, "reject" as const),
      direction: fc.constantFrom("in" as const, "out" as const, "forward" as const),
      stance: fc.constantFrom("deny" as const, "allow" as const, "unset" as const),
    })
    .map((r) =>
      createPolicy({
        name: r.names[0]!,
        comment: r.comment,
        stateful: r.stateful,
        stance: { in: r.stance, out: "unset", forward: r.stance },
        zones: [zone(r.names[1]!, prefixesOf(r.ranges), r.comment)],
        services: [service(r.names[2]!, "udp", r.ports)],
        terms: [
          term({
            name: "t",
            action: r.action,
            direction: r.direction,
            from: [r.names[1]!],
            services: [r.names[2]!],
            log: true,
            comment: r.comment,
          }),
        ],
      }),
    );

  it("round-trips: document -> policy -> document is the identity", () => {
    fc.assert(
      fc.property(policyArb, (policy) => {
        const doc = policyToDocument(policy);
        const back = policyFromDocument(
          PolicyDocumentSchema.parse(JSON.parse(JSON.stringify(doc))),
        );
        expect(back).toEqual(policy);
      }),
      { numRuns: 100 },
    );
  });
});
