import fc from "fast-check";
import {
  PFC_OBJECT_UUID,
  formatUuid,
  type AuthVerifier,
  type DataRepresentation,
  type EptEntry,
  type EptLookupRequest,
  type EptLookupResponse,
  type Pdu,
  type PresentationContext,
  type SyntaxId,
  type TowerFloor,
} from "../../src/protocols/dcerpc/index.js";

/** Shared fast-check arbitraries for the DCE/RPC codec tests. Sizes stay small (≤ a few KB). */

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** Hex with whitespace and `|` annotations removed, as the research doc prints dumps. */
export const fromDump = (dump: string): Uint8Array =>
  Uint8Array.from(
    Buffer.from(
      dump
        .split("\n")
        .map((line) => line.replace(/^\s*[0-9a-f]{4}\s{2}/i, ""))
        .join(" ")
        .replace(/[^0-9a-f]/gi, ""),
      "hex",
    ),
  );

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Any 16 bytes as a UUID, so every bit pattern (not just RFC 4122 versions) is covered. */
export const uuidArb: fc.Arbitrary<string> = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((bytes) => formatUuid(bytes));

export const syntaxArb: fc.Arbitrary<SyntaxId> = fc.record({
  uuid: uuidArb,
  major: u16,
  minor: u16,
});

export const drepArb: fc.Arbitrary<DataRepresentation> = fc.record({
  integer: fc.constantFrom("little-endian" as const, "big-endian" as const),
  character: fc.constantFrom("ascii" as const, "ebcdic" as const),
  floatingPoint: fc.constantFrom("ieee" as const, "vax" as const, "cray" as const, "ibm" as const),
});

export const bytesArb = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ maxLength });

