import {
  NT_STATUS,
  SMB2_ALL_DIALECTS,
  type Smb1Decoded,
  type Smb1SessionSetupResponse,
  type Smb2FileId,
} from "../protocols/smb/index.js";
import type { ChallengeMessage } from "../protocols/ntlmssp/index.js";
import { ntlmAnonymousToken, ntlmNegotiateToken, readChallenge } from "./ntlm-exchange.js";
import { Smb1Client } from "./smb1-client.js";
import {
  Smb2Client,
  describeStatus,
  smb2DialectName,
  smb2NegotiateRequest,
} from "./smb2-client.js";
import {
  openSmbConnection,
  type SmbConnectOptions,
  type SmbConnection,
  type SmbEndpoint,
} from "./smb-connection.js";
import { isSmbFailure, smbFailure, type SmbFailure } from "./smb-failure.js";

/**
 * Anonymous SMB sessions on IPC$, for named pipes (DCE/RPC over ncacn_np, research §2.3) and for
 * the MS17-010 peek: connect, negotiate, null session, tree connect. Every exchange is recorded
 * as an SmbExchange, the shape the checks' evidence uses.
 */

/** One exchange on the wire, in order (structurally a checks EvidenceStep). */
export interface SmbExchange {
  readonly step: string;
  /** Fresh TCP connection number within this host's sequence (1-based). */
  readonly connection?: number;
  readonly outcome: string;
  /** The NTSTATUS read, named: "STATUS_ACCESS_DENIED (0xc0000022)". */
  readonly status?: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** Appends exchanges; shared by everything one host's SMB sequence does. */
export class ExchangeLog {
  readonly steps: SmbExchange[] = [];
  connections = 0;

  record(
    step: string,
    connection: number,
    outcome: string,
    extra: Omit<SmbExchange, "step" | "connection" | "outcome"> = {},
  ): void {
    this.steps.push({ step, connection, outcome, ...extra });
  }

