/**
 * Well-known DCE/RPC interface and transfer-syntax identifiers.
 *
 * An interface is named on the wire by a p_syntax_id_t (C706 §12.6.3.1 / MS-RPCE §2.2.2.3): a
 * UUID plus a 32-bit version whose low 16 bits are the major and high 16 bits the minor version.
 * UUIDs here are canonical lowercase text; ndr.ts turns them into the mixed-endian wire form.
 *
 * Every entry says where it was checked. "impacket" is fortra/impacket @ f133bb88 (the commit the
 * research doc cites as [S13]/[S15]): `MSRPC_UUID_*` constants in impacket/dcerpc/v5/*.py or the
 * brute-force list impacket/examples/rpcdatabase.py. "Samba" is librpc/idl/<name>.idl, whose
 * `uuid()` / `version()` attributes are what the lab's Samba peer registers with its mapper.
 */

/** C706 §12.6.3.1 p_syntax_id_t: an abstract (interface) or transfer syntax with its version. */
export interface SyntaxId {
  /** Canonical lowercase UUID text, e.g. "e1af8308-5d1f-11c9-91a4-08002b14a0fa". */
  readonly uuid: string;
  /** Low 16 bits of if_version. */
  readonly major: number;
  /** High 16 bits of if_version. */
  readonly minor: number;
}

export interface WellKnownInterface extends SyntaxId {
  /** Short name as Samba / Wireshark use it ("epmapper", "lsarpc", ...). */
  readonly name: string;
  readonly description: string;
  /** Where the UUID and version were verified. */
  readonly verifiedIn: string;
}

function iface(
  name: string,
  uuid: string,
  major: number,
  minor: number,
  description: string,
  verifiedIn: string,
): WellKnownInterface {
  return Object.freeze({ name, uuid, major, minor, description, verifiedIn });
}

// ---- Transfer syntaxes (C706 Appendix I NDR; MS-RPCE NDR64, bind time feature negotiation) ----

/** NDR 2.0, the transfer syntax every peer of ours speaks (research §2.2, impacket rpcrt.py). */
export const NDR_TRANSFER_SYNTAX: SyntaxId = Object.freeze({
  uuid: "8a885d04-1ceb-11c9-9fe8-08002b104860",
  major: 2,
  minor: 0,
});

/**
 * NDR64 1.0. impacket's getArch offers it on 135: an accepting bind_ack means a 64-bit host
 * (lab-and-peers.md §3); Samba and 2003-era Windows reject it.
 */
export const NDR64_TRANSFER_SYNTAX: SyntaxId = Object.freeze({
  uuid: "71710533-beba-4937-8319-b5dbef9ccc36",
  major: 1,
  minor: 0,
});

/**
 * MS-RPCE bind time feature negotiation: a pseudo transfer syntax whose UUID starts
 * with this prefix and whose last 8 bytes carry a feature bitmask (impacket rpcrt.py
 * MSRPC_BIND_TIME_FEATURE_NEGOTIATION_PREFIX). Servers answer it with result 3 (negotiate_ack).
 */
export const BIND_TIME_FEATURE_NEGOTIATION_PREFIX = "6cb71c2c-9812-4540-";

export function isBindTimeFeatureNegotiation(syntax: SyntaxId): boolean {
  return syntax.uuid.toLowerCase().startsWith(BIND_TIME_FEATURE_NEGOTIATION_PREFIX);
}

// ---- Interfaces the MS03-026 checks bind (research §2.2) ----

export const EPMAPPER = iface(
  "epmapper",
  "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
  3,
  0,
  "Endpoint mapper (C706 Appendix O, ept_lookup opnum 2)",
  "research §2.2; impacket epm.py MSRPC_UUID_PORTMAP; Samba epmapper.idl",
);
export const MGMT = iface(
  "mgmt",
  "afa8bd80-7d8a-11c9-bef4-08002b102989",
  1,
  0,
  "Remote management (C706 Appendix Q, inq_if_ids)",
  "impacket mgmt.py MSRPC_UUID_MGMT; rpcmap finds it on every Samba port (lab-and-peers §2)",
);
export const ISYSTEM_ACTIVATOR = iface(
  "ISystemActivator",
  "000001a0-0000-0000-c000-000000000046",
  0,
  0,
  "IRemoteSCMActivator: RemoteGetClassObject (3), RemoteCreateInstance (4) (MS-DCOM §3.1.2.5.2.3)",
  "research §2.2; impacket dcomrt.py IID_IRemoteSCMActivator",
);
export const IREMOTE_ACTIVATION = iface(
  "IRemoteActivation",
  "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57",
  0,
  0,
  "IActivation: RemoteActivation (0), the MS03-026 probe target (MS-DCOM §3.1.2.5.2.3.1)",
  "research §2.2; impacket dcomrt.py IID_IActivation; Samba remact.idl",
);
export const IOXID_RESOLVER = iface(
  "IOXIDResolver",
  "99fcfec4-5260-101b-bbcb-00aa0021347a",
  0,
  0,
  "IObjectExporter / IOXIDResolver: ResolveOxid, ServerAlive2 (5) (MS-DCOM §3.1.2.5.1)",
  "research §2.2; impacket dcomrt.py IID_IObjectExporter",
);
/**
 * The rpcss "ILocalObjectExporter" v2.0 the 2003 checks bind as a Windows 9x discriminator.
 * Not the same UUID as IOXIDResolver, although older write-ups use the names interchangeably.
 */
