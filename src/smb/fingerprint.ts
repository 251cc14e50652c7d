import {
  SMB1_CAPABILITIES,
  SMB1_SECURITY_MODE,
  SMB2_CAPABILITIES,
  SMB2_COMPRESSION_ALGORITHM,
  SMB2_DIALECT,
  SMB2_SECURITY_MODE,
  filetimeToIso,
  type Smb1NtLmNegotiateResponse,
  type Smb2NegotiateContext,
  type Smb2NegotiateResponse,
} from "../protocols/smb/index.js";
import type { Scope } from "../scope/index.js";
import { inferOs, type OsInference } from "./os-inference.js";
import { calledNamesFrom, queryNbstat, type NbstatInfo } from "./nbstat-query.js";
import { ntlmInfo, type NtlmInfo } from "./ntlm-exchange.js";
import { Smb1Client } from "./smb1-client.js";
import {
  Smb2Client,
  describeStatus,
  smb2DialectName,
  smb2NegotiateRequest,
} from "./smb2-client.js";
import { openSmbConnection, type SmbConnection, type SmbEndpoint } from "./smb-connection.js";
import { isSmbFailure, type SmbFailure, type SmbFailureCode } from "./smb-failure.js";
import {
  ExchangeLog,
  smb1NullSession,
  smb2NullSession,
  type NullSessionResult,
  type SmbExchange,
} from "./smb-session.js";

/**
 * What one host's SMB and NetBIOS services say about it, without credentials (research
 * Appendices B-D; issue 4 "Fingerprint"), with as few connections as the questions allow:
 *
 *  1. SMB1: NEGOTIATE offering only NT LM 0.12 with extended security (research Appendix B),
 *     then the anonymous NTLMSSP session (its CHALLENGE and the NativeOS/NativeLanMan strings,
 *     Appendix D), or the basic null session when the server does not do extended security
 *     (NT 4.0, 9x), then TREE_CONNECT IPC$ (where the MS17-010 peek can ride, `onSmb1Ipc`);
 *  2. SMB2/3: one NEGOTIATE per dialect, as nmap's smb-protocols does, highest first; 3.1.1
 *     with the preauth and compression contexts (Appendix C). The highest accepted dialect's
 *     connection continues with the anonymous NTLMSSP session (its CHALLENGE: VERSION, names,
 *     timestamp);
 *  3. NBSTAT names and MAC, as the caller passes them (the scan's udp/137 detail) or queried.
 *
 * Then inferOs() turns it all into an OS with a confidence and the evidence. Every exchange and
 * failure is recorded; a host that stops answering is not probed further; the whole host shares
 * one deadline (`hostMs`), so a hostile server ends the fingerprint, never the scan.
 */

export interface SmbTimeouts {
  readonly connectMs: number;
  readonly readMs: number;
  readonly hostMs: number;
}

export interface SmbFingerprintTarget {
  readonly address: string;
  /** Nominal TCP ports found open; 445 is preferred, 139 (NetBIOS session) is the fallback. */
  readonly openPorts: readonly number[];
}

export interface SmbFingerprintOptions {
  readonly scope: Scope;
  /** Added to 445, 139 and 137 on the wire (a lab in bind mode). */
  readonly portOffset?: number;
  readonly timeouts: SmbTimeouts;
  readonly signal?: AbortSignal;
  /** NBSTAT from the scan; "query" asks UDP 137 once; null/absent: none. */
  readonly nbstat?: NbstatInfo | "query" | null;
  /**
   * Called once IPC$ is connected on the SMB1 connection (anonymous session): the MS17-010
   * check's peek rides on it. It records its own exchange in `log` under `connection`.
   */
  readonly onSmb1Ipc?: (client: Smb1Client, log: ExchangeLog, connection: number) => Promise<void>;
}

/** Dialect names, in the order nmap's smb-protocols lists them. */
export const SMB_DIALECT_NAMES = ["NT LM 0.12", "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"] as const;
export type SmbDialectName = (typeof SMB_DIALECT_NAMES)[number];

