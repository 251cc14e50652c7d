import type net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveSmbDirect, serveSmbNetbios } from "../../src/lab/smb-handler.js";
import { Estate, PERSONAS, type LabHost, type Persona } from "../../src/lab/personas.js";
import { eptEntriesFor } from "../../src/lab/rpc-endpoints.js";
import {
  profileDialects,
  profileSigning,
  SMB_W2K8R2_SP1,
  SMB_WIN7_SP1,
  type SmbServerProfile,
} from "../../src/lab/smb-profiles.js";
import { LAB_TCP_PORTS } from "../../src/lab/personas.js";
import {
  NT_STATUS,
  SMB1_FLAGS2,
  SMB1_SECURITY_MODE,
  SMB2_ALL_DIALECTS,
  SMB2_COMPRESSION_ALGORITHM,
  SMB2_HASH_ALGORITHM,
  SMB2_SECURITY_MODE,
  SMB2_SESSION_FLAGS,
  decodeSmb1NegotiateResponse,
  decodeSmb1TransactionResponse,
  decodeSmb1TreeConnectResponse,
  decodeSmb2NegotiateResponse,
  encodeSmb1NegotiateRequest,
  encodeSmb1TransactionRequest,
  encodeSmb1TreeConnectRequest,
  encodeSmb1SessionSetupRequest,
  decodeSmb1SessionSetupResponse,
  encodeSmb2NegotiateRequest,
  isDecodeIssue,
  smb1PeekNamedPipeRequest,
  sniffSmbProtocol,
  type Smb2NegotiateContext,
} from "../../src/protocols/smb/index.js";
import { entryLine } from "./rpc-client.js";
import { RawClient, closeServers, serveInProcess } from "./in-process.js";
import {
  SmbTestClient,
  namedAuthenticate,
  smb1ExtendedLogon,
  smb2Logon,
  statusOf,
} from "./smb-client.js";
import { lookupOverPipe, smb1OpenPipe, smb2OpenPipe } from "./smb-pipe-client.js";
import { inferOs, type OsEvidence } from "../../src/smb/os-inference.js";
import {
  EPMAPPER,
  NDR_TRANSFER_SYNTAX,
  decodePdu,
  describeTower,
  encodeBind,
} from "../../src/protocols/dcerpc/index.js";

/**
 * The lab's SMB server per persona, over real sockets in process (as bind mode hands connections
 * to the handler): what nmap's smb-protocols and smb-os-discovery, the MS17-010 PeekNamedPipe
 * check and the SMBGhost negotiate read from each persona must be what its profile says, and what
 * the persona's hand-written `expected.smb` says a correct client concludes. Also: NetBIOS session
 * rules on 139, DCE/RPC over the pipes (SMB1 TransactNmPipe + READ_ANDX, SMB2 transceive + READ)
 * giving the same endpoint map as TCP 135, and hostile input never taking the server down.
 */

const IDLE_MS = 2_000;
const estate = new Estate("smb", PERSONAS.length, "catalogue");
const servers: net.Server[] = [];
const direct = new Map<string, number>();
const netbios = new Map<string, number>();

const SMB_PERSONAS = PERSONAS.filter((p) => p.smb?.kind === "server");

function hostOf(id: string): LabHost {
  return estate.host(PERSONAS.findIndex((p) => p.id === id));
}

function profileOf(persona: Persona): SmbServerProfile {
  if (persona.smb?.kind !== "server") throw new Error(`${persona.id} has no SMB server`);
  return persona.smb;
}

/** A persona served from a test-only profile (e.g. pipes open to null sessions over SMB2). */
async function serveVariant(id: string, smb: SmbServerProfile): Promise<number> {
  const base = hostOf(id);
  const host: LabHost = { ...base, persona: { ...base.persona, smb } };
  const { port, server } = await serveInProcess(serveSmbDirect, host, 445, IDLE_MS);
  servers.push(server);
  return port;
}

beforeAll(async () => {
  for (const persona of SMB_PERSONAS) {
    const host = hostOf(persona.id);
    const a = await serveInProcess(serveSmbDirect, host, 445, IDLE_MS);
    const b = await serveInProcess(serveSmbNetbios, host, 139, IDLE_MS);
    servers.push(a.server, b.server);
    direct.set(persona.id, a.port);
    netbios.set(persona.id, b.port);
  }
});