export const ILOCAL_OBJECT_EXPORTER = iface(
  "ILocalObjectExporter",
  "e60c73e6-88f9-11cf-9af1-0020af6e72f4",
  2,
  0,
  "rpcss local object exporter; bind-only Win9x discriminator (research §2.4.4, §2.10a)",
  "research §2.2 ([S1][S2] bindwinme); impacket rpcdatabase.py",
);
export const IREM_UNKNOWN = iface(
  "IRemUnknown",
  "00000131-0000-0000-c000-000000000046",
  0,
  0,
  "DCOM IRemUnknown (MS-DCOM §3.1.1.5.6)",
  "impacket dcomrt.py IID_IRemUnknown",
);
export const IREM_UNKNOWN2 = iface(
  "IRemUnknown2",
  "00000143-0000-0000-c000-000000000046",
  0,
  0,
  "DCOM IRemUnknown2 (MS-DCOM §3.1.1.5.7)",
  "impacket dcomrt.py IID_IRemUnknown2",
);

// ---- The usual Samba / Windows named-pipe and TCP services ----

export const LSARPC = iface(
  "lsarpc",
  "12345778-1234-abcd-ef00-0123456789ab",
  0,
  0,
  "Local Security Authority (MS-LSAT / MS-LSAD)",
  "Samba lsa.idl; impacket lsat.py; Samba epm list (lab-and-peers §2)",
);
export const SAMR = iface(
  "samr",
  "12345778-1234-abcd-ef00-0123456789ac",
  1,
  0,
  "Security Account Manager (MS-SAMR)",
  "Samba samr.idl; impacket samr.py",
);
export const NETLOGON = iface(
  "netlogon",
  "12345678-1234-abcd-ef00-01234567cffb",
  1,
  0,
  "Netlogon (MS-NRPC)",
  "impacket nrpc.py MSRPC_UUID_NRPC",
);
export const SPOOLSS = iface(
  "spoolss",
  "12345678-1234-abcd-ef00-0123456789ab",
  1,
  0,
  "Print spooler (MS-RPRN)",
  "impacket rprn.py MSRPC_UUID_RPRN",
);
export const SRVSVC = iface(
  "srvsvc",
  "4b324fc8-1670-01d3-1278-5a47bf6ee188",
  3,
  0,
  "Server service (MS-SRVS)",
  "Samba srvsvc.idl; impacket srvs.py",
);
export const WKSSVC = iface(
  "wkssvc",
  "6bffd098-a112-3610-9833-46c3f87e345a",
  1,
  0,
  "Workstation service (MS-WKST)",
  "impacket wkst.py; Samba epm list (lab-and-peers §2)",
);
export const WINREG = iface(
  "winreg",
  "338cd001-2244-31f1-aaaa-900038001003",
  1,
  0,
  "Remote registry (MS-RRP)",
  "impacket rrp.py; Samba epm list (lab-and-peers §2)",
);
export const SVCCTL = iface(
  "svcctl",
  "367abb81-9844-35f1-ad32-98f038001003",
  2,
  0,
  "Service control manager (MS-SCMR)",
  "impacket scmr.py; rpcdatabase.py",
);
export const EVENTLOG = iface(
  "eventlog",
  "82273fdc-e32a-18c3-3f78-827929dc23ea",
  0,
  0,
  "EventLog remoting, legacy (MS-EVEN)",
  "impacket even.py; rpcdatabase.py",
);
export const EVENTLOG6 = iface(
  "eventlog6",
  "f6beaff7-1e19-4fbb-9f8f-b89e2018337c",
  1,
  0,
  "EventLog remoting v6 (MS-EVEN6)",
  "impacket even6.py; rpcdatabase.py",
);
export const DSSETUP = iface(
  "dssetup",
  "3919286a-b10c-11d0-9ba8-00c04fd92ef5",
  0,
  0,
  "Directory services setup (MS-DSSP)",
  "impacket dssp.py; Samba epm list (lab-and-peers §2)",
);
export const NETDFS = iface(
  "netdfs",
  "4fc742e0-4a10-11cf-8273-00aa004ae673",
  3,
  0,
  "DFS namespace management (MS-DFSNM)",
  "impacket rpcdatabase.py; Samba epm list (lab-and-peers §2)",
);
export const DRSUAPI = iface(
  "drsuapi",
  "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
  4,
  0,
  "Directory replication (MS-DRSR)",
  "impacket drsuapi.py; rpcdatabase.py",
);
export const ATSVC = iface(
  "atsvc",
  "1ff70682-0a51-30e8-076d-740be8cee98b",
  1,
  0,
  "AT scheduler (MS-TSCH ATSvc)",
  "impacket atsvc.py; rpcdatabase.py",
);
export const TASK_SCHEDULER = iface(
  "ITaskSchedulerService",
  "86d35949-83c9-4044-b424-db363231fd0c",
  1,
  0,
  "Task scheduler service (MS-TSCH)",
  "impacket tsch.py; rpcdatabase.py",
);
export const BACKUPKEY = iface(
  "backupkey",
  "3dde7c30-165d-11d1-ab8f-00805f14db40",
  1,
  0,
  "BackupKey remote protocol (MS-BKRP)",
  "impacket bkrp.py; rpcdatabase.py",
);
export const INITSHUTDOWN = iface(
  "initshutdown",
  "894de0c0-0d55-11d3-a322-00c04fa321a1",
  1,
  0,
  "Remote shutdown (MS-RSP)",
  "Samba initshutdown.idl; impacket rpcdatabase.py",
);
export const NTSVCS = iface(
  "ntsvcs",
  "8d9f4e40-a03d-11ce-8f69-08003e30051b",
  1,
  0,
  "Plug and Play (MS-PNPR)",
  "Samba ntsvcs.idl (version 1.0; impacket rpcdatabase.py also probes 0.0)",
);
export const BROWSER = iface(
  "browser",
  "6bffd098-a112-3610-9833-012892020162",
  0,
  0,
  "Computer browser (MS-BRWSA)",
  "impacket rpcdatabase.py and epm.py KNOWN_PROTOCOLS",
);
export const EFSRPC = iface(
  "efsrpc",
  "c681d488-d850-11d0-8c52-00c04fd90f7e",
  1,
  0,
  "Encrypting File System remote (MS-EFSR)",
  "impacket rpcdatabase.py and epm.py KNOWN_PROTOCOLS",
);

