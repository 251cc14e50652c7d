import {
  EPMAPPER,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  LSARPC,
  MGMT,
  NETLOGON,
  NIL_UUID,
  NTSVCS,
  SAMR,
  buildTower,
  type EptEntry,
  type SyntaxId,
  type TowerEndpoint,
} from "../protocols/dcerpc/index.js";
import { behaviourOf, type LabMode } from "./behaviour.js";
import { computerName, type Persona, type WindowsGeneration } from "./personas.js";

/**
 * What each Windows persona's endpoint mapper has registered: the table `ept_lookup` (C706
 * Appendix O) walks and `rpcdump` prints. Small but shaped like the real thing (what rpcdump
 * shows against 2000/XP/2003, research ms03-026-detection.md §1.3 and lab-and-peers.md §2):
 *
 *  - RPCSS registers the endpoint mapper and the DCOM activation interfaces on every endpoint it
 *    listens on: ncacn_ip_tcp port 135, ncacn_np `\PIPE\epmapper`, ncalrpc `epmapper`, and on
 *    Server 2003 ncacn_http port 593 (research §1.3: `endpoint("ncalrpc:", "ncacn_ip_tcp:[135]",
 *    "ncacn_np:[\\pipe\\epmapper]")`).
 *  - LSASS registers lsarpc / samr / netlogon on `\PIPE\lsass` (2000 and later).
 *  - XP's services.exe registers Messenger and Plug and Play on `\PIPE\ntsvcs` (not on XP SP2,
 *    which disables the Messenger service).
 *  - Windows 98's DCOM98 RPCSS registers the mapper and the DCOM interfaces it has on TCP 135 and
 *    ncalrpc only (Windows 9x cannot be a named-pipe server), without ISystemActivator and
 *    ILocalObjectExporter v2.0 (research §2.4.4: the v2.0 bind is rejected on 9x).
 *  - HP-UX dced (a DCE runtime) registers the endpoint mapper and the DCE remote management
 *    interface (C706 Appendix Q) on TCP 135; it has no DCOM.
 *
 * Consistency with the wire: a TCP binding is listed only if that port is really open on the host
 * in the lab's mode, and named-pipe bindings only if SMB (139 or 445) is open. Real hosts also
 * register services on dynamic ports (1025, 1026, ...); the lab's port universe has none, so
 * those ports are closed here and are deliberately not advertised (a binding that answers RST
 * would be a lie the ground truth would have to carry).
 *
 * Bindings are stored as templates with `{address}` (the host's IPv4 address) and `{name}` (its
 * NetBIOS computer name), so the ground truth can carry one table per persona instead of one per
 * host (a /14 has 262,144 hosts).
 */

/** Messenger service (msgsvc.dll in services.exe); impacket epm.py KNOWN_UUIDS lists it. */
const MESSENGER: SyntaxId = Object.freeze({
  uuid: "5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc",
  major: 1,
  minor: 0,
});

/** One registration as the lab records it in the ground truth. */
export interface LabRpcEndpoint {
  /** Interface UUID, lowercase. */
  readonly uuid: string;
  /** "major.minor", as rpcdump prints it after the UUID (`v3.0`). */
  readonly version: string;
  /** The ept_entry_t annotation ("" for most). */
  readonly annotation: string;
  /** String binding, rpcdump's form, with `{address}` / `{name}` placeholders in templates. */
  readonly binding: string;
}

/** One registration with the tower inputs still separate; the wire and the ground truth derive from it. */
interface Registration {
  readonly iface: SyntaxId;
  readonly annotation: string;
  readonly endpoint: TemplateEndpoint;
}

type TemplateEndpoint =
  | { readonly protseq: "ncacn_ip_tcp" | "ncacn_http"; readonly port: number }
  | { readonly protseq: "ncacn_np"; readonly pipe: string }
  | { readonly protseq: "ncalrpc"; readonly endpoint: string };

/**
 * Whether the persona's RPC runtime accepts the NDR64 transfer syntax (MS-RPCE §2.2.5.3.1).
 * NDR64 exists only in 64-bit Windows runtimes (Vista x64 on): the 2003-era personas are 32-bit
 * installs and reject it (provider reason 2), which impacket's getArch reads as "32-bit"
 * (lab-and-peers.md §3); the "nt6" ones (Windows 7 x64, 2008 R2, 10, 2019) accept it ("64-bit").
 */
export function acceptsNdr64(persona: Persona): boolean {
  return persona.rpcss.kind === "windows" && persona.rpcss.generation === "nt6";
}

/**
 * True when the lab serves a DCE/RPC endpoint mapper for this persona: an NT-family RPCSS, DCOM98's
 * RPCSS or a DCE dced (rpcss profile in personas.ts). Hostile personas have their own handler.
 */
export function servesEndpointMapper(persona: Persona): boolean {
  const kind = persona.rpcss.kind;
  return kind === "windows" || kind === "win9x" || kind === "dce";
}