  failed(step: string, connection: number, failure: SmbFailure): void {
    this.record(step, connection, `failed: ${failure.code}`, {
      ...(failure.status !== undefined ? { status: describeStatus(failure.status) } : {}),
      details: { message: failure.message },
    });
  }
}

/** What the anonymous NTLMSSP (or basic null) session setup showed. */
export interface NullSessionResult {
  /** SUCCESS, or the error status that ended the session setup; null after a transport failure. */
  readonly status: number | null;
  readonly established: boolean;
  readonly challenge: ChallengeMessage | null;
  /** Why no CHALLENGE was read (empty blob, undecodable, ...), when none was. */
  readonly challengeProblem: string | null;
  /** SMB1 only: the strings of the (last) session-setup reply. */
  readonly nativeOs: string | null;
  readonly nativeLanMan: string | null;
  readonly primaryDomain: string | null;
  /** SMB2 SessionFlags / SMB1 Action. */
  readonly flags: number | null;
  readonly failure: SmbFailure | null;
}

/**
 * SMB2 anonymous session (MS-SMB2 §3.2.4.2.3): NegTokenInit(NEGOTIATE) → MORE_PROCESSING
 * (CHALLENGE) → NegTokenResp(anonymous AUTHENTICATE) → SUCCESS (SessionFlags IS_NULL).
 */
export async function smb2NullSession(
  client: Smb2Client,
  log: ExchangeLog,
  connection: number,
): Promise<NullSessionResult> {
  const first = await client.sessionSetup(ntlmNegotiateToken());
  if (isSmbFailure(first)) {
    log.failed("SMB2 SESSION_SETUP (NTLMSSP NEGOTIATE)", connection, first);
    return nullResult({ failure: first, status: first.status ?? null });
  }
  const status1 = first.header.status >>> 0;
  const read = readChallenge(first.securityBuffer);
  const challenge = read.kind === "challenge" ? read.challenge : null;
  log.record(
    "SMB2 SESSION_SETUP (NTLMSSP NEGOTIATE)",
    connection,
    challenge ? "CHALLENGE" : "no CHALLENGE",
    {
      status: describeStatus(status1),
      details: challengeDetails(challenge, read.kind === "no-challenge" ? read.reason : null),
    },
  );
  if (status1 !== NT_STATUS.MORE_PROCESSING_REQUIRED || read.kind !== "challenge") {
    return nullResult({
      status: status1,
      established: status1 === NT_STATUS.SUCCESS,
      challenge,
      challengeProblem: read.kind === "no-challenge" ? read.reason : null,
      flags: first.sessionFlags,
    });
  }
  const second = await client.sessionSetup(ntlmAnonymousToken(read.challenge, read.spnego));
  if (isSmbFailure(second)) {
    log.failed("SMB2 SESSION_SETUP (anonymous AUTHENTICATE)", connection, second);
    return nullResult({ challenge, failure: second, status: second.status ?? null });
  }
  const status2 = second.header.status >>> 0;
  log.record(
    "SMB2 SESSION_SETUP (anonymous AUTHENTICATE)",
    connection,
    status2 === NT_STATUS.SUCCESS ? "null session" : "refused",
    {
      status: describeStatus(status2),
      details: { sessionFlags: `0x${second.sessionFlags.toString(16)}` },
    },
  );
  return nullResult({
    status: status2,
    established: status2 === NT_STATUS.SUCCESS,
    challenge,
    flags: second.sessionFlags,
  });
}

/**
 * SMB1 null session: with extended security the same NTLMSSP exchange in SESSION_SETUP_ANDX
 * (the NativeOS strings come with each reply); without, one basic request with empty account
 * and passwords (research §2.3 step 2).
 */
export async function smb1NullSession(
  client: Smb1Client,
  log: ExchangeLog,
  connection: number,
): Promise<NullSessionResult> {
  const strings = (r: Smb1Decoded<Smb1SessionSetupResponse>) => ({
    nativeOs: r.nativeOs,
    nativeLanMan: r.nativeLanMan,
    primaryDomain: r.primaryDomain,
  });
  if (!client.extendedSecurity) {
    const reply = await client.sessionSetupNull();
    if (isSmbFailure(reply)) {
      log.failed("SMB1 SESSION_SETUP_ANDX (null, basic)", connection, reply);
      return nullResult({ failure: reply, status: reply.status ?? null });
    }
    log.record("SMB1 SESSION_SETUP_ANDX (null, basic)", connection, "null session", {
      status: describeStatus(reply.header.status),
      details: { nativeOs: reply.nativeOs, nativeLanMan: reply.nativeLanMan, action: reply.action },
    });
    return nullResult({
      status: reply.header.status >>> 0,
      established: true,
      flags: reply.action,
      ...strings(reply),
    });
  }
  const first = await client.sessionSetupExtended(ntlmNegotiateToken());
  if (isSmbFailure(first)) {
    log.failed("SMB1 SESSION_SETUP_ANDX (NTLMSSP NEGOTIATE)", connection, first);
    return nullResult({ failure: first, status: first.status ?? null });
  }
  const status1 = first.header.status >>> 0;
  const read = readChallenge(first.form === "extended" ? first.securityBlob : new Uint8Array(0));
  const challenge = read.kind === "challenge" ? read.challenge : null;
  log.record(
    "SMB1 SESSION_SETUP_ANDX (NTLMSSP NEGOTIATE)",
    connection,
    challenge ? "CHALLENGE" : "no CHALLENGE",
    {
      status: describeStatus(status1),
      details: {
        ...challengeDetails(challenge, read.kind === "no-challenge" ? read.reason : null),
        nativeOs: first.nativeOs,
        nativeLanMan: first.nativeLanMan,
      },
    },
  );
  if (status1 !== NT_STATUS.MORE_PROCESSING_REQUIRED || read.kind !== "challenge") {
    return nullResult({
      status: status1,
      established: status1 === NT_STATUS.SUCCESS,
      challenge,
      challengeProblem: read.kind === "no-challenge" ? read.reason : null,
      flags: first.action,
      ...strings(first),
    });
  }
  const second = await client.sessionSetupExtended(ntlmAnonymousToken(read.challenge, read.spnego));
  if (isSmbFailure(second)) {
    log.failed("SMB1 SESSION_SETUP_ANDX (anonymous AUTHENTICATE)", connection, second);
    return nullResult({
      challenge,
      failure: second,
      status: second.status ?? null,
      ...strings(first),
    });
  }
  const status2 = second.header.status >>> 0;
  log.record(
    "SMB1 SESSION_SETUP_ANDX (anonymous AUTHENTICATE)",
    connection,
    status2 === NT_STATUS.SUCCESS ? "null session" : "refused",
    {
      status: describeStatus(status2),
      details: { action: second.action },
    },
  );
  // The first reply's strings are kept when the last one carries none.
  return nullResult({
    status: status2,
    established: status2 === NT_STATUS.SUCCESS,
    challenge,
    flags: second.action,
    nativeOs: second.nativeOs || first.nativeOs,
    nativeLanMan: second.nativeLanMan || first.nativeLanMan,
    primaryDomain: second.primaryDomain || first.primaryDomain,
  });
}

function nullResult(partial: Partial<NullSessionResult>): NullSessionResult {
  return {
    status: null,
    established: false,
    challenge: null,
    challengeProblem: null,
    nativeOs: null,
    nativeLanMan: null,
    primaryDomain: null,
    flags: null,
    failure: null,
    ...partial,
  };
}

function challengeDetails(
  challenge: ChallengeMessage | null,
  problem: string | null,
): Record<string, string | number | boolean> {
  if (challenge === null) return problem === null ? {} : { problem };
  const v = challenge.version;
  return {
    ntlmFlags: `0x${(challenge.flags >>> 0).toString(16).padStart(8, "0")}`,
    ...(v !== null ? { ntlmVersion: `${v.major}.${v.minor}.${v.build}` } : {}),
    ...(challenge.targetName !== null ? { targetName: challenge.targetName } : {}),
  };
}

/** A named pipe opened on IPC$, whatever the SMB version. */
export interface SmbPipe {
  readonly protocol: "smb1" | "smb2";
  /** Write `data` and read one pipe message (up to `maxOutput`); `more` if it was cut. */
  transceive(
    data: Uint8Array,
    maxOutput: number,
  ): Promise<{ data: Uint8Array; more: boolean } | SmbFailure>;
  read(max: number): Promise<{ data: Uint8Array; more: boolean } | SmbFailure>;
  write(data: Uint8Array): Promise<number | SmbFailure>;
  /** Close the pipe and the connection (best effort, never waits past the read deadline). */
  close(): Promise<void>;
}

export interface IpcSessionOptions extends SmbConnectOptions {
  /** Which SMB to speak: SMB2/3 (multi-dialect negotiate with contexts) or SMB1. */
  readonly protocol: "smb1" | "smb2";
}

/** An anonymous session with IPC$ connected, ready to open pipes. */
export interface IpcSession {
  readonly protocol: "smb1" | "smb2";
  /** "3.1.1", "NT LM 0.12", ... */
  readonly dialect: string;
  readonly connection: SmbConnection;
  openPipe(name: string): Promise<SmbPipe | SmbFailure>;
  close(): void;
}

/**
 * Connect to `endpoint` and set up an anonymous session with IPC$ connected. Steps go to `log`
 * (under connection number `log.connections + 1`). Never throws.
 */
export async function openIpcSession(
  endpoint: SmbEndpoint,
  options: IpcSessionOptions,
  log: ExchangeLog = new ExchangeLog(),
): Promise<IpcSession | SmbFailure> {
  const n = ++log.connections;
  const connection = await openSmbConnection(endpoint, options);
  if (isSmbFailure(connection)) {
    log.failed(
      `connect ${endpoint.transport === "netbios" ? "TCP 139 (NetBIOS)" : "TCP"} ${endpoint.port}`,
      n,
      connection,
    );
    return connection;
  }
  const readTimeoutMs = options.readTimeoutMs;
  const clientOptions = readTimeoutMs !== undefined ? { readTimeoutMs } : {};
  const ipc = `\\\\${connection.remoteAddress}\\IPC$`;
  if (options.protocol === "smb2") {
    const client = new Smb2Client(connection, clientOptions);
    const negotiated = await client.negotiate(smb2NegotiateRequest(SMB2_ALL_DIALECTS));
    if (isSmbFailure(negotiated)) {
      log.failed("SMB2 NEGOTIATE (2.0.2-3.1.1)", n, negotiated);
      client.close();
      return negotiated;
    }
    const dialect = smb2DialectName(negotiated.dialectRevision);
    log.record("SMB2 NEGOTIATE (2.0.2-3.1.1)", n, `dialect ${dialect}`, {
      status: describeStatus(negotiated.header.status),
    });
    const session = await smb2NullSession(client, log, n);
    if (!session.established) {
      client.close();
      return sessionRefused(connection.label, "anonymous session", session);
    }
    const tree = await client.treeConnect(ipc);
    if (isSmbFailure(tree)) {
      log.failed(`SMB2 TREE_CONNECT ${ipc}`, n, tree);
      client.close();
      return tree;
    }
    log.record(`SMB2 TREE_CONNECT ${ipc}`, n, "connected", {
      status: describeStatus(tree.header.status),
    });
    return {
      protocol: "smb2",
      dialect,
      connection,
      openPipe: async (name) => {
        const fileId = await client.openPipe(name);
        if (isSmbFailure(fileId)) {
          log.failed(`SMB2 CREATE ${name}`, n, fileId);
          return fileId;
        }
        log.record(`SMB2 CREATE ${name}`, n, "opened");
        return smb2Pipe(client, fileId);
      },
      close: () => client.close(),
    };
  }
  const client = new Smb1Client(connection, clientOptions);
  const negotiated = await client.negotiate({ extendedSecurity: true });
  if (isSmbFailure(negotiated)) {
    log.failed("SMB1 NEGOTIATE (NT LM 0.12)", n, negotiated);
    client.close();
    return negotiated;
  }
  if (negotiated.kind === "refused") {
    log.record("SMB1 NEGOTIATE (NT LM 0.12)", n, `refused: ${negotiated.reason}`);
    client.close();
    return smbFailure("protocol", `${connection.label}: SMB1 refused: ${negotiated.reason}`);
  }
  log.record(
    "SMB1 NEGOTIATE (NT LM 0.12)",
    n,
    client.extendedSecurity ? "accepted (extended security)" : "accepted",
  );
  const session = await smb1NullSession(client, log, n);
  if (!session.established) {
    client.close();
    return sessionRefused(connection.label, "null session", session);
  }
  const tree = await client.treeConnect(ipc);
  if (isSmbFailure(tree)) {
    log.failed(`SMB1 TREE_CONNECT_ANDX ${ipc}`, n, tree);
    client.close();
    return tree;
  }
  log.record(`SMB1 TREE_CONNECT_ANDX ${ipc}`, n, "connected", {
    status: describeStatus(tree.header.status),
  });
  return {
    protocol: "smb1",
    dialect: "NT LM 0.12",
    connection,
    openPipe: async (name) => {
      const fid = await client.openPipe(`\\${name}`);
      if (isSmbFailure(fid)) {
        log.failed(`SMB1 NT_CREATE_ANDX \\${name}`, n, fid);
        return fid;
      }
      log.record(`SMB1 NT_CREATE_ANDX \\${name}`, n, "opened", { details: { fid } });
      return smb1Pipe(client, fid);
    },
    close: () => client.close(),
  };
}

function smb2Pipe(client: Smb2Client, fileId: Smb2FileId): SmbPipe {
  return {
    protocol: "smb2",
    transceive: (data, maxOutput) => client.transceive(fileId, data, maxOutput),
    read: (max) => client.read(fileId, max),
    write: (data) => client.write(fileId, data),
    close: async () => {
      await client.closeFile(fileId);
      client.close();
    },
  };
}

function smb1Pipe(client: Smb1Client, fid: number): SmbPipe {
  return {
    protocol: "smb1",
    transceive: (data, maxOutput) => client.transactNamedPipe(fid, data, maxOutput),
    read: (max) => client.read(fid, max),
    write: (data) => client.write(fid, data),
    close: async () => {
      await client.closeFile(fid);
      client.close();
    },
  };
}

/** Why a session was not established: the client's own failure, else the server's status. */
function sessionRefused(label: string, what: string, session: NullSessionResult): SmbFailure {
  return (
    session.failure ??
    smbFailure(
      "status",
      `${label}: no ${what} (${session.status === null ? "no status" : describeStatus(session.status)})`,
      session.status !== null ? { status: session.status } : {},
    )
  );
}
