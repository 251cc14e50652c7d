import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BIG_ENDIAN_DREP,
  EPMAPPER,
  EPMAPPER_STATUS_NO_MORE_ENTRIES,
  EPMAPPER_STATUS_OK,
  EPT_INQUIRY,
  EPT_LOOKUP_OPNUM,
  EPT_VERS_OPTION,
  LSARPC,
  NDR_TRANSFER_SYNTAX,
  NIL_UUID,
  NULL_CONTEXT_HANDLE,
  NdrWriter,
  buildTower,
  decodeEptLookupRequest,
  decodeEptLookupResponse,
  decodePdu,
  decodeTower,
  describeTower,
  encodeEptLookupRequest,
  encodeEptLookupResponse,
  encodeRequest,
  encodeTower,
  eptLookupPageState,
  isDecodeIssue,
  type DecodeIssue,
  type EptEntry,
  type EptLookupResponse,
  type TowerFloor,
} from "../../src/protocols/dcerpc/index.js";
import {
  drepArb,
  eptRequestArb,
  eptResponseArb,
  fromDump,
  hex,
  mutate,
  towerArb,
} from "./arbitraries.js";

/** research Appendix E: impacket's first ept_lookup, call_id 2, ctx 0 (64 bytes). */
const EPT_LOOKUP_PDU = fromDump(`
0000  05 00 00 03 10 00 00 00 40 00 00 00 02 00 00 00
0010  28 00 00 00 00 00 02 00 00 00 00 00 00 00 00 00
0020  00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 00 00 00 00 00 00 00 f4 01 00 00`);

/**
 * The epmapper's own TCP tower (C706 Appendix L): 5 floors, 75 octets — interface e1af8308 v3.0,
 * NDR v2.0, ncacn (0x0b), TCP port 135 big-endian, IPv4 127.0.0.2.
 */
const EPM_TCP_TOWER = fromDump(`
  05 00
  13 00 0d 08 83 af e1 1f 5d c9 11 91 a4 08 00 2b 14 a0 fa 03 00  02 00 00 00
  13 00 0d 04 5d 88 8a eb 1c c9 11 9f e8 08 00 2b 10 48 60 02 00  02 00 00 00
  01 00 0b  02 00 00 00
  01 00 07  02 00 00 87
  01 00 09  04 00 7f 00 00 02`);

/**
 * A Samba-style last page, laid out by hand from the IDL (Samba epmapper.idl, research
 * Appendix E): one entry, NULL handle, status EPMAPPER_STATUS_NO_MORE_ENTRIES.
 */
const SAMBA_LAST_PAGE = fromDump(`
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  01 00 00 00
  f4 01 00 00 00 00 00 00 01 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  01 00 00 00
  00 00 00 00 01 00 00 00 00 00 00 00
  4b 00 00 00 4b 00 00 00
  ${hex(EPM_TCP_TOWER)} 00
  d6 a0 c9 16`);

const EPM_FLOORS: TowerFloor[] = [
  { protocol: "uuid", syntax: { uuid: EPMAPPER.uuid, major: 3, minor: 0 } },
  { protocol: "uuid", syntax: { uuid: NDR_TRANSFER_SYNTAX.uuid, major: 2, minor: 0 } },
  { protocol: "ncacn", minorVersion: 0 },
  { protocol: "tcp", port: 135 },
  { protocol: "ip", address: "127.0.0.2" },
];

function ok<T>(value: T | DecodeIssue): T {
  if (isDecodeIssue(value)) throw new Error(`unexpected issue: ${value.message}`);
  return value;
}

