import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NMAP_NEGOTIATE_FLAGS,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  NTLMSSP_NEGOTIATE_VERSION,
  NTLMSSP_TARGET_TYPE_SERVER,
  decodeChallenge,
  encodeNegotiate,
  type ChallengeMessage,
} from "../../src/protocols/ntlmssp/index.js";
import {
  MECH_OID,
  decodeSecurityBlob,
  encodeNegTokenInit,
  ntlmsspTokenOf,
  type NegTokenInit,
  type SecurityBlob,
} from "../../src/protocols/spnego/index.js";
import { inferOs } from "../../src/smb/os-inference.js";
import { pcapFile, tcpConversation, type Segment } from "../dcerpc/pcap.js";
import { scratchDir } from "../helpers/cli.js";
import { SAMBA_DAEMONS, sambaMissing, startSamba, type SambaPeer } from "../helpers/samba.js";
import { TSHARK, tsharkFields } from "../helpers/tshark.js";

/**
 * A real CHALLENGE from Samba's smbd, started by the test on a loopback address of its own and a
 * high port. The SMB1/SMB2 framing here is hand-built and minimal (the SMB codecs live
 * elsewhere): NEGOTIATE, then SESSION_SETUP carrying our SPNEGO-wrapped NEGOTIATE; the reply's
 * STATUS_MORE_PROCESSING_REQUIRED carries the CHALLENGE, and no AUTHENTICATE is ever sent.
 * The decoded fields are compared with the smb.conf the test wrote, and with what tshark
 * dissects from the same bytes (written to a pcap) when tshark is installed.
 */

const SMBD = SAMBA_DAEMONS.smbd;
const CANDIDATES = ["127.0.0.71", "127.0.0.72", "127.0.0.73"];
const PORT = 14_450;
const NETBIOS_NAME = "RFSMBPEER";
const WORKGROUP = "RFLABGROUP";
const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016;

const missing = sambaMissing(["smbd"]);
if (missing !== null) console.warn(`skipping the Samba CHALLENGE test: ${missing}`);
const HAVE_TSHARK = existsSync(TSHARK);

/**
 * One TCP connection: send each message (direct-TCP framing, MS-SMB2 §2.1: a zero byte and a
 * 24-bit length), collecting one reply per message. `next` builds a message from the last reply.
 */
function converse(
  host: string,
  steps: readonly ((previous: Buffer | null) => Buffer)[],
  transcript: Segment[],
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: PORT });
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let step = 0;
    const send = () => {
      const message = steps[step++]!(replies.at(-1) ?? null);
      const frame = Buffer.alloc(4);
      frame.writeUInt32BE(message.length);
      const framed = Buffer.concat([frame, message]);
      transcript.push({ fromClient: true, payload: framed });
      socket.write(framed);
    };
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`no reply to step ${step}`));
    });
    socket.once("connect", send);
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUInt32BE(0) & 0xffffff;
        if (pending.length < 4 + length) return;
        replies.push(pending.subarray(4, 4 + length));
        transcript.push({ fromClient: false, payload: pending.subarray(0, 4 + length) });
        pending = pending.subarray(4 + length);
        if (step < steps.length) send();
        else {
          socket.destroy();
          resolve(replies);
        }
      }
    });
  });
}

// ---- SMB2 (MS-SMB2 §2.2.1, §2.2.3, §2.2.5) ----

function smb2Header(command: number, messageId: number): Buffer {
  const h = Buffer.alloc(64);
  h.write("\xfeSMB", 0, "latin1");
  h.writeUInt16LE(64, 4); // StructureSize
  h.writeUInt16LE(command, 12);
  h.writeUInt16LE(1, 14); // CreditRequest
  h.writeBigUInt64LE(BigInt(messageId), 24);
  return h;
}

function smb2Negotiate(): Buffer {
  const dialects = [0x0202, 0x0210, 0x0300, 0x0302];
  const body = Buffer.alloc(36 + 2 * dialects.length);
  body.writeUInt16LE(36, 0); // StructureSize
  body.writeUInt16LE(dialects.length, 2);
  body.writeUInt16LE(1, 4); // SecurityMode: signing enabled
  dialects.forEach((d, i) => body.writeUInt16LE(d, 36 + 2 * i));
  return Buffer.concat([smb2Header(0, 0), body]);
}

function smb2SessionSetup(blob: Buffer): Buffer {
  const body = Buffer.alloc(24);
  body.writeUInt16LE(25, 0); // StructureSize
  body.writeUInt8(1, 3); // SecurityMode
  body.writeUInt16LE(64 + 24, 12); // SecurityBufferOffset
  body.writeUInt16LE(blob.length, 14);
  return Buffer.concat([smb2Header(1, 1), body, blob]);
}