afterAll(() => closeServers(servers));

const portOf = (id: string): number => {
  const port = direct.get(id);
  if (port === undefined) throw new Error(id);
  return port;
};

const FLAGS2 = SMB1_FLAGS2.UNICODE | SMB1_FLAGS2.NT_STATUS | SMB1_FLAGS2.LONG_NAMES;
const CLIENT_GUID = "0f0e0d0c-0b0a-0908-0706-050403020100";
/** Research Appendix C's request: preauth + compression (LZNT1), plus an encryption context. */
const CONTEXTS: Smb2NegotiateContext[] = [
  {
    type: "preauth-integrity",
    hashAlgorithms: [SMB2_HASH_ALGORITHM.SHA_512],
    salt: new Uint8Array(32),
  },
  { type: "encryption", ciphers: [2, 1] },
  { type: "compression", flags: 0, algorithms: [SMB2_COMPRESSION_ALGORITHM.LZNT1] },
];

function smb2Negotiate(
  dialects: readonly number[],
  contexts: readonly Smb2NegotiateContext[] = [],
) {
  return encodeSmb2NegotiateRequest(
    {
      dialects,
      securityMode: 1,
      capabilities: 0,
      clientGuid: CLIENT_GUID,
      contexts: dialects.includes(0x0311) ? contexts : [],
    },
    { messageId: 0n, credits: 1 },
  );
}

/** One request on a fresh connection; the reply or null (closed / silent). */
async function once(port: number, message: Uint8Array): Promise<Uint8Array | null> {
  const client = await SmbTestClient.connect(port);
  try {
    return await client.request(message);
  } finally {
    client.close();
  }
}

interface Fingerprint {
  readonly dialects: string[];
  readonly signing: "disabled" | "enabled" | "required" | null;
  readonly compression: boolean;
  readonly evidence: OsEvidence;
  readonly smb1: { nativeOs: string; nativeLanMan: string; domain: string } | null;
  readonly peekFid0: number | null;
  readonly epmapper: number | "opened" | null;
}

const DIALECT_NAMES = new Map([
  [0x0202, "2.0.2"],
  [0x0210, "2.1"],
  [0x0300, "3.0"],
  [0x0302, "3.0.2"],
  [0x0311, "3.1.1"],
]);

