import { decodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";

/**
 * Little-endian reader over one whole SMB message (SMB1 and SMB2 are little-endian throughout:
 * MS-CIFS §2.1.2.1, MS-SMB2 §2). Positions are absolute offsets into the message, because every
 * offset field on the wire (AndXOffset, DataOffset, SecurityBufferOffset, ...) counts from the
 * start of the SMB header.
 *
 * Like NdrReader, it has a "sticky issue": the first read past the end (or a semantic failure
 * recorded with `fail`) is kept, and every later read returns zeros at once, so a decoder reads a
 * whole structure and checks `result(value)` at the end. Lengths are checked against the bytes
 * present before anything is allocated. Internal to the SMB codecs; not exported.
 */
export class ByteReader {
  private readonly view: DataView;
  private position: number;
  private firstIssue: DecodeIssue | undefined;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    /** Reads stop here (exclusive); defaults to the end of `bytes`. */
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = start;
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return Math.max(0, this.end - this.position);
  }

  get issue(): DecodeIssue | undefined {
    return this.firstIssue;
  }

  get failed(): boolean {
    return this.firstIssue !== undefined;
  }

  result<T>(value: T): T | DecodeIssue {
    return this.firstIssue ?? value;
  }

  /** Record a problem at `offset` (default: the current position); the first one wins. */
  fail(what: string, message: string, needed?: number, offset = this.position): void {
    if (this.firstIssue === undefined) this.firstIssue = decodeIssue(what, offset, message, needed);
  }

  private need(n: number, what: string): boolean {
    if (this.firstIssue !== undefined) return false;
    if (n <= this.remaining) return true;
    this.fail(what, `needs ${n} bytes, ${this.remaining} left`, n - this.remaining);
    return false;
  }

  /** Move to an absolute offset inside [0, end]. */
  seek(offset: number, what: string): void {
    if (this.firstIssue !== undefined) return;
    if (offset < 0 || offset > this.end) {
      this.fail(
        what,
        `offset ${offset} is outside the ${this.end}-byte message`,
        undefined,
        offset,
      );
      return;
    }
    this.position = offset;
  }

  skip(n: number, what = "reserved"): void {
    if (this.need(n, what)) this.position += n;
  }

  /** Skip to the next multiple of `n` counted from the message start, if bytes remain for it. */
  alignTo(n: number): void {
    const pad = (n - (this.position % n)) % n;
    if (pad > 0 && pad <= this.remaining && this.firstIssue === undefined) this.position += pad;
  }

  u8(what: string): number {
    if (!this.need(1, what)) return 0;
    const value = this.view.getUint8(this.position);
    this.position += 1;
    return value;
  }

  u16(what: string): number {
    if (!this.need(2, what)) return 0;
    const value = this.view.getUint16(this.position, true);
    this.position += 2;
    return value;
  }

  i16(what: string): number {
    if (!this.need(2, what)) return 0;
    const value = this.view.getInt16(this.position, true);
    this.position += 2;
    return value;
  }

  u32(what: string): number {
    if (!this.need(4, what)) return 0;
    const value = this.view.getUint32(this.position, true);
    this.position += 4;
    return value;
  }

  u64(what: string): bigint {
    if (!this.need(8, what)) return 0n;
    const value = this.view.getBigUint64(this.position, true);
    this.position += 8;
    return value;
  }

  /** `n` octets, copied (callers may keep them after the input buffer is reused). */
  bytesOf(n: number, what: string): Uint8Array {
    if (!this.need(n, what)) return new Uint8Array(0);
    const out = this.bytes.slice(this.position, this.position + n);
    this.position += n;
    return out;
  }
}

/**
 * A buffer an offset/length pair points at (MS-SMB2 §2.2.* "...Offset"/"...Length", MS-CIFS
 * DataOffset/DataCount), copied out after checking it lies inside [minOffset, end). A zero length
 * ignores the offset: servers send 0/0 and Windows sends a non-zero offset with length 0.
 */
export function bufferAt(
  bytes: Uint8Array,
  offset: number,
  length: number,
  what: string,
  fieldOffset: number,
  minOffset = 0,
  end = bytes.length,
): Uint8Array | DecodeIssue {
  if (length === 0) return new Uint8Array(0);
  if (offset < minOffset) {
    return decodeIssue(what, fieldOffset, `offset ${offset} points before byte ${minOffset}`);
  }
  if (offset + length > end) {
    return decodeIssue(
      what,
      fieldOffset,
      `${length} bytes at offset ${offset} run past the ${end}-byte message`,
      offset + length - end,
    );
  }
  return bytes.slice(offset, offset + length);
}
