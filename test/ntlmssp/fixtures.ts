import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import fc from "fast-check";

/** Shared helpers for the NTLMSSP / SPNEGO tests. */

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** Debian's python3 with impacket (the pyenv python3 on PATH has no impacket). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

function probeImpacket(): string | null {
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} is missing`;
  try {
    execFileSync(SYSTEM_PYTHON, ["-c", "import impacket.ntlm, impacket.spnego"], {
      stdio: "ignore",
    });
    return null;
  } catch {
    return "impacket is not installed for /usr/bin/python3 (apt-get install -y python3-impacket)";
  }
}

/** Why the impacket interop tests cannot run here, or null when they can. */
export const IMPACKET_MISSING = probeImpacket();

/**
 * Runs a Python snippet under impacket with `input` as JSON on stdin and returns its JSON
 * stdout. Snippets read `data = json.load(sys.stdin)` and `print(json.dumps(...))`.
 */
export function impacket<T>(script: string, input: unknown = null): T {
  const out = execFileSync(SYSTEM_PYTHON, ["-c", script], {
    input: JSON.stringify(input),
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
  return JSON.parse(out) as T;
}

/**
 * Mutations of a valid message: byte flips, truncation, extension, and 16/32-bit length-like
 * values written at any offset (both endiannesses, as NTLMSSP is LE and DER lengths are BE).
 */
export const mutate = (bytes: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xff })), { minLength: 1, maxLength: 6 })
      .map((flips) => {
        const out = Uint8Array.from(bytes);
        if (out.length === 0) return out;
        for (const [at, value] of flips) out[at % out.length] = value;
        return out;
      }),
    fc.nat({ max: bytes.length }).map((length) => bytes.slice(0, length)),
    fc.uint8Array({ maxLength: 32 }).map((tail) => Uint8Array.from([...bytes, ...tail])),
    fc
      .tuple(
        fc.nat(),
        fc.constantFrom(0xffffffff, 0x7fffffff, 0x10000, 0xffff, 0x8000, 0x84, 0x80, 0x00),
        fc.boolean(),
      )
      .map(([at, big, little]) => {
        const out = Uint8Array.from(bytes);
        if (out.length < 4) return out;
        new DataView(out.buffer).setUint32(at % (out.length - 3), big, little);
        return out;
      }),
  );

/**
 * A size measure of a decoded value: bytes in byte arrays, characters in strings, one per
 * array element or object key. Decoders must stay within a small multiple of their input.
 */
export function decodedSize(value: unknown, depth = 0): number {
  if (depth > 20) throw new Error("decoded value nests deeper than 20");
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === "string") return value.length;
  if (Array.isArray(value))
    return value.reduce((n: number, v) => n + 1 + decodedSize(v, depth + 1), 0);
  if (typeof value === "object" && value !== null) {
    return Object.values(value).reduce((n: number, v) => n + 1 + decodedSize(v, depth + 1), 0);
  }
  return 1;
}