/** What nmap's smb-protocols / smb-os-discovery and the SMB checks would read, independently. */
async function fingerprint(port: number): Promise<Fingerprint> {
  // smb-protocols: SMB1 with only NT LM 0.12, then each SMB2 dialect alone (research App. B).
  const smb1Reply = await once(
    port,
    encodeSmb1NegotiateRequest(
      { dialects: ["NT LM 0.12"] },
      { flags2: FLAGS2 | SMB1_FLAGS2.EXTENDED_SECURITY },
    ),
  );
  const smb1Negotiate =
    smb1Reply !== null && sniffSmbProtocol(smb1Reply) === "smb1"
      ? decodeSmb1NegotiateResponse(smb1Reply)
      : null;
  const hasSmb1 =
    smb1Negotiate !== null && !isDecodeIssue(smb1Negotiate) && smb1Negotiate.dialectIndex === 0;
  const dialects: string[] = hasSmb1 ? ["NT LM 0.12"] : [];
  const smb2: { dialect: number; securityMode: number; compression: boolean }[] = [];
  for (const dialect of SMB2_ALL_DIALECTS) {
    const reply = await once(port, smb2Negotiate([dialect], CONTEXTS));
    const decoded = reply === null ? null : decodeSmb2NegotiateResponse(reply);
    if (decoded === null || isDecodeIssue(decoded) || decoded.dialectRevision !== dialect) continue;
    dialects.push(DIALECT_NAMES.get(dialect) ?? "?");
    smb2.push({
      dialect,
      securityMode: decoded.securityMode,
      compression: decoded.contexts.some((c) => c.type === "compression"),
    });
  }
  const top = smb2[smb2.length - 1];
  let signing: Fingerprint["signing"] = null;
  if (top !== undefined) {
    signing =
      (top.securityMode & SMB2_SECURITY_MODE.SIGNING_REQUIRED) !== 0 ? "required" : "enabled";
  } else if (
    hasSmb1 &&
    smb1Negotiate !== null &&
    !isDecodeIssue(smb1Negotiate) &&
    smb1Negotiate.form === "nt-lm"
  ) {
    const mode = smb1Negotiate.securityMode;
    signing =
      (mode & SMB1_SECURITY_MODE.SECURITY_SIGNATURES_REQUIRED) !== 0
        ? "required"
        : (mode & SMB1_SECURITY_MODE.SECURITY_SIGNATURES_ENABLED) !== 0
          ? "enabled"
          : "disabled";
  }

  // smb-os-discovery's view (SMB1 basic or extended logon) and the NTLMSSP CHALLENGE.
  let smb1: Fingerprint["smb1"] = null;
  let challenge = null;
  let peekFid0: number | null = null;
  let epmapper: Fingerprint["epmapper"] = null;
  const extended =
    hasSmb1 &&
    smb1Negotiate !== null &&
    !isDecodeIssue(smb1Negotiate) &&
    smb1Negotiate.form === "nt-lm"
      ? smb1Negotiate.security.kind === "extended"
      : false;
  if (hasSmb1) {
    const client = await SmbTestClient.connect(port);
    try {
      await client.request(
        encodeSmb1NegotiateRequest(
          { dialects: ["NT LM 0.12"] },
          { flags2: FLAGS2 | SMB1_FLAGS2.EXTENDED_SECURITY },
        ),
      );
      let uid: number;
      if (extended) {
        const logon = await smb1ExtendedLogon(client);
        expect(logon.status).toBe(0);
        smb1 = {
          nativeOs: logon.nativeOs,
          nativeLanMan: logon.nativeLanMan,
          domain: logon.primaryDomain,
        };
        challenge = logon.challenge;
        uid = logon.uid;
      } else {
        const reply = await client.request(
          encodeSmb1SessionSetupRequest(
            {
              form: "basic",
              maxBufferSize: 4356,
              maxMpxCount: 2,
              vcNumber: 1,
              sessionKey: 0,
              capabilities: 0xd4,
              oemPassword: new Uint8Array(0),
              unicodePassword: new Uint8Array(0),
              accountName: "",
              primaryDomain: "",
              nativeOs: "Unix",
              nativeLanMan: "ringfence",
            },
            { flags2: FLAGS2, mid: 2 },
          ),
        );
        const decoded = reply === null ? null : decodeSmb1SessionSetupResponse(reply);
        if (decoded === null || isDecodeIssue(decoded)) throw new Error("no basic session setup");
        smb1 = {
          nativeOs: decoded.nativeOs,
          nativeLanMan: decoded.nativeLanMan,
          domain: decoded.primaryDomain,
        };
        uid = decoded.header.uid;
      }
      // MS17-010 (research Appendix A): IPC$, then PeekNamedPipe on FID 0.
      const tree = await client.request(
        encodeSmb1TreeConnectRequest(
          { flags: 0, password: Uint8Array.of(0), path: "\\\\127.0.0.1\\IPC$", service: "?????" },
          { flags2: FLAGS2, uid, mid: 4 },
        ),
      );
      const connected = tree === null ? null : decodeSmb1TreeConnectResponse(tree);
      if (connected === null || isDecodeIssue(connected)) throw new Error("no IPC$");
      const peek = await client.request(
        encodeSmb1TransactionRequest(smb1PeekNamedPipeRequest(0), {
          flags2: FLAGS2,
          uid,
          tid: connected.header.tid,
          mid: 5,
        }),
      );
      peekFid0 = peek === null ? null : statusOf(peek);
    } finally {
      client.close();
    }
    const pipeClient = await SmbTestClient.connect(port);
    try {
      const opened = await smb1OpenPipe(pipeClient, "\\epmapper");
      epmapper = opened === null ? null : typeof opened === "number" ? opened : "opened";
    } finally {
      pipeClient.close();
    }
  }
  if (top !== undefined) {
    const client = await SmbTestClient.connect(port);
    try {
      await client.request(smb2Negotiate([top.dialect], CONTEXTS));
      const logon = await smb2Logon(client);
      expect(logon.status).toBe(0);
      expect(logon.sessionFlags).toBe(SMB2_SESSION_FLAGS.IS_NULL);
      challenge ??= logon.challenge;
    } finally {
      client.close();
    }
    if (epmapper === null) {
      const pipeClient = await SmbTestClient.connect(port);
      try {
        const opened = await smb2OpenPipe(pipeClient, "epmapper", top.dialect);
        epmapper = typeof opened === "number" ? opened : "opened";
      } finally {
        pipeClient.close();
      }
    }
  }
  const evidence: OsEvidence = {
    ntlmVersion: challenge?.version ?? null,
    ntlmTimestamp: challenge === null ? null : challenge.targetInfo?.timestamp !== undefined,
    nativeOs: smb1?.nativeOs ?? null,
    nativeLanMan: smb1?.nativeLanMan ?? null,
    smbDialects: dialects,
    compressionOffered: top?.compression ?? null,
    netbiosName: challenge?.targetInfo?.nbComputerName ?? null,
  };
  return {
    dialects,
    signing,
    compression: top?.compression ?? false,
    evidence,
    smb1,
    peekFid0,
    epmapper,
  };
}

