import { type DecodeIssue, NdrReader, NdrWriter, parseUuid } from "../dcerpc/index.js";
import { readInterfacePointerBody, readOrpcThis, readerFor } from "./orpc.js";

/**
 * ISystemActivator (IRemoteSCMActivator) calls (MS-DCOM §3.1.2.5.2): RemoteGetClassObject (opnum
 * 3) and RemoteCreateInstance (opnum 4). Their activation properties travel as an OBJREF_CUSTOM
 * (MS-DCOM §2.2.18.6) wrapping an ActivationPropertiesIn blob whose CustomHeader (§2.2.22.1) lists
 * the property CLSIDs; KB 824146 made RPCSS validate that list, which is what Microsoft's own
 * scanner (and so our Check B′) exploits (research §2.6).
 */
export const REMOTE_GET_CLASS_OBJECT_OPNUM = 3;
export const REMOTE_CREATE_INSTANCE_OPNUM = 4;

/** "MEOW" little-endian: every OBJREF starts with it (MS-DCOM §2.2.18.1). */
export const OBJREF_SIGNATURE = 0x574f454d;
const OBJREF_CUSTOM = 0x4;
const MAX_ACTIVATION_BLOB_BYTES = 64 * 1024;
const MAX_PROPERTIES = 64;

/** MS-DCOM §2.2.22.2: the activation property CLSIDs Windows 2000–2003 know. */
export const KNOWN_ACTIVATION_PROPERTY_CLSIDS: ReadonlySet<string> = new Set(
  [
    "000001b9", // SpecialSystemProperties
    "000001ab", // InstantiationInfo
    "000001a5", // ActivationContextInfo
    "000001a6", // SecurityInfo
    "000001a4", // ServerLocationInfo
    "000001ad", // InstanceInfo
    "000001aa", // ScmRequestInfo
    "000001a8", // ScmReplyInfo
    "000001b6", // PropsOutInfo
  ].map((head) => `${head}-0000-0000-c000-000000000046`),
);

/**
 * Microsoft KB824146Scan's first RemoteCreateInstance stub (req1, 920 bytes), as Nessus
 * msrpc_dcom2.nasl v1.2+ copied it ("use the same requests as MS checktool"; research §2.6.1,
 * §2.6.4 [S2]). Kept byte for byte: the decision constants were observed with exactly these
 * bytes, including the capture machine's name `sajiadev_x86` and the InstanceInfo file name whose
 * UNC server component is empty. ORPCTHIS 5.2; OBJREF_CUSTOM with CLSID_ActivationPropertiesIn;
 * CustomHeader cIfs 7 (SpecialSystemProperties, InstantiationInfo, ActivationContextInfo,
 * SecurityInfo, ServerLocationInfo, InstanceInfo, ScmRequestInfo); bogus class
 * 9a885d00-1ceb-11c9-9fe8-08002b104860.
 */
const KB824146SCAN_REQ1_HEX = [
  "0500020000000000000000000000000000000000000000000000000000000000",
  "000000009005140068030000680300004d454f5704000000a201000000000000",
  "c0000000000000463803000000000000c0000000000000460000000038030000",
  "300300000000000001100800ccccccccc80000000000000030030000d8000000",
  "0000000002000000070000000000000000000000000000000000000018018d00",
  "b8018d000000000007000000b901000000000000c000000000000046ab010000",
  "00000000c000000000000046a501000000000000c000000000000046a6010000",
  "00000000c000000000000046a401000000000000c000000000000046ad010000",
  "00000000c000000000000046aa01000000000000c00000000000004607000000",
  "60000000580000009000000058000000200000006800000030000000c0000000",
  "01100800cccccccc5000000000000000ffffffff000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "01100800cccccccc4800000000000000005d889aeb1cc9119fe808002b104860",
  "1000000000000000000000000100000000000000b8470a005800000005000600",
  "010000000000000000000000c000000000000046cccccccc01100800cccccccc",
  "80000000000000000000000000000000000000000000000020ba090000000000",
  "60000000600000004d454f5704000000c001000000000000c000000000000046",
  "3b03000000000000c000000000000046000000003000000001000100673c7094",
  "1333fd4687244d093988939d0200000000000000000000000000000000000000",
  "000000000100000001100800cccccccc480000000000000000000000b07e0900",
  "0000000000000000f0890a0000000000000000000d000000000000000d000000",
  "730061006a00690061006400650076005f0078003800360000000800cccccccc",
  "01100800cccccccc100000000000000000000000000000000000000000000000",
  "01100800cccccccc5800000000000000c05e0a00000000000000000000000000",
  "1b000000000000001b0000005c005c0000005c006a0069006100640065007600",
  "5f007800000036005c007000750062006c00690063005c004100410041004100",
  "000000000100150001100800cccccccc200000000000000000000000905b0900",
  "0200000001006c00c0df0800010000000700550000000000",
].join("");

