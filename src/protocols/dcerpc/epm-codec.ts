import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import {
  NdrReader,
  NdrWriter,
  formatUuid,
  isNullContextHandle,
  parseUuid,
  type ContextHandle,
} from "./ndr.js";
import { LITTLE_ENDIAN_DREP, type DataRepresentation } from "./pdu-codec.js";
import { NDR_TRANSFER_SYNTAX, type SyntaxId } from "./uuids.js";

/**
 * Endpoint mapper `ept_lookup` (opnum 2) and protocol towers.
 *
 *  - C706 Appendix O (ept.idl) / Samba librpc/idl/epmapper.idl: the operation and its types
 *  - C706 Appendix L: the tower_octet_string encoding (floors with LHS/RHS, not NDR-aligned)
 *  - research doc Appendix E (§9): the request impacket/nmap send and the response layout
 *
 * Stubs are NDR in the PDU's byte order (`drep`); towers are always little-endian with
 * big-endian ports and addresses, whatever the PDU's drep (C706 Appendix L).
 */

/** C706 Appendix O: ept_lookup is operation 2 of the epmapper interface. */
export const EPT_LOOKUP_OPNUM = 2;
/** Samba epmapper.idl EPMAPPER_STATUS_*; 0x16c9a0d6 is also impacket's RPC_NO_MORE_ELEMENTS. */
export const EPMAPPER_STATUS_OK = 0;
export const EPMAPPER_STATUS_NO_MORE_ENTRIES = 0x16c9a0d6;
export const EPMAPPER_STATUS_NO_MEMORY = 0x16c9a012;

/** C706 Appendix O inquiry_type (rpc_c_ep_*). */
export const EPT_INQUIRY = Object.freeze({
  allElements: 0,
  matchByInterface: 1,
  matchByObject: 2,
  matchByBoth: 3,
} as const);

/** C706 Appendix O vers_option (rpc_c_vers_*). */
export const EPT_VERS_OPTION = Object.freeze({
  all: 1,
  compatible: 2,
  exact: 3,
  majorOnly: 4,
  upTo: 5,
} as const);

/** C706 Appendix O: `char annotation[ept_max_annotation_size]`, NUL included. */
export const EPT_MAX_ANNOTATION_SIZE = 64;

/** C706 Appendix I / Samba epm_protocol: floor protocol identifiers (the LHS's first octet). */
export const TOWER_PROTOCOL_ID = Object.freeze({
  tcp: 0x07,
  udp: 0x08,
  ip: 0x09,
  ncadg: 0x0a,
  ncacn: 0x0b,
  ncalrpc: 0x0c,
  uuid: 0x0d,
  namedPipe: 0x0f,
  localEndpoint: 0x10,
  netbios: 0x11,
  http: 0x1f,
} as const);

/** Protocol ids this codec interprets; any other id decodes as an "unknown" floor. */
const KNOWN_FLOOR_IDS: ReadonlySet<number> = new Set(Object.values(TOWER_PROTOCOL_ID));

/**
 * One tower floor (C706 Appendix L), interpreted where the protocol id is known:
 *  - uuid (0x0d): interface or transfer syntax, LHS = id, UUID, major; RHS = minor
 *  - ncacn (0x0b) / ncadg (0x0a) / ncalrpc (0x0c): RPC protocol, RHS = minor version
 *  - tcp (0x07) / udp (0x08) / http (0x1f): RHS = port, big-endian
 *  - ip (0x09): RHS = IPv4 address, network order
 *  - named-pipe (0x0f) / netbios (0x11) / local-endpoint (0x10): RHS = NUL-terminated string
 */
