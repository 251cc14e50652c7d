import { decodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";

/**
 * NDR 2.0 primitives (C706 chapter 14), as a reader/writer pair.
 *
 *  - C706 §14.2    every primitive is aligned to its own size, counted from the start of the
 *                  octet stream (for a stub: the first stub byte after the PDU header)
 *  - C706 §14.1-2  integers are little- or big-endian as the PDU's packed_drep says
 *  - C706 §14.3.3  arrays: conformant (max_count), varying (offset, actual_count), both
 *  - C706 §14.3.4  strings: a varying array whose last element is the NUL terminator
 *  - C706 §14.3.10-12 pointers: a 4-byte referent id, 0 for NULL; referents of pointers
 *                  embedded in structures/arrays are deferred to the end of the construct
 *  - context handles are 20 bytes: attributes + UUID (C706 ndr_context_handle; Samba misc.idl
 *                  policy_handle; impacket epm.py ept_lookup_handle_t)
 *
 * The reader never throws on input bytes. It uses a "sticky issue": the first out-of-bounds read
 * records a DecodeIssue and every later read returns zeros/empties at once, so a decoder can read
 * a whole structure and check `reader.issue` (or call `reader.result(value)`) at the end. Counts
 * are validated against the bytes still unread BEFORE anything is allocated, so a claimed
 * 0xFFFFFFFF-element array costs nothing.
 */

/** An all-zero UUID: the NULL object UUID and the UUID of a NULL context handle. */
export const NIL_UUID = "00000000-0000-0000-0000-000000000000";

/** Context handle on the wire (C706 ndr_context_handle): 4-byte attributes then a UUID. */
export interface ContextHandle {
  readonly attributes: number;
  readonly uuid: string;
}

export const NULL_CONTEXT_HANDLE: ContextHandle = Object.freeze({ attributes: 0, uuid: NIL_UUID });

/** A context handle is NULL when all 20 bytes are zero (impacket ept_lookup_handle_t.isNull). */
export function isNullContextHandle(handle: ContextHandle): boolean {
  return handle.attributes === 0 && handle.uuid.toLowerCase() === NIL_UUID;
}

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isUuid(text: string): boolean {
  return UUID_TEXT.test(text);
}

/**
 * UUID text → 16 wire bytes. C706 Appendix A uuid_t is {u32 time_low, u16 time_mid,
 * u16 time_hi_and_version, 8 bytes}; NDR writes the three integers in the stream's byte order and
 * the last 8 bytes as they are. Little-endian is the "mixed-endian" form Windows sends
 * (research §2.2: 8a885d04-... → 04 5d 88 8a eb 1c c9 11 9f e8 ...). Throws on malformed text:
 * UUIDs come from our own constants, so a bad one is a programming error.
 */
export function parseUuid(text: string, littleEndian = true): Uint8Array {
  if (!isUuid(text)) throw new TypeError(`not a UUID: ${JSON.stringify(text)}`);
  const hex = text.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  if (littleEndian) swapUuidFields(out, 0);
  return out;
}

/** 16 wire bytes at `offset` → canonical lowercase UUID text (see parseUuid for the layout). */
export function formatUuid(bytes: Uint8Array, offset = 0, littleEndian = true): string {
  if (offset < 0 || offset + 16 > bytes.length) {
    throw new RangeError(`formatUuid needs 16 bytes at offset ${offset}, have ${bytes.length}`);
  }
  const raw = bytes.slice(offset, offset + 16);
  if (littleEndian) swapUuidFields(raw, 0);
  let hex = "";
  for (const byte of raw) hex += byte.toString(16).padStart(2, "0");
  const fields = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return `${fields.join("-")}-${hex.slice(20)}`;
}

/** Reverse time_low (4), time_mid (2) and time_hi (2) in place: big- ↔ little-endian fields. */
function swapUuidFields(bytes: Uint8Array, at: number): void {
  bytes.subarray(at, at + 4).reverse();
  bytes.subarray(at + 4, at + 6).reverse();
  bytes.subarray(at + 6, at + 8).reverse();
}

export interface NdrReaderOptions {
  /** Integer byte order from packed_drep (C706 §14.1); little-endian unless told. */
  readonly littleEndian?: boolean;
  /** Offset of bytes[0] in the enclosing message, so issue offsets point into the whole PDU. */
  readonly baseOffset?: number;
}

/** The outcome of reading a pointer's referent id (C706 §14.3.10-12). */
export interface PointerRef {
  /** 0 means NULL. */
  readonly referentId: number;
  /**
   * True when the referent follows in the stream. For unique pointers, every non-NULL one; for
   * full pointers only the first occurrence of an id (later occurrences alias it).
   */
  readonly hasReferent: boolean;
}

export class NdrReader {
  readonly littleEndian: boolean;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly baseOffset: number;
  private pos: number;
  private firstIssue: DecodeIssue | undefined;
  /** Referent ids of full pointers already seen in this stream (C706 §14.3.10-12). */
  private readonly fullPointerIds = new Set<number>();

  constructor(bytes: Uint8Array, options: NdrReaderOptions = {}) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.littleEndian = options.littleEndian ?? true;
    this.baseOffset = options.baseOffset ?? 0;
    this.pos = 0;
  }

  /** Current position, relative to `bytes`. */
  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** The first problem met, if any. */
  get issue(): DecodeIssue | undefined {
    return this.firstIssue;
  }

  get failed(): boolean {
    return this.firstIssue !== undefined;
  }

  /** `value` if every read so far succeeded, else the first issue. */
  result<T>(value: T): T | DecodeIssue {
    return this.firstIssue ?? value;
  }

  /** Record a semantic problem (a bad value rather than a short buffer) at the current offset. */
  fail(what: string, message: string, needed?: number): void {
    if (this.firstIssue !== undefined) return;
    this.firstIssue = decodeIssue(what, this.baseOffset + this.pos, message, needed);
  }

  /** Ensure `n` more bytes exist; record truncation otherwise. */
  private need(n: number, what: string): boolean {
    if (this.firstIssue !== undefined) return false;
    if (n <= this.remaining) return true;
    this.fail(what, `needs ${n} bytes, ${this.remaining} left`, n - this.remaining);
    return false;
  }

  /** Skip to the next multiple of `n` (C706 §14.2); the pad octets' values are ignored. */
  align(n: number, what = "alignment"): void {
    const misalignment = this.pos % n;
    if (misalignment === 0) return;
    const pad = n - misalignment;
    if (this.need(pad, what)) this.pos += pad;
  }

  skip(n: number, what = "reserved"): void {
    if (this.need(n, what)) this.pos += n;
  }

  u8(what = "u8"): number {
    if (!this.need(1, what)) return 0;
    const value = this.view.getUint8(this.pos);
    this.pos += 1;
    return value;
  }

  u16(what = "u16"): number {
    this.align(2, what);
    if (!this.need(2, what)) return 0;
    const value = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return value;
  }

  u32(what = "u32"): number {
    this.align(4, what);
    if (!this.need(4, what)) return 0;
    const value = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return value;
  }

  i32(what = "i32"): number {
    this.align(4, what);
    if (!this.need(4, what)) return 0;
    const value = this.view.getInt32(this.pos, this.littleEndian);
    this.pos += 4;
    return value;
  }

  /** C706 §14.2 hyper: 8 bytes, 8-aligned. */
  u64(what = "hyper"): bigint {
    this.align(8, what);
    if (!this.need(8, what)) return 0n;
    const value = this.view.getBigUint64(this.pos, this.littleEndian);
    this.pos += 8;
    return value;
  }

  /** `n` raw octets (a copy, so the caller may keep it after the input buffer is reused). */
  bytesOf(n: number, what = "octets"): Uint8Array {
    if (!this.need(n, what)) return new Uint8Array(0);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** uuid_t: aligned as its first member, a u32 (C706 Appendix A, §14.2). */
  uuid(what = "uuid"): string {
    this.align(4, what);
    if (!this.need(16, what)) return NIL_UUID;
    const text = formatUuid(this.bytes, this.pos, this.littleEndian);
    this.pos += 16;
    return text;
  }

  /** A 20-byte context handle (ndr_context_handle). */
  contextHandle(what = "context-handle"): ContextHandle {
    const attributes = this.u32(what);
    const uuid = this.uuid(what);
    return { attributes, uuid };
  }

  /** A unique pointer's referent id (C706 §14.3.10-12): non-zero means the referent follows. */
  uniquePointer(what = "pointer"): PointerRef {
    const referentId = this.u32(what);
    return { referentId, hasReferent: referentId !== 0 };
  }

  /**
   * A full pointer's referent id (C706 §14.3.10-12): the referent follows only the first time an
   * id is seen in this stream; a repeated id aliases the earlier referent. Remembering ids also
   * means a hostile stream cannot make us read one referent twice.
   */
  fullPointer(what = "pointer"): PointerRef {
    const referentId = this.u32(what);
    if (referentId === 0 || this.fullPointerIds.has(referentId)) {
      return { referentId, hasReferent: false };
    }
    this.fullPointerIds.add(referentId);
    return { referentId, hasReferent: true };
  }

  /**
   * Conformant array max_count (C706 §14.3.3.2) for an array that is transmitted in full:
   * rejected unless `count × elementSize` bytes are still unread. Returns 0 after a failure, so a
   * loop over the count ends at once.
   */
  conformance(elementSize: number, what = "conformant-array"): number {
    const count = this.u32(what);
    if (this.failed) return 0;
    return this.checkFits(count, elementSize, what) ? count : 0;
  }

  /**
   * Max_count of a conformant-VARYING array (C706 §14.3.3.4): only `actual_count` elements are
   * sent, so max_count may exceed the bytes present (epm sends max_ents = 500 with 38 entries).
   * It is only an upper bound for the variance check; nothing is allocated from it.
   */
  maxCount(what = "max-count"): number {
    return this.u32(what);
  }

  /**
   * Varying array offset + actual_count (C706 §14.3.3.3). Requires offset + actual ≤ maxCount
   * when a bound is known, and `actual × elementSize` bytes still unread.
   */
  variance(
    elementSize: number,
    maxCount: number | undefined,
    what = "varying-array",
  ): { offset: number; actualCount: number } {
    const offset = this.u32(what);
    const actualCount = this.u32(what);
    if (this.failed) return { offset: 0, actualCount: 0 };
    if (maxCount !== undefined && offset + actualCount > maxCount) {
      this.fail(
        what,
        `offset ${offset} + actual_count ${actualCount} exceeds max_count ${maxCount}`,
      );
      return { offset: 0, actualCount: 0 };
    }
    if (!this.checkFits(actualCount, elementSize, what)) return { offset: 0, actualCount: 0 };
    return { offset, actualCount };
  }

  /** C706 §14.3.3.2 conformant array of octets: max_count then the octets. */
  conformantOctets(what = "conformant-octets"): Uint8Array {
    const count = this.conformance(1, what);
    return this.bytesOf(count, what);
  }

  /**
   * C706 §14.3.4 conformant varying string: max_count, offset, actual_count, then actual_count
   * characters of `charSize` bytes (1 = char, 2 = wchar_t), the last of which is the NUL
   * terminator. Returns the characters without the terminator; embedded NULs are kept as they
   * are (the MS03-026 probe name is built from them).
   */
  conformantVaryingString(charSize: 1 | 2, what = "string"): string {
    const max = this.maxCount(what);
    return this.stringBody(charSize, max, what);
  }

  /** C706 §14.3.4 varying string (a fixed-size [string] array): offset, actual_count, chars. */
  varyingString(charSize: 1 | 2, maxCount: number | undefined, what = "string"): string {
    return this.stringBody(charSize, maxCount, what);
  }

  private stringBody(charSize: 1 | 2, maxCount: number | undefined, what: string): string {
    const { actualCount } = this.variance(charSize, maxCount, what);
    if (this.failed) return "";
    // C706 §14.3.4: the count includes the terminator, so an empty [string] has count 1.
    if (actualCount === 0) {
      this.fail(what, "string with actual_count 0 has no NUL terminator");
      return "";
    }
    const units: number[] = [];
    for (let i = 0; i < actualCount; i++) {
      units.push(charSize === 1 ? this.u8(what) : this.u16(what));
    }
    if (units[units.length - 1] !== 0) {
      this.fail(what, "string is not NUL-terminated");
      return "";
    }
    units.pop();
    // Code units map 1:1 to JS string units (latin-1 for char, UTF-16 for wchar_t), so decoding
    // is lossless even for unpaired surrogates.
    return charsFromUnits(units);
  }

  /** Fail unless `count × elementSize` bytes remain; the product is computed without overflow. */
  private checkFits(count: number, elementSize: number, what: string): boolean {
    if (elementSize === 0 || count <= Math.floor(this.remaining / elementSize)) return true;
    this.fail(
      what,
      `claims ${count} elements of ${elementSize} bytes, only ${this.remaining} bytes left`,
      count * elementSize - this.remaining,
    );
    return false;
  }
}

function charsFromUnits(units: readonly number[]): string {
  let out = "";
  // Chunked so that a long (but bounded) string never overflows the argument limit.
  for (let i = 0; i < units.length; i += 4096) {
    out += String.fromCharCode(...units.slice(i, i + 4096));
  }
  return out;
}

export interface NdrWriterOptions {
  readonly littleEndian?: boolean;
  /** Pre-sized capacity; the buffer grows as needed. */
  readonly initialCapacity?: number;
}

/**
 * NDR 2.0 writer. Alignment is relative to the writer's first byte, which is where a stub starts.
 * Arguments out of range throw (RangeError/TypeError): the writer's input is our own data, so a
 * bad value is a programming error, never a property of the network.
 */
export class NdrWriter {
  readonly littleEndian: boolean;
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  /** MIDL numbers unique referents 0x00020000, 0x00020004, ...; any non-zero id is valid. */
  private nextUniqueId = 0x00020000;
  /** Full pointers index the full-pointer table from 1 (impacket epm.py notes 2003 insists). */
  private nextFullId = 1;

  constructor(options: NdrWriterOptions = {}) {
    this.littleEndian = options.littleEndian ?? true;
    this.buf = new Uint8Array(Math.max(16, options.initialCapacity ?? 256));
    this.view = new DataView(this.buf.buffer);
  }

  get offset(): number {
    return this.pos;
  }

  /** The bytes written so far (a copy). */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  /** Zero-fill to the next multiple of `n` (C706 §14.2). */
  align(n: number): this {
    const pad = (n - (this.pos % n)) % n;
    this.reserve(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
    return this;
  }

  u8(value: number): this {
    checkUnsigned(value, 0xff, "u8");
    this.reserve(1);
    this.view.setUint8(this.pos, value);
    this.pos += 1;
    return this;
  }

  u16(value: number): this {
    checkUnsigned(value, 0xffff, "u16");
    this.align(2).reserve(2);
    this.view.setUint16(this.pos, value, this.littleEndian);
    this.pos += 2;
    return this;
  }

  u32(value: number): this {
    checkUnsigned(value, 0xffffffff, "u32");
    this.align(4).reserve(4);
    this.view.setUint32(this.pos, value, this.littleEndian);
    this.pos += 4;
    return this;
  }

  i32(value: number): this {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
      throw new RangeError(`i32 out of range: ${value}`);
    }
    this.align(4).reserve(4);
    this.view.setInt32(this.pos, value, this.littleEndian);
    this.pos += 4;
    return this;
  }

  u64(value: bigint): this {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`hyper out of range`);
    this.align(8).reserve(8);
    this.view.setBigUint64(this.pos, value, this.littleEndian);
    this.pos += 8;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  uuid(text: string): this {
    this.align(4);
    return this.bytes(parseUuid(text, this.littleEndian));
  }

  contextHandle(handle: ContextHandle): this {
    return this.u32(handle.attributes).uuid(handle.uuid);
  }

  /** Write a referent id chosen by the caller (0 = NULL). */
  pointer(referentId: number): this {
    return this.u32(referentId);
  }

  /** A unique pointer: 0 when absent, else the next MIDL-style id. Returns the id written. */
  uniquePointer(present: boolean): number {
    const id = present ? this.nextUniqueId : 0;
    if (present) this.nextUniqueId += 4;
    this.u32(id);
    return id;
  }

  /** A full pointer to a new referent: 0 when absent, else the next table index. */
  fullPointer(present: boolean): number {
    const id = present ? this.nextFullId++ : 0;
    this.u32(id);
    return id;
  }

  /** max_count of a conformant array (C706 §14.3.3.2). */
  conformance(count: number): this {
    return this.u32(count);
  }

  /** offset and actual_count of a varying array (C706 §14.3.3.3). */
  variance(offset: number, actualCount: number): this {
    return this.u32(offset).u32(actualCount);
  }

  conformantOctets(data: Uint8Array): this {
    return this.conformance(data.length).bytes(data);
  }

  /**
   * C706 §14.3.4 conformant varying string, NUL-terminated: max_count = actual_count =
   * length + 1, offset 0. Embedded NULs in `text` are written as they are.
   */
  conformantVaryingString(text: string, charSize: 1 | 2): this {
    this.conformance(text.length + 1);
    return this.varyingString(text, charSize);
  }

  /** C706 §14.3.4 varying string: offset 0, actual_count = length + 1, chars, NUL. */
  varyingString(text: string, charSize: 1 | 2): this {
    this.variance(0, text.length + 1);
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (charSize === 1) {
        if (unit > 0xff) throw new RangeError(`char string holds U+${unit.toString(16)}`);
        this.u8(unit);
      } else {
        this.u16(unit);
      }
    }
    return charSize === 1 ? this.u8(0) : this.u16(0);
  }
}

function checkUnsigned(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} out of range: ${value}`);
  }
}