/**
 * Where the property CLSID list sits in that stub: ORPCTHIS (32) + pUnkOuter (4) + referent (4)
 * + ulCntData (4) + max_count (4) = 48 to the OBJREF; +72 to the CustomHeader (OBJREF_CUSTOM 48,
 * ActivationBlob 8, type-serialisation headers 16); + 52 header fields + max_count 4 = 0xac.
 * req2 differs from req1 only in entries 3 and 4 (research §2.6.4: bytes 0xF4 and 0x104 of the PDU).
 */
const PROPERTY_CLSIDS_OFFSET = 0xac;
const REQ2_REPLACEMENTS: readonly [index: number, clsid: string][] = [
  [3, "000001f6-0000-0000-c000-000000000046"],
  [4, "000001ff-0000-0000-c000-000000000046"],
];

export type Kb824146ScanVariant = "req1" | "req2";

/**
 * req1 (the known property list) or req2 (two unknown property CLSIDs in place of SecurityInfo and
 * ServerLocationInfo). An unpatched RPCSS answers both alike; a KB 824146 one does not.
 */
export function kb824146ScanCreateInstanceStub(variant: Kb824146ScanVariant): Uint8Array {
  const stub = Uint8Array.from(Buffer.from(KB824146SCAN_REQ1_HEX, "hex"));
  if (variant === "req2") {
    for (const [index, clsid] of REQ2_REPLACEMENTS) {
      stub.set(parseUuid(clsid), PROPERTY_CLSIDS_OFFSET + 16 * index);
    }
  }
  return stub;
}

export interface RemoteCreateInstanceRequest {
  readonly orpcThis: { readonly major: number; readonly minor: number };
  /** The CustomHeader's property CLSIDs, in order. */
  readonly propertyClsids: readonly string[];
}

/**
 * Server side (the lab): walk ORPCTHIS, pUnkOuter, pActProperties → OBJREF_CUSTOM →
 * ActivationBlob → CustomHeader far enough to list the property CLSIDs. Every length is checked
 * against the bytes present and capped.
 */
export function decodeRemoteCreateInstanceRequest(
  stub: Uint8Array,
  littleEndian = true,
): RemoteCreateInstanceRequest | DecodeIssue {
  const r = readerFor(stub, littleEndian);
  const orpcThis = readOrpcThis(r);
  const outer = r.uniquePointer("pUnkOuter");
  if (!r.failed && outer.referentId !== 0) r.fail("pUnkOuter", "aggregation is not supported");
  const props = r.uniquePointer("pActProperties");
  if (!r.failed && props.referentId === 0) r.fail("pActProperties", "NULL activation properties");
  const objref = readInterfacePointerBody(r, "pActProperties", MAX_ACTIVATION_BLOB_BYTES);
  if (r.failed) return r.result({ orpcThis, propertyClsids: [] });
  const propertyClsids = readCustomHeaderClsids(objref, littleEndian);
  if (!Array.isArray(propertyClsids)) return propertyClsids as DecodeIssue;
  return { orpcThis: { major: orpcThis.major, minor: orpcThis.minor }, propertyClsids };
}

function readCustomHeaderClsids(
  objref: Uint8Array,
  littleEndian: boolean,
): readonly string[] | DecodeIssue {
  const r = new NdrReader(objref, { littleEndian, baseOffset: 48 });
  const signature = r.u32("objref.signature");
  const flags = r.u32("objref.flags");
  r.uuid("objref.iid");
  if (!r.failed && signature !== OBJREF_SIGNATURE) r.fail("objref.signature", "not MEOW");
  if (!r.failed && flags !== OBJREF_CUSTOM) r.fail("objref.flags", `flags ${flags}, not CUSTOM`);
  r.uuid("objref.clsid");
  r.u32("objref.cbExtension");
  r.u32("objref.size");
  r.u32("activation-blob.dwSize");
  r.u32("activation-blob.dwReserved");
  // MS-RPCE §2.2.6 type serialisation v1: common header (version 1, LE 0x10, length 8, filler)
  // and private header (object buffer length, filler); NDR alignment restarts after them.
  r.skip(16, "type-serialisation-headers");
  if (r.failed) return r.result([]);
  const header = new NdrReader(objref.subarray(r.offset), {
    littleEndian,
    baseOffset: 48 + r.offset,
  });
  header.u32("custom-header.totalSize");
  header.u32("custom-header.headerSize");
  header.u32("custom-header.dwReserved");
  header.u32("custom-header.destCtx");
  const count = header.u32("custom-header.cIfs");
  header.uuid("custom-header.classInfoClsid");
  const clsidsPointer = header.uniquePointer("custom-header.pclsid");
  header.uniquePointer("custom-header.pSizes");
  header.uniquePointer("custom-header.pdwReserved");
  if (!header.failed && count > MAX_PROPERTIES) {
    header.fail("custom-header.cIfs", `${count} properties exceed the cap of ${MAX_PROPERTIES}`);
  }
  if (!header.failed && clsidsPointer.referentId === 0) {
    header.fail("custom-header.pclsid", "NULL property CLSID list");
  }
  const listed = header.conformance(16, "custom-header.pclsid");
  if (!header.failed && listed !== count) {
    header.fail("custom-header.pclsid", `max_count ${listed} disagrees with cIfs ${count}`);
  }
  const clsids: string[] = [];
  for (let i = 0; i < listed && !header.failed; i++) clsids.push(header.uuid("property-clsid"));
  return header.result(clsids);
}