describe("ept_lookup request (opnum 2)", () => {
  it("encodes impacket's first lookup byte for byte (research Appendix E)", () => {
    const stub = encodeEptLookupRequest({
      inquiryType: EPT_INQUIRY.allElements,
      object: null,
      interfaceId: null,
      versOption: EPT_VERS_OPTION.all,
      entryHandle: NULL_CONTEXT_HANDLE,
      maxEnts: 500,
    });
    expect(stub.length).toBe(40);
    const pdu = encodeRequest({ callId: 2, contextId: 0, opnum: EPT_LOOKUP_OPNUM, stub });
    expect(hex(pdu)).toBe(hex(EPT_LOOKUP_PDU));
  });

  it("decodes it back (what the lab's mapper does)", () => {
    const pdu = ok(decodePdu(EPT_LOOKUP_PDU));
    if (pdu.type !== "request") throw new Error("not a request");
    expect(decodeEptLookupRequest(pdu.stub)).toEqual({
      inquiryType: 0,
      object: null,
      interfaceId: null,
      versOption: 1,
      entryHandle: NULL_CONTEXT_HANDLE,
      maxEnts: 500,
    });
  });

  it("marshals non-NULL [ptr] arguments inline with full-pointer ids 1 and 2", () => {
    const stub = encodeEptLookupRequest({
      inquiryType: EPT_INQUIRY.matchByInterface,
      object: NIL_UUID,
      interfaceId: LSARPC,
      versOption: EPT_VERS_OPTION.exact,
      entryHandle: NULL_CONTEXT_HANDLE,
      maxEnts: 1,
    });
    expect(hex(stub.slice(0, 8))).toBe("0100000001000000");
    expect(hex(stub.slice(24, 28))).toBe("02000000");
    expect(hex(stub.slice(28, 48))).toBe(
      "7857341234 12cdabef000123456789ab 0000 0000".replace(/ /g, ""),
    );
    expect(stub.length).toBe(4 + 4 + 16 + 4 + 20 + 4 + 20 + 4);
  });
});

