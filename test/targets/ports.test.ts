import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS, formatPortSpec, parsePortSpec } from "../../src/targets/index.js";

describe("parsePortSpec", () => {
  it("reads nmap -p lists, ranges and protocol prefixes", () => {
    expect(parsePortSpec("135,139,445")).toEqual({ tcp: [135, 139, 445], udp: [] });
    expect(parsePortSpec("1-5")).toEqual({ tcp: [1, 2, 3, 4, 5], udp: [] });
    expect(parsePortSpec("T:135,445,U:137")).toEqual({ tcp: [135, 445], udp: [137] });
    expect(parsePortSpec("U:137,138,T:139")).toEqual({ tcp: [139], udp: [137, 138] });
    expect(parsePortSpec("445,U:53,t:80")).toEqual({ tcp: [80, 445], udp: [53] });
    expect(parsePortSpec("445, 139 ,445,135")).toEqual({ tcp: [135, 139, 445], udp: [] });
    expect(parsePortSpec("-3")).toEqual({ tcp: [1, 2, 3], udp: [] });
    expect(parsePortSpec("U:65534-")).toEqual({ tcp: [], udp: [65534, 65535] });
  });

  it.each([
    ["0", /"0": port 0/],
    ["65536", /"65536": 65536 is above 65535/],
    ["100-10", /"100-10": range end is below its start/],
    ["http", /"http": "http" is not a port number/],
    ["135,,445", /"": no port given/],
    ["T:", /"T:": no port given/],
    ["S:80", /"S:80": protocol prefix "S:"/],
    ["-", /"-": all ports/],
    ["1-2-3", /"1-2-3"/],
    ["1e3", /"1e3"/],
    ["", /empty/],
  ])("refuses %s", (spec, message) => {
    expect(() => parsePortSpec(spec)).toThrow(
      expect.objectContaining({
        code: "RINGFENCE_BAD_PORTS",
        message: expect.stringMatching(message),
      }),
    );
  });

  it("matches a Set model for random specs", () => {
    const entry = fc.record({
      proto: fc.constantFrom("", "T:", "U:"),
      a: fc.integer({ min: 1, max: 65535 }),
      b: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), (entries) => {
        const tcp = new Set<number>();
        const udp = new Set<number>();
        let current = tcp;
        const tokens = entries.map(({ proto, a, b }) => {
          if (proto === "T:") current = tcp;
          if (proto === "U:") current = udp;
          const end = b === undefined ? a : Math.min(65535, a + b);
          for (let p = a; p <= end; p++) current.add(p);
          return `${proto}${b === undefined ? a : `${a}-${end}`}`;
        });
        const sorted = (s: Set<number>): number[] => [...s].sort((x, y) => x - y);
        expect(parsePortSpec(tokens.join(","))).toEqual({ tcp: sorted(tcp), udp: sorted(udp) });
      }),
    );
  });

  it("round-trips formatPortSpec", () => {
    const ports = fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 50 });
    fc.assert(
      fc.property(ports, ports, (tcp, udp) => {
        fc.pre(tcp.length + udp.length > 0);
        const spec = { tcp: [...tcp].sort((a, b) => a - b), udp: [...udp].sort((a, b) => a - b) };
        expect(parsePortSpec(formatPortSpec(spec))).toEqual(spec);
      }),
    );
    expect(formatPortSpec({ tcp: [1, 2, 3, 5], udp: [] })).toBe("1-3,5");
  });
});

describe("DEFAULT_PORTS", () => {
  it("holds the MS03-026 / Blaster ports and is frozen", () => {
    expect(formatPortSpec(DEFAULT_PORTS)).toBe("T:135,139,445,593,4444,U:137");
    expect(Object.isFrozen(DEFAULT_PORTS.tcp)).toBe(true);
  });
});