export type TowerFloor =
  | { readonly protocol: "uuid"; readonly syntax: SyntaxId }
  | { readonly protocol: "ncacn" | "ncadg" | "ncalrpc"; readonly minorVersion: number }
  | { readonly protocol: "tcp" | "udp" | "http"; readonly port: number }
  | { readonly protocol: "ip"; readonly address: string }
  | { readonly protocol: "named-pipe" | "netbios" | "local-endpoint"; readonly name: string }
  | { readonly protocol: "unknown"; readonly lhs: Uint8Array; readonly rhs: Uint8Array };

/** C706 Appendix O ept_entry_t. */
export interface EptEntry {
  /** Object UUID; the nil UUID for most registrations. */
  readonly object: string;
  /** Decoded tower floors, or null for a NULL tower pointer. */
  readonly tower: readonly TowerFloor[] | null;
  /** Annotation (DOS charset), e.g. "Impl friendly name"; "" when none. */
  readonly annotation: string;
}

/** ept_lookup [in] parameters (C706 Appendix O; research Appendix E). */
export interface EptLookupRequest {
  /** EPT_INQUIRY; RPC_C_EP_ALL_ELTS to list everything. */
  readonly inquiryType: number;
  /** [ptr] uuid_p_t object: null sends a NULL pointer. */
  readonly object: string | null;
  /** [ptr] rpc_if_id_p_t interface_id: null sends a NULL pointer. */
  readonly interfaceId: SyntaxId | null;
  /** EPT_VERS_OPTION. */
  readonly versOption: number;
  /** All-zero on the first call, then the handle the previous page returned. */
  readonly entryHandle: ContextHandle;
  readonly maxEnts: number;
}

/** ept_lookup [out] parameters. */
export interface EptLookupResponse {
  readonly entryHandle: ContextHandle;
  readonly entries: readonly EptEntry[];
  /** error_status_t: EPMAPPER_STATUS_OK, EPMAPPER_STATUS_NO_MORE_ENTRIES, ... */
  readonly status: number;
}

function littleEndianOf(drep: DataRepresentation): boolean {
  return drep.integer === "little-endian";
}

// ---------------------------------------------------------------------------------------------
// ept_lookup request
// ---------------------------------------------------------------------------------------------

/**
 * ept_lookup request stub. With NULL object/interface this is the 40-byte stub of research
 * Appendix E. Non-NULL [ptr] arguments get full-pointer referent ids 1, 2 (MIDL's numbering;
 * impacket notes Windows 2003 rejects arbitrary ids for the epmapper's full pointers).
 */
export function encodeEptLookupRequest(
  request: EptLookupRequest,
  drep: DataRepresentation = LITTLE_ENDIAN_DREP,
): Uint8Array {
  const w = new NdrWriter({ littleEndian: littleEndianOf(drep) });
  w.u32(request.inquiryType);
  // Top-level [ptr] arguments: the referent follows the id at once; only referents of
  // pointers embedded in structures and arrays are deferred (C706 §14.3.10-12).
  w.fullPointer(request.object !== null);
  if (request.object !== null) w.uuid(request.object);
  w.fullPointer(request.interfaceId !== null);
  if (request.interfaceId !== null) writeIfId(w, request.interfaceId);
  w.u32(request.versOption);
  // [in, out] ept_lookup_handle_t *entry_handle: a ref pointer, so no referent id.
  w.contextHandle(request.entryHandle);
  w.u32(request.maxEnts);
  return w.toBytes();
}

/** The lab's emulated mapper reads requests with this. Never throws. */
export function decodeEptLookupRequest(
  stub: Uint8Array,
  drep: DataRepresentation = LITTLE_ENDIAN_DREP,
): EptLookupRequest | DecodeIssue {
  const r = new NdrReader(stub, { littleEndian: littleEndianOf(drep) });
  const inquiryType = r.u32("inquiry_type");
  const objectRef = r.fullPointer("object");
  let object: string | null = null;
  if (objectRef.hasReferent) object = r.uuid("object");
  const ifRef = r.fullPointer("interface_id");
  let interfaceId: SyntaxId | null = null;
  if (ifRef.hasReferent) interfaceId = readIfId(r);
  // A repeated non-NULL id would alias a UUID to an rpc_if_id_t: malformed.
  if (ifRef.referentId !== 0 && !ifRef.hasReferent) {
    r.fail("interface_id", `referent id ${ifRef.referentId} aliases the object pointer`);
  }
  const versOption = r.u32("vers_option");
  const entryHandle = r.contextHandle("entry_handle");
  const maxEnts = r.u32("max_ents");
  return r.result({ inquiryType, object, interfaceId, versOption, entryHandle, maxEnts });
}

