/**
 * Why a NetBIOS decoder gave up, in the shape STYLE.md asks every codec to use: a value, never a
 * throw, so that a hostile datagram is data to report and not an exception to catch.
 */
export interface DecodeIssue {
  readonly kind: "decode-issue";
  /** The structure being read when decoding stopped, e.g. "header", "rr-name", "node-name". */
  readonly what: string;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  /** For truncation: how many more bytes were needed at `offset`. */
  readonly needed?: number;
  readonly message: string;
}

export function decodeIssue(
  what: string,
  offset: number,
  message: string,
  needed?: number,
): DecodeIssue {
  return needed === undefined
    ? { kind: "decode-issue", what, offset, message }
    : { kind: "decode-issue", what, offset, needed, message };
}

export function isDecodeIssue(value: unknown): value is DecodeIssue {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "decode-issue"
  );
}
