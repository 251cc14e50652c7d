import { formatUuid, isUuid, parseUuid } from "../dcerpc/ndr.js";

/**
 * GUIDs in SMB (ServerGUID of MS-SMB §2.2.4.5.2.1, ClientGuid/ServerGuid of MS-SMB2 §2.2.3-4) use
 * the MS-DTYP §2.3.4.2 packet form: Data1, Data2, Data3 little-endian, then 8 bytes as they are,
 * which is NDR's little-endian uuid_t; so the DCE/RPC helpers serve both.
 */
export function guidToBytes(text: string, what: string): Uint8Array {
  if (!isUuid(text)) throw new RangeError(`${what} must be a GUID, got ${JSON.stringify(text)}`);
  return parseUuid(text, true);
}

/** 16 bytes at `offset` (checked by the caller) → lowercase GUID text. */
export function guidFromBytes(bytes: Uint8Array, offset: number): string {
  return formatUuid(bytes, offset, true);
}