const templateCache = new Map<string, readonly Registration[]>();

/**
 * The registrations of a persona in a mode, with TCP ports as nominal numbers; `null` when the
 * host has no reachable endpoint mapper (no RPC runtime, or neither 135 nor 593 open in this mode).
 */
function registrations(
  persona: Persona,
  mode: LabMode,
  tcpPorts: readonly number[],
): readonly Registration[] | null {
  const tcp = behaviourOf(persona, mode, tcpPorts).tcp;
  if (tcp.get(135) !== "open" && tcp.get(593) !== "open") return null;
  return allRegistrations(persona, mode, tcpPorts);
}

/**
 * Every registration of the persona's runtime in this mode, whether or not a mapper port is
 * reachable (the named pipes of a host whose 135 is closed still work over SMB); `null` without
 * an RPC runtime.
 */
function allRegistrations(
  persona: Persona,
  mode: LabMode,
  tcpPorts: readonly number[],
): readonly Registration[] | null {
  if (!servesEndpointMapper(persona)) return null;
  const tcp = behaviourOf(persona, mode, tcpPorts).tcp;
  const open = (port: number): boolean => tcp.get(port) === "open";
  const key = `${persona.id}/${mode}/${tcpPorts.join(",")}`;
  const known = templateCache.get(key);
  if (known !== undefined) return known;

  const out: Registration[] = [];
  const add = (iface: SyntaxId, endpoints: readonly TemplateEndpoint[], annotation = ""): void => {
    for (const endpoint of endpoints) out.push({ iface, annotation, endpoint });
  };
  const rpcss = persona.rpcss;
  if (rpcss.kind === "windows") {
    windowsRegistrations(rpcss.generation, rpcss.hardened, open, add);
  } else if (rpcss.kind === "win9x") {
    const endpoints: TemplateEndpoint[] = [];
    if (open(135)) endpoints.push({ protseq: "ncacn_ip_tcp", port: 135 });
    endpoints.push({ protseq: "ncalrpc", endpoint: "epmapper" });
    add(EPMAPPER, endpoints);
    add(IREMOTE_ACTIVATION, endpoints);
    add(IOXID_RESOLVER, endpoints);
  } else {
    // dced listens on TCP and UDP 135; the lab's universe has no UDP 135 (it answers port
    // unreachable), so only the TCP binding is advertised.
    const endpoints: TemplateEndpoint[] = open(135) ? [{ protseq: "ncacn_ip_tcp", port: 135 }] : [];
    add(EPMAPPER, endpoints);
    add(MGMT, endpoints);
  }
  const frozen = Object.freeze(out);
  templateCache.set(key, frozen);
  return frozen;
}

function windowsRegistrations(
  generation: WindowsGeneration,
  hardened: boolean,
  open: (port: number) => boolean,
  add: (iface: SyntaxId, endpoints: readonly TemplateEndpoint[], annotation?: string) => void,
): void {
  const smb = open(139) || open(445);

  // RPCSS's endpoints (research §1.3), in the order Windows registers them.
  const rpcss: TemplateEndpoint[] = [];
  if (open(135)) rpcss.push({ protseq: "ncacn_ip_tcp", port: 135 });
  if (smb) rpcss.push({ protseq: "ncacn_np", pipe: "\\PIPE\\epmapper" });
  rpcss.push({ protseq: "ncalrpc", endpoint: "epmapper" });
  // RPC over HTTP v1 (research §1.3): Server 2003 registers the mapper and DCOM on 593 too.
  if (generation === "w2k3" && open(593)) rpcss.push({ protseq: "ncacn_http", port: 593 });

  add(EPMAPPER, rpcss);
  // IRemoteSCMActivator arrived with COM 5.6 / Windows 2000 (MS-DCOM §3.1.2.5.2.3); NT4's RPCSS
  // only has IActivation (MS-DCOM §3.1.2.5.2.3.1).
  if (generation !== "nt4") add(ISYSTEM_ACTIVATOR, rpcss);
  add(IREMOTE_ACTIVATION, rpcss);
  add(IOXID_RESOLVER, rpcss);
  add(ILOCAL_OBJECT_EXPORTER, [{ protseq: "ncalrpc", endpoint: "epmapper" }]);

  if (generation !== "nt4" && smb) {
    const lsass: TemplateEndpoint[] = [
      { protseq: "ncacn_np", pipe: "\\PIPE\\lsass" },
      { protseq: "ncalrpc", endpoint: "audit" },
    ];
    add(LSARPC, lsass);
    add(SAMR, lsass);
    add(NETLOGON, lsass);
  }
  if (generation === "xp" && smb) {
    const ntsvcs: TemplateEndpoint[] = [
      { protseq: "ncacn_np", pipe: "\\PIPE\\ntsvcs" },
      { protseq: "ncalrpc", endpoint: "ntsvcs" },
    ];
    // XP SP2 (the hardened XP) sets the Messenger service to disabled: it registers nothing.
    if (!hardened) add(MESSENGER, ntsvcs, "Messenger Service");
    add(NTSVCS, ntsvcs);
  }
}