describe("ept_lookup response", () => {
  it("decodes a Samba last page: entries together with NO_MORE_ENTRIES are a success", () => {
    const response = ok(decodeEptLookupResponse(SAMBA_LAST_PAGE));
    expect(response).toEqual({
      entryHandle: NULL_CONTEXT_HANDLE,
      entries: [{ object: NIL_UUID, tower: EPM_FLOORS, annotation: "" }],
      status: EPMAPPER_STATUS_NO_MORE_ENTRIES,
    });
    expect(eptLookupPageState(response)).toBe("last");
    expect(describeTower(EPM_FLOORS)).toEqual({
      interface: { uuid: EPMAPPER.uuid, major: 3, minor: 0 },
      transferSyntax: { uuid: NDR_TRANSFER_SYNTAX.uuid, major: 2, minor: 0 },
      protseq: "ncacn_ip_tcp",
      networkAddress: "127.0.0.2",
      endpoint: "135",
      binding: "ncacn_ip_tcp:127.0.0.2[135]",
    });
  });

  it("encodes the same page byte for byte (max_count = the request's max_ents)", () => {
    const page: EptLookupResponse = {
      entryHandle: NULL_CONTEXT_HANDLE,
      entries: [{ object: NIL_UUID, tower: EPM_FLOORS, annotation: "" }],
      status: EPMAPPER_STATUS_NO_MORE_ENTRIES,
    };
    expect(hex(encodeEptLookupResponse(page, { maxEnts: 500 }))).toBe(hex(SAMBA_LAST_PAGE));
    expect(hex(encodeTower(EPM_FLOORS))).toBe(hex(EPM_TCP_TOWER));
  });

  it("tells a client when to keep paging", () => {
    const entry: EptEntry = { object: NIL_UUID, tower: null, annotation: "x" };
    const handle = { attributes: 0, uuid: "0b5b7a1e-0000-0000-0000-000000000001" };
    const page = (status: number, entries: EptEntry[], entryHandle = handle) => ({
      entryHandle,
      entries,
      status,
    });
    expect(eptLookupPageState(page(EPMAPPER_STATUS_OK, [entry]))).toBe("more");
    expect(eptLookupPageState(page(EPMAPPER_STATUS_OK, [entry], NULL_CONTEXT_HANDLE))).toBe("last");
    expect(eptLookupPageState(page(EPMAPPER_STATUS_OK, []))).toBe("last");
    expect(eptLookupPageState(page(EPMAPPER_STATUS_NO_MORE_ENTRIES, [entry]))).toBe("last");
    expect(eptLookupPageState(page(0x16c9a012, [entry]))).toBe("failed");
  });

  it("shares one deferred tower between entries whose full pointers alias", () => {
    const w = new NdrWriter();
    w.contextHandle(NULL_CONTEXT_HANDLE).u32(2).u32(2).u32(0).u32(2);
    for (const annotation of ["a", "b"]) w.uuid(NIL_UUID).pointer(7).varyingString(annotation, 1);
    const tower = encodeTower(EPM_FLOORS);
    w.u32(tower.length).u32(tower.length).bytes(tower).u32(0);
    const response = ok(decodeEptLookupResponse(w.toBytes()));
    expect(response.entries.map((entry) => [entry.annotation, entry.tower])).toEqual([
      ["a", EPM_FLOORS],
      ["b", EPM_FLOORS],
    ]);
  });

  it("reads big-endian stubs while towers stay little-endian", () => {
    const page: EptLookupResponse = {
      entryHandle: { attributes: 1, uuid: "00112233-4455-6677-8899-aabbccddeeff" },
      entries: [{ object: NIL_UUID, tower: EPM_FLOORS, annotation: "Impl friendly name" }],
      status: 0,
    };
    const stub = encodeEptLookupResponse(page, { drep: BIG_ENDIAN_DREP });
    expect(hex(stub.slice(20, 24))).toBe("00000001");
    expect(decodeEptLookupResponse(stub, BIG_ENDIAN_DREP)).toEqual(page);
  });

  it("refuses counts larger than the stub without allocating", () => {
    const w = new NdrWriter();
    w.contextHandle(NULL_CONTEXT_HANDLE).u32(0xffffffff).u32(0xffffffff).u32(0).u32(0xffffffff);
    const issue = decodeEptLookupResponse(w.toBytes());
    expect(isDecodeIssue(issue) && [issue.what, issue.offset]).toEqual(["entries", 36]);
    expect(isDecodeIssue(issue) && issue.needed).toBe(0xffffffff * 28);

    // A tower_length beyond the stub.
    const bad = Uint8Array.from(SAMBA_LAST_PAGE);
    new DataView(bad.buffer).setUint32(68, 0xfffffff0, true);
    new DataView(bad.buffer).setUint32(72, 0xfffffff0, true);
    const towerIssue = decodeEptLookupResponse(bad);
    expect(isDecodeIssue(towerIssue) && towerIssue.what).toBe("tower");
  });

  it("reports num_ents disagreeing with the array's actual_count", () => {
    const bad = Uint8Array.from(SAMBA_LAST_PAGE);
    bad[20] = 2;
    const issue = decodeEptLookupResponse(bad);
    expect(isDecodeIssue(issue) && issue.message).toMatch(/differs from num_ents 2/);
  });
});

