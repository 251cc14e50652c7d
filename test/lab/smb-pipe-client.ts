import {
  EPMAPPER,
  EPT_INQUIRY,
  EPT_LOOKUP_OPNUM,
  EPT_VERS_OPTION,
  FragmentReassembler,
  NDR_TRANSFER_SYNTAX,
  NULL_CONTEXT_HANDLE,
  decodeEptLookupResponse,
  decodePdu,
  encodeBind,
  encodeEptLookupRequest,
  encodeRequest,
  isDecodeIssue,
  isNullContextHandle,
  type ContextHandle,
  type EptEntry,
  type Pdu,
  type SyntaxId,
} from "../../src/protocols/dcerpc/index.js";
import {
  NT_STATUS,
  SMB1_FLAGS2,
  SMB1_WRITE_MODE,
  SMB2_PIPE_DESIRED_ACCESS,
  decodeSmb1NegotiateResponse,
  decodeSmb1NtCreateResponse,
  decodeSmb1ReadResponse,
  decodeSmb1TransactionResponse,
  decodeSmb1TreeConnectResponse,
  decodeSmb2CreateResponse,
  decodeSmb2IoctlResponse,
  decodeSmb2NegotiateResponse,
  decodeSmb2ReadResponse,
  decodeSmb2TreeConnectResponse,
  encodeSmb1NegotiateRequest,
  encodeSmb1NtCreateRequest,
  encodeSmb1ReadRequest,
  encodeSmb1SessionSetupRequest,
  encodeSmb1TransactionRequest,
  encodeSmb1TreeConnectRequest,
  encodeSmb1WriteRequest,
  encodeSmb2CreateRequest,
  encodeSmb2IoctlRequest,
  encodeSmb2NegotiateRequest,
  encodeSmb2ReadRequest,
  encodeSmb2TreeConnectRequest,
  encodeSmb2WriteRequest,
  smb1PipeOpenRequest,
  smb1TransactNamedPipeRequest,
  smb2PipeOpenRequest,
  smb2PipeTransceiveRequest,
  type Smb2FileId,
} from "../../src/protocols/smb/index.js";
import { smb1ExtendedLogon, smb2Logon, statusOf, type SmbTestClient } from "./smb-client.js";

/**
 * DCE/RPC over the lab's named pipes, as the ncacn_np clients drive it: SMB1 TransactNmPipe with
 * READ_ANDX for further fragments (research §2.3 steps 4-5), SMB2 FSCTL_PIPE_TRANSCEIVE with
 * READ. One pipe message is one PDU fragment.
 */
export interface PipeTransport {
  /** Write one PDU and read the first message of the answer (null: nothing, or an error). */
  transceive(pdu: Uint8Array): Promise<{ status: number; data: Uint8Array }>;
  /** Read the next message (or the rest of one). */
  read(max: number): Promise<{ status: number; data: Uint8Array }>;
  /** Write one PDU without reading (WRITE_ANDX / SMB2 WRITE); the status of the write. */
  write(pdu: Uint8Array): Promise<number>;
}

const FLAGS2 = SMB1_FLAGS2.UNICODE | SMB1_FLAGS2.NT_STATUS | SMB1_FLAGS2.LONG_NAMES;

