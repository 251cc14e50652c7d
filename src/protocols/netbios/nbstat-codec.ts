import { decodeIssue, type DecodeIssue } from "./decode-issue.js";
import {
  NETBIOS_NAME_LENGTH,
  encodeNetbiosName,
  netbiosNameBytes,
  netbiosNameFromBytes,
  readWireName,
} from "./name-codec.js";

/**
 * NetBIOS name service NODE STATUS (NBSTAT), the "nbtstat -A" exchange on UDP 137.
 * Pure codec: bytes in, typed values or a DecodeIssue out; no sockets here.
 *
 *  - RFC 1002 §4.2.1   header layout (NAME_TRN_ID, OPCODE, NM_FLAGS, RCODE, counts)
 *  - RFC 1002 §4.2.17  NODE STATUS REQUEST: question "*" (or a name), type NBSTAT, class IN
 *  - RFC 1002 §4.2.18  NODE STATUS RESPONSE: one NBSTAT resource record whose RDATA is
 *                      NUM_NAMES, NUM_NAMES × (16-byte name, NAME_FLAGS) and STATISTICS
 */

/** RFC 1002 §4.2.1.3: QUESTION_TYPE / RR_TYPE NBSTAT. */
export const NBSTAT_TYPE = 0x0021;
/** RFC 1002 §4.2.1.3: class IN. */
export const NBSTAT_CLASS_IN = 0x0001;

/** RFC 1002 §4.2.1.1 header flag bits (the 16 bits after NAME_TRN_ID). */
const FLAG_RESPONSE = 0x8000;
const OPCODE_MASK = 0x7800;
const FLAG_AUTHORITATIVE = 0x0400;
const FLAG_BROADCAST = 0x0010;
const RCODE_MASK = 0x000f;

/** RFC 1002 §4.2.18 NAME_FLAGS: G (group) is the top bit; ONT, DRG, CNF, ACT, PRM follow. */
export const NAME_FLAG_GROUP = 0x8000;
export const NAME_FLAG_ACTIVE = 0x0400;
export const NAME_FLAG_PERMANENT = 0x0200;

const HEADER_LENGTH = 12;
/** RR_TYPE, RR_CLASS, TTL, RDLENGTH. */
const RR_FIXED_LENGTH = 10;
const NODE_NAME_LENGTH = NETBIOS_NAME_LENGTH + 1 + 2;
const MAC_LENGTH = 6;
/**
 * RFC 1002 §4.2.18 STATISTICS: UNIT_ID (6), JUMPERS, TEST_RESULT, VERSION_NUMBER,
 * PERIOD_OF_STATISTICS, 4 error counters, NUMBER_GOOD_SENDS (4), NUMBER_GOOD_RECEIVES (4),
 * 9 more 16-bit counters = 46 bytes. Windows sends all 46; Samba sends fewer, so the decoder
 * requires only UNIT_ID (the MAC) and ignores the rest.
 */
const STATISTICS_LENGTH = 46;

export interface NodeStatusName {
  /** The name with its padding removed, e.g. "LAB-0001A3", "LABGROUP", "\u0001\u0002__MSBROWSE__\u0002". */
  readonly name: string;
  /** The 16th byte: <00> workstation, <20> file server, <03> messenger, <1E> browser election... */
  readonly suffix: number;
  /** NAME_FLAGS G bit: a group name (workgroup) rather than a unique one. */
  readonly group: boolean;
  /** The whole NAME_FLAGS word (G, ONT, DRG, CNF, ACT, PRM); `group` is its top bit. */
  readonly flags: number;
}

export interface NodeStatus {
  readonly transactionId: number;
  readonly names: readonly NodeStatusName[];
  /** STATISTICS UNIT_ID as lowercase colon-separated hex ("00:00:00:00:00:00" from Samba). */
  readonly mac: string;
}

export interface NodeStatusRequest {
  readonly transactionId: number;
  /** The queried name ("*" for the usual wildcard query), or null if not a NetBIOS-encoded name. */
  readonly name: string | null;
  readonly suffix: number | null;
  /** NM_FLAGS B bit: sent as a broadcast (nmap's probe sets it even when unicast). */
  readonly broadcast: boolean;
}

