/**
 * Little-endian writer for the SMB encoders. Every integer is range-checked with the field's name,
 * so an encoder handed a bad argument (a 70000 "u16", a negative FID) throws a RangeError that
 * says which field, and never writes a silently truncated value. Internal to the SMB codecs.
 */
export class ByteWriter {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  /** Bytes written so far; also the offset of the next byte. */
  get offset(): number {
    return this.length;
  }

  /** Claim `n` bytes and return their offset; may swap in a larger buffer (and view). */
  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buffer.length) {
      let size = this.buffer.length * 2;
      while (size < at + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buffer.subarray(0, at));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length += n;
    return at;
  }

  u8(value: number, what: string): this {
    checkUint(value, 0xff, what);
    const at = this.reserve(1);
    this.view.setUint8(at, value);
    return this;
  }

  u16(value: number, what: string): this {
    checkUint(value, 0xffff, what);
    const at = this.reserve(2);
    this.view.setUint16(at, value, true);
    return this;
  }

  i16(value: number, what: string): this {
    if (!Number.isInteger(value) || value < -0x8000 || value > 0x7fff) {
      throw new RangeError(`${what} must be a signed 16-bit integer, got ${value}`);
    }
    const at = this.reserve(2);
    this.view.setInt16(at, value, true);
    return this;
  }

  /**
   * A 32-bit field. Negative int32 values are accepted and written as their unsigned form,
   * because JavaScript's bitwise operators return them (`CAP_EXTENDED_SECURITY | x` is negative).
   */
  u32(value: number, what: string): this {
    const checked = toUint32(value, what);
    const at = this.reserve(4);
    this.view.setUint32(at, checked, true);
    return this;
  }

  u64(value: bigint, what: string): this {
    if (typeof value !== "bigint" || value < 0n || value > 0xffffffffffffffffn) {
      throw new RangeError(`${what} must be an unsigned 64-bit bigint, got ${String(value)}`);
    }
    const at = this.reserve(8);
    this.view.setBigUint64(at, value, true);
    return this;
  }

  bytes(data: Uint8Array): this {
    // reserve first: it may replace this.buffer with a larger one.
    const at = this.reserve(data.length);
    this.buffer.set(data, at);
    return this;
  }

  zeros(n: number): this {
    this.reserve(n); // a fresh or grown buffer is zero-filled, and we never rewind
    return this;
  }

  /** Zero-pad to a multiple of `n` counted from byte 0 of this writer (the SMB header start). */
  align(n: number): this {
    return this.zeros((n - (this.length % n)) % n);
  }

  /** Overwrite a u16 written earlier (an offset or count only known after the data is placed). */
  patchU16(at: number, value: number, what: string): void {
    checkUint(value, 0xffff, what);
    this.view.setUint16(at, value, true);
  }

  patchU32(at: number, value: number, what: string): void {
    this.view.setUint32(at, toUint32(value, what), true);
  }

  patchU8(at: number, value: number, what: string): void {
    checkUint(value, 0xff, what);
    this.view.setUint8(at, value);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

function checkUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${value}`);
  }
}

/** A u32 field value, accepting the negative int32 results of JavaScript bitwise operators. */
export function toUint32(value: number, what: string): number {
  if (Number.isInteger(value) && value < 0 && value >= -0x80000000) return value >>> 0;
  checkUint(value, 0xffffffff, what);
  return value;
}