/** SMB1: negotiate, anonymous logon, IPC$, NT_CREATE of `pipe`: the FID or the refusing status. */
export async function smb1OpenPipe(
  client: SmbTestClient,
  pipe: string,
): Promise<{ transport: PipeTransport; fid: number; uid: number; tid: number } | number> {
  const negotiate = await client.request(
    encodeSmb1NegotiateRequest(
      { dialects: ["NT LM 0.12"] },
      { flags2: FLAGS2 | SMB1_FLAGS2.EXTENDED_SECURITY, mid: 1 },
    ),
  );
  const negotiated = negotiate === null ? null : decodeSmb1NegotiateResponse(negotiate);
  if (negotiated === null || isDecodeIssue(negotiated) || negotiated.form !== "nt-lm") {
    throw new Error("no SMB1 NEGOTIATE reply");
  }
  let uid: number;
  if (negotiated.security.kind === "extended") {
    const logon = await smb1ExtendedLogon(client);
    if (logon.status !== 0) return logon.status;
    uid = logon.uid;
  } else {
    // NT4 and Windows 98: a basic null session (empty account and passwords).
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
    if (reply === null) throw new Error("no SESSION_SETUP reply");
    if (statusOf(reply) !== 0) return statusOf(reply);
    uid = new DataView(reply.buffer, reply.byteOffset).getUint16(28, true);
  }
  const tree = await client.request(
    encodeSmb1TreeConnectRequest(
      { flags: 0, password: Uint8Array.of(0), path: "\\\\LAB\\IPC$", service: "?????" },
      { flags2: FLAGS2, uid, mid: 4 },
    ),
  );
  if (tree === null) throw new Error("no TREE_CONNECT reply");
  const connected = decodeSmb1TreeConnectResponse(tree);
  if (isDecodeIssue(connected)) return statusOf(tree);
  const tid = connected.header.tid;
  const created = await client.request(
    encodeSmb1NtCreateRequest(smb1PipeOpenRequest(pipe), { flags2: FLAGS2, uid, tid, mid: 5 }),
  );
  if (created === null) throw new Error("no NT_CREATE reply");
  const opened = decodeSmb1NtCreateResponse(created);
  if (isDecodeIssue(opened)) return statusOf(created);
  const fid = opened.fid;
  let mid = 6;
  const transport: PipeTransport = {
    async transceive(pdu) {
      const answer = await client.request(
        encodeSmb1TransactionRequest(smb1TransactNamedPipeRequest(fid, pdu, 1024), {
          flags2: FLAGS2,
          uid,
          tid,
          mid: mid++,
        }),
      );
      if (answer === null) throw new Error("no TRANSACTION reply");
      const decoded = decodeSmb1TransactionResponse(answer);
      return {
        status: statusOf(answer),
        data: isDecodeIssue(decoded) ? new Uint8Array(0) : decoded.data,
      };
    },
    async read(max) {
      const answer = await client.request(
        encodeSmb1ReadRequest(
          {
            fid,
            offset: 0,
            offsetHigh: null,
            maxCountOfBytesToReturn: max,
            minCountOfBytesToReturn: max,
            timeout: 0,
            remaining: 0,
          },
          { flags2: FLAGS2, uid, tid, mid: mid++ },
        ),
      );
      if (answer === null) throw new Error("no READ_ANDX reply");
      const decoded = decodeSmb1ReadResponse(answer);
      return {
        status: statusOf(answer),
        data: isDecodeIssue(decoded) ? new Uint8Array(0) : decoded.data,
      };
    },
    async write(pdu) {
      const answer = await client.request(
        encodeSmb1WriteRequest(
          {
            fid,
            offset: 0,
            offsetHigh: null,
            timeout: 0,
            writeMode: SMB1_WRITE_MODE.MESSAGE_START,
            remaining: pdu.length,
            data: pdu,
          },
          { flags2: FLAGS2, uid, tid, mid: mid++ },
        ),
      );
      if (answer === null) throw new Error("no WRITE_ANDX reply");
      return statusOf(answer);
    },
  };
  return { transport, fid, uid, tid };
}

/** SMB2: negotiate `dialect`, anonymous logon, IPC$, CREATE of `pipe`. */
export async function smb2OpenPipe(
  client: SmbTestClient,
  pipe: string,
  dialect = 0x0210,
): Promise<{ transport: PipeTransport; fileId: Smb2FileId } | number> {
  const negotiate = await client.request(
    encodeSmb2NegotiateRequest(
      {
        dialects: [dialect],
        securityMode: 1,
        capabilities: 0,
        clientGuid: "11111111-2222-3333-4444-555555555555",
        contexts: [],
      },
      { messageId: 0n, credits: 1 },
    ),
  );
  if (negotiate === null || isDecodeIssue(decodeSmb2NegotiateResponse(negotiate))) {
    throw new Error("no SMB2 NEGOTIATE reply");
  }
  const logon = await smb2Logon(client);
  if (logon.status !== 0) return logon.status;
  const { sessionId } = logon;
  let messageId = 3n;
  const tree = await client.request(
    encodeSmb2TreeConnectRequest(
      { flags: 0, path: "\\\\LAB\\IPC$" },
      { sessionId, messageId: messageId++, credits: 1, creditCharge: 1 },
    ),
  );
  if (tree === null) throw new Error("no TREE_CONNECT reply");
  const connected = decodeSmb2TreeConnectResponse(tree);
  if (isDecodeIssue(connected)) return statusOf(tree);
  const treeId = connected.header.treeId;
  const init = () => ({ sessionId, treeId, messageId: messageId++, credits: 1, creditCharge: 1 });
  const created = await client.request(
    encodeSmb2CreateRequest(
      { ...smb2PipeOpenRequest(pipe), desiredAccess: SMB2_PIPE_DESIRED_ACCESS },
      init(),
    ),
  );
  if (created === null) throw new Error("no CREATE reply");
  const opened = decodeSmb2CreateResponse(created);
  if (isDecodeIssue(opened)) return statusOf(created);
  const { fileId } = opened;
  const transport: PipeTransport = {
    async transceive(pdu) {
      const answer = await client.request(
        encodeSmb2IoctlRequest(smb2PipeTransceiveRequest(fileId, pdu, 1024), init()),
      );
      if (answer === null) throw new Error("no IOCTL reply");
      const decoded = decodeSmb2IoctlResponse(answer);
      return {
        status: statusOf(answer),
        data: isDecodeIssue(decoded) ? new Uint8Array(0) : decoded.output,
      };
    },
    async read(max) {
      const answer = await client.request(
        encodeSmb2ReadRequest(
          {
            padding: 0x50,
            flags: 0,
            length: max,
            offset: 0n,
            fileId,
            minimumCount: 0,
            channel: 0,
            remainingBytes: 0,
          },
          init(),
        ),
      );
      if (answer === null) throw new Error("no READ reply");
      const decoded = decodeSmb2ReadResponse(answer);
      return {
        status: statusOf(answer),
        data: isDecodeIssue(decoded) ? new Uint8Array(0) : decoded.data,
      };
    },
    async write(pdu) {
      const answer = await client.request(
        encodeSmb2WriteRequest(
          { offset: 0n, fileId, channel: 0, remainingBytes: 0, flags: 0, data: pdu },
          init(),
        ),
      );
      if (answer === null) throw new Error("no WRITE reply");
      return statusOf(answer);
    },
  };
  return { transport, fileId };
}

