import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DIRECT_TCP_MAX_LENGTH,
  NEGATIVE_SESSION_ERROR,
  NETBIOS_SESSION_MAX_LENGTH,
  SMBSERVER_NAME,
  SMBSERVER_SUFFIX,
  SessionFramer,
  decodeSessionHeader,
  decodeSessionPacket,
  encodeSessionMessage,
  encodeSessionPacket,
  isDecodeIssue,
  negativeSessionErrorText,
  type SessionPacket,
} from "../../src/protocols/netbios/index.js";

/** RFC 1002 §4.3.2 SESSION REQUEST to *SMBSERVER<20> from RINGFENCE<00>, as Windows sends it. */
const SESSION_REQUEST_HEX =
  "81000044" +
  // CALLED NAME: "*SMBSERVER" padded with spaces, suffix 0x20, first-level encoded (RFC 1001 §14.1)
  "20" +
  "CKFDENECFDEFFCFGEFFCCACACACACACA"
    .split("")
    .map((c) => c.charCodeAt(0).toString(16))
    .join("") +
  "00" +
  // CALLING NAME: "RINGFENCE" + 6 spaces, suffix 0x00
  "20" +
  "FCEJEOEHEGEFEOEDEFCACACACACACAAA"
    .split("")
    .map((c) => c.charCodeAt(0).toString(16))
    .join("") +
  "00";

describe("NetBIOS session packets (RFC 1002 §4.3)", () => {
  it("encodes the *SMBSERVER session request byte for byte", () => {
    const bytes = encodeSessionPacket({
      type: "session-request",
      calledName: SMBSERVER_NAME,
      calledSuffix: SMBSERVER_SUFFIX,
      callingName: "RINGFENCE",
      callingSuffix: 0x00,
    });
    expect(Buffer.from(bytes).toString("hex")).toBe(SESSION_REQUEST_HEX.toLowerCase());
    expect(bytes).toHaveLength(4 + 68);
  });

  it("decodes the session request back to names and suffixes", () => {
    expect(decodeSessionPacket(Buffer.from(SESSION_REQUEST_HEX, "hex"), "netbios")).toEqual({
      type: "session-request",
      calledName: "*SMBSERVER",
      calledSuffix: 0x20,
      callingName: "RINGFENCE",
      callingSuffix: 0x00,
    });
  });

  it("encodes and decodes responses, keep-alive and retarget", () => {
    const packets: SessionPacket[] = [
      { type: "positive-response" },
      { type: "negative-response", errorCode: NEGATIVE_SESSION_ERROR.calledNameNotPresent },
      { type: "retarget-response", address: "127.0.0.9", port: 139 },
      { type: "keep-alive" },
    ];
    const hex = packets.map((p) => Buffer.from(encodeSessionPacket(p)).toString("hex"));
    expect(hex).toEqual(["82000000", "8300000182", "840000067f000009008b", "85000000"]);
    for (const packet of packets) {
      expect(decodeSessionPacket(encodeSessionPacket(packet), "netbios")).toEqual(packet);
    }
    expect(negativeSessionErrorText(0x82)).toBe("called name not present");
    expect(negativeSessionErrorText(0x42)).toContain("unknown");
  });

  it("uses the E bit as the 17th length bit on TCP 139 and 24 bits on TCP 445", () => {
    const big = new Uint8Array(0x1_0005);
    const netbios = encodeSessionMessage(big, "netbios");
    expect(Array.from(netbios.subarray(0, 4))).toEqual([0x00, 0x01, 0x00, 0x05]);
    expect(decodeSessionHeader(netbios, "netbios")).toEqual({ type: 0, length: 0x1_0005 });
    const direct = encodeSessionMessage(new Uint8Array(0x2_0000), "direct-tcp");
    expect(Array.from(direct.subarray(0, 4))).toEqual([0x00, 0x02, 0x00, 0x00]);
    // On 139 the reserved FLAGS bits do not lengthen the packet; on 445 byte 1 is length.
    expect(decodeSessionHeader(Uint8Array.of(0, 0xfe, 0, 1), "netbios")).toEqual({
      type: 0,
      length: 1,
    });
    expect(decodeSessionHeader(Uint8Array.of(0, 0xfe, 0, 1), "direct-tcp")).toEqual({
      type: 0,
      length: 0xfe0001,
    });
  });

  it("refuses what the transports cannot carry (our bad arguments)", () => {
    expect(() =>
      encodeSessionMessage(new Uint8Array(NETBIOS_SESSION_MAX_LENGTH + 1), "netbios"),
    ).toThrow(RangeError);
    expect(() => encodeSessionPacket({ type: "keep-alive" }, "direct-tcp")).toThrow(RangeError);
    expect(() =>
      encodeSessionPacket({ type: "retarget-response", address: "::1", port: 139 }),
    ).toThrow(RangeError);
    expect(() =>
      encodeSessionPacket({
        type: "session-request",
        calledName: "A-NAME-FAR-TOO-LONG",
        calledSuffix: 0x20,
        callingName: "X",
        callingSuffix: 0,
      }),
    ).toThrow(RangeError);
  });

  it("reports malformed packets as issues", () => {
    const cases: [Uint8Array, "netbios" | "direct-tcp", string][] = [
      [Uint8Array.of(0x00, 0x00), "direct-tcp", "session-header"],
      [Uint8Array.of(0x81, 0, 0, 0), "direct-tcp", "session-header"],
      [Uint8Array.of(0x86, 0, 0, 0), "netbios", "session-header"],
      [Uint8Array.of(0x82, 0, 0, 1, 0), "netbios", "positive-response"],
      [Uint8Array.of(0x83, 0, 0, 0), "netbios", "negative-response"],
      [Uint8Array.of(0x00, 0, 0, 5, 1), "direct-tcp", "session-header"],
      [Uint8Array.of(0x00, 0, 0, 0, 1), "direct-tcp", "session-packet"],
      [Uint8Array.of(0x81, 0, 0, 2, 0, 0), "netbios", "called-name"],
    ];
    for (const [bytes, transport, what] of cases) {
      const result = decodeSessionPacket(bytes, transport);
      expect(isDecodeIssue(result) && result.what, Buffer.from(bytes).toString("hex")).toBe(what);
    }
  });
});