describe("each SMB persona answers as its profile and its expected verdicts say", () => {
  it.each(SMB_PERSONAS.map((p) => [p.id, p] as const))("%s", async (_id, persona) => {
    const profile = profileOf(persona);
    const expected = persona.expected.smb;
    const print = await fingerprint(portOf(persona.id));
    if (expected === null) {
      // Only the shielded XP has a profile with 139/445 dropped: nothing to compare.
      expect(persona.tcpOpen).not.toContain(445);
      return;
    }
    // Dialects and signing as nmap's smb-protocols / smb2-security-mode read them.
    expect(print.dialects).toEqual(expected.dialects);
    expect(print.dialects).toEqual(profileDialects(profile));
    expect(print.signing).toBe(expected.signing);
    expect(print.signing).toBe(profileSigning(profile));
    // The fingerprint's conclusion (the colleague's inferOs) is the hand-written one.
    expect(inferOs(print.evidence).product).toBe(expected.os);
    // SMB1 strings (research Appendix D) and the workgroup.
    if (profile.smb1 !== null) {
      expect(print.smb1).toEqual({
        nativeOs: profile.smb1.nativeOs,
        nativeLanMan: profile.smb1.nativeLanMan,
        domain: "LABGROUP",
      });
    }
    // NTLM VERSION as configured (none for 2000 and XP before SP2).
    expect(print.evidence.ntlmVersion ?? null).toEqual(profile.ntlm?.version ?? null);
    // The checks' inputs, verdict by verdict.
    expect(print.dialects.includes("NT LM 0.12")).toBe(
      expected.checks["smbv1-enabled"] === "VULNERABLE",
    );
    const ms17 = expected.checks["ms17-010-peeknamedpipe"];
    if (ms17 === "NOT_APPLICABLE") expect(print.peekFid0).toBeNull();
    if (ms17 === "VULNERABLE") expect(print.peekFid0).toBe(NT_STATUS.INSUFF_SERVER_RESOURCES);
    if (ms17 === "NOT_VULNERABLE") {
      expect([NT_STATUS.INVALID_HANDLE, NT_STATUS.ACCESS_DENIED]).toContain(print.peekFid0);
    }
    // Windows 98: a DOS error (ERRDOS/ERRbadfid), which the check cannot read as either.
    if (ms17 === "UNKNOWN") expect(print.peekFid0).toBe(0x00060001);
    const ghost = expected.checks["smbghost-compression-capability"];
    expect(ghost === "NOT_APPLICABLE").toBe(!print.dialects.some((d) => d !== "NT LM 0.12"));
    expect(print.compression).toBe(ghost === "VULNERABLE");
    if (ghost === "VULNERABLE") expect(print.dialects).toContain("3.1.1");
    expect(print.signing === "required").toBe(
      expected.checks["smb-signing-not-required"] === "NOT_VULNERABLE",
    );
    // \PIPE\epmapper: open to a null session before XP SP2's hardening, refused after it.
    const hasPipes = eptEntriesFor(hostOf(persona.id), "bind", [...LAB_TCP_PORTS], 0).some((e) =>
      describeTower(e.tower ?? []).binding?.startsWith("ncacn_np:"),
    );
    // No pipes at all: not found (Windows 98 says it as ERRDOS/ERRbadfile).
    if (!hasPipes) expect([NT_STATUS.OBJECT_NAME_NOT_FOUND, 0x00020001]).toContain(print.epmapper);
    else expect(print.epmapper).toBe(profile.anonymousPipes ? "opened" : NT_STATUS.ACCESS_DENIED);
  });
});