/** C706 Appendix O rpc_if_id_t: uuid, u16 vers_major, u16 vers_minor. */
function writeIfId(w: NdrWriter, id: SyntaxId): void {
  w.uuid(id.uuid).u16(id.major).u16(id.minor);
}

function readIfId(r: NdrReader): SyntaxId {
  const uuid = r.uuid("interface_id");
  const major = r.u16("vers_major");
  const minor = r.u16("vers_minor");
  return { uuid, major, minor };
}

// ---------------------------------------------------------------------------------------------
// ept_lookup response
// ---------------------------------------------------------------------------------------------

export interface EncodeEptLookupResponseOptions {
  /**
   * max_count of the entries array: the request's max_ents, as Samba and Windows send it
   * (`size_is(max_ents)`). Defaults to the number of entries.
   */
  readonly maxEnts?: number;
  readonly drep?: DataRepresentation;
}

/**
 * ept_lookup response stub (research Appendix E): entry_handle, num_ents, the conformant-varying
 * entries array (towers deferred after it, C706 §14.3.12), status. Used by the lab's emulated
 * mapper; throws on values that cannot be encoded.
 */
export function encodeEptLookupResponse(
  response: EptLookupResponse,
  options: EncodeEptLookupResponseOptions = {},
): Uint8Array {
  const count = response.entries.length;
  const maxEnts = options.maxEnts ?? count;
  if (maxEnts < count) throw new RangeError(`${count} entries exceed max_ents ${maxEnts}`);
  const w = new NdrWriter({ littleEndian: littleEndianOf(options.drep ?? LITTLE_ENDIAN_DREP) });
  w.contextHandle(response.entryHandle);
  w.u32(count); // *num_ents
  // [length_is(*num_ents), size_is(max_ents)] ept_entry_t entries[]
  w.conformance(maxEnts).variance(0, count);
  const towers: Uint8Array[] = [];
  for (const entry of response.entries) {
    w.uuid(entry.object);
    // twr_p_t is a [ptr] full pointer; each entry gets its own referent.
    w.fullPointer(entry.tower !== null);
    if (entry.tower !== null) towers.push(encodeTower(entry.tower));
    writeAnnotation(w, entry.annotation);
  }
  // Deferred referents, in the order their pointers appeared: twr_t is a conformant struct, so
  // max_count is hoisted before tower_length (C706 ch. 14 conformant structures). Samba writes
  // tower_length then a subcontext size instead: the same two equal numbers.
  for (const octets of towers) {
    w.conformance(octets.length).u32(octets.length).bytes(octets);
  }
  w.u32(response.status);
  return w.toBytes();
}

/** `[string] char annotation[64]`: a varying string, NUL-terminated (Samba epm_entry_t). */
function writeAnnotation(w: NdrWriter, annotation: string): void {
  if (annotation.includes("\0")) throw new TypeError("annotation must not contain NUL");
  if (annotation.length + 1 > EPT_MAX_ANNOTATION_SIZE) {
    throw new RangeError(`annotation longer than ${EPT_MAX_ANNOTATION_SIZE - 1} characters`);
  }
  w.varyingString(annotation, 1);
}

/** An ept_entry_t is at least object (16) + tower pointer (4) + annotation offset/count (8). */
const MIN_ENTRY_BYTES = 28;

