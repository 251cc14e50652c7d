/**
 * Strings on the SMB wire.
 *
 *  - SMB2 and Unicode SMB1 use UTF-16LE (MS-SMB2 §2.2, MS-CIFS §2.2.1.1 SMB_STRING with
 *    SMB_FLAGS2_UNICODE); SMB2 strings are counted (offset + byte length, no terminator), SMB1
 *    strings are NUL-terminated and, in the SMB_Data block, aligned to 2 bytes from the start of
 *    the SMB header (MS-CIFS §2.2.1.1: "a Unicode string MUST be aligned to a 16-bit boundary").
 *  - "OEM" strings (MS-CIFS §2.2.1.1 OEM_STRING; dialect names, SMB1 without SMB_FLAGS2_UNICODE)
 *    are in the client's OEM code page. We send ASCII and read them as latin1, which keeps every
 *    byte visible instead of guessing a code page.
 */

/** UTF-16LE code units of `text`, no terminator (lone surrogates are kept as they are). */
export function encodeUtf16le(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, "utf16le"));
}

/** UTF-16LE bytes to text; a dangling odd byte at the end is dropped, never an error. */
export function decodeUtf16le(bytes: Uint8Array): string {
  const even = bytes.length - (bytes.length % 2);
  return Buffer.from(bytes.buffer, bytes.byteOffset, even).toString("utf16le");
}

/** OEM string bytes (latin1, one byte per character); RangeError on characters above U+00FF. */
export function encodeOem(text: string, what: string): Uint8Array {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      throw new RangeError(`${what} must be single-byte (OEM) text, got ${JSON.stringify(text)}`);
    }
  }
  return Uint8Array.from(Buffer.from(text, "latin1"));
}

export function decodeOem(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** Throw if a NUL-terminated field would be cut short by an embedded NUL. */
export function checkNoNul(text: string, what: string): void {
  if (text.includes("\u0000")) {
    throw new RangeError(`${what} is NUL-terminated on the wire and cannot contain U+0000`);
  }
}

/** The bytes of an SMB1 SMB_STRING with its terminator (2 NUL bytes in Unicode, 1 in OEM). */
export function smbStringBytes(text: string, unicode: boolean, what: string): Uint8Array {
  checkNoNul(text, what);
  const body = unicode ? encodeUtf16le(text) : encodeOem(text, what);
  const out = new Uint8Array(body.length + (unicode ? 2 : 1));
  out.set(body);
  return out;
}

export interface TerminatedString {
  readonly text: string;
  /** Offset just after the terminator (or `end` when the string ran to the end). */
  readonly next: number;
}

/**
 * Read a NUL-terminated SMB1 string in [start, end). Lenient by design (MS-CIFS servers differ):
 * a missing terminator ends the string at `end`, an empty range gives "", a dangling odd byte in
 * Unicode is dropped. Never throws; cost is bounded by end - start.
 */
export function readTerminated(
  bytes: Uint8Array,
  start: number,
  end: number,
  unicode: boolean,
): TerminatedString {
  const stop = Math.min(end, bytes.length);
  if (start >= stop) return { text: "", next: Math.max(start, 0) };
  if (unicode) {
    let at = start;
    while (at + 1 < stop && (bytes[at] !== 0 || bytes[at + 1] !== 0)) at += 2;
    const text = decodeUtf16le(bytes.subarray(start, Math.min(at, stop)));
    return { text, next: at + 1 < stop ? at + 2 : stop };
  }
  let at = start;
  while (at < stop && bytes[at] !== 0) at++;
  return { text: decodeOem(bytes.subarray(start, at)), next: at < stop ? at + 1 : stop };
}
