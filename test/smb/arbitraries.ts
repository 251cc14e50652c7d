import fc from "fast-check";
import {
  SMB1_CAPABILITIES,
  SMB1_FLAGS,
  SMB1_FLAGS2,
  SMB2_FLAGS,
  SMB2_NEGOTIATE_CONTEXT_TYPE,
  type Smb1HeaderInit,
  type Smb2FileId,
  type Smb2HeaderInit,
  type Smb2NegotiateContext,
} from "../../src/protocols/smb/index.js";

/** fast-check building blocks for the SMB round-trip and robustness properties. */

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
export const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
export const bytes = (maxLength = 64) => fc.uint8Array({ maxLength });
export const guid = fc.uuid().map((u) => u.toLowerCase());

/** Text without NUL: Unicode (any code point) or OEM (latin1, one byte each). */
export function smbText(unicode: boolean, maxLength = 16): fc.Arbitrary<string> {
  return unicode
    ? fc.string({ unit: "binary", maxLength }).filter((s) => !s.includes("\u0000"))
    : fc.string({
        unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)),
        maxLength,
      });
}

/** SMB1 header fields; requests never carry REPLY. */
export function smb1HeaderInit(direction: "request" | "response"): fc.Arbitrary<Smb1HeaderInit> {
  return fc.record({
    status: u32,
    flags: direction === "request" ? u8.map((f) => f & ~SMB1_FLAGS.REPLY) : u8,
    flags2: u16,
    pidHigh: u16,
    signature: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    tid: u16,
    pidLow: u16,
    uid: u16,
    mid: u16,
  });
}

export const isUnicodeInit = (h: Smb1HeaderInit): boolean =>
  ((h.flags2 ?? 0) & SMB1_FLAGS2.UNICODE) !== 0;

/** SMB2 header fields; requests never carry SERVER_TO_REDIR. */
export function smb2HeaderInit(
  direction: "request" | "response",
  status: fc.Arbitrary<number> = u32,
): fc.Arbitrary<Smb2HeaderInit> {
  return fc.record({
    creditCharge: u16,
    status,
    credits: u16,
    flags: direction === "request" ? u32.map((f) => (f & ~SMB2_FLAGS.SERVER_TO_REDIR) >>> 0) : u32,
    nextCommand: u32,
    messageId: u64,
    asyncId: fc.option(u64, { nil: null }),
    processId: u32,
    treeId: u32,
    sessionId: u64,
    signature: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  });
}

export const fileId: fc.Arbitrary<Smb2FileId> = fc.record({ persistent: u64, volatile: u64 });

const KNOWN_CONTEXT_TYPES = new Set<number>(Object.values(SMB2_NEGOTIATE_CONTEXT_TYPE));

export const negotiateContext: fc.Arbitrary<Smb2NegotiateContext> = fc.oneof(
  fc.record({
    type: fc.constant("preauth-integrity" as const),
    hashAlgorithms: fc.array(u16, { maxLength: 4 }),
    salt: bytes(40),
  }),
  fc.record({ type: fc.constant("encryption" as const), ciphers: fc.array(u16, { maxLength: 5 }) }),
  fc.record({
    type: fc.constant("compression" as const),
    flags: u32,
    algorithms: fc.array(u16, { maxLength: 6 }),
  }),
  fc.record({
    type: fc.constant("netname" as const),
    netName: fc.string({ unit: "binary", maxLength: 20 }),
  }),
  fc.record({ type: fc.constant("transport" as const), flags: u32 }),
  fc.record({
    type: fc.constant("rdma-transform" as const),
    transformIds: fc.array(u16, { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant("signing" as const), algorithms: fc.array(u16, { maxLength: 4 }) }),
  fc.record({
    type: fc.constant("other" as const),
    contextType: u16.filter((t) => !KNOWN_CONTEXT_TYPES.has(t)),
    data: bytes(24),
  }),
);

/** Capabilities consistent with the negotiate response security form. */
export function smb1Capabilities(extended: boolean): fc.Arbitrary<number> {
  return u32.map((c) =>
    extended
      ? (c | SMB1_CAPABILITIES.EXTENDED_SECURITY) >>> 0
      : (c & ~SMB1_CAPABILITIES.EXTENDED_SECURITY) >>> 0,
  );
}

/** Sum of the sizes a decoded value holds: bytes, string characters and array elements. */
export function decodedSize(value: unknown, depth = 0): number {
  if (depth > 8 || value === null || value === undefined) return 0;
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === "string") return value.length;
  if (Array.isArray(value))
    return value.length + value.reduce((n: number, v) => n + decodedSize(v, depth + 1), 0);
  if (typeof value === "object") {
    return Object.values(value as Record<string, unknown>).reduce(
      (n: number, v) => n + decodedSize(v, depth + 1),
      0,
    );
  }
  return 0;
}