/**
 * Decode an ept_lookup response stub. The status is returned as sent and never discards the
 * entries: Samba answers the last page with entries AND EPMAPPER_STATUS_NO_MORE_ENTRIES
 * (lab-and-peers.md §2), which must read as success; see eptLookupPageState. Never throws; the
 * entry count is checked against the bytes present before the loop, so a claimed count of
 * 0xFFFFFFFF is an issue, not an allocation.
 */
export function decodeEptLookupResponse(
  stub: Uint8Array,
  drep: DataRepresentation = LITTLE_ENDIAN_DREP,
): EptLookupResponse | DecodeIssue {
  const r = new NdrReader(stub, { littleEndian: littleEndianOf(drep) });
  const entryHandle = r.contextHandle("entry_handle");
  const numEnts = r.u32("num_ents");
  const maxCount = r.maxCount("entries");
  const { actualCount } = r.variance(MIN_ENTRY_BYTES, maxCount, "entries");
  if (!r.failed && actualCount !== numEnts) {
    r.fail("entries", `actual_count ${actualCount} differs from num_ents ${numEnts}`);
  }

  interface RawEntry {
    object: string;
    referentId: number;
    annotation: string;
  }
  const raw: RawEntry[] = [];
  const pending: number[] = [];
  for (let i = 0; i < actualCount && !r.failed; i++) {
    const object = r.uuid("entry.object");
    const pointer = r.fullPointer("entry.tower");
    const annotation = readAnnotation(r);
    raw.push({ object, referentId: pointer.referentId, annotation });
    if (pointer.hasReferent) pending.push(pointer.referentId);
  }

  // Deferred twr_t referents, one per first-seen referent id, in pointer order.
  const towers = new Map<number, readonly TowerFloor[]>();
  for (const referentId of pending) {
    if (r.failed) break;
    const max = r.conformance(1, "tower");
    const towerLength = r.u32("tower_length");
    if (!r.failed && towerLength !== max) {
      r.fail("tower", `tower_length ${towerLength} differs from max_count ${max}`);
    }
    const start = r.offset;
    const octets = r.bytesOf(max, "tower_octet_string");
    if (r.failed) break;
    const floors = decodeTower(octets);
    if (isDecodeIssue(floors)) {
      // Re-anchor the tower's own offsets to the stub.
      return decodeIssue(floors.what, start + floors.offset, floors.message, floors.needed);
    }
    towers.set(referentId, floors);
  }
  const status = r.u32("status");
  const entries: EptEntry[] = raw.map((entry) => ({
    object: entry.object,
    tower: entry.referentId === 0 ? null : (towers.get(entry.referentId) ?? null),
    annotation: entry.annotation,
  }));
  return r.result({ entryHandle, entries, status });
}

/**
 * The annotation as a C string: offset, actual_count, chars, read up to the first NUL. Lenient
 * on purpose (an empty annotation may come with count 0 or 1) since it is display-only.
 */
function readAnnotation(r: NdrReader): string {
  const { actualCount } = r.variance(1, undefined, "entry.annotation");
  const raw = r.bytesOf(actualCount, "entry.annotation");
  return latin1UpToNul(raw, 0, raw.length);
}

export type EptLookupPageState = "more" | "last" | "failed";

/**
 * How a client walking the map should treat a page (research Appendix E, lab-and-peers §2):
 *  - "more": status OK with a non-NULL handle and at least one entry → ask again with the handle
 *  - "last": status OK with a NULL handle, or EPMAPPER_STATUS_NO_MORE_ENTRIES (Samba sends its
 *    final entries with it) → keep this page's entries and stop
 *  - "failed": any other status → keep nothing from this page
 * An OK page with no entries also ends the walk, so a peer cannot keep a client looping.
 */
export function eptLookupPageState(response: EptLookupResponse): EptLookupPageState {
  if (response.status === EPMAPPER_STATUS_NO_MORE_ENTRIES) return "last";
  if (response.status !== EPMAPPER_STATUS_OK) return "failed";
  if (isNullContextHandle(response.entryHandle) || response.entries.length === 0) return "last";
  return "more";
}