describe("NetBIOS session service on 139", () => {
  it("accepts *SMBSERVER<20> and the computer name, refuses other names with 0x82", async () => {
    const id = "w2k-sp4";
    const port = netbios.get(id) ?? 0;
    const name = hostOf(id).netbios?.computerName ?? "";
    for (const [called, suffix, ok] of [
      ["*SMBSERVER", 0x20, true],
      [name, 0x20, true],
      [name.toLowerCase(), 0x20, true],
      ["127.20.0.1", 0x20, false],
      [name, 0x00, false],
      ["OTHERHOST", 0x20, false],
    ] as const) {
      const client = await SmbTestClient.connect(port, "netbios");
      const answer = await client.sessionRequest(called, suffix);
      if (ok) expect(answer, called).toEqual({ type: "positive-response" });
      else {
        expect(answer, called).toEqual({ type: "negative-response", errorCode: 0x82 });
        await client.closed;
      }
      client.close();
    }
  });

  it("speaks SMB after a positive response, and only then", async () => {
    const port = netbios.get("nt4-sp6a") ?? 0;
    const early = await SmbTestClient.connect(port, "netbios");
    expect(
      await early.request(encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] })),
    ).toBeNull();
    await early.closed;
    const client = await SmbTestClient.connect(port, "netbios");
    expect(await client.sessionRequest("*SMBSERVER")).toEqual({ type: "positive-response" });
    const reply = await client.request(
      encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] }, { flags2: FLAGS2 }),
    );
    const decoded = reply === null ? null : decodeSmb1NegotiateResponse(reply);
    if (decoded === null || isDecodeIssue(decoded) || decoded.form !== "nt-lm")
      throw new Error("no negotiate");
    // NT4: no extended security; challenge + workgroup in the NEGOTIATE (MS-SMB §2.2.4.5.2.2).
    expect(decoded.security).toMatchObject({ kind: "challenge", domainName: "LABGROUP" });
    client.close();
  });

  it("Windows 98 answers its own name only; Samba any name", async () => {
    const w98 = await SmbTestClient.connect(netbios.get("win98-dcom") ?? 0, "netbios");
    expect(await w98.sessionRequest("*SMBSERVER")).toEqual({
      type: "negative-response",
      errorCode: 0x82,
    });
    w98.close();
    const samba = await SmbTestClient.connect(netbios.get("linux-samba") ?? 0, "netbios");
    expect(await samba.sessionRequest("WHATEVER")).toEqual({ type: "positive-response" });
    samba.close();
  });
});