export interface DialectProbe {
  readonly dialect: SmbDialectName;
  /** true: negotiated; false: the server said no (refused, another dialect, closed); null: unknown. */
  readonly accepted: boolean | null;
  readonly reason: string;
  /** The connection number of its exchanges (0 when it was never attempted). */
  readonly connection: number;
  readonly failure: SmbFailureCode | null;
  /** SMB2 SecurityMode of this dialect's NEGOTIATE response (nmap smb2-security-mode). */
  readonly signingEnabled?: boolean;
  readonly signingRequired?: boolean;
}

export interface Smb1Info {
  readonly extendedSecurity: boolean;
  readonly securityMode: string;
  readonly signingEnabled: boolean;
  readonly signingRequired: boolean;
  readonly userSecurity: boolean;
  readonly encryptPasswords: boolean;
  readonly capabilities: string;
  readonly capabilityNames: readonly string[];
  readonly maxBufferSize: number;
  readonly maxMpxCount: number;
  readonly systemTime: string | null;
  /** Minutes west of UTC as the server says (MS-CIFS ServerTimeZone). */
  readonly timeZoneMinutes: number;
  readonly serverGuid: string | null;
  /** Non-extended NEGOTIATE: DomainName and ServerName. */
  readonly domainName: string | null;
  readonly serverName: string | null;
  readonly nativeOs: string | null;
  readonly nativeLanMan: string | null;
  readonly primaryDomain: string | null;
  readonly nullSession: SessionSummary;
  /** TREE_CONNECT IPC$ on the null session: "connected", an NTSTATUS, or null if not tried. */
  readonly ipc: string | null;
}

export interface SessionSummary {
  readonly established: boolean;
  /** NTSTATUS of the last leg, named; null after a transport failure. */
  readonly status: string | null;
  /** SMB2 SessionFlags / SMB1 Action, hex. */
  readonly flags: string | null;
  readonly problem: string | null;
}

export interface Smb2Info {
  /** The highest dialect accepted; the fields below are from its NEGOTIATE response. */
  readonly dialect: string;
  readonly securityMode: string;
  readonly signingEnabled: boolean;
  readonly signingRequired: boolean;
  readonly serverGuid: string;
  readonly capabilities: string;
  readonly capabilityNames: readonly string[];
  readonly maxTransactSize: number;
  readonly maxReadSize: number;
  readonly maxWriteSize: number;
  readonly systemTime: string | null;
  /** ServerStartTime; null when not given (Samba, Windows 10+ send 0). */
  readonly bootTime: string | null;
  /** 3.1.1 negotiate contexts, summarised. */
  readonly contexts: readonly string[];
  readonly nullSession: SessionSummary | null;
}