// ---------------------------------------------------------------------------------------------
// Towers (C706 Appendix L)
// ---------------------------------------------------------------------------------------------

/** Smallest floor: lhs count (2) + 1-octet protocol id + rhs count (2). */
const MIN_FLOOR_BYTES = 5;

/**
 * Decode a tower_octet_string: u16 floor_count (little-endian), then per floor u16 LHS count,
 * LHS octets, u16 RHS count, RHS octets, all unaligned. Octets after the last declared floor are
 * ignored. Never throws.
 */
export function decodeTower(octets: Uint8Array): readonly TowerFloor[] | DecodeIssue {
  if (octets.length < 2) return decodeIssue("tower", 0, "no floor count", 2 - octets.length);
  const view = new DataView(octets.buffer, octets.byteOffset, octets.byteLength);
  const count = view.getUint16(0, true);
  // Bound the loop by the bytes present before reading any floor.
  if (count * MIN_FLOOR_BYTES > octets.length - 2) {
    return decodeIssue("tower", 0, `floor_count ${count} cannot fit in ${octets.length} bytes`);
  }
  const floors: TowerFloor[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const lhsStart = at;
    if (at + 2 > octets.length) return truncated("tower.lhs", at, 2, octets.length);
    const lhsLength = view.getUint16(at, true);
    at += 2;
    if (lhsLength < 1) return decodeIssue("tower.lhs", lhsStart, "empty LHS (no protocol id)");
    if (at + lhsLength > octets.length) return truncated("tower.lhs", at, lhsLength, octets.length);
    const lhs = octets.slice(at, at + lhsLength);
    at += lhsLength;
    if (at + 2 > octets.length) return truncated("tower.rhs", at, 2, octets.length);
    const rhsLength = view.getUint16(at, true);
    at += 2;
    if (at + rhsLength > octets.length) return truncated("tower.rhs", at, rhsLength, octets.length);
    const rhs = octets.slice(at, at + rhsLength);
    at += rhsLength;
    const floor = decodeFloor(lhs, rhs, lhsStart);
    if (isDecodeIssue(floor)) return floor;
    floors.push(floor);
  }
  return floors;
}

function truncated(what: string, at: number, length: number, total: number): DecodeIssue {
  return decodeIssue(what, at, `needs ${length} bytes, ${total - at} left`, at + length - total);
}

