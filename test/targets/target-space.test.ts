import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RingfenceError, type ErrorCode } from "../../src/errors.js";
import { buildTargetSpace, TargetSpace, type AddressRange } from "../../src/targets/index.js";
import { formatAddress } from "../../src/targets/address.js";

/** Resolves from a table; anything else fails like getaddrinfo does. Never touches DNS. */
function fakeResolver(table: Record<string, string[]>): (host: string) => Promise<string[]> {
  return async (host) => {
    const answer = table[host];
    if (answer === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return answer;
  };
}

async function expectError(
  promise: Promise<unknown>,
  code: ErrorCode,
  message: RegExp,
): Promise<RingfenceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RingfenceError);
  expect((error as RingfenceError).code).toBe(code);
  expect((error as RingfenceError).message).toMatch(message);
  expect((error as RingfenceError).message).not.toContain("\n");
  return error as RingfenceError;
}

function addresses(space: TargetSpace): string[] {
  return Array.from({ length: space.size }, (_, i) => space.at(i));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ringfence-targets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("buildTargetSpace", () => {
  it("normalises a CIDR block with host bits set", async () => {
    const space = await buildTargetSpace({ targets: ["127.20.0.5/20"] });
    expect(space.size).toBe(4096);
    expect(space.at(0)).toBe("127.20.0.0");
    expect(space.at(4095)).toBe("127.20.15.255");
    expect(space.describe()).toBe("4096 addresses in 1 range");
    expect(space.hasIPv6).toBe(false);
  });

  it("merges duplicates and overlaps across arguments", async () => {
    const space = await buildTargetSpace({
      targets: ["127.20.0.0/24", "127.20.0.10-127.20.1.5,127.20.0.7", "127.20.1.6"],
    });
    expect(space.ranges).toHaveLength(1);
    expect(space.size).toBe(256 + 7);
  });

  it("applies exclusions exactly at range edges (nmap #2257)", async () => {
    const space = await buildTargetSpace({
      targets: ["127.20.0.0/24"],
      exclude: ["127.20.0.0,127.20.0.255", "127.20.0.100-127.20.0.199"],
    });
    expect(space.size).toBe(154);
    expect(space.at(0)).toBe("127.20.0.1");
    expect(space.at(98)).toBe("127.20.0.99");
    expect(space.at(99)).toBe("127.20.0.200");
    expect(space.at(153)).toBe("127.20.0.254");
  });

  it("orders IPv4 before IPv6 and prints RFC 5952 text", async () => {
    const space = await buildTargetSpace({ targets: ["FD00:0:0:0:0:0:0:1", "127.20.0.1-3"] });
    expect(addresses(space)).toEqual(["127.20.0.1", "127.20.0.2", "127.20.0.3", "fd00::1"]);
    expect(space.v4At(2)).toBe(0x7f140003);
    expect(space.v4At(3)).toBe(-1);
    expect(space.hasIPv6).toBe(true);
    expect(space.describe()).toBe("4 addresses in 2 ranges (1 IPv6)");
  });

  it("keeps the hostname of every resolved address, and only for addresses still in the space", async () => {
    const resolve = fakeResolver({
      "dc01.lab.test": ["127.20.0.7", "::1"],
      "alias.lab.test": ["127.20.0.7"],
      "gone.lab.test": ["127.20.0.9"],
    });
    const space = await buildTargetSpace({
      targets: ["DC01.lab.test", "alias.lab.test", "gone.lab.test"],
      exclude: ["127.20.0.9"],
      resolve,
    });
    expect(addresses(space)).toEqual(["127.20.0.7", "::1"]);
    expect(space.hostnamesOf("127.20.0.7")).toEqual(["alias.lab.test", "dc01.lab.test"]);
    expect(space.hostnamesOf("0:0:0:0:0:0:0:1")).toEqual(["dc01.lab.test"]);
    expect(space.hostnamesOf("127.20.0.9")).toEqual([]);
    expect(space.hostnamesOf("not an address")).toEqual([]);
  });

  it("resolves hostnames in exclusions too", async () => {
    const space = await buildTargetSpace({
      targets: ["127.20.0.0/30"],
      exclude: ["skip.lab.test"],
      resolve: fakeResolver({ "skip.lab.test": ["127.20.0.2"] }),
    });
    expect(addresses(space)).toEqual(["127.20.0.0", "127.20.0.1", "127.20.0.3"]);
  });

  it("reads target and exclusion files with comments and mixed separators", async () => {
    const targets = join(dir, "targets.txt");
    const excludes = join(dir, "exclude.txt");
    await writeFile(
      targets,
      "# lab hosts\n127.20.0.1, 127.20.0.2\t127.20.0.3\n\n  127.20.1.0/30 # a block\r\n",
    );
    await writeFile(excludes, "127.20.1.1 # broken box\n");
    const space = await buildTargetSpace({
      targets: [],
      inputFiles: [targets],
      excludeFiles: [excludes],
    });
    expect(addresses(space)).toEqual([
      "127.20.0.1",
      "127.20.0.2",
      "127.20.0.3",
      "127.20.1.0",
      "127.20.1.2",
      "127.20.1.3",
    ]);
  });

  it("names the bad token and where it came from", async () => {
    await expectError(
      buildTargetSpace({ targets: ["127.20.0.1", "127.20.0.300"] }),
      "RINGFENCE_BAD_TARGET",
      /^bad target "127\.20\.0\.300": not a valid IPv4/,
    );
    const file = join(dir, "bad.txt");
    await writeFile(file, "127.20.0.1\n# comment\n127.20.0.2 127.20.0.9-3\n");
    const error = await expectError(
      buildTargetSpace({ targets: [], inputFiles: [file] }),
      "RINGFENCE_BAD_TARGET",
      /"127\.20\.0\.9-3"/,
    );
    expect(error.message).toContain(`${file}:3`);
    await expectError(
      buildTargetSpace({ targets: ["127.20.0.1"], exclude: ["127.20.0.1/40"] }),
      "RINGFENCE_BAD_TARGET",
      /"127\.20\.0\.1\/40"/,
    );
  });

  it("reports unreadable files in one line with path and reason", async () => {
    const missing = join(dir, "nope.txt");
    await expectError(
      buildTargetSpace({ targets: [], inputFiles: [missing] }),
      "RINGFENCE_TARGET_FILE",
      new RegExp(`${missing}: no such file or directory \\(ENOENT\\)`),
    );
    await expectError(
      buildTargetSpace({ targets: ["127.20.0.1"], excludeFiles: [dir] }),
      "RINGFENCE_TARGET_FILE",
      /it is a directory \(EISDIR\)/,
    );
    await expectError(
      buildTargetSpace({ targets: [], inputFiles: ["-"] }),
      "RINGFENCE_TARGET_FILE",
      /stdin/,
    );
  });

  it("reports unresolvable hostnames", async () => {
    const resolve = fakeResolver({ "empty.lab.test": [], "weird.lab.test": ["not-an-ip"] });
    await expectError(
      buildTargetSpace({ targets: ["missing.lab.test"], resolve }),
      "RINGFENCE_RESOLVE",
      /"missing\.lab\.test".*ENOTFOUND/,
    );
    await expectError(
      buildTargetSpace({ targets: ["empty.lab.test"], resolve }),
      "RINGFENCE_RESOLVE",
      /no addresses/,
    );
    await expectError(
      buildTargetSpace({ targets: ["weird.lab.test"], resolve }),
      "RINGFENCE_RESOLVE",
      /not an IP address/,
    );
  });

  it("refuses empty results", async () => {
    await expectError(
      buildTargetSpace({ targets: [" , "] }),
      "RINGFENCE_BAD_TARGET",
      /^no targets given$/,
    );
    await expectError(
      buildTargetSpace({ targets: ["127.20.0.0/24"], exclude: ["127.20.0.0/16"] }),
      "RINGFENCE_BAD_TARGET",
      /^no targets left after exclusions$/,
    );
  });

  it("caps IPv6 prefixes at 2^24 addresses, but not exclusions", async () => {
    // Excluding a /64 is fine; it just leaves nothing of the /104 here.
    await expectError(
      buildTargetSpace({ targets: ["fd00::/104"], exclude: ["fd00::/64"] }),
      "RINGFENCE_BAD_TARGET",
      /no targets left/,
    );
    const ok = await buildTargetSpace({ targets: ["fd00::/104"] });
    expect(ok.size).toBe(2 ** 24);
    expect(ok.at(2 ** 24 - 1)).toBe("fd00::ff:ffff");
    const error = await expectError(
      buildTargetSpace({ targets: ["fd00::/103"] }),
      "RINGFENCE_TARGET_SPACE_TOO_LARGE",
      /"fd00::\/103" has 2\^25 addresses/,
    );
    expect(error.hint).toMatch(/smaller prefix/);
    await expectError(
      buildTargetSpace({ targets: ["fd00::-fd00::1:0:0"] }),
      "RINGFENCE_TARGET_SPACE_TOO_LARGE",
      /fd00::-fd00::1:0:0/,
    );
  });
});

describe("TargetSpace", () => {
  it("costs the same for a /8 as for a /24, and indexes its far end", async () => {
    const big = await buildTargetSpace({ targets: ["127.0.0.0/8"] });
    expect(big.ranges).toHaveLength(1);
    expect(big.size).toBe(2 ** 24);
    expect(big.at(2 ** 24 - 1)).toBe("127.255.255.255");
    const all = TargetSpace.fromRanges([{ family: 4, first: 0n, last: 0xffffffffn }]);
    expect(all.size).toBe(2 ** 32);
    expect(all.v4At(2 ** 32 - 1)).toBe(0xffffffff);
    expect(all.at(2 ** 31)).toBe("128.0.0.0");
  });

  it("refuses spaces above 2^40 addresses", () => {
    expect(() => TargetSpace.fromRanges([{ family: 6, first: 0n, last: 2n ** 40n }])).toThrow(
      expect.objectContaining({ code: "RINGFENCE_TARGET_SPACE_TOO_LARGE" }),
    );
    expect(TargetSpace.fromRanges([{ family: 6, first: 1n, last: 2n ** 40n }]).size).toBe(2 ** 40);
  });

  it("refuses indexes outside the space", () => {
    const space = TargetSpace.fromRanges([{ family: 4, first: 10n, last: 19n }]);
    for (const bad of [-1, 10, 1.5, Number.NaN]) {
      expect(() => space.at(bad)).toThrow(RangeError);
      expect(() => space.v4At(bad)).toThrow(RangeError);
    }
  });

  it("enumerates exactly the model set, in order", () => {
    const rangeArb = fc
      .tuple(fc.constantFrom(4 as const, 6 as const), fc.bigInt(0n, 60n), fc.bigInt(0n, 60n))
      .map(([family, a, b]): AddressRange => ({
        family,
        first: a < b ? a : b,
        last: a < b ? b : a,
      }));
    fc.assert(
      fc.property(fc.array(rangeArb, { minLength: 1, maxLength: 6 }), (ranges) => {
        const expected = new Map<string, { family: 4 | 6; value: bigint }>();
        for (const r of ranges) {
          for (let v = r.first; v <= r.last; v++)
            expected.set(`${r.family}:${v}`, { family: r.family, value: v });
        }
        const sorted = [...expected.values()].sort((x, y) =>
          x.family !== y.family ? x.family - y.family : x.value < y.value ? -1 : 1,
        );
        const space = TargetSpace.fromRanges(ranges);
        expect(space.size).toBe(sorted.length);
        sorted.forEach((entry, i) => {
          expect(space.at(i)).toBe(formatAddress(entry.family, entry.value));
          expect(space.v4At(i)).toBe(entry.family === 4 ? Number(entry.value) : -1);
        });
      }),
    );
  });
});