describe("negotiation edges", () => {
  it("a multi-protocol NEGOTIATE gets SMB2's wildcard (0x02FF) from 2.1+, 0x0202 with only SMB 2.002", async () => {
    const multi = encodeSmb1NegotiateRequest(
      { dialects: ["NT LM 0.12", "SMB 2.002", "SMB 2.???"] },
      { flags2: FLAGS2 | SMB1_FLAGS2.EXTENDED_SECURITY },
    );
    for (const id of ["win7-sp1", "win10-1909", "linux-samba"]) {
      const reply = await once(portOf(id), multi);
      const decoded = reply === null ? null : decodeSmb2NegotiateResponse(reply);
      expect(decoded !== null && !isDecodeIssue(decoded) && decoded.dialectRevision, id).toBe(
        0x02ff,
      );
    }
    const only202 = encodeSmb1NegotiateRequest(
      { dialects: ["NT LM 0.12", "SMB 2.002"] },
      { flags2: FLAGS2 },
    );
    const reply = await once(portOf("win7-sp1"), only202);
    const decoded = reply === null ? null : decodeSmb2NegotiateResponse(reply);
    expect(decoded !== null && !isDecodeIssue(decoded) && decoded.dialectRevision).toBe(0x0202);
    // Pre-Vista hosts answer it in SMB1, with NT LM 0.12.
    const old = await once(portOf("w2k3-rtm"), multi);
    expect(old === null ? null : sniffSmbProtocol(old)).toBe("smb1");
  });

  it("SMB1-only hosts drop an SMB2 NEGOTIATE; SMB1-less hosts drop an SMB1-only one", async () => {
    expect(await once(portOf("xp-sp1"), smb2Negotiate([0x0202]))).toBeNull();
    expect(
      await once(portOf("win10-1903"), encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] })),
    ).toBeNull();
  });

  it("echoes compression on 1903/1909 only, never to a client that did not ask", async () => {
    for (const [id, offered] of [
      ["win10-1903", true],
      ["win10-1909", true],
      ["win10-1909-adv200005", false],
      ["w2k19", false],
      ["linux-samba", false],
    ] as const) {
      const reply = await once(
        portOf(id),
        smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302, 0x0311], CONTEXTS),
      );
      const decoded = reply === null ? null : decodeSmb2NegotiateResponse(reply);
      if (decoded === null || isDecodeIssue(decoded)) throw new Error(id);
      expect(decoded.dialectRevision).toBe(0x0311);
      const compression = decoded.contexts.find((c) => c.type === "compression");
      expect(compression !== undefined, id).toBe(offered);
      if (compression?.type === "compression") expect(compression.algorithms).toEqual([1]);
      // Research Appendix C's scanner reads NegotiateContextCount 2 for preauth + compression.
      const bare = await once(portOf(id), smb2Negotiate([0x0311], [CONTEXTS[0]!, CONTEXTS[2]!]));
      const two = bare === null ? null : decodeSmb2NegotiateResponse(bare);
      expect(two !== null && !isDecodeIssue(two) && two.contexts.length, id).toBe(offered ? 2 : 1);
    }
    const plain = await once(portOf("win10-1909"), smb2Negotiate([0x0311], [CONTEXTS[0]!]));
    const decoded = plain === null ? null : decodeSmb2NegotiateResponse(plain);
    expect(
      decoded !== null && !isDecodeIssue(decoded) && decoded.contexts.map((c) => c.type),
    ).toEqual(["preauth-integrity"]);
  });

  it("answers a dialect it lacks with STATUS_NOT_SUPPORTED", async () => {
    const reply = await once(portOf("win7-sp1"), smb2Negotiate([0x0311], CONTEXTS));
    expect(reply === null ? null : statusOf(reply)).toBe(NT_STATUS.NOT_SUPPORTED);
  });
});

describe("logons", () => {
  it("Windows refuses a named logon; Samba makes it a guest", async () => {
    const w = await SmbTestClient.connect(portOf("w2k-sp4"));
    await w.request(
      encodeSmb1NegotiateRequest(
        { dialects: ["NT LM 0.12"] },
        { flags2: FLAGS2 | SMB1_FLAGS2.EXTENDED_SECURITY },
      ),
    );
    expect((await smb1ExtendedLogon(w, namedAuthenticate("guest"))).status).toBe(
      NT_STATUS.LOGON_FAILURE,
    );
    w.close();
    const s = await SmbTestClient.connect(portOf("linux-samba"));
    await s.request(smb2Negotiate([0x0311], CONTEXTS));
    const logon = await smb2Logon(s, namedAuthenticate("guest"));
    expect(logon.status).toBe(0);
    expect(logon.sessionFlags).toBe(SMB2_SESSION_FLAGS.IS_GUEST);
    // Samba's CHALLENGE as measured: VERSION 6.1.0 rev 15, its own name as NetBIOS domain.
    expect(logon.challenge?.version).toEqual({ major: 6, minor: 1, build: 0, ntlmRevision: 15 });
    expect(logon.challenge?.targetInfo?.pairs.map((p) => p.id)).toEqual([2, 1, 4, 3, 7]);
    s.close();
  });

  it("refuses requests before NEGOTIATE, and IPC$ without a session", async () => {
    const tree = encodeSmb1TreeConnectRequest(
      { flags: 0, password: Uint8Array.of(0), path: "\\\\x\\IPC$", service: "?????" },
      { flags2: FLAGS2 },
    );
    expect(await once(portOf("xp-sp1"), tree)).toBeNull();
    const client = await SmbTestClient.connect(portOf("xp-sp1"));
    await client.request(
      encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] }, { flags2: FLAGS2 }),
    );
    const reply = await client.request(tree);
    expect(reply === null ? null : statusOf(reply)).toBe(0x005b0002); // ERRSRV/ERRbaduid
    client.close();
  });
});

