import { decodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import { isNtlmsspToken, ntlmsspMessageType } from "../ntlmssp/index.js";
import {
  DER_APPLICATION,
  DER_CONSTRUCTED,
  DER_CONTEXT,
  DER_TAG,
  decodeOid,
  decodeSmallInteger,
  expectTag,
  oidContents,
  readChildren,
  readElement,
  readExplicit,
  tlv,
  type DerElement,
} from "./der.js";

/**
 * SPNEGO (RFC 4178) tokens as SMB carries them, and the GSS-API framing of the first one
 * (RFC 2743 §3.1):
 *
 *   InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {         -- 0x60
 *       thisMech MechType,                                              -- 1.3.6.1.5.5.2
 *       innerContextToken NegotiationToken }
 *   NegotiationToken ::= CHOICE { negTokenInit [0] NegTokenInit,        -- 0xa0
 *                                 negTokenResp [1] NegTokenResp }       -- 0xa1
 *   NegTokenInit ::= SEQUENCE { mechTypes [0] MechTypeList, reqFlags [1] ContextFlags OPTIONAL,
 *       mechToken [2] OCTET STRING OPTIONAL, mechListMIC [3] OCTET STRING OPTIONAL, ... }
 *   NegTokenResp ::= SEQUENCE { negState [0] ENUMERATED OPTIONAL, supportedMech [1] MechType
 *       OPTIONAL, responseToken [2] OCTET STRING OPTIONAL, mechListMIC [3] OCTET STRING OPTIONAL }
 *
 * Servers put a NegTokenInit2 (MS-SPNG §2.2.1) in the SMB1 extended-security NEGOTIATE response
 * and the SMB2 NEGOTIATE security buffer: the same SEQUENCE with negHints [3] (a SEQUENCE, so
 * it is told from RFC 4178's mechListMIC [3] OCTET STRING by its tag) and mechListMIC at [4].
 * Later tokens (the NegTokenResp carrying the NTLMSSP CHALLENGE) have no GSS framing (RFC 4178
 * §4.2). Some peers skip SPNEGO and send a raw NTLMSSP token; decodeSecurityBlob recognises it.
 *
 * Bounds: the walk follows this fixed grammar, so it never nests deeper than six elements
 * (0x60 → a0 → 30 → a0 → 30 → 06) whatever the input says; unknown fields are skipped without
 * descending; every length is checked against its enclosing element (der.ts).
 */

/** Mechanism OIDs seen in SMB security blobs (impacket spnego.py MechTypes, MS-SPNG §1.9). */
export const MECH_OID = {
  spnego: "1.3.6.1.5.5.2",
  ntlmssp: "1.3.6.1.4.1.311.2.2.10",
  kerberos: "1.2.840.113554.1.2.2",
  /** Windows 2000's mis-encoded Kerberos OID, kept by every Windows since (MS-SPNG §3.3.5.1). */
  msKerberos: "1.2.840.48018.1.2.2",
  kerberosUserToUser: "1.2.840.113554.1.2.2.3",
  negoex: "1.3.6.1.4.1.311.2.2.30",
} as const;

const MECH_NAMES: ReadonlyMap<string, string> = new Map([
  [MECH_OID.spnego, "SPNEGO"],
  [MECH_OID.ntlmssp, "NTLMSSP"],
  [MECH_OID.kerberos, "Kerberos 5"],
  [MECH_OID.msKerberos, "MS Kerberos 5"],
  [MECH_OID.kerberosUserToUser, "Kerberos 5 user-to-user"],
  [MECH_OID.negoex, "NEGOEX"],
]);

/** A readable name for a mechanism OID, or null if unknown. */
export function mechName(oid: string): string | null {
  return MECH_NAMES.get(oid) ?? null;
}

/** RFC 4178 §4.2.2 negState. */
export const NEG_STATE = {
  acceptCompleted: 0,
  acceptIncomplete: 1,
  reject: 2,
  requestMic: 3,
} as const;

const NEG_STATE_NAMES = ["accept-completed", "accept-incomplete", "reject", "request-mic"] as const;
export type NegStateName = (typeof NEG_STATE_NAMES)[number];

/** RFC 4178 §4.2.1 ContextFlags: BIT STRING bit n is `1 << n` here (deleg = 1, mutual = 2...). */
export const CONTEXT_FLAG = {
  deleg: 1 << 0,
  mutual: 1 << 1,
  replay: 1 << 2,
  sequence: 1 << 3,
  anon: 1 << 4,
  conf: 1 << 5,
  integ: 1 << 6,
} as const;

/** MS-SPNG §2.2.1 NegHints. Samba sends hintName "not_defined_in_RFC4178@please_ignore". */
export interface NegHints {
  readonly hintName: string | null;
  readonly hintAddress: Uint8Array | null;
}

export interface NegTokenInit {
  readonly kind: "negTokenInit";
  /** MechTypeList as dotted OIDs, in the sender's order of preference. */
  readonly mechTypes: readonly string[];
  /** ContextFlags as a bit mask (CONTEXT_FLAG), or null when absent. */
  readonly reqFlags: number | null;
  /** The optimistic token for mechTypes[0], e.g. an NTLMSSP NEGOTIATE. */
  readonly mechToken: Uint8Array | null;
  /** NegTokenInit2 negHints (MS-SPNG §2.2.1), or null. */
  readonly negHints: NegHints | null;
  readonly mechListMIC: Uint8Array | null;
  /** Whether the token came in the RFC 2743 §3.1 framing (0x60 + SPNEGO OID). */
  readonly gssFramed: boolean;
}

export interface NegTokenResp {
  readonly kind: "negTokenResp";
  readonly negState: number | null;
  readonly negStateName: NegStateName | null;
  readonly supportedMech: string | null;
  /** The mechanism's reply, e.g. the NTLMSSP CHALLENGE. */
  readonly responseToken: Uint8Array | null;
  readonly mechListMIC: Uint8Array | null;
}

/** A raw NTLMSSP token sent without SPNEGO. */
export interface RawNtlmsspBlob {
  readonly kind: "ntlmssp";
  readonly token: Uint8Array;
  /** MS-NLMP MessageType (1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE), null if cut short. */
  readonly messageType: number | null;
}

/** An empty security buffer (an SMB2 server with nothing to hint). */
export interface EmptyBlob {
  readonly kind: "empty";
}

export type SpnegoToken = NegTokenInit | NegTokenResp;
export type SecurityBlob = NegTokenInit | NegTokenResp | RawNtlmsspBlob | EmptyBlob;

export interface NegTokenInitInit {
  readonly mechTypes: readonly string[];
  readonly reqFlags?: number | null;
  readonly mechToken?: Uint8Array | null;
  readonly negHints?: NegHints | null;
  readonly mechListMIC?: Uint8Array | null;
  /** Wrap in the GSS-API InitialContextToken (0x60 + SPNEGO OID); true unless told otherwise. */
  readonly gssFramed?: boolean;
}

export interface NegTokenRespInit {
  readonly negState?: number | null;
  readonly supportedMech?: string | null;
  readonly responseToken?: Uint8Array | null;
  readonly mechListMIC?: Uint8Array | null;
}

const TAG_INIT = DER_CONTEXT | DER_CONSTRUCTED | 0; // 0xa0
const TAG_RESP = DER_CONTEXT | DER_CONSTRUCTED | 1; // 0xa1
const TAG_GSS = DER_APPLICATION | DER_CONSTRUCTED | 0; // 0x60

function ctx(n: number): number {
  return DER_CONTEXT | DER_CONSTRUCTED | n;
}

/**
 * Build a NegTokenInit, by default GSS-framed as a client's first token. With negHints it is a
 * NegTokenInit2 and mechListMIC goes to [4]; without, mechListMIC is RFC 4178's [3].
 * Throws RangeError on a malformed OID.
 */
export function encodeNegTokenInit(init: NegTokenInitInit): Buffer {
  const fields: Buffer[] = [tlv(ctx(0), tlv(DER_TAG.sequence, ...init.mechTypes.map(oidElement)))];
  if (init.reqFlags !== undefined && init.reqFlags !== null) {
    fields.push(tlv(ctx(1), bitString(init.reqFlags)));
  }
  if (init.mechToken !== undefined && init.mechToken !== null) {
    fields.push(tlv(ctx(2), tlv(DER_TAG.octetString, init.mechToken)));
  }
  const hints = init.negHints ?? null;
  if (hints !== null) {
    const parts: Buffer[] = [];
    if (hints.hintName !== null) {
      parts.push(tlv(ctx(0), tlv(DER_TAG.generalString, Buffer.from(hints.hintName, "latin1"))));
    }
    if (hints.hintAddress !== null) {
      parts.push(tlv(ctx(1), tlv(DER_TAG.octetString, hints.hintAddress)));
    }
    fields.push(tlv(ctx(3), tlv(DER_TAG.sequence, ...parts)));
  }
  if (init.mechListMIC !== undefined && init.mechListMIC !== null) {
    fields.push(tlv(ctx(hints === null ? 3 : 4), tlv(DER_TAG.octetString, init.mechListMIC)));
  }
  const token = tlv(TAG_INIT, tlv(DER_TAG.sequence, ...fields));
  return init.gssFramed === false ? token : tlv(TAG_GSS, oidElement(MECH_OID.spnego), token);
}

/** Build a NegTokenResp (never GSS-framed, RFC 4178 §4.2). */
export function encodeNegTokenResp(resp: NegTokenRespInit): Buffer {
  const fields: Buffer[] = [];
  if (resp.negState !== undefined && resp.negState !== null) {
    if (!Number.isInteger(resp.negState) || resp.negState < 0 || resp.negState > 0x7f) {
      throw new RangeError(`negState must be 0..127, got ${resp.negState}`);
    }
    fields.push(tlv(ctx(0), tlv(DER_TAG.enumerated, Buffer.from([resp.negState]))));
  }
  if (resp.supportedMech !== undefined && resp.supportedMech !== null) {
    fields.push(tlv(ctx(1), oidElement(resp.supportedMech)));
  }
  if (resp.responseToken !== undefined && resp.responseToken !== null) {
    fields.push(tlv(ctx(2), tlv(DER_TAG.octetString, resp.responseToken)));
  }
  if (resp.mechListMIC !== undefined && resp.mechListMIC !== null) {
    fields.push(tlv(ctx(3), tlv(DER_TAG.octetString, resp.mechListMIC)));
  }
  return tlv(TAG_RESP, tlv(DER_TAG.sequence, ...fields));
}

/**
 * Parse a SPNEGO token: GSS-framed (0x60, thisMech must be SPNEGO) or bare [0]/[1]. The token
 * must fill `bytes` exactly. Never throws.
 */
export function decodeSpnegoToken(bytes: Uint8Array): SpnegoToken | DecodeIssue {
  const outer = readElement(bytes, 0, bytes.length, "spnego-token");
  if ("kind" in outer) return outer;
  if (outer.next !== bytes.length) {
    return decodeIssue(
      "spnego-token",
      outer.next,
      `${bytes.length - outer.next} bytes after the token`,
    );
  }
  if (outer.tag === TAG_GSS) {
    // RFC 2743 §3.1: thisMech, then the mechanism's token up to the end.
    const mech = readElement(outer.value, 0, outer.value.length, "this-mech", outer.valueOffset);
    if ("kind" in mech) return mech;
    const oid = decodeOid(mech, "this-mech");
    if (typeof oid !== "string") return oid;
    if (oid !== MECH_OID.spnego) {
      return decodeIssue("this-mech", mech.offset, `GSS token for ${oid}, not SPNEGO`);
    }
    const inner = readElement(
      outer.value,
      mech.next,
      outer.value.length,
      "negotiation-token",
      outer.valueOffset,
    );
    if ("kind" in inner) return inner;
    if (inner.next !== outer.value.length) {
      return decodeIssue(
        "negotiation-token",
        outer.valueOffset + inner.next,
        "bytes after the NegotiationToken inside the GSS token",
      );
    }
    return negotiationToken(inner, true);
  }
  return negotiationToken(outer, false);
}

/**
 * Classify and parse an SMB security buffer: empty, a raw NTLMSSP token, or a SPNEGO token.
 * Never throws.
 */
export function decodeSecurityBlob(bytes: Uint8Array): SecurityBlob | DecodeIssue {
  if (bytes.length === 0) return { kind: "empty" };
  if (isNtlmsspToken(bytes)) {
    return {
      kind: "ntlmssp",
      token: Uint8Array.from(bytes),
      messageType: ntlmsspMessageType(bytes),
    };
  }
  return decodeSpnegoToken(bytes);
}

/**
 * The NTLMSSP token a security blob carries: a raw token, NegTokenInit.mechToken or
 * NegTokenResp.responseToken when it starts with the NTLMSSP signature; else null.
 */
export function ntlmsspTokenOf(blob: SecurityBlob): Uint8Array | null {
  const token =
    blob.kind === "ntlmssp"
      ? blob.token
      : blob.kind === "negTokenInit"
        ? blob.mechToken
        : blob.kind === "negTokenResp"
          ? blob.responseToken
          : null;
  return token !== null && isNtlmsspToken(token) ? token : null;
}

function negotiationToken(el: DerElement, gssFramed: boolean): SpnegoToken | DecodeIssue {
  if (el.tag === TAG_INIT) return negTokenInit(el, gssFramed);
  if (el.tag === TAG_RESP) return negTokenResp(el);
  return decodeIssue(
    "negotiation-token",
    el.offset,
    `expected negTokenInit [0] or negTokenResp [1], found tag 0x${el.tag.toString(16)}`,
  );
}

/**
 * The fields of a NegTokenInit/NegTokenResp SEQUENCE, by context tag number. DER orders them by
 * tag (X.690 §10.3 for SEQUENCE is the definition order); a repeat or a step back is refused.
 * Unknown tags are the RFC's extension marker "..." and are skipped without descending.
 */
function fieldsOf(wrapper: DerElement, what: string): Map<number, DerElement> | DecodeIssue {
  const sequence = readExplicit(wrapper, what);
  if ("kind" in sequence) return sequence;
  const bad = expectTag(sequence, DER_TAG.sequence, what);
  if (bad !== null) return bad;
  const children = readChildren(sequence, what);
  if ("kind" in children) return children;
  const fields = new Map<number, DerElement>();
  let last = -1;
  for (const child of children) {
    if ((child.tag & 0xe0) !== (DER_CONTEXT | DER_CONSTRUCTED)) {
      return decodeIssue(
        what,
        child.offset,
        `unexpected tag 0x${child.tag.toString(16)} in ${what}`,
      );
    }
    const n = child.tag & 0x1f;
    if (n <= last) return decodeIssue(what, child.offset, `field [${n}] repeated or out of order`);
    last = n;
    fields.set(n, child);
  }
  return fields;
}

function negTokenInit(el: DerElement, gssFramed: boolean): NegTokenInit | DecodeIssue {
  const fields = fieldsOf(el, "neg-token-init");
  if ("kind" in fields) return fields;

  const mechTypesField = fields.get(0);
  if (mechTypesField === undefined) {
    return decodeIssue("mech-types", el.offset, "NegTokenInit has no mechTypes [0]");
  }
  const list = readExplicit(mechTypesField, "mech-types");
  if ("kind" in list) return list;
  const badList = expectTag(list, DER_TAG.sequence, "mech-types");
  if (badList !== null) return badList;
  const oids = readChildren(list, "mech-types");
  if ("kind" in oids) return oids;
  const mechTypes: string[] = [];
  for (const item of oids) {
    const oid = decodeOid(item, "mech-type");
    if (typeof oid !== "string") return oid;
    mechTypes.push(oid);
  }

  let reqFlags: number | null = null;
  const flagsField = fields.get(1);
  if (flagsField !== undefined) {
    const bits = readExplicit(flagsField, "req-flags");
    if ("kind" in bits) return bits;
    const value = decodeBitString(bits);
    if (typeof value !== "number") return value;
    reqFlags = value;
  }

  const mechToken = optionalOctets(fields.get(2), "mech-token");
  if (mechToken !== null && "kind" in mechToken) return mechToken;

  let negHints: NegHints | null = null;
  let mechListMIC: Uint8Array | null = null;
  const third = fields.get(3);
  if (third !== undefined) {
    const inner = readExplicit(third, "neg-hints");
    if ("kind" in inner) return inner;
    if (inner.tag === DER_TAG.sequence) {
      const hints = decodeNegHints(inner);
      if ("kind" in hints) return hints;
      negHints = hints;
    } else {
      const mic = octets(inner, "mech-list-mic");
      if ("kind" in mic) return mic;
      mechListMIC = mic;
    }
  }
  const fourth = optionalOctets(fields.get(4), "mech-list-mic");
  if (fourth !== null && "kind" in fourth) return fourth;
  if (fourth !== null) {
    if (mechListMIC !== null) {
      return decodeIssue("mech-list-mic", fields.get(4)!.offset, "two mechListMIC fields");
    }
    mechListMIC = fourth;
  }
  return {
    kind: "negTokenInit",
    mechTypes,
    reqFlags,
    mechToken,
    negHints,
    mechListMIC,
    gssFramed,
  };
}

function decodeNegHints(sequence: DerElement): NegHints | DecodeIssue {
  const children = readChildren(sequence, "neg-hints");
  if ("kind" in children) return children;
  let hintName: string | null = null;
  let hintAddress: Uint8Array | null = null;
  for (const child of children) {
    if (child.tag === ctx(0) && hintName === null) {
      const name = readExplicit(child, "hint-name");
      if ("kind" in name) return name;
      const bad = expectTag(name, DER_TAG.generalString, "hint-name");
      if (bad !== null) return bad;
      hintName = Buffer.from(name.value).toString("latin1");
    } else if (child.tag === ctx(1) && hintAddress === null) {
      const address = readExplicit(child, "hint-address");
      if ("kind" in address) return address;
      const value = octets(address, "hint-address");
      if ("kind" in value) return value;
      hintAddress = value;
    } else {
      return decodeIssue("neg-hints", child.offset, `unexpected field 0x${child.tag.toString(16)}`);
    }
  }
  return { hintName, hintAddress };
}

function negTokenResp(el: DerElement): NegTokenResp | DecodeIssue {
  const fields = fieldsOf(el, "neg-token-resp");
  if ("kind" in fields) return fields;

  let negState: number | null = null;
  const stateField = fields.get(0);
  if (stateField !== undefined) {
    const inner = readExplicit(stateField, "neg-state");
    if ("kind" in inner) return inner;
    const value = decodeSmallInteger(inner, DER_TAG.enumerated, "neg-state");
    if (typeof value !== "number") return value;
    negState = value;
  }
  let supportedMech: string | null = null;
  const mechField = fields.get(1);
  if (mechField !== undefined) {
    const inner = readExplicit(mechField, "supported-mech");
    if ("kind" in inner) return inner;
    const oid = decodeOid(inner, "supported-mech");
    if (typeof oid !== "string") return oid;
    supportedMech = oid;
  }
  const responseToken = optionalOctets(fields.get(2), "response-token");
  if (responseToken !== null && "kind" in responseToken) return responseToken;
  const mechListMIC = optionalOctets(fields.get(3), "mech-list-mic");
  if (mechListMIC !== null && "kind" in mechListMIC) return mechListMIC;
  return {
    kind: "negTokenResp",
    negState,
    negStateName: negState === null ? null : (NEG_STATE_NAMES[negState] ?? null),
    supportedMech,
    responseToken,
    mechListMIC,
  };
}

function optionalOctets(
  wrapper: DerElement | undefined,
  what: string,
): Uint8Array | DecodeIssue | null {
  if (wrapper === undefined) return null;
  const inner = readExplicit(wrapper, what);
  if ("kind" in inner) return inner;
  return octets(inner, what);
}

/** OCTET STRING contents, copied so the result does not alias the receive buffer. */
function octets(el: DerElement, what: string): Uint8Array | DecodeIssue {
  const bad = expectTag(el, DER_TAG.octetString, what);
  return bad ?? Uint8Array.from(el.value);
}

function oidElement(oid: string): Buffer {
  return tlv(DER_TAG.oid, oidContents(oid));
}

/**
 * X.690 §8.6 BIT STRING → mask with bit n of the string at `1 << n` (bits past 31 are ignored:
 * ContextFlags names seven). The first contents octet counts the unused bits (0..7).
 */
function decodeBitString(el: DerElement): number | DecodeIssue {
  const bad = expectTag(el, DER_TAG.bitString, "req-flags");
  if (bad !== null) return bad;
  const unused = el.value[0];
  if (unused === undefined || unused > 7 || (el.value.length === 1 && unused !== 0)) {
    return decodeIssue("req-flags", el.offset, "malformed BIT STRING");
  }
  const bitCount = Math.min((el.value.length - 1) * 8 - unused, 32);
  let mask = 0;
  for (let n = 0; n < bitCount; n++) {
    if ((el.value[1 + (n >> 3)]! & (0x80 >> (n & 7))) !== 0) mask += 2 ** n;
  }
  return mask;
}

/** X.690 §11.2.2 (DER): a named-bit BIT STRING without trailing zero bits. */
function bitString(mask: number): Buffer {
  if (!Number.isInteger(mask) || mask < 0 || mask > 0xffffffff) {
    throw new RangeError(`reqFlags must be a 32-bit mask, got ${mask}`);
  }
  if (mask === 0) return tlv(DER_TAG.bitString, Buffer.from([0]));
  let highest = 31;
  while (mask < 2 ** highest) highest--;
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (let n = 0; n <= highest; n++) {
    if (Math.floor(mask / 2 ** n) % 2 === 1) bytes[n >> 3]! |= 0x80 >> (n & 7);
  }
  return tlv(DER_TAG.bitString, Buffer.from([7 - (highest % 8)]), bytes);
}