function decodeFloor(lhs: Uint8Array, rhs: Uint8Array, at: number): TowerFloor | DecodeIssue {
  const id = lhs[0] ?? 0;
  const lhsView = new DataView(lhs.buffer, lhs.byteOffset, lhs.byteLength);
  const rhsView = new DataView(rhs.buffer, rhs.byteOffset, rhs.byteLength);
  const expect = (lhsLength: number, rhsLength: number): DecodeIssue | null =>
    lhs.length === lhsLength && rhs.length === rhsLength
      ? null
      : decodeIssue(
          "tower.floor",
          at,
          `protocol 0x${id.toString(16)} floor has LHS ${lhs.length}/RHS ${rhs.length} bytes, ` +
            `expected ${lhsLength}/${rhsLength}`,
        );
  switch (id) {
    case TOWER_PROTOCOL_ID.uuid: {
      // LHS: 0x0d, UUID (little-endian fields), major (LE); RHS: minor (LE).
      const bad = expect(19, 2);
      if (bad !== null) return bad;
      const syntax = {
        uuid: formatUuid(lhs, 1, true),
        major: lhsView.getUint16(17, true),
        minor: rhsView.getUint16(0, true),
      };
      return { protocol: "uuid", syntax };
    }
    case TOWER_PROTOCOL_ID.ncacn:
    case TOWER_PROTOCOL_ID.ncadg:
    case TOWER_PROTOCOL_ID.ncalrpc: {
      // RHS: minor version. impacket reads it little-endian; Samba writes its RHS union
      // big-endian; every peer sends 0, where the two agree.
      const bad = expect(1, 2);
      if (bad !== null) return bad;
      const protocol =
        id === TOWER_PROTOCOL_ID.ncacn
          ? "ncacn"
          : id === TOWER_PROTOCOL_ID.ncadg
            ? "ncadg"
            : "ncalrpc";
      return { protocol, minorVersion: rhsView.getUint16(0, true) };
    }
    case TOWER_PROTOCOL_ID.tcp:
    case TOWER_PROTOCOL_ID.udp:
    case TOWER_PROTOCOL_ID.http: {
      // Ports are in network order (impacket '>H', Samba NDR_BIG_ENDIAN).
      const bad = expect(1, 2);
      if (bad !== null) return bad;
      const protocol =
        id === TOWER_PROTOCOL_ID.tcp ? "tcp" : id === TOWER_PROTOCOL_ID.udp ? "udp" : "http";
      return { protocol, port: rhsView.getUint16(0, false) };
    }
    case TOWER_PROTOCOL_ID.ip: {
      const bad = expect(1, 4);
      if (bad !== null) return bad;
      return { protocol: "ip", address: Array.from(rhs).join(".") };
    }
    case TOWER_PROTOCOL_ID.namedPipe:
    case TOWER_PROTOCOL_ID.netbios:
    case TOWER_PROTOCOL_ID.localEndpoint: {
      const bad = expect(1, rhs.length);
      if (bad !== null) return bad;
      const protocol =
        id === TOWER_PROTOCOL_ID.namedPipe
          ? "named-pipe"
          : id === TOWER_PROTOCOL_ID.netbios
            ? "netbios"
            : "local-endpoint";
      // NUL-terminated ASCII; read up to the first NUL (or the whole RHS if there is none).
      return { protocol, name: latin1UpToNul(rhs, 0, rhs.length) };
    }
    default:
      return { protocol: "unknown", lhs, rhs };
  }
}

/** Encode tower floors into a tower_octet_string (C706 Appendix L). Throws on invalid floors. */
export function encodeTower(floors: readonly TowerFloor[]): Uint8Array {
  if (floors.length > 0xffff) throw new RangeError("too many tower floors");
  const parts: Uint8Array[] = [u16le(floors.length)];
  for (const floor of floors) {
    const { lhs, rhs } = encodeFloor(floor);
    if (lhs.length > 0xffff || rhs.length > 0xffff) throw new RangeError("tower floor too long");
    parts.push(u16le(lhs.length), lhs, u16le(rhs.length), rhs);
  }
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function encodeFloor(floor: TowerFloor): { lhs: Uint8Array; rhs: Uint8Array } {
  switch (floor.protocol) {
    case "uuid": {
      checkU16(floor.syntax.major, "major version");
      const lhs = new Uint8Array(19);
      lhs[0] = TOWER_PROTOCOL_ID.uuid;
      lhs.set(parseUuid(floor.syntax.uuid, true), 1);
      new DataView(lhs.buffer).setUint16(17, floor.syntax.major, true);
      return { lhs, rhs: u16le(floor.syntax.minor) };
    }
    case "ncacn":
    case "ncadg":
    case "ncalrpc":
      return {
        lhs: Uint8Array.of(TOWER_PROTOCOL_ID[floor.protocol]),
        rhs: u16le(floor.minorVersion),
      };
    case "tcp":
    case "udp":
    case "http": {
      checkU16(floor.port, "port");
      return {
        lhs: Uint8Array.of(TOWER_PROTOCOL_ID[floor.protocol]),
        rhs: Uint8Array.of(floor.port >> 8, floor.port & 0xff),
      };
    }
    case "ip":
      return { lhs: Uint8Array.of(TOWER_PROTOCOL_ID.ip), rhs: parseIpv4(floor.address) };
    case "named-pipe":
    case "netbios":
    case "local-endpoint": {
      const id =
        floor.protocol === "named-pipe"
          ? TOWER_PROTOCOL_ID.namedPipe
          : floor.protocol === "netbios"
            ? TOWER_PROTOCOL_ID.netbios
            : TOWER_PROTOCOL_ID.localEndpoint;
      return { lhs: Uint8Array.of(id), rhs: nulTerminated(floor.name) };
    }
    case "unknown": {
      const id = floor.lhs[0];
      if (id === undefined || KNOWN_FLOOR_IDS.has(id)) {
        throw new TypeError(
          "unknown floor needs an LHS starting with an uninterpreted protocol id",
        );
      }
      return { lhs: floor.lhs, rhs: floor.rhs };
    }
  }
}

function u16le(value: number): Uint8Array {
  checkU16(value, "u16");
  return Uint8Array.of(value & 0xff, value >> 8);
}

function checkU16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`${what} out of range: ${value}`);
  }
}