/** A whole message: the transceive's part, then reads while the server says BUFFER_OVERFLOW. */
async function message(
  transport: PipeTransport,
  first: { status: number; data: Uint8Array },
): Promise<Uint8Array> {
  const parts = [first.data];
  let last = first;
  while (last.status === NT_STATUS.BUFFER_OVERFLOW) {
    last = await transport.read(1024);
    parts.push(last.data);
  }
  return Buffer.concat(parts);
}

/** One PDU in, every fragment of the answer out (reads until PFC_LAST_FRAG). */
export async function call(transport: PipeTransport, pdu: Uint8Array): Promise<Pdu[]> {
  const out: Pdu[] = [];
  let bytes = await message(transport, await transport.transceive(pdu));
  for (let i = 0; i < 64; i++) {
    const decoded = decodePdu(bytes);
    if (isDecodeIssue(decoded)) throw new Error(`bad PDU over the pipe: ${decoded.message}`);
    out.push(decoded);
    if ((decoded.pfcFlags & 0x02) !== 0 || decoded.type !== "response") return out;
    bytes = await message(transport, await transport.read(1024));
  }
  throw new Error("too many fragments");
}

/** bind (with a small max_recv_frag so long answers fragment), then rpcdump's lookup loop. */
export async function lookupOverPipe(
  transport: PipeTransport,
  iface: SyntaxId = EPMAPPER,
  maxRecvFrag = 1432,
): Promise<{ bindAck: Pdu; entries: EptEntry[]; fragments: number }> {
  const [bindAck] = await call(
    transport,
    encodeBind({
      callId: 1,
      maxRecvFrag,
      contexts: [{ contextId: 0, abstractSyntax: iface, transferSyntaxes: [NDR_TRANSFER_SYNTAX] }],
    }),
  );
  if (bindAck === undefined) throw new Error("no bind answer");
  const entries: EptEntry[] = [];
  let fragments = 0;
  let handle: ContextHandle = NULL_CONTEXT_HANDLE;
  for (let callId = 2; callId < 50; callId++) {
    const stub = encodeEptLookupRequest({
      inquiryType: EPT_INQUIRY.allElements,
      object: null,
      interfaceId: null,
      versOption: EPT_VERS_OPTION.all,
      entryHandle: handle,
      maxEnts: 500,
    });
    const pdus = await call(
      transport,
      encodeRequest({ callId, contextId: 0, opnum: EPT_LOOKUP_OPNUM, stub }),
    );
    fragments += pdus.length;
    const reassembler = new FragmentReassembler();
    let whole: Uint8Array | null = null;
    for (const pdu of pdus) {
      const step = reassembler.push(pdu);
      if (isDecodeIssue(step)) throw new Error(step.message);
      if (step.done) whole = step.call.stub;
    }
    if (whole === null) return { bindAck, entries, fragments };
    const response = decodeEptLookupResponse(whole);
    if (isDecodeIssue(response)) throw new Error(response.message);
    entries.push(...response.entries);
    handle = response.entryHandle;
    if (response.status !== 0 || isNullContextHandle(handle)) break;
  }
  return { bindAck, entries, fragments };
}