export const authArb: fc.Arbitrary<AuthVerifier | null> = fc.option(
  fc.record({
    authType: u8,
    authLevel: u8,
    authPadLength: fc.integer({ min: 0, max: 15 }),
    authContextId: u32,
    authValue: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  { nil: null },
);

const commonArb = fc.record({
  callId: u32,
  pfcFlags: u8,
  drep: drepArb,
  rpcVersMinor: u8,
  authVerifier: authArb,
});

const contextArb: fc.Arbitrary<PresentationContext> = fc.record({
  contextId: u16,
  abstractSyntax: syntaxArb,
  transferSyntaxes: fc.array(syntaxArb, { maxLength: 3 }),
});

const bindBodyArb = fc.record({
  maxXmitFrag: u16,
  maxRecvFrag: u16,
  assocGroupId: u32,
  contexts: fc.array(contextArb, { maxLength: 4 }),
});

/** Printable, NUL-free Latin-1: what a port_any_t secondary address can carry. */
const secondaryAddressArb = fc
  .array(fc.integer({ min: 0x20, max: 0xff }), { maxLength: 20 })
  .map((codes) => String.fromCharCode(...codes));

const bindAckBodyArb = fc.record({
  maxXmitFrag: u16,
  maxRecvFrag: u16,
  assocGroupId: u32,
  secondaryAddress: secondaryAddressArb,
  results: fc.array(fc.record({ result: u16, reason: u16, transferSyntax: syntaxArb }), {
    maxLength: 4,
  }),
});

/** Every PDU type with consistent fields (object ⇔ PFC_OBJECT_UUID on requests). */
export const pduArb: fc.Arbitrary<Pdu> = fc.oneof(
  fc
    .tuple(commonArb, bindBodyArb, fc.constantFrom("bind" as const, "alter_context" as const))
    .map(([common, body, type]): Pdu => ({ type, ...common, ...body })),
  fc
    .tuple(
      commonArb,
      bindAckBodyArb,
      fc.constantFrom("bind_ack" as const, "alter_context_resp" as const),
    )
    .map(([common, body, type]): Pdu => ({ type, ...common, ...body })),
  fc
    .tuple(
      commonArb,
      u16,
      fc.array(fc.record({ major: u8, minor: u8 }), { maxLength: 4 }),
      bytesArb(20),
    )
    .map(([common, rejectReason, versions, extra]): Pdu => ({
      type: "bind_nak",
      ...common,
      authVerifier: null,
      rejectReason,
      versions,
      extra,
    })),
  fc
    .tuple(commonArb, u32, u16, u16, fc.option(uuidArb, { nil: null }), bytesArb(300))
    .map(([common, allocHint, contextId, opnum, object, stub]): Pdu => ({
      type: "request",
      ...common,
      pfcFlags: (common.pfcFlags & ~PFC_OBJECT_UUID) | (object === null ? 0 : PFC_OBJECT_UUID),
      allocHint,
      contextId,
      opnum,
      object,
      stub,
    })),
  fc
    .tuple(commonArb, u32, u16, u8, bytesArb(300))
    .map(([common, allocHint, contextId, cancelCount, stub]): Pdu => ({
      type: "response",
      ...common,
      allocHint,
      contextId,
      cancelCount,
      stub,
    })),
  fc
    .tuple(commonArb, u32, u16, u8, u8, u32, bytesArb(40))
    .map(([common, allocHint, contextId, cancelCount, faultFlags, status, stub]): Pdu => ({
      type: "fault",
      ...common,
      allocHint,
      contextId,
      cancelCount,
      faultFlags,
      status,
      stub,
    })),
  fc
    .tuple(
      commonArb,
      fc.constantFrom(
        "auth3" as const,
        "shutdown" as const,
        "co_cancel" as const,
        "orphaned" as const,
      ),
      bytesArb(40),
    )
    .map(([common, type, body]): Pdu => ({ type, ...common, body })),
);

const towerNameArb = fc
  .array(fc.integer({ min: 1, max: 0xff }), { maxLength: 24 })
  .map((codes) => String.fromCharCode(...codes));
const ipv4Arb = fc.tuple(u8, u8, u8, u8).map((octets) => octets.join("."));
/** Protocol ids the codec leaves uninterpreted. */
const unknownIdArb = fc
  .integer({ min: 0, max: 0xff })
  .filter((id) => ![0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0x11, 0x1f].includes(id));

export const floorArb: fc.Arbitrary<TowerFloor> = fc.oneof(
  syntaxArb.map((syntax): TowerFloor => ({ protocol: "uuid", syntax })),
  fc
    .tuple(fc.constantFrom("ncacn" as const, "ncadg" as const, "ncalrpc" as const), u16)
    .map(([protocol, minorVersion]): TowerFloor => ({ protocol, minorVersion })),
  fc
    .tuple(fc.constantFrom("tcp" as const, "udp" as const, "http" as const), u16)
    .map(([protocol, port]): TowerFloor => ({ protocol, port })),
  ipv4Arb.map((address): TowerFloor => ({ protocol: "ip", address })),
  fc
    .tuple(
      fc.constantFrom("named-pipe" as const, "netbios" as const, "local-endpoint" as const),
      towerNameArb,
    )
    .map(([protocol, name]): TowerFloor => ({ protocol, name })),
  fc.tuple(unknownIdArb, bytesArb(6), bytesArb(8)).map(([id, rest, rhs]): TowerFloor => ({
    protocol: "unknown",
    lhs: Uint8Array.from([id, ...rest]),
    rhs,
  })),
);

export const towerArb: fc.Arbitrary<TowerFloor[]> = fc.array(floorArb, { maxLength: 6 });

const annotationArb = fc
  .array(fc.integer({ min: 1, max: 0xff }), { maxLength: 63 })
  .map((codes) => String.fromCharCode(...codes));

export const entryArb: fc.Arbitrary<EptEntry> = fc.record({
  object: uuidArb,
  tower: fc.option(towerArb, { nil: null }),
  annotation: annotationArb,
});

export const contextHandleArb = fc.record({ attributes: u32, uuid: uuidArb });

export const eptRequestArb: fc.Arbitrary<EptLookupRequest> = fc.record({
  inquiryType: u32,
  object: fc.option(uuidArb, { nil: null }),
  interfaceId: fc.option(syntaxArb, { nil: null }),
  versOption: u32,
  entryHandle: contextHandleArb,
  maxEnts: u32,
});

export const eptResponseArb: fc.Arbitrary<EptLookupResponse> = fc.record({
  entryHandle: contextHandleArb,
  entries: fc.array(entryArb, { maxLength: 8 }),
  status: u32,
});

/** Mutations of valid bytes: flip bytes, truncate, extend, or overwrite with a large u32. */
export const mutate = (bytes: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.array(fc.tuple(fc.nat(), u8), { minLength: 1, maxLength: 6 }).map((flips) => {
      const out = Uint8Array.from(bytes);
      if (out.length === 0) return out;
      for (const [at, value] of flips) out[at % out.length] = value;
      return out;
    }),
    fc.nat({ max: Math.max(0, bytes.length) }).map((length) => bytes.slice(0, length)),
    bytesArb(32).map((tail) => Uint8Array.from([...bytes, ...tail])),
    fc
      .tuple(fc.nat(), fc.constantFrom(0xffffffff, 0x7fffffff, 0x10000, 0xffff))
      .map(([at, big]) => {
        const out = Uint8Array.from(bytes);
        if (out.length < 4) return out;
        new DataView(out.buffer).setUint32((at % (out.length - 3)) & ~3, big, true);
        return out;
      }),
  );