function parseIpv4(address: string): Uint8Array {
  const parts = address.split(".");
  const octets = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : NaN));
  if (octets.length !== 4 || octets.some((octet) => !(octet >= 0 && octet <= 255))) {
    throw new TypeError(`not an IPv4 address: ${JSON.stringify(address)}`);
  }
  return Uint8Array.from(octets);
}

function nulTerminated(text: string): Uint8Array {
  const out = new Uint8Array(text.length + 1);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit === 0 || unit > 0xff) throw new TypeError(`tower string holds U+${unit.toString(16)}`);
    out[i] = unit;
  }
  return out;
}

function latin1UpToNul(bytes: Uint8Array, start: number, end: number): string {
  let out = "";
  for (let i = start; i < end; i++) {
    const byte = bytes[i] ?? 0;
    if (byte === 0) break;
    out += String.fromCharCode(byte);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Towers as bindings
// ---------------------------------------------------------------------------------------------

/** A tower read as a string binding, `protseq:address[endpoint]`, as rpcdump prints it. */
export interface TowerBinding {
  /** Floor 1 when it is a UUID floor: the interface the endpoint serves. */
  readonly interface: SyntaxId | null;
  /** Floor 2 when it is a UUID floor: the transfer syntax. */
  readonly transferSyntax: SyntaxId | null;
  /** "ncacn_ip_tcp", "ncadg_ip_udp", "ncacn_np", "ncacn_http", "ncalrpc", or null if unknown. */
  readonly protseq: string | null;
  /** IPv4 address, or the NetBIOS host as Windows writes it (\\LABSMB); "" when absent. */
  readonly networkAddress: string;
  /** Port number or pipe / LRPC endpoint name; "" when absent. */
  readonly endpoint: string;
  /** e.g. ncacn_ip_tcp:127.0.0.2[49153] or ncacn_np:\\LABSMB[\pipe\lsass]; null if unknown. */
  readonly binding: string | null;
}

/**
 * Interpret decoded floors the way rpcdump prints them (impacket epm.py PrintStringBinding):
 * the RPC protocol floor chooses the family, the floors after it give endpoint and address.
 */
export function describeTower(floors: readonly TowerFloor[]): TowerBinding {
  const first = floors[0];
  const second = floors[1];
  const iface = first?.protocol === "uuid" ? first.syntax : null;
  const transferSyntax = second?.protocol === "uuid" ? second.syntax : null;
  // Collect the transport and address floors that follow the RPC protocol floor.
  let rpc: "ncacn" | "ncadg" | "ncalrpc" | null = null;
  const ports: Partial<Record<"tcp" | "udp" | "http", string>> = {};
  const names: Partial<Record<"named-pipe" | "netbios" | "local-endpoint", string>> = {};
  let ip = "";
  for (const floor of floors) {
    switch (floor.protocol) {
      case "ncacn":
      case "ncadg":
      case "ncalrpc":
        rpc ??= floor.protocol;
        break;
      case "tcp":
      case "udp":
      case "http":
        if (rpc !== null) ports[floor.protocol] ??= String(floor.port);
        break;
      case "named-pipe":
      case "netbios":
      case "local-endpoint":
        if (rpc !== null) names[floor.protocol] ??= floor.name;
        break;
      case "ip":
        if (rpc !== null && ip === "") ip = floor.address;
        break;
      case "uuid":
      case "unknown":
        break;
    }
  }

  let found: [protseq: string, endpoint: string, address: string] | null = null;
  if (rpc === "ncacn" && ports.tcp !== undefined) found = ["ncacn_ip_tcp", ports.tcp, ip];
  else if (rpc === "ncacn" && ports.http !== undefined) found = ["ncacn_http", ports.http, ip];
  else if (rpc === "ncacn" && names["named-pipe"] !== undefined) {
    found = ["ncacn_np", names["named-pipe"], names.netbios ?? ""];
  } else if (rpc === "ncadg" && ports.udp !== undefined) found = ["ncadg_ip_udp", ports.udp, ip];
  else if (rpc === "ncalrpc" && names["local-endpoint"] !== undefined) {
    found = ["ncalrpc", names["local-endpoint"], ""];
  }
  const [protseq, endpoint, networkAddress] = found ?? [null, "", ""];
  return {
    interface: iface,
    transferSyntax,
    protseq,
    networkAddress,
    endpoint,
    binding: protseq === null ? null : `${protseq}:${networkAddress}[${endpoint}]`,
  };
}

/** Where an endpoint listens, for building towers (the lab's mapper registers these). */
export type TowerEndpoint =
  | {
      readonly protseq: "ncacn_ip_tcp" | "ncadg_ip_udp" | "ncacn_http";
      readonly address: string;
      readonly port: number;
    }
  | { readonly protseq: "ncacn_np"; readonly host: string; readonly pipe: string }
  | { readonly protseq: "ncalrpc"; readonly endpoint: string };

/**
 * The floors Windows registers for an interface on an endpoint: interface, transfer syntax,
 * RPC protocol, then transport and address floors (5 floors; 4 for ncalrpc).
 */
export function buildTower(
  iface: SyntaxId,
  endpoint: TowerEndpoint,
  transferSyntax: SyntaxId = NDR_TRANSFER_SYNTAX,
): TowerFloor[] {
  // Copy just the wire fields: callers pass WellKnownInterface values with names attached.
  const head: TowerFloor[] = [
    { protocol: "uuid", syntax: { uuid: iface.uuid, major: iface.major, minor: iface.minor } },
    {
      protocol: "uuid",
      syntax: {
        uuid: transferSyntax.uuid,
        major: transferSyntax.major,
        minor: transferSyntax.minor,
      },
    },
  ];
  switch (endpoint.protseq) {
    case "ncacn_ip_tcp":
    case "ncacn_http":
      return [
        ...head,
        { protocol: "ncacn", minorVersion: 0 },
        { protocol: endpoint.protseq === "ncacn_http" ? "http" : "tcp", port: endpoint.port },
        { protocol: "ip", address: endpoint.address },
      ];
    case "ncadg_ip_udp":
      return [
        ...head,
        { protocol: "ncadg", minorVersion: 0 },
        { protocol: "udp", port: endpoint.port },
        { protocol: "ip", address: endpoint.address },
      ];
    case "ncacn_np":
      return [
        ...head,
        { protocol: "ncacn", minorVersion: 0 },
        { protocol: "named-pipe", name: endpoint.pipe },
        { protocol: "netbios", name: endpoint.host },
      ];
    case "ncalrpc":
      return [
        ...head,
        { protocol: "ncalrpc", minorVersion: 0 },
        { protocol: "local-endpoint", name: endpoint.endpoint },
      ];
  }
}
