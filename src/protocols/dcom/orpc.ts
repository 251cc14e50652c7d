import { type DecodeIssue, NdrReader, NdrWriter } from "../dcerpc/index.js";

/**
 * ORPCTHIS, the first [in] parameter of every DCOM call (MS-DCOM §2.2.13.1): COMVERSION, flags,
 * reserved, causality id, and a unique pointer to extensions. Our probes never send extensions;
 * the decoder refuses them rather than walking an attacker-sized ORPC_EXTENT_ARRAY.
 */
export interface OrpcThis {
  readonly major: number;
  readonly minor: number;
  readonly flags: number;
  readonly reserved: number;
  /** Causality id (MS-DCOM §2.2.13.1 cid). */
  readonly cid: string;
}

export function writeOrpcThis(w: NdrWriter, orpc: OrpcThis): void {
  w.u16(orpc.major).u16(orpc.minor).u32(orpc.flags).u32(orpc.reserved).uuid(orpc.cid);
  w.pointer(0); // extensions: NULL
}

export function readOrpcThis(r: NdrReader): OrpcThis {
  const major = r.u16("orpcthis.version.major");
  const minor = r.u16("orpcthis.version.minor");
  const flags = r.u32("orpcthis.flags");
  const reserved = r.u32("orpcthis.reserved1");
  const cid = r.uuid("orpcthis.cid");
  const extensions = r.uniquePointer("orpcthis.extensions");
  if (!r.failed && extensions.referentId !== 0) {
    r.fail("orpcthis.extensions", "ORPC extensions are not supported");
  }
  return { major, minor, flags, reserved, cid };
}

/** MS-DCOM §2.2.11 MInterfacePointer body: ulCntData then a conformant byte array of that size. */
export function readInterfacePointerBody(r: NdrReader, what: string, maxBytes: number): Uint8Array {
  const count = r.u32(`${what}.ulCntData`);
  const data = r.conformantOctets(`${what}.abData`);
  if (r.failed) return new Uint8Array(0);
  if (count !== data.length) {
    r.fail(what, `ulCntData ${count} disagrees with the array's max_count ${data.length}`);
  } else if (data.length > maxBytes) {
    r.fail(what, `${data.length} bytes exceed the ${maxBytes}-byte cap`);
  }
  return data;
}

export function readerFor(stub: Uint8Array, littleEndian: boolean): NdrReader {
  return new NdrReader(stub, { littleEndian });
}

export type Decoded<T> = T | DecodeIssue;