/** RFC 1002 §4.2.17: NODE STATUS REQUEST for the wildcard name "*", unicast. 50 bytes. */
export function encodeNodeStatusRequest(transactionId: number): Buffer {
  checkTransactionId(transactionId);
  const question = encodeNetbiosName("*", 0x00);
  const out = Buffer.alloc(HEADER_LENGTH + question.length + 4);
  out.writeUInt16BE(transactionId, 0);
  out.writeUInt16BE(0x0000, 2); // R=0, OPCODE=0 (query), no NM_FLAGS, RCODE=0
  out.writeUInt16BE(1, 4); // QDCOUNT
  question.copy(out, HEADER_LENGTH);
  out.writeUInt16BE(NBSTAT_TYPE, HEADER_LENGTH + question.length);
  out.writeUInt16BE(NBSTAT_CLASS_IN, HEADER_LENGTH + question.length + 2);
  return out;
}

export interface EncodeNodeStatusResponseOptions {
  /** RR_NAME: the name that was queried; RFC 1002 §4.2.18 echoes the question ("*" by default). */
  readonly queryName?: string;
  readonly querySuffix?: number;
}

/**
 * RFC 1002 §4.2.18 NODE STATUS RESPONSE, as Windows sends it: flags R|AA (0x8400), no question
 * section, one NBSTAT record with TTL 0, full 46-byte STATISTICS with only UNIT_ID set.
 */
export function encodeNodeStatusResponse(
  status: NodeStatus,
  options: EncodeNodeStatusResponseOptions = {},
): Buffer {
  checkTransactionId(status.transactionId);
  if (status.names.length > 0xff) throw new RangeError("NBSTAT carries at most 255 names");
  const mac = parseMac(status.mac);
  const rrName = encodeNetbiosName(options.queryName ?? "*", options.querySuffix ?? 0x00);
  const rdLength = 1 + status.names.length * NODE_NAME_LENGTH + STATISTICS_LENGTH;
  const out = Buffer.alloc(HEADER_LENGTH + rrName.length + RR_FIXED_LENGTH + rdLength);
  out.writeUInt16BE(status.transactionId, 0);
  out.writeUInt16BE(FLAG_RESPONSE | FLAG_AUTHORITATIVE, 2);
  out.writeUInt16BE(0, 4); // QDCOUNT
  out.writeUInt16BE(1, 6); // ANCOUNT
  let pos = HEADER_LENGTH;
  pos += rrName.copy(out, pos);
  pos = out.writeUInt16BE(NBSTAT_TYPE, pos);
  pos = out.writeUInt16BE(NBSTAT_CLASS_IN, pos);
  pos = out.writeUInt32BE(0, pos); // TTL: RFC 1002 §4.2.18 says zero
  pos = out.writeUInt16BE(rdLength, pos);
  pos = out.writeUInt8(status.names.length, pos);
  for (const entry of status.names) {
    pos += netbiosNameBytes(entry.name, entry.suffix).copy(out, pos);
    const flags = (entry.flags & ~NAME_FLAG_GROUP & 0xffff) | (entry.group ? NAME_FLAG_GROUP : 0);
    pos = out.writeUInt16BE(flags, pos);
  }
  mac.copy(out, pos); // UNIT_ID; the remaining 40 statistics bytes stay zero
  return out;
}