describe("DCE/RPC over the named pipes: the same map as TCP 135", () => {
  /** The map as TCP 135 serves it; in process the "port offset" is the test port's. */
  const tcpLines = (id: string, port: number): string[] =>
    eptEntriesFor(hostOf(id), "bind", [...LAB_TCP_PORTS], port - 445).map(entryLine);

  it("SMB1: TransactNmPipe, the rest of the fragments with READ_ANDX", async () => {
    for (const id of ["w2k-sp4", "xp-rtm", "w2k3-rtm"]) {
      const client = await SmbTestClient.connect(portOf(id));
      const opened = await smb1OpenPipe(client, "\\epmapper");
      if (typeof opened === "number") throw new Error(`${id}: 0x${opened.toString(16)}`);
      const { bindAck, entries, fragments } = await lookupOverPipe(opened.transport);
      expect(bindAck.type).toBe("bind_ack");
      // sec_addr names the pipe (ncacn_np), not a port.
      expect((bindAck as { secondaryAddress?: string }).secondaryAddress).toBe("\\PIPE\\epmapper");
      expect(entries.map(entryLine)).toEqual(tcpLines(id, portOf(id)));
      // max_recv_frag 1432: the lookup answer did not fit one fragment.
      expect(fragments).toBeGreaterThan(1);
      client.close();
    }
  });

  it("SMB2: FSCTL_PIPE_TRANSCEIVE and READ, on a profile whose pipes are open to null sessions", async () => {
    const port = await serveVariant("win7-sp1", { ...SMB_WIN7_SP1, anonymousPipes: true });
    const client = await SmbTestClient.connect(port);
    const opened = await smb2OpenPipe(client, "epmapper");
    if (typeof opened === "number") throw new Error(`0x${opened.toString(16)}`);
    const { entries } = await lookupOverPipe(opened.transport);
    expect(entries.map(entryLine)).toEqual(tcpLines("win7-sp1", port));
    client.close();
    // LSASS's pipe and its aliases bind the interfaces registered there.
    for (const pipe of ["lsass", "samr", "\\PIPE\\lsarpc"]) {
      const c = await SmbTestClient.connect(port);
      const o = await smb2OpenPipe(c, pipe);
      expect(typeof o, pipe).toBe("object");
      c.close();
    }
    const unknown = await SmbTestClient.connect(port);
    expect(await smb2OpenPipe(unknown, "srvsvc")).toBe(NT_STATUS.OBJECT_NAME_NOT_FOUND);
    unknown.close();
  });

  it("WRITE_ANDX then READ_ANDX (SMB1), WRITE then READ (SMB2): the bind_ack comes back", async () => {
    const bind = encodeBind({
      callId: 1,
      contexts: [
        { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
      ],
    });
    const one = await SmbTestClient.connect(portOf("xp-sp1"));
    const smb1 = await smb1OpenPipe(one, "\\epmapper");
    if (typeof smb1 === "number") throw new Error("no SMB1 pipe");
    expect(await smb1.transport.write(bind)).toBe(0);
    const read1 = await smb1.transport.read(4096);
    expect(decodePdu(read1.data)).toMatchObject({ type: "bind_ack" });
    // Nothing more to read: a message-mode pipe with no message says so.
    expect((await smb1.transport.read(4096)).status).toBe(NT_STATUS.PIPE_EMPTY);
    one.close();
    const port = await serveVariant("w2k8r2-sp1", { ...SMB_W2K8R2_SP1, anonymousPipes: true });
    const two = await SmbTestClient.connect(port);
    const smb2 = await smb2OpenPipe(two, "epmapper");
    if (typeof smb2 === "number") throw new Error("no SMB2 pipe");
    expect(await smb2.transport.write(bind)).toBe(0);
    const read2 = await smb2.transport.read(4096);
    expect(decodePdu(read2.data)).toMatchObject({ type: "bind_ack" });
    two.close();
  });

  it("a short read of a pipe message says STATUS_BUFFER_OVERFLOW and the rest follows", async () => {
    const client = await SmbTestClient.connect(portOf("w2k-sp4"));
    const opened = await smb1OpenPipe(client, "\\PIPE\\epmapper");
    if (typeof opened === "number") throw new Error("no pipe");
    // A bind, then read the bind_ack 10 bytes at a time.
    const { encodeBind, NDR_TRANSFER_SYNTAX, EPMAPPER, decodePdu } =
      await import("../../src/protocols/dcerpc/index.js");
    const bind = encodeBind({
      callId: 1,
      contexts: [
        { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
      ],
    });
    const first = await opened.transport.transceive(bind);
    expect(first.status).toBe(0);
    expect(decodePdu(first.data)).toMatchObject({ type: "bind_ack" });
    client.close();
    const peekClient = await SmbTestClient.connect(portOf("w2k-sp4"));
    const again = await smb1OpenPipe(peekClient, "\\epmapper");
    if (typeof again === "number") throw new Error("no pipe");
    const tiny = await peekClient.request(
      encodeSmb1TransactionRequest(
        {
          maxParameterCount: 0,
          maxDataCount: 10,
          maxSetupCount: 0,
          flags: 0,
          timeout: 0,
          setup: [0x26, again.fid],
          name: "\\PIPE\\",
          parameters: new Uint8Array(0),
          data: bind,
        },
        { flags2: FLAGS2, uid: again.uid, tid: again.tid, mid: 20 },
      ),
    );
    if (tiny === null) throw new Error("no reply");
    expect(statusOf(tiny)).toBe(NT_STATUS.BUFFER_OVERFLOW);
    const part = decodeSmb1TransactionResponse(tiny);
    expect(!isDecodeIssue(part) && part.data.length).toBe(10);
    const rest = await again.transport.read(4096);
    expect(rest.status).toBe(0);
    expect(
      decodePdu(Buffer.concat([!isDecodeIssue(part) ? part.data : new Uint8Array(0), rest.data])),
    ).toMatchObject({
      type: "bind_ack",
    });
    peekClient.close();
  });
});

describe("hostile input", () => {
  it("random frames never take the server down; it still answers afterwards", async () => {
    const port = portOf("win7-sp1");
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, framed) => {
        const client = await RawClient.connect(port);
        const payload = framed
          ? Buffer.concat([Buffer.from([0, 0, bytes.length >> 8, bytes.length & 0xff]), bytes])
          : Buffer.from(bytes);
        client.send(payload);
        await client.atLeast(1, 200);
        client.close();
      }),
      { numRuns: 60 },
    );
    const reply = await once(port, smb2Negotiate([0x0210]));
    expect(reply === null ? null : statusOf(reply)).toBe(0);
  });

  it("refuses a session header above its cap before reading the body", async () => {
    const client = await RawClient.connect(portOf("w2k-sp4"));
    client.send(Uint8Array.of(0x00, 0xff, 0xff, 0xff, 0xff, 0x53, 0x4d, 0x42));
    await client.closed;
    expect(client.received.length).toBe(0);
  });

  it("mutated versions of a valid SMB1 and SMB2 conversation are answered or closed, never crash", async () => {
    const valid = [
      encodeSmb1NegotiateRequest(
        { dialects: ["NT LM 0.12"] },
        { flags2: FLAGS2 | SMB1_FLAGS2.EXTENDED_SECURITY },
      ),
      smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302, 0x0311], CONTEXTS),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (message, flips) => {
          const bytes = Uint8Array.from(message);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const client = await SmbTestClient.connect(portOf("linux-samba"));
          await client.request(bytes);
          client.close();
        },
      ),
      { numRuns: 80 },
    );
    expect(await once(portOf("linux-samba"), smb2Negotiate([0x0202]))).not.toBeNull();
  });
});
