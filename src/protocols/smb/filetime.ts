/**
 * FILETIME (MS-DTYP §2.3.3): a 64-bit count of 100-nanosecond intervals since 1601-01-01 UTC,
 * carried little-endian in SMB1 NEGOTIATE (SystemTime), NT_CREATE_ANDX and every SMB2 time field.
 * Decoded messages keep the raw bigint (round trips stay exact); these convert for display.
 */

/** 1970-01-01 as a FILETIME: 11644473600 s between the epochs. */
export const FILETIME_UNIX_EPOCH = 116444736000000000n;
const TICKS_PER_MS = 10000n;
const MAX_FILETIME = 0xffffffffffffffffn;

/**
 * FILETIME → ISO 8601 (millisecond precision; the 100-ns remainder is dropped). Returns null for
 * 0, which SMB uses for "not set" (MS-SMB2 §2.2.4 ServerStartTime, Samba's unset times).
 */
export function filetimeToIso(filetime: bigint): string | null {
  if (filetime < 0n || filetime > MAX_FILETIME) {
    throw new RangeError(`a FILETIME is an unsigned 64-bit value, got ${filetime}`);
  }
  if (filetime === 0n) return null;
  // Every u64 FILETIME (up to year 60056) is inside the Date range (±273,790 years of 1970).
  // Floor division, so times before 1970 round down like those after it.
  const ticks = filetime - FILETIME_UNIX_EPOCH;
  const whole = ticks / TICKS_PER_MS;
  const ms = Number(ticks % TICKS_PER_MS < 0n ? whole - 1n : whole);
  return new Date(ms).toISOString();
}

/** ISO 8601 (anything Date.parse reads) → FILETIME; RangeError if unparseable or before 1601. */
export function isoToFiletime(iso: string): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not an ISO 8601 date: ${JSON.stringify(iso)}`);
  const filetime = BigInt(ms) * TICKS_PER_MS + FILETIME_UNIX_EPOCH;
  if (filetime < 0n) throw new RangeError(`${iso} is before 1601-01-01, the FILETIME epoch`);
  return filetime;
}