/** Parse a NODE STATUS REQUEST (for the lab responder). Never throws. */
export function decodeNodeStatusRequest(bytes: Uint8Array): NodeStatusRequest | DecodeIssue {
  if (bytes.length < HEADER_LENGTH) {
    return decodeIssue(
      "header",
      0,
      "shorter than a name service header",
      HEADER_LENGTH - bytes.length,
    );
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const transactionId = view.readUInt16BE(0);
  const flags = view.readUInt16BE(2);
  if ((flags & FLAG_RESPONSE) !== 0) return decodeIssue("header", 2, "a response, not a request");
  if ((flags & OPCODE_MASK) !== 0) return decodeIssue("header", 2, "not a query (OPCODE != 0)");
  if (view.readUInt16BE(4) < 1) return decodeIssue("header", 4, "no question (QDCOUNT = 0)");
  const question = readWireName(bytes, HEADER_LENGTH);
  if ("kind" in question) return question;
  if (question.next + 4 > bytes.length) {
    return decodeIssue(
      "question",
      question.next,
      "question type/class cut short",
      question.next + 4 - bytes.length,
    );
  }
  const type = view.readUInt16BE(question.next);
  if (type !== NBSTAT_TYPE) {
    return decodeIssue(
      "question",
      question.next,
      `question type 0x${type.toString(16)} is not NBSTAT`,
    );
  }
  return {
    transactionId,
    name: question.name,
    suffix: question.suffix,
    broadcast: (flags & FLAG_BROADCAST) !== 0,
  };
}

/**
 * Parse a NODE STATUS RESPONSE. Never throws, never loops on pointers, allocates at most what the
 * buffer holds (NUM_NAMES is a byte, and every count is checked against the bytes present first).
 */
export function decodeNodeStatusResponse(bytes: Uint8Array): NodeStatus | DecodeIssue {
  if (bytes.length < HEADER_LENGTH) {
    return decodeIssue(
      "header",
      0,
      "shorter than a name service header",
      HEADER_LENGTH - bytes.length,
    );
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const transactionId = view.readUInt16BE(0);
  const flags = view.readUInt16BE(2);
  if ((flags & FLAG_RESPONSE) === 0) return decodeIssue("header", 2, "a request, not a response");
  if ((flags & OPCODE_MASK) !== 0)
    return decodeIssue("header", 2, "not a query response (OPCODE != 0)");
  const rcode = flags & RCODE_MASK;
  if (rcode !== 0) return decodeIssue("header", 3, `negative response, RCODE ${rcode}`);
  const questions = view.readUInt16BE(4);
  if (view.readUInt16BE(6) < 1) return decodeIssue("header", 6, "no answer record (ANCOUNT = 0)");

  // RFC 1002 §4.2.18 has no question section, but some stacks echo one; skip it if present.
  // Each question consumes at least 5 bytes, so this loop ends with the buffer.
  let pos = HEADER_LENGTH;
  for (let q = 0; q < questions; q++) {
    const name = readWireName(bytes, pos);
    if ("kind" in name) return { ...name, what: "question-name" };
    if (name.next + 4 > bytes.length) {
      return decodeIssue(
        "question",
        name.next,
        "question type/class cut short",
        name.next + 4 - bytes.length,
      );
    }
    pos = name.next + 4;
  }

  // RR_NAME may be a compression pointer to the question (RFC 1002 §4.1, RFC 1035 §4.1.4).
  const rrName = readWireName(bytes, pos);
  if ("kind" in rrName) return { ...rrName, what: "rr-name" };
  pos = rrName.next;
  if (pos + RR_FIXED_LENGTH > bytes.length) {
    return decodeIssue(
      "rr",
      pos,
      "resource record header cut short",
      pos + RR_FIXED_LENGTH - bytes.length,
    );
  }
  const type = view.readUInt16BE(pos);
  if (type !== NBSTAT_TYPE)
    return decodeIssue("rr", pos, `record type 0x${type.toString(16)} is not NBSTAT`);
  const rrClass = view.readUInt16BE(pos + 2);
  if (rrClass !== NBSTAT_CLASS_IN)
    return decodeIssue("rr", pos + 2, `record class ${rrClass} is not IN`);
  const rdLength = view.readUInt16BE(pos + 8);
  pos += RR_FIXED_LENGTH;
  if (pos + rdLength > bytes.length) {
    return decodeIssue(
      "rdata",
      pos,
      `RDLENGTH ${rdLength} runs past the datagram`,
      pos + rdLength - bytes.length,
    );
  }
  const rdEnd = pos + rdLength;

  if (rdLength < 1) return decodeIssue("rdata", pos, "RDATA has no NUM_NAMES byte", 1);
  const count = view.readUInt8(pos);
  pos += 1;
  if (pos + count * NODE_NAME_LENGTH > rdEnd) {
    return decodeIssue(
      "node-name",
      pos,
      `${count} names do not fit in RDATA`,
      pos + count * NODE_NAME_LENGTH - rdEnd,
    );
  }
  const names: NodeStatusName[] = [];
  for (let i = 0; i < count; i++) {
    const nameFlags = view.readUInt16BE(pos + NETBIOS_NAME_LENGTH + 1);
    names.push({
      name: netbiosNameFromBytes(bytes.subarray(pos, pos + NETBIOS_NAME_LENGTH)),
      suffix: view.readUInt8(pos + NETBIOS_NAME_LENGTH),
      group: (nameFlags & NAME_FLAG_GROUP) !== 0,
      flags: nameFlags,
    });
    pos += NODE_NAME_LENGTH;
  }
  if (pos + MAC_LENGTH > rdEnd) {
    return decodeIssue(
      "statistics",
      pos,
      "STATISTICS has no UNIT_ID (MAC)",
      pos + MAC_LENGTH - rdEnd,
    );
  }
  return { transactionId, names, mac: formatMac(bytes.subarray(pos, pos + MAC_LENGTH)) };
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

function parseMac(mac: string): Buffer {
  const parts = mac.split(/[:-]/);
  if (parts.length !== MAC_LENGTH || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new RangeError(`not a MAC address: ${JSON.stringify(mac)}`);
  }
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)));
}

function checkTransactionId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
    throw new RangeError(`NAME_TRN_ID must be a 16-bit integer, got ${id}`);
  }
}