/**
 * Windows' named-pipe aliases (HKLM\SYSTEM\CurrentControlSet\Services\Npfs\Aliases): LSASS
 * listens on \PIPE\lsass and answers the well-known names lsarpc, samr and netlogon too
 * (MS-LSAD §2.1, MS-SAMR §2.1 and MS-NRPC §2.1 name those pipes).
 */
const PIPE_ALIASES: ReadonlyMap<string, readonly string[]> = new Map([
  ["lsass", ["lsarpc", "samr", "netlogon"]],
]);

/** The pipe an alias names ("samr" → "lsass"): what Windows puts in the bind_ack's sec_addr. */
export function canonicalPipeName(name: string): string {
  for (const [pipe, aliases] of PIPE_ALIASES) if (aliases.includes(name)) return pipe;
  return name;
}

/**
 * The named pipes the persona's RPC servers listen on (ncacn_np registrations, only when SMB is
 * open), keyed by the lower-case pipe name without its `\PIPE\` prefix ("epmapper", "lsass",
 * plus the aliases), each with the interfaces registered on it: what the lab's SMB server lets a
 * client open on IPC$ and bind over (smb-pipes.ts).
 */
export function namedPipeInterfaces(
  persona: Persona,
  mode: LabMode,
  tcpPorts: readonly number[],
): ReadonlyMap<string, readonly SyntaxId[]> {
  const pipes = new Map<string, SyntaxId[]>();
  for (const r of allRegistrations(persona, mode, tcpPorts) ?? []) {
    if (r.endpoint.protseq !== "ncacn_np") continue;
    const name = r.endpoint.pipe.replace(/^\\PIPE\\/i, "").toLowerCase();
    for (const pipe of [name, ...(PIPE_ALIASES.get(name) ?? [])]) {
      const list = pipes.get(pipe) ?? [];
      if (!list.includes(r.iface)) list.push(r.iface);
      pipes.set(pipe, list);
    }
  }
  return pipes;
}

function bindingOf(endpoint: TemplateEndpoint, portOffset: number): string {
  switch (endpoint.protseq) {
    case "ncacn_ip_tcp":
    case "ncacn_http":
      return `${endpoint.protseq}:{address}[${endpoint.port + portOffset}]`;
    case "ncacn_np":
      // Windows writes the NetBIOS floor as \\NAME (impacket PrintStringBinding prints it as is).
      return `ncacn_np:\\\\{name}[${endpoint.pipe}]`;
    case "ncalrpc":
      return `ncalrpc:[${endpoint.endpoint}]`;
  }
}

/**
 * The persona's endpoint table as ground-truth templates (wire ports: nominal + portOffset), or
 * null when the lab serves no endpoint mapper for it in this mode.
 */
export function rpcEndpointTemplates(
  persona: Persona,
  mode: LabMode,
  tcpPorts: readonly number[],
  portOffset: number,
): LabRpcEndpoint[] | null {
  const regs = registrations(persona, mode, tcpPorts);
  if (regs === null) return null;
  return regs.map((r) => ({
    uuid: r.iface.uuid,
    version: `${r.iface.major}.${r.iface.minor}`,
    annotation: r.annotation,
    binding: bindingOf(r.endpoint, portOffset),
  }));
}

/** Fill a template's placeholders for one host. */
export function instantiateRpcEndpoint(
  template: LabRpcEndpoint,
  host: { readonly address: string; readonly index: number },
): LabRpcEndpoint {
  return {
    ...template,
    binding: template.binding
      .replace("{address}", host.address)
      .replace("{name}", computerName(host.index)),
  };
}

/**
 * The entries the host's mapper returns from ept_lookup, in table order: towers built with the
 * codec's buildTower (C706 Appendix L), NDR 2.0 transfer syntax, nil object UUID.
 */
export function eptEntriesFor(
  host: { readonly address: string; readonly index: number; readonly persona: Persona },
  mode: LabMode,
  tcpPorts: readonly number[],
  portOffset: number,
): EptEntry[] {
  const regs = registrations(host.persona, mode, tcpPorts) ?? [];
  const name = `\\\\${computerName(host.index)}`;
  return regs.map((r) => {
    let endpoint: TowerEndpoint;
    switch (r.endpoint.protseq) {
      case "ncacn_ip_tcp":
      case "ncacn_http":
        endpoint = {
          protseq: r.endpoint.protseq,
          address: host.address,
          port: r.endpoint.port + portOffset,
        };
        break;
      case "ncacn_np":
        endpoint = { protseq: "ncacn_np", host: name, pipe: r.endpoint.pipe };
        break;
      case "ncalrpc":
        endpoint = { protseq: "ncalrpc", endpoint: r.endpoint.endpoint };
        break;
    }
    return { object: NIL_UUID, tower: buildTower(r.iface, endpoint), annotation: r.annotation };
  });
}