describe("towers (C706 Appendix L)", () => {
  it("decodes and describes the usual Windows/Samba protocol sequences", () => {
    const cases: [Parameters<typeof buildTower>[1], string][] = [
      [
        { protseq: "ncacn_ip_tcp", address: "127.0.0.2", port: 49153 },
        "ncacn_ip_tcp:127.0.0.2[49153]",
      ],
      [
        { protseq: "ncacn_np", host: "\\\\LABSMB", pipe: "\\pipe\\lsass" },
        "ncacn_np:\\\\LABSMB[\\pipe\\lsass]",
      ],
      [{ protseq: "ncacn_http", address: "127.0.0.2", port: 593 }, "ncacn_http:127.0.0.2[593]"],
      [{ protseq: "ncadg_ip_udp", address: "10.0.0.1", port: 135 }, "ncadg_ip_udp:10.0.0.1[135]"],
      [{ protseq: "ncalrpc", endpoint: "EPMAPPER" }, "ncalrpc:[EPMAPPER]"],
    ];
    for (const [endpoint, binding] of cases) {
      const floors = buildTower(LSARPC, endpoint);
      const decoded = ok(decodeTower(encodeTower(floors)));
      expect(decoded).toEqual(floors);
      expect(describeTower(decoded).binding).toBe(binding);
      expect(describeTower(decoded).interface).toEqual({ uuid: LSARPC.uuid, major: 0, minor: 0 });
    }
  });

  it("lays out string floors as NUL-terminated RHS octets", () => {
    const octets = encodeTower(
      buildTower(LSARPC, { protseq: "ncacn_np", host: "\\\\LABSMB", pipe: "\\pipe\\lsass" }),
    );
    const tail = fromDump(`
      01 00 0b 02 00 00 00
      01 00 0f 0c 00 5c 70 69 70 65 5c 6c 73 61 73 73 00
      01 00 11 09 00 5c 5c 4c 41 42 53 4d 42 00`);
    expect(hex(octets.slice(octets.length - tail.length))).toBe(hex(tail));
    expect(octets.length).toBe(2 + 25 + 25 + tail.length);
  });

  it("keeps floors with protocol ids it does not interpret", () => {
    const floors = ok(decodeTower(fromDump("01 00 02 00 12 34 01 00 ff")));
    expect(floors).toEqual([
      { protocol: "unknown", lhs: Uint8Array.of(0x12, 0x34), rhs: Uint8Array.of(0xff) },
    ]);
    expect(describeTower(floors).binding).toBeNull();
  });

  it("reports malformed towers", () => {
    const issue = (bytes: string) => {
      const result = decodeTower(fromDump(bytes));
      return isDecodeIssue(result) ? result.message : "no issue";
    };
    expect(issue("ff ff 01 00 07 02 00 00 87")).toMatch(/floor_count 65535 cannot fit/);
    expect(issue("01 00 05 00 07 02 00")).toMatch(/needs 5 bytes/);
    expect(issue("01 00 00 00 02 00 00 00")).toMatch(/empty LHS/);
    expect(issue("01 00 01 00 07 03 00 00 87 00")).toMatch(/expected 1\/2/);
    expect(issue("")).toMatch(/no floor count/);
  });

  it("refuses to encode floors it could not decode the same way", () => {
    expect(() =>
      encodeTower([{ protocol: "unknown", lhs: Uint8Array.of(0x07), rhs: new Uint8Array() }]),
    ).toThrow(TypeError);
    expect(() => encodeTower([{ protocol: "ip", address: "300.1.1.1" }])).toThrow(TypeError);
    expect(() => encodeTower([{ protocol: "named-pipe", name: "a\0b" }])).toThrow(TypeError);
  });
});

describe("properties", () => {
  it("towers round-trip", () => {
    fc.assert(
      fc.property(towerArb, (floors) => {
        expect(decodeTower(encodeTower(floors))).toEqual(floors);
      }),
      { numRuns: 500 },
    );
  });

  it("ept_lookup requests round-trip in either byte order", () => {
    fc.assert(
      fc.property(eptRequestArb, drepArb, (request, drep) => {
        expect(decodeEptLookupRequest(encodeEptLookupRequest(request, drep), drep)).toEqual(
          request,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("ept_lookup responses round-trip in either byte order", () => {
    fc.assert(
      fc.property(eptResponseArb, drepArb, fc.nat({ max: 600 }), (response, drep, extra) => {
        const stub = encodeEptLookupResponse(response, {
          drep,
          maxEnts: response.entries.length + extra,
        });
        expect(decodeEptLookupResponse(stub, drep)).toEqual(response);
      }),
      { numRuns: 300 },
    );
  });

  it("decoders never throw on random or mutated stubs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(decodeEptLookupResponse(bytes)).toBeDefined();
        expect(decodeEptLookupRequest(bytes)).toBeDefined();
        expect(decodeTower(bytes)).toBeDefined();
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(
        eptResponseArb.chain((response) => mutate(encodeEptLookupResponse(response))),
        (bytes) => {
          expect(decodeEptLookupResponse(bytes)).toBeDefined();
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(
        mutate(SAMBA_LAST_PAGE),
        towerArb.chain((floors) => mutate(encodeTower(floors))),
        (page, tower) => {
          expect(decodeEptLookupResponse(page)).toBeDefined();
          expect(decodeTower(tower)).toBeDefined();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