/** Every interface above, in a stable order (lookups return the first match). */
export const WELL_KNOWN_INTERFACES: readonly WellKnownInterface[] = Object.freeze([
  EPMAPPER,
  MGMT,
  ISYSTEM_ACTIVATOR,
  IREMOTE_ACTIVATION,
  IOXID_RESOLVER,
  ILOCAL_OBJECT_EXPORTER,
  IREM_UNKNOWN,
  IREM_UNKNOWN2,
  LSARPC,
  SAMR,
  NETLOGON,
  SPOOLSS,
  SRVSVC,
  WKSSVC,
  WINREG,
  SVCCTL,
  EVENTLOG,
  EVENTLOG6,
  DSSETUP,
  NETDFS,
  DRSUAPI,
  ATSVC,
  TASK_SCHEDULER,
  BACKUPKEY,
  INITSHUTDOWN,
  NTSVCS,
  BROWSER,
  EFSRPC,
]);

/**
 * The well-known interface with this UUID (case-insensitive). With `major`, only that major
 * version matches; two interfaces share a UUID only across versions, so this is unambiguous.
 */
export function findInterface(uuid: string, major?: number): WellKnownInterface | undefined {
  const wanted = uuid.toLowerCase();
  return WELL_KNOWN_INTERFACES.find(
    (known) => known.uuid === wanted && (major === undefined || known.major === major),
  );
}

/** True when two syntax ids name the same UUID and version. */
export function sameSyntax(a: SyntaxId, b: SyntaxId): boolean {
  return (
    a.uuid.toLowerCase() === b.uuid.toLowerCase() && a.major === b.major && a.minor === b.minor
  );
}
