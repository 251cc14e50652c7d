import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  NAME_FLAG_ACTIVE,
  NAME_FLAG_GROUP,
  decodeNodeStatusRequest,
  decodeNodeStatusResponse,
  encodeNetbiosName,
  encodeNodeStatusRequest,
  encodeNodeStatusResponse,
  isDecodeIssue,
  readWireName,
  type NodeStatus,
} from "../../src/protocols/netbios/index.js";

/** nmap's UDP 137 payload (nmap-payloads), byte for byte: flags 0x0010, "*" query, NBSTAT/IN. */
const NMAP_PAYLOAD = Buffer.from(
  "80f00010000100000000000020434b4141414141414141414141414141414141414141414141414141414141410000210001",
  "hex",
);

/**
 * A Windows 2000 answer captured in the wild shape: R|AA flags, RR_NAME "*" in full, 3 names,
 * 46-byte statistics with the MAC first.
 */
function windowsLikeResponse(): Buffer {
  return encodeNodeStatusResponse({
    transactionId: 0x80f0,
    names: [
      { name: "WIN2K", suffix: 0x00, group: false, flags: NAME_FLAG_ACTIVE },
      { name: "LABGROUP", suffix: 0x00, group: true, flags: NAME_FLAG_GROUP | NAME_FLAG_ACTIVE },
      { name: "WIN2K", suffix: 0x20, group: false, flags: NAME_FLAG_ACTIVE },
    ],
    mac: "00:0c:29:12:34:56",
  });
}

describe("NODE STATUS REQUEST (RFC 1002 §4.2.17)", () => {
  it("encodes the 50-byte wildcard query every NBSTAT client sends", () => {
    const bytes = encodeNodeStatusRequest(0x80f0);
    expect(bytes).toHaveLength(50);
    // Same as nmap's payload except NM_FLAGS: we ask unicast (B=0), nmap sets B.
    const expected = Buffer.from(NMAP_PAYLOAD);
    expected.writeUInt16BE(0x0000, 2);
    expect(bytes.equals(expected)).toBe(true);
  });

  it("decodes nmap's probe", () => {
    expect(decodeNodeStatusRequest(NMAP_PAYLOAD)).toEqual({
      transactionId: 0x80f0,
      name: "*",
      suffix: 0,
      broadcast: true,
    });
  });

  it("rejects a name query (type NB) as not NBSTAT", () => {
    const query = Buffer.from(NMAP_PAYLOAD);
    query.writeUInt16BE(0x0020, 46);
    const result = decodeNodeStatusRequest(query);
    expect(isDecodeIssue(result) && result.what).toBe("question");
  });

  it("rejects out-of-range transaction ids", () => {
    expect(() => encodeNodeStatusRequest(0x10000)).toThrow(RangeError);
  });
});

describe("NODE STATUS RESPONSE (RFC 1002 §4.2.18)", () => {
  it("decodes names, flags and MAC", () => {
    const status = decodeNodeStatusResponse(windowsLikeResponse());
    expect(status).toEqual({
      transactionId: 0x80f0,
      names: [
        { name: "WIN2K", suffix: 0x00, group: false, flags: 0x0400 },
        { name: "LABGROUP", suffix: 0x00, group: true, flags: 0x8400 },
        { name: "WIN2K", suffix: 0x20, group: false, flags: 0x0400 },
      ],
      mac: "00:0c:29:12:34:56",
    });
  });

  it("follows a compression pointer in RR_NAME to an echoed question", () => {
    // Some stacks answer with QDCOUNT=1 and RR_NAME = pointer to offset 12 (RFC 1035 §4.1.4).
    const plain = windowsLikeResponse();
    const question = encodeNetbiosName("*", 0);
    const rrStart = 12 + question.length;
    const withPointer = Buffer.concat([
      plain.subarray(0, 12),
      question,
      Buffer.from([0x00, 0x21, 0x00, 0x01]),
      Buffer.from([0xc0, 0x0c]),
      plain.subarray(rrStart),
    ]);
    withPointer.writeUInt16BE(1, 4); // QDCOUNT
    expect(decodeNodeStatusResponse(withPointer)).toEqual(decodeNodeStatusResponse(plain));
  });

  it("refuses pointer loops and forward pointers without looping", () => {
    const plain = windowsLikeResponse();
    const selfLoop = Buffer.concat([
      plain.subarray(0, 12),
      Buffer.from([0xc0, 0x0c]),
      plain.subarray(46),
    ]);
    const issue = decodeNodeStatusResponse(selfLoop);
    expect(isDecodeIssue(issue) && issue.what).toBe("rr-name");
    // Two pointers pointing at each other: 12 → 14 → 12 ...
    const pingPong = Buffer.from([0xc0, 0x0e, 0xc0, 0x0c]);
    expect(isDecodeIssue(readWireName(Buffer.concat([Buffer.alloc(12), pingPong]), 12))).toBe(true);
  });

  it("decodes Samba's short statistics (only the MAC is required)", () => {
    const full = windowsLikeResponse();
    const rdLengthAt = 12 + 34 + 8;
    const short = Buffer.from(full.subarray(0, full.length - 40)); // keep UNIT_ID only
    short.writeUInt16BE(full.readUInt16BE(rdLengthAt) - 40, rdLengthAt);
    const status = decodeNodeStatusResponse(short);
    expect(isDecodeIssue(status)).toBe(false);
  });

  it("reports a negative response and a request as issues", () => {
    const negative = windowsLikeResponse();
    negative.writeUInt16BE(0x8403, 2);
    expect(isDecodeIssue(decodeNodeStatusResponse(negative))).toBe(true);
    expect(isDecodeIssue(decodeNodeStatusResponse(NMAP_PAYLOAD))).toBe(true);
  });
});