/** SMB2 replies: status, and the security buffer at (offset, length) read from `at`. */
function smb2SecurityBuffer(reply: Buffer, at: number): { status: number; blob: Buffer } {
  const offset = reply.readUInt16LE(64 + at);
  const length = reply.readUInt16LE(64 + at + 2);
  return { status: reply.readUInt32LE(8), blob: reply.subarray(offset, offset + length) };
}

// ---- SMB1 (MS-CIFS §2.2.3.1, §2.2.4.52; MS-SMB §2.2.4.5, §2.2.4.6) ----

function smb1Header(command: number, mid: number): Buffer {
  const h = Buffer.alloc(32);
  h.write("\xffSMB", 0, "latin1");
  h.writeUInt8(command, 4);
  h.writeUInt8(0x18, 9); // Flags: case-insensitive, canonical paths
  h.writeUInt16LE(0xc843, 10); // Flags2: UNICODE|NT_STATUS|EXTENDED_SECURITY|IS_LONG_NAME|EAS|LONG_NAMES
  h.writeUInt16LE(0xffff, 24); // TID
  h.writeUInt16LE(0xfeff, 26); // PIDLow
  h.writeUInt16LE(mid, 30);
  return h;
}

function smb1Negotiate(): Buffer {
  const dialects = Buffer.from("\x02NT LM 0.12\0", "latin1");
  const words = Buffer.from([0, dialects.length & 0xff, dialects.length >> 8]);
  return Buffer.concat([smb1Header(0x72, 1), words, dialects]);
}

function smb1SessionSetup(blob: Buffer): Buffer {
  // WordCount 12: AndX (4), MaxBufferSize, MaxMpxCount, VcNumber, SessionKey (4),
  // SecurityBlobLength, Reserved (4), Capabilities (4); then ByteCount.
  const words = Buffer.alloc(1 + 24 + 2);
  words.writeUInt8(12, 0);
  words.writeUInt8(0xff, 1); // no AndX command
  words.writeUInt16LE(0xffff, 5);
  words.writeUInt16LE(2, 7);
  words.writeUInt16LE(blob.length, 15);
  words.writeUInt32LE(0x800000d4, 21); // EXTENDED_SECURITY|NT_STATUS|UNICODE|LARGE_FILES|NT_SMBS
  const pad = (32 + words.length + blob.length) % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  const data = Buffer.concat([blob, pad, Buffer.from("ringfence\0ringfence\0", "utf16le")]);
  words.writeUInt16LE(data.length, 25);
  return Buffer.concat([smb1Header(0x73, 2), words, data]);
}

interface Smb1Setup {
  status: number;
  blob: Buffer;
  nativeOs: string;
  nativeLanMan: string;
  primaryDomain: string;
}

/** MS-SMB §2.2.4.6.2: SecurityBlob, padding to 2, then NativeOS, NativeLanMan, PrimaryDomain. */
function smb1SetupReply(reply: Buffer): Smb1Setup {
  const wordCount = reply.readUInt8(32);
  const blobLength = reply.readUInt16LE(33 + 6);
  const byteCount = reply.readUInt16LE(33 + 2 * wordCount);
  const dataStart = 35 + 2 * wordCount;
  let pos = dataStart + blobLength;
  if (pos % 2 === 1) pos++;
  const [nativeOs = "", nativeLanMan = "", primaryDomain = ""] = reply
    .toString("utf16le", pos, dataStart + byteCount)
    .split("\0");
  return {
    status: reply.readUInt32LE(5),
    blob: reply.subarray(dataStart, dataStart + blobLength),
    nativeOs,
    nativeLanMan,
    primaryDomain,
  };
}

/** The NEGOTIATE we send, wrapped as nmap wraps it but asking for VERSION too. */
function ourNegotiate(): Buffer {
  return encodeNegTokenInit({
    mechTypes: [MECH_OID.ntlmssp],
    mechToken: encodeNegotiate({
      flags: NMAP_NEGOTIATE_FLAGS | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
    }),
  });
}

function challengeOf(blob: SecurityBlob): ChallengeMessage {
  const token = ntlmsspTokenOf(blob);
  if (token === null) throw new Error(`no NTLMSSP token in ${blob.kind}`);
  const challenge = decodeChallenge(token);
  if ("what" in challenge) throw new Error(challenge.message);
  return challenge;
}

function decoded(bytes: Buffer): SecurityBlob {
  const blob = decodeSecurityBlob(bytes);
  if ("what" in blob) throw new Error(`${blob.what}: ${blob.message}`);
  return blob;
}