describe("SessionFramer", () => {
  const messages = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300).fill(7)];

  it("cuts a stream into whole packets however it is chunked", () => {
    const stream = Buffer.concat(messages.map((m) => encodeSessionMessage(m)));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (cuts) => {
        const framer = new SessionFramer();
        const out: SessionPacket[] = [];
        let at = 0;
        for (const cut of cuts) {
          const result = framer.push(stream.subarray(at, at + cut));
          expect(result.issue).toBeNull();
          out.push(...result.packets);
          at = Math.min(stream.length, at + cut);
        }
        out.push(...framer.push(stream.subarray(at)).packets);
        expect(out.map((p) => (p.type === "session-message" ? Array.from(p.payload) : p))).toEqual(
          messages.map((m) => Array.from(m)),
        );
        expect(framer.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("passes keep-alives and session responses through on TCP 139", () => {
    const framer = new SessionFramer({ transport: "netbios" });
    const stream = Buffer.concat([
      encodeSessionPacket({ type: "positive-response" }),
      encodeSessionPacket({ type: "keep-alive" }),
      encodeSessionMessage(Uint8Array.of(0xff, 0x53, 0x4d, 0x42), "netbios"),
    ]);
    const { packets, issue } = framer.push(stream);
    expect(issue).toBeNull();
    expect(packets.map((p) => p.type)).toEqual([
      "positive-response",
      "keep-alive",
      "session-message",
    ]);
  });

  it("refuses a length above its cap before allocating, and stays poisoned", () => {
    const framer = new SessionFramer({ maxMessageLength: 1000 });
    const good = encodeSessionMessage(new Uint8Array(10));
    const result = framer.push(Buffer.concat([good, Uint8Array.of(0, 0xff, 0xff, 0xff)]));
    expect(result.packets).toHaveLength(1);
    expect(result.issue).toMatchObject({ what: "session-header", offset: good.length + 1 });
    expect(framer.buffered).toBe(0);
    expect(framer.push(good)).toEqual({ packets: [], issue: result.issue });
  });

  it("holds at most one partial packet", () => {
    const framer = new SessionFramer({ maxMessageLength: 100 });
    framer.push(Uint8Array.of(0, 0, 0, 100, ...new Uint8Array(50)));
    expect(framer.buffered).toBe(54);
  });

  it("rejects caps the transport cannot express", () => {
    expect(() => new SessionFramer({ transport: "netbios", maxMessageLength: 0x20000 })).toThrow(
      RangeError,
    );
    expect(new SessionFramer({ transport: "netbios" }).maxMessageLength).toBe(
      NETBIOS_SESSION_MAX_LENGTH,
    );
    expect(new SessionFramer({ maxMessageLength: DIRECT_TCP_MAX_LENGTH }).maxMessageLength).toBe(
      DIRECT_TCP_MAX_LENGTH,
    );
  });

  it("never throws on random streams, in either framing", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("netbios" as const, "direct-tcp" as const),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }),
        (transport, chunks) => {
          const framer = new SessionFramer({ transport, maxMessageLength: 4096 });
          for (const chunk of chunks) {
            const { packets, issue } = framer.push(chunk);
            expect(Array.isArray(packets)).toBe(true);
            if (issue !== null) expect(isDecodeIssue(issue)).toBe(true);
            expect(framer.buffered).toBeLessThanOrEqual(4 + 4096);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