export interface SmbFingerprint {
  readonly address: string;
  /** The nominal port the SMB exchanges used (445, or 139 with a NetBIOS session); null: none. */
  readonly port: number | null;
  /** TCP 139: the called name that got a positive session response. */
  readonly netbiosCalledName: string | null;
  readonly dialects: readonly DialectProbe[];
  readonly acceptedDialects: readonly SmbDialectName[];
  readonly smb1: Smb1Info | null;
  readonly smb2: Smb2Info | null;
  /** Message signing at the highest protocol spoken (SMB2 when it answered, else SMB1). */
  readonly signing: {
    readonly at: "smb1" | "smb2" | null;
    readonly enabled: boolean | null;
    readonly required: boolean | null;
    readonly state: "required" | "enabled" | "disabled" | null;
  };
  readonly serverGuid: string | null;
  readonly systemTime: string | null;
  readonly bootTime: string | null;
  /** SMB 3.1.1 compression (research Appendix C): offered, and the algorithms named. */
  readonly compression: {
    readonly offered: boolean | null;
    readonly algorithms: readonly string[];
  };
  /** The NTLMSSP CHALLENGE (from SMB2 when it answered, else SMB1). */
  readonly ntlm: (NtlmInfo & { readonly source: "smb1" | "smb2" }) | null;
  readonly nbstat: NbstatInfo | null;
  readonly os: OsFingerprint;
  readonly failures: readonly {
    readonly step: string;
    readonly code: string;
    readonly message: string;
  }[];
  readonly exchanges: readonly SmbExchange[];
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** inferOs()'s answer with a one-line label for the inventory ("Windows XP SP1", "Samba 4.17.12"). */
export interface OsFingerprint extends OsInference {
  readonly label: string | null;
}

const SMB2_PROBE_ORDER: readonly [SmbDialectName, number][] = [
  ["3.1.1", SMB2_DIALECT.SMB_3_1_1],
  ["3.0.2", SMB2_DIALECT.SMB_3_0_2],
  ["3.0", SMB2_DIALECT.SMB_3_0],
  ["2.1", SMB2_DIALECT.SMB_2_1],
  ["2.0.2", SMB2_DIALECT.SMB_2_0_2],
];

/** Failures after which the host is not probed further: it stopped answering or misbehaves. */
const STOP_CODES = new Set<SmbFailureCode>([
  "read-timeout",
  "connect-timeout",
  "deadline",
  "interrupted",
  "scope-violation",
  "resolve",
  "byte-cap",
  "pending-limit",
]);

/** Fingerprint one host. Never throws; every failure is in the result. */
export async function fingerprintSmb(
  target: SmbFingerprintTarget,
  options: SmbFingerprintOptions,
): Promise<SmbFingerprint> {
  const startedAt = new Date().toISOString();
  const deadline = performance.now() + options.timeouts.hostMs;
  const offset = options.portOffset ?? 0;
  const log = new ExchangeLog();
  const failures: { step: string; code: string; message: string }[] = [];
  const noteFailure = (step: string, failure: SmbFailure) =>
    failures.push({ step, code: failure.code, message: failure.message });

  let nbstat: NbstatInfo | null = null;
  if (options.nbstat === "query") {
    const answer = await queryNbstat(target.address, {
      scope: options.scope,
      port: 137 + offset,
      timeoutMs: Math.min(options.timeouts.readMs, 2000),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    if (isSmbFailure(answer)) {
      noteFailure("NBSTAT udp/137", answer);
      log.record("NBSTAT query udp/137", 0, `failed: ${answer.code}`, {
        details: { message: answer.message },
      });
    } else {
      nbstat = answer;
      log.record("NBSTAT query udp/137", 0, `${answer.names.length} names`, {
        details: { mac: answer.mac ?? "" },
      });
    }
  } else if (options.nbstat !== undefined && options.nbstat !== null) {
    nbstat = options.nbstat;
  }

  // 445 (direct TCP) if open, else 139 with a NetBIOS session; a refused 445 falls back to 139.
  const ports = [445, 139].filter((p) => target.openPorts.includes(p));
  let port: number | null = ports[0] ?? null;
  let calledName: string | null = null;
  const endpointOf = (p: number): SmbEndpoint => ({
    address: target.address,
    port: p + offset,
    transport: p === 139 ? "netbios" : "direct-tcp",
  });
  let stopped: SmbFailure | null = null;

  const connect = async (
    what: string,
  ): Promise<{ connection: SmbConnection; n: number } | null> => {
    for (;;) {
      if (port === null) return null;
      const n = ++log.connections;
      const connection = await openSmbConnection(endpointOf(port), {
        scope: options.scope,
        connectTimeoutMs: options.timeouts.connectMs,
        readTimeoutMs: options.timeouts.readMs,
        deadline,
        calledNames: calledNamesFrom(nbstat),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      if (!isSmbFailure(connection)) {
        if (connection.calledName !== null) calledName = connection.calledName;
        return { connection, n };
      }
      log.failed(`connect TCP ${port} for ${what}`, n, connection);
      noteFailure(`connect TCP ${port} for ${what}`, connection);
      // 445 refused but 139 open: carry on over the NetBIOS session service.
      if (port === 445 && connection.code === "connection-refused" && ports.includes(139)) {
        port = 139;
        continue;
      }
      if (STOP_CODES.has(connection.code) || connection.code === "connection-refused") {
        stopped = connection;
      }
      return null;
    }
  };

  // ---- 1. SMB1 ------------------------------------------------------------------------------
  const probes = new Map<SmbDialectName, DialectProbe>();
  let smb1: Smb1Info | null = null;
  let smb1Challenge: NtlmInfo | null = null;
  {
    const opened = await connect("SMB1 NEGOTIATE");
    if (opened === null) {
      probes.set("NT LM 0.12", notProbed("NT LM 0.12", stopped ?? undefined));
    } else {
      const { connection, n } = opened;
      const client = new Smb1Client(connection, { readTimeoutMs: options.timeouts.readMs });
      const step = "SMB1 NEGOTIATE (NT LM 0.12, extended security)";
      const negotiated = await client.negotiate({ extendedSecurity: true });
      if (isSmbFailure(negotiated)) {
        log.failed(step, n, negotiated);
        const answer = failedProbe("NT LM 0.12", n, negotiated);
        // A closed connection or an error status is SMB1's "no" (kept in its DialectProbe).
        if (answer.accepted !== false) noteFailure(step, negotiated);
        probes.set("NT LM 0.12", answer);
        if (STOP_CODES.has(negotiated.code)) stopped = negotiated;
      } else if (negotiated.kind === "refused") {
        log.record(step, n, `refused: ${negotiated.reason}`, {
          ...(negotiated.status !== null ? { status: describeStatus(negotiated.status) } : {}),
        });
        probes.set("NT LM 0.12", {
          dialect: "NT LM 0.12",
          accepted: false,
          reason: negotiated.reason,
          connection: n,
          failure: null,
        });
      } else {
        const r = negotiated.response;
        log.record(step, n, "accepted", {
          status: describeStatus(r.header.status),
          details: {
            dialectIndex: r.dialectIndex,
            securityMode: hex(r.securityMode, 2),
            capabilities: hex(r.capabilities, 8),
            extendedSecurity: r.security.kind === "extended",
          },
        });
        probes.set("NT LM 0.12", {
          dialect: "NT LM 0.12",
          accepted: true,
          reason: "DialectIndex 0",
          connection: n,
          failure: null,
        });
        const session = await smb1NullSession(client, log, n);
        if (session.failure !== null) noteFailure("SMB1 null session", session.failure);
        if (session.challenge !== null) smb1Challenge = ntlmInfo(session.challenge);
        let ipc: string | null = null;
        if (session.established) {
          const path = `\\\\${connection.remoteAddress}\\IPC$`;
          const tree = await client.treeConnect(path);
          if (isSmbFailure(tree)) {
            log.failed(`SMB1 TREE_CONNECT_ANDX ${path}`, n, tree);
            ipc = tree.status !== undefined ? describeStatus(tree.status) : `failed: ${tree.code}`;
            if (tree.code !== "status") noteFailure("SMB1 TREE_CONNECT_ANDX IPC$", tree);
          } else {
            log.record(`SMB1 TREE_CONNECT_ANDX ${path}`, n, "connected", {
              status: describeStatus(tree.header.status),
              details: { service: tree.service },
            });
            ipc = "connected";
            await options.onSmb1Ipc?.(client, log, n);
          }
        }
        smb1 = smb1Info(r, session, ipc);
      }
      client.close();
    }
  }

  // ---- 2. SMB2/3, one dialect per connection, highest first ---------------------------------
  let smb2: Smb2Info | null = null;
  let smb2Challenge: NtlmInfo | null = null;
  let compressionOffered: boolean | null = null;
  let compressionAlgorithms: string[] = [];
  for (const [name, dialect] of SMB2_PROBE_ORDER) {
    if (stopped !== null || performance.now() >= deadline) {
      probes.set(name, notProbed(name, stopped ?? undefined));
      continue;
    }
    const opened = await connect(`SMB2 NEGOTIATE ${name}`);
    if (opened === null) {
      probes.set(name, notProbed(name, stopped ?? undefined));
      continue;
    }
    const { connection, n } = opened;
    const client = new Smb2Client(connection, { readTimeoutMs: options.timeouts.readMs });
    const step =
      dialect === SMB2_DIALECT.SMB_3_1_1
        ? "SMB2 NEGOTIATE 3.1.1 (preauth integrity + compression contexts)"
        : `SMB2 NEGOTIATE ${name}`;
    const negotiated = await client.negotiate(smb2NegotiateRequest([dialect]));
    if (isSmbFailure(negotiated)) {
      log.failed(step, n, negotiated);
      probes.set(name, failedProbe(name, n, negotiated));
      // A refusal (an error status, a closed connection, another dialect) is the probe's answer,
      // kept in its DialectProbe; anything else is a failure too.
      if (failedProbe(name, n, negotiated).accepted !== false) noteFailure(step, negotiated);
      if (STOP_CODES.has(negotiated.code)) stopped = negotiated;
      client.close();
      continue;
    }
    const contexts = negotiated.contexts;
    const compression = contexts.find((c) => c.type === "compression");
    const signingEnabled = (negotiated.securityMode & SMB2_SECURITY_MODE.SIGNING_ENABLED) !== 0;
    const signingRequired = (negotiated.securityMode & SMB2_SECURITY_MODE.SIGNING_REQUIRED) !== 0;
    log.record(step, n, "accepted", {
      status: describeStatus(negotiated.header.status),
      details: {
        dialect: smb2DialectName(negotiated.dialectRevision),
        securityMode: hex(negotiated.securityMode, 4),
        capabilities: hex(negotiated.capabilities, 8),
        ...(dialect === SMB2_DIALECT.SMB_3_1_1
          ? { contexts: contexts.map(describeContext).join("; ") }
          : {}),
      },
    });
    probes.set(name, {
      dialect: name,
      accepted: true,
      reason: "selected",
      connection: n,
      failure: null,
      signingEnabled,
      signingRequired,
    });
    if (dialect === SMB2_DIALECT.SMB_3_1_1) {
      const algorithms =
        compression?.type === "compression"
          ? compression.algorithms.filter((a) => a !== SMB2_COMPRESSION_ALGORITHM.NONE)
          : [];
      compressionOffered = algorithms.length > 0;
      compressionAlgorithms = algorithms.map(compressionName);
    }
    if (smb2 === null) {
      // The highest accepted dialect: its connection carries the anonymous session too.
      const session = await smb2NullSession(client, log, n);
      if (session.failure !== null) noteFailure("SMB2 null session", session.failure);
      if (session.challenge !== null) smb2Challenge = ntlmInfo(session.challenge);
      smb2 = smb2Info(negotiated, sessionSummary(session));
      if (session.failure !== null && STOP_CODES.has(session.failure.code))
        stopped = session.failure;
    }
    client.close();
  }
  if (compressionOffered === null && probes.get("3.1.1")?.accepted === false)
    compressionOffered = false;

  const dialects = SMB_DIALECT_NAMES.map((d) => probes.get(d) ?? notProbed(d));
  const acceptedDialects = dialects.filter((d) => d.accepted === true).map((d) => d.dialect);
  const ntlm: SmbFingerprint["ntlm"] =
    smb2Challenge !== null
      ? { ...smb2Challenge, source: "smb2" }
      : smb1Challenge !== null
        ? { ...smb1Challenge, source: "smb1" }
        : null;
  const s1 = smb1 as Smb1Info | null;
  const s2 = smb2 as Smb2Info | null;
  // At the highest protocol the server speaks, as nmap's smb2-security-mode reports it.
  const top = s2 ?? s1;
  const signing: SmbFingerprint["signing"] =
    top === null
      ? { at: null, enabled: null, required: null, state: null }
      : {
          at: s2 !== null ? "smb2" : "smb1",
          enabled: top.signingEnabled,
          required: top.signingRequired,
          state: top.signingRequired ? "required" : top.signingEnabled ? "enabled" : "disabled",
        };
  const os = osFingerprint(
    inferOs({
      ntlmVersion: ntlm?.versionFields ?? null,
      ntlmTimestamp: ntlm === null ? null : ntlm.timestamp !== null,
      nativeOs: s1?.nativeOs ?? null,
      nativeLanMan: s1?.nativeLanMan ?? null,
      smbDialects: acceptedDialects.length > 0 ? acceptedDialects : null,
      smb2Capabilities: s2 === null ? null : Number.parseInt(s2.capabilities, 16),
      compressionOffered,
      nbstat:
        options.nbstat === undefined || options.nbstat === null
          ? null
          : { answered: nbstat !== null, mac: nbstat?.mac ?? null },
      serverGuid: s2?.serverGuid ?? s1?.serverGuid ?? null,
      netbiosName: ntlm?.nbComputerName ?? nbstatServerName(nbstat) ?? null,
      dnsComputerName: ntlm?.dnsComputerName ?? null,
      dnsDomainName: ntlm?.dnsDomainName ?? null,
    }),
  );
  return {
    address: target.address,
    port,
    netbiosCalledName: calledName,
    dialects,
    acceptedDialects,
    smb1: s1,
    smb2: s2,
    signing,
    serverGuid: s2?.serverGuid ?? s1?.serverGuid ?? null,
    systemTime: s2?.systemTime ?? s1?.systemTime ?? null,
    bootTime: s2?.bootTime ?? null,
    compression: { offered: compressionOffered, algorithms: compressionAlgorithms },
    ntlm,
    nbstat,
    os,
    failures,
    exchanges: log.steps,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
}

function notProbed(dialect: SmbDialectName, stopped?: SmbFailure): DialectProbe {
  return {
    dialect,
    accepted: null,
    reason:
      stopped === undefined
        ? "not probed"
        : `not probed: the host stopped answering (${stopped.code})`,
    connection: 0,
    failure: stopped?.code ?? null,
  };
}

/**
 * A refused or closed negotiate says "no" (Windows closes the connection for a dialect it does
 * not speak, Samba answers an error); a timeout or garbage says nothing.
 */
function failedProbe(
  dialect: SmbDialectName,
  connection: number,
  failure: SmbFailure,
): DialectProbe {
  // impacket answers a lone 2.1/3.x offer with 2.0.2: a "no" to the dialect offered.
  const says =
    failure.code === "status" ||
    failure.code === "connection-closed" ||
    (failure.code === "protocol" && /which was not offered/.test(failure.message));
  return {
    dialect,
    accepted: says ? false : null,
    reason:
      failure.status !== undefined
        ? describeStatus(failure.status)
        : `${failure.code}: ${failure.message}`,
    connection,
    failure: failure.code,
  };
}

function smb1Info(
  r: Smb1NtLmNegotiateResponse,
  session: NullSessionResult,
  ipc: string | null,
): Smb1Info {
  const security = r.security;
  return {
    extendedSecurity: security.kind === "extended",
    securityMode: hex(r.securityMode, 2),
    signingEnabled: (r.securityMode & SMB1_SECURITY_MODE.SECURITY_SIGNATURES_ENABLED) !== 0,
    signingRequired: (r.securityMode & SMB1_SECURITY_MODE.SECURITY_SIGNATURES_REQUIRED) !== 0,
    userSecurity: (r.securityMode & SMB1_SECURITY_MODE.USER_SECURITY) !== 0,
    encryptPasswords: (r.securityMode & SMB1_SECURITY_MODE.ENCRYPT_PASSWORDS) !== 0,
    capabilities: hex(r.capabilities, 8),
    capabilityNames: flagNames(r.capabilities, SMB1_CAPABILITIES),
    maxBufferSize: r.maxBufferSize,
    maxMpxCount: r.maxMpxCount,
    systemTime: safeFiletime(r.systemTime),
    timeZoneMinutes: r.serverTimeZone,
    serverGuid: security.kind === "extended" ? security.serverGuid : null,
    domainName: security.kind === "challenge" ? security.domainName : null,
    serverName: security.kind === "challenge" ? security.serverName || null : null,
    nativeOs: session.nativeOs,
    nativeLanMan: session.nativeLanMan,
    primaryDomain: session.primaryDomain,
    nullSession: sessionSummary(session),
    ipc,
  };
}

function smb2Info(r: Smb2NegotiateResponse, nullSession: SessionSummary | null): Smb2Info {
  return {
    dialect: smb2DialectName(r.dialectRevision),
    securityMode: hex(r.securityMode, 4),
    signingEnabled: (r.securityMode & SMB2_SECURITY_MODE.SIGNING_ENABLED) !== 0,
    signingRequired: (r.securityMode & SMB2_SECURITY_MODE.SIGNING_REQUIRED) !== 0,
    serverGuid: r.serverGuid,
    capabilities: hex(r.capabilities, 8),
    capabilityNames: flagNames(r.capabilities, SMB2_CAPABILITIES),
    maxTransactSize: r.maxTransactSize,
    maxReadSize: r.maxReadSize,
    maxWriteSize: r.maxWriteSize,
    systemTime: safeFiletime(r.systemTime),
    bootTime: safeFiletime(r.serverStartTime),
    contexts: r.contexts.map(describeContext),
    nullSession,
  };
}

function sessionSummary(session: NullSessionResult): SessionSummary {
  return {
    established: session.established,
    status: session.status === null ? null : describeStatus(session.status),
    flags: session.flags === null ? null : hex(session.flags, 4),
    problem: session.failure?.message ?? session.challengeProblem,
  };
}

function safeFiletime(value: bigint): string | null {
  try {
    return filetimeToIso(value);
  } catch {
    return null;
  }
}

function hex(value: number, digits: number): string {
  return `0x${(value >>> 0).toString(16).padStart(digits, "0")}`;
}

function flagNames(value: number, table: Readonly<Record<string, number>>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => (value & bit) >>> 0 === bit && bit !== 0)
    .map(([name]) => name);
}

const COMPRESSION_NAMES = new Map<number, string>(
  Object.entries(SMB2_COMPRESSION_ALGORITHM).map(([name, value]) => [value, name]),
);

function compressionName(algorithm: number): string {
  return COMPRESSION_NAMES.get(algorithm) ?? `0x${algorithm.toString(16).padStart(4, "0")}`;
}

function describeContext(context: Smb2NegotiateContext): string {
  switch (context.type) {
    case "preauth-integrity":
      return `preauth-integrity: hash ${context.hashAlgorithms.join(",")}, salt ${context.salt.length} bytes`;
    case "encryption":
      return `encryption: ciphers ${context.ciphers.join(",")}`;
    case "compression":
      return `compression: ${context.algorithms.map(compressionName).join(",") || "none"}`;
    case "netname":
      return `netname: ${context.netName}`;
    case "transport":
      return `transport: flags ${context.flags}`;
    case "rdma-transform":
      return `rdma-transform: ${context.transformIds.join(",")}`;
    case "signing":
      return `signing: algorithms ${context.algorithms.join(",")}`;
    case "other":
      return `type 0x${context.contextType.toString(16)}: ${context.data.length} bytes`;
  }
}

function nbstatServerName(info: NbstatInfo | null): string | null {
  const unique = info?.names.filter((n) => !n.group) ?? [];
  return (
    (unique.find((n) => n.suffix === 0x20) ?? unique.find((n) => n.suffix === 0x00))?.name ?? null
  );
}

/** The inventory's one-line OS: "Windows XP SP1", "Samba 4.17.12", "Windows 10 1909 (build 18363)". */
export function osLabel(os: OsInference): string | null {
  if (os.product === null) return null;
  if (os.family === "samba" && os.version !== null) return `Samba ${os.version}`;
  const sp = os.servicePack !== null && os.servicePack > 0 ? ` SP${os.servicePack}` : "";
  const build =
    os.build !== null && !os.product.includes(String(os.build)) ? ` (build ${os.build})` : "";
  return `${os.product}${sp}${build}`;
}

function osFingerprint(os: OsInference): OsFingerprint {
  return { ...os, label: osLabel(os) };
}