// ---- RemoteGetClassObject (Check B, research §2.5) ----

/**
 * Tenable's RemoteGetClassObject probe (Nessus 11835 rev 1.47+, research §2.5 [S5]): ORPCTHIS 5.6
 * and a 12-byte MInterfacePointer of 'A's, which is not an OBJREF. Intrusive: it touches the code
 * path of CVE-2003-0605 on exactly the hosts it is meant to find (§2.5 risk note).
 */
export function encodeRemoteGetClassObjectStub(cid: string): Uint8Array {
  const junk = new Uint8Array(12).fill(0x41);
  const w = new NdrWriter({ initialCapacity: 64 });
  w.u16(5).u16(6).u32(1).u32(0).uuid(cid).pointer(0);
  w.pointer(0x00020000).u32(junk.length).conformantOctets(junk);
  w.u32(0);
  return w.toBytes();
}

export interface RemoteGetClassObjectRequest {
  readonly objref: Uint8Array;
  /** The OBJREF's first dword (MEOW for a real one), or null if it is shorter than 4 bytes. */
  readonly objrefSignature: number | null;
}

export function decodeRemoteGetClassObjectRequest(
  stub: Uint8Array,
  littleEndian = true,
): RemoteGetClassObjectRequest | DecodeIssue {
  const r = readerFor(stub, littleEndian);
  readOrpcThis(r);
  const props = r.uniquePointer("pActProperties");
  if (!r.failed && props.referentId === 0) r.fail("pActProperties", "NULL activation properties");
  const objref = readInterfacePointerBody(r, "pActProperties", MAX_ACTIVATION_BLOB_BYTES);
  if (r.failed) return r.result({ objref, objrefSignature: null });
  const signature =
    objref.length >= 4
      ? new DataView(objref.buffer, objref.byteOffset, 4).getUint32(0, littleEndian)
      : null;
  return { objref, objrefSignature: signature };
}

// ---- The replies both calls share when activation fails ----

/**
 * RemoteCreateInstance / RemoteGetClassObject [out] for a failed activation: ORPCTHAT (8), a NULL
 * ppActProperties (4), the HRESULT (4) = 16 bytes (research §2.5 [S13]; Tenable requires 16 [S5]).
 */
export const ACTIVATION_FAILURE_STUB_LENGTH = 16;

export function encodeActivationReply(hresult: number): Uint8Array {
  return new NdrWriter({ initialCapacity: 16 })
    .u32(0)
    .pointer(0)
    .pointer(0)
    .u32(hresult >>> 0)
    .toBytes();
}

export interface ActivationReply {
  readonly stubLength: number;
  /**
   * The stub's last dword: RemoteCreateInstance's HRESULT as KB824146Scan's replica reads it
   * (research §2.6.2 `check()`), null for a stub shorter than 4 bytes.
   */
  readonly lastDword: number | null;
}

export function decodeActivationReply(stub: Uint8Array, littleEndian = true): ActivationReply {
  if (stub.length < 4) return { stubLength: stub.length, lastDword: null };
  const view = new DataView(stub.buffer, stub.byteOffset, stub.byteLength);
  return { stubLength: stub.length, lastDword: view.getUint32(stub.length - 4, littleEndian) };
}

/** For messages: the property CLSID's short form ("000001a6"). */
export function shortClsid(clsid: string): string {
  return clsid.endsWith("-0000-0000-c000-000000000046") ? clsid.slice(0, 8) : clsid;
}