const nameChar = fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c));
const netbiosName = fc
  .array(fc.oneof(nameChar, fc.constant(" ")), { minLength: 1, maxLength: 15 })
  .map((chars) => chars.join(""))
  // Padding is trimmed on decode, so names that end in a space (or are "*") cannot round-trip.
  .filter((name) => !name.endsWith(" ") && name !== "*");

const nodeStatus: fc.Arbitrary<NodeStatus> = fc.record({
  transactionId: fc.integer({ min: 0, max: 0xffff }),
  names: fc.array(
    fc
      .record({
        name: netbiosName,
        suffix: fc.integer({ min: 0, max: 0xff }),
        flags: fc.integer({ min: 0, max: 0xffff }),
      })
      .map((n) => ({ ...n, group: (n.flags & NAME_FLAG_GROUP) !== 0 })),
    { maxLength: 40 },
  ),
  mac: fc
    .uint8Array({ minLength: 6, maxLength: 6 })
    .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":")),
});

describe("NBSTAT codec properties", () => {
  it("decode(encode(x)) == x", () => {
    fc.assert(
      fc.property(nodeStatus, (status) => {
        expect(decodeNodeStatusResponse(encodeNodeStatusResponse(status))).toEqual(status);
      }),
      { numRuns: 500 },
    );
  });

  it("every truncation of a valid response is a DecodeIssue", () => {
    fc.assert(
      fc.property(nodeStatus, fc.nat(), (status, cut) => {
        const bytes = encodeNodeStatusResponse(status);
        const truncated = bytes.subarray(0, cut % bytes.length);
        const result = decodeNodeStatusResponse(truncated);
        expect(isDecodeIssue(result)).toBe(true);
        if (isDecodeIssue(result)) expect(result.offset).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 500 },
    );
  });

  it("random bytes never throw and decode quickly", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        const started = performance.now();
        decodeNodeStatusResponse(bytes);
        decodeNodeStatusRequest(bytes);
        expect(performance.now() - started).toBeLessThan(50);
      }),
      { numRuns: 3000 },
    );
  });

  it("hostile bytes after a valid header never throw (pointers, huge counts, bad lengths)", () => {
    const header = fc.record({
      qd: fc.integer({ min: 0, max: 0xffff }),
      an: fc.integer({ min: 0, max: 0xffff }),
    });
    const tail = fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 0, max: 0x3fff }).map((p) => Uint8Array.of(0xc0 | (p >> 8), p & 0xff)),
        fc.constant(Uint8Array.of(0x00, 0x21, 0x00, 0x01, 0, 0, 0, 0, 0xff, 0xff, 0xff)),
      ),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(header, tail, ({ qd, an }, parts) => {
        const head = Buffer.alloc(12);
        head.writeUInt16BE(0x8400, 2);
        head.writeUInt16BE(qd, 4);
        head.writeUInt16BE(an, 6);
        const bytes = Buffer.concat([head, ...parts]);
        expect(() => decodeNodeStatusResponse(bytes)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