describe.skipIf(missing !== null)("Samba smbd: SPNEGO hints and the NTLMSSP CHALLENGE", () => {
  const tmp = scratchDir("rf-ntlmssp-samba-");
  let samba: SambaPeer | undefined;
  let address = "";
  let smb2Hint: SecurityBlob;
  let smb2Status = 0;
  let smb2Challenge: ChallengeMessage;
  let smb1Hint: SecurityBlob;
  let smb1Guid: Buffer;
  let smb1: Smb1Setup;
  let smb1Challenge: ChallengeMessage;
  let pcap = "";
  const sambaVersion = existsSync(SMBD)
    ? execFileSync(SMBD, ["--version"], { encoding: "utf8" })
        .replace(/^Version\s+/, "")
        .trim()
    : "";

  beforeAll(async () => {
    samba = await startSamba({
      dir: tmp.dir,
      daemons: ["smbd"],
      candidates: CANDIDATES,
      ports: [PORT],
      global: {
        workgroup: WORKGROUP,
        "netbios name": NETBIOS_NAME,
        "smb ports": String(PORT),
        "disable netbios": "yes",
      },
    });
    address = samba.address;

    const smb2Transcript: Segment[] = [];
    const [negotiate2, setup2] = await converse(
      address,
      [() => smb2Negotiate(), () => smb2SessionSetup(ourNegotiate())],
      smb2Transcript,
    );
    smb2Hint = decoded(smb2SecurityBuffer(negotiate2!, 56).blob);
    const reply2 = smb2SecurityBuffer(setup2!, 4);
    smb2Status = reply2.status;
    smb2Challenge = challengeOf(decoded(reply2.blob));

    const smb1Transcript: Segment[] = [];
    const [negotiate1, setup1] = await converse(
      address,
      [() => smb1Negotiate(), () => smb1SessionSetup(ourNegotiate())],
      smb1Transcript,
    );
    // NT LM 0.12 response, extended security: 17 words, then ServerGUID (16) + SecurityBlob.
    const wordCount = negotiate1!.readUInt8(32);
    const byteCount = negotiate1!.readUInt16LE(33 + 2 * wordCount);
    const bytes = negotiate1!.subarray(35 + 2 * wordCount, 35 + 2 * wordCount + byteCount);
    smb1Guid = bytes.subarray(0, 16);
    smb1Hint = decoded(bytes.subarray(16));
    smb1 = smb1SetupReply(setup1!);
    smb1Challenge = challengeOf(decoded(smb1.blob));

    if (HAVE_TSHARK) {
      // The exact bytes of both conversations as a pcap on port 445, for tshark to dissect.
      const client = { ip: [127, 0, 0, 1] as const, port: 50_445 };
      const server = { ip: [127, 0, 0, 71] as const, port: 445 };
      pcap = join(tmp.dir, "ntlmssp.pcap");
      writeFileSync(
        pcap,
        pcapFile([
          ...tcpConversation(client, server, smb2Transcript),
          ...tcpConversation({ ...client, port: client.port + 1 }, server, smb1Transcript),
        ]),
      );
    }
  });

  afterAll(() => {
    samba?.stop();
    tmp.cleanup();
  });

  it("hints NTLMSSP in a NegTokenInit2 with Samba's negHints (SMB2 and SMB1)", () => {
    for (const hint of [smb2Hint, smb1Hint]) {
      expect(hint).toMatchObject({
        kind: "negTokenInit",
        gssFramed: true,
        negHints: { hintName: "not_defined_in_RFC4178@please_ignore", hintAddress: null },
      });
      expect((hint as NegTokenInit).mechTypes).toContain(MECH_OID.ntlmssp);
    }
  });

  it("answers our NEGOTIATE with a CHALLENGE naming the configured server", () => {
    expect(smb2Status).toBe(STATUS_MORE_PROCESSING_REQUIRED);
    expect(smb1.status).toBe(STATUS_MORE_PROCESSING_REQUIRED);
    for (const challenge of [smb2Challenge, smb1Challenge]) {
      expect(challenge.targetName).toBe(NETBIOS_NAME);
      expect(challenge.flags & NTLMSSP_TARGET_TYPE_SERVER).not.toBe(0);
      // Samba sends VERSION even though our NEGOTIATE did not ask for it.
      expect(challenge.flags & NTLMSSP_NEGOTIATE_VERSION).not.toBe(0);
      expect(challenge.version).toEqual({ major: 6, minor: 1, build: 0, ntlmRevision: 15 });
      expect(challenge.headerLength).toBe(56);
      expect(challenge.targetInfo).toMatchObject({
        nbComputerName: NETBIOS_NAME,
        // A standalone server is its own NetBIOS domain; the workgroup is not in the CHALLENGE.
        nbDomainName: NETBIOS_NAME,
        dnsDomainName: "",
      });
      const dnsName = challenge.targetInfo?.dnsComputerName ?? "";
      expect(dnsName.split(".")[0]).toBe(hostname().split(".")[0]!.toLowerCase());
      const skew = Math.abs(Date.parse(challenge.targetInfo?.timestamp ?? "") - Date.now());
      expect(skew).toBeLessThan(3_600_000);
      expect(challenge.targetInfo?.pairs.map((p) => p.id)).toEqual([2, 1, 4, 3, 7]);
    }
  });

  it("puts NativeOS, NativeLanMan and the workgroup in the SMB1 SESSION_SETUP reply", () => {
    expect(smb1.nativeOs).toBe("Windows 6.1");
    expect(smb1.nativeLanMan).toBe(`Samba ${sambaVersion}`);
    expect(smb1.primaryDomain).toBe(WORKGROUP);
    expect(smb1Guid.toString("latin1").replace(/\0+$/, "")).toBe(NETBIOS_NAME.toLowerCase());
  });

  it.skipIf(!HAVE_TSHARK)("agrees with tshark's dissection, which finds nothing malformed", () => {
    // Nothing we send draws a warning or a malformed-packet mark.
    const ours = "tcp.dstport == 445 && (_ws.malformed || _ws.expert.severity >= warning)";
    expect(tsharkFields(pcap, ours, ["frame.number"])).toEqual([]);
    // tshark does flag Samba's NEGOTIATE responses: its SPNEGO dissector expects RFC 4178's
    // mechListMIC OCTET STRING at [3] and does not know MS-SPNG's NegHints SEQUENCE there.
    // decodeSpnegoToken reads them (the hint test above); the difference is recorded here.
    const theirs = tsharkFields(pcap, "tcp.srcport == 445 && _ws.malformed", [
      "_ws.expert.message",
    ]);
    for (const [message] of theirs) expect(message).toMatch(/OctetString expected/);

    // Our NEGOTIATEs (SMB2 and SMB1), as tshark reads them inside SPNEGO.
    const negotiates = tsharkFields(pcap, "ntlmssp.messagetype == 1", [
      "spnego.MechType",
      "ntlmssp.negotiateflags",
    ]);
    expect(negotiates).toEqual([
      [MECH_OID.ntlmssp, "0x00088215"],
      [MECH_OID.ntlmssp, "0x00088215"],
    ]);
    // Samba's CHALLENGEs: the same fields we decoded.
    const challenges = tsharkFields(pcap, "ntlmssp.messagetype == 2", [
      "ntlmssp.challenge.target_name",
      "ntlmssp.ntlmserverchallenge",
      "ntlmssp.version.major",
      "ntlmssp.version.minor",
      "ntlmssp.version.build_number",
      "ntlmssp.version.ntlm_current_revision",
      "spnego.supportedMech",
    ]);
    const decodedByUs = [smb2Challenge, smb1Challenge].map((c) => [
      c.targetName,
      Buffer.from(c.serverChallenge).toString("hex"),
      String(c.version?.major),
      String(c.version?.minor),
      String(c.version?.build),
      String(c.version?.ntlmRevision),
      MECH_OID.ntlmssp,
    ]);
    expect(challenges).toEqual(decodedByUs);
    // The hints: tshark reads Samba's mechTypes (it stops at the negHints, see above).
    const hints = tsharkFields(pcap, "tcp.srcport == 445 && spnego.MechType && !ntlmssp", [
      "spnego.MechType",
    ]);
    expect(hints).toEqual([[MECH_OID.ntlmssp], [MECH_OID.ntlmssp]]);
    expect(hints).toEqual([smb2Hint, smb1Hint].map((h) => (h as NegTokenInit).mechTypes));
  });

  it("is inferred as Samba, outside MS03-026's range", () => {
    const result = inferOs({
      nativeOs: smb1.nativeOs,
      nativeLanMan: smb1.nativeLanMan,
      ntlmVersion: smb2Challenge.version,
      ntlmTimestamp: smb2Challenge.targetInfo?.timestamp !== undefined,
      serverGuid: smb1Guid.toString("hex"),
      netbiosName: smb2Challenge.targetInfo?.nbComputerName ?? null,
      smbDialects: ["NT LM 0.12", "2.0.2", "2.1", "3.0", "3.0.2"],
    });
    expect(result).toMatchObject({
      family: "samba",
      product: "Samba 4.x",
      version: sambaVersion.match(/^\d+\.\d+\.\d+/)?.[0],
      ms03026Range: "not-affected",
      conflicts: [],
    });
    expect(result.confidence).toBeGreaterThanOrEqual(90);
  });
});
