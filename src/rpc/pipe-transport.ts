import { DEFAULT_MAX_FRAG, PduFramer } from "../protocols/dcerpc/index.js";
import type { SessionTransport } from "../protocols/netbios/index.js";
import { isSmbFailure, type SmbFailure } from "../smb/smb-failure.js";
import { ExchangeLog, openIpcSession, type SmbPipe } from "../smb/smb-session.js";
import type { SmbConnection } from "../smb/smb-connection.js";
import { decodeFailure, rpcFailure, type RpcFailure, type RpcFailureCode } from "./rpc-failure.js";
import type { ReceivedPdu, RpcTransport, TransportOptions } from "./socket-transport.js";
import { formatStringBinding, type StringBinding } from "./string-binding.js";

/**
 * ncacn_np (MS-RPCE §2.1.1.2, C706 appendix I): DCE/RPC PDUs carried by an SMB named pipe on
 * IPC$, `ncacn_np:host[\pipe\epmapper]` (research §2.3, Appendix E). SMB2/3 first (multi-dialect
 * NEGOTIATE, anonymous NTLMSSP session, CREATE, IOCTL FSCTL_PIPE_TRANSCEIVE / READ), SMB1 when
 * the server speaks nothing newer (NT_CREATE_ANDX, TransactNmPipe / READ_ANDX); TCP 445 first,
 * TCP 139 with a NetBIOS session when 445 is refused.
 *
 * A pipe is message-mode: one PDU per write, one fragment per read. A PDU that expects an answer
 * (a bind, or the last fragment of a request) goes out as a transceive, which returns the first
 * answer fragment; every further fragment is read on demand when the client asks for it; an
 * intermediate request fragment is a plain write. Same safety rules as the TCP transports:
 * scope check before connecting, deadlines, a byte cap, one outstanding request, and every
 * failure closes the association.
 */

/** An SMB endpoint to try, as the wire sees it (a lab adds its port offset). */
export interface SmbPortSpec {
  readonly port: number;
  readonly transport: SessionTransport;
}

/** TCP 445 (direct), then TCP 139 (NetBIOS session service). */
export const DEFAULT_SMB_PORTS: readonly SmbPortSpec[] = Object.freeze([
  { port: 445, transport: "direct-tcp" },
  { port: 139, transport: "netbios" },
]);

export interface PipeTransportOptions {
  /** Endpoints in order of preference; default 445 then 139. */
  readonly ports?: readonly SmbPortSpec[];
  /** Which SMB to speak, in order; default SMB2/3 then SMB1. */
  readonly protocols?: readonly ("smb2" | "smb1")[];
  /** TCP 139: NetBIOS names to call after `*SMBSERVER`. */
  readonly calledNames?: readonly string[];
  /** Receives every SMB exchange made while connecting (for evidence). */
  readonly log?: ExchangeLog;
}

/** DCE/RPC packet types and flags the transport needs to look at (C706 §12.6.3.1). */
const PTYPE_REQUEST = 0;
const PFC_LAST_FRAG = 0x02;

/** `\pipe\epmapper` → `epmapper` (the SMB pipe name). */
export function pipeName(endpoint: string): string {
  return endpoint.replace(/^\\*pipe\\/i, "").replace(/^\\+/, "");
}

/**
 * Connect to the pipe named by `binding` (an ncacn_np binding). Never throws; refusals that say
 * "this SMB is not spoken here" move on to the next protocol or port, anything else is final.
 */
export async function connectPipeTransport(
  binding: StringBinding,
  options: TransportOptions,
): Promise<RpcTransport | RpcFailure> {
  const smb = options.smb ?? {};
  const ports = smb.ports ?? DEFAULT_SMB_PORTS;
  const protocols = smb.protocols ?? ["smb2", "smb1"];
  const name = pipeName(binding.endpoint);
  const label = formatStringBinding(binding);
  if (name === "" || /[\\/]/.test(name)) {
    return rpcFailure("protocol", `${label}: "${binding.endpoint}" is not a pipe name`);
  }
  const log = smb.log ?? new ExchangeLog();
  let last: RpcFailure | null = null;
  for (const port of ports) {
    for (const protocol of protocols) {
      const session = await openIpcSession(
        { address: binding.host, port: port.port, transport: port.transport },
        {
          scope: options.scope,
          protocol,
          ...(options.connectTimeoutMs !== undefined
            ? { connectTimeoutMs: options.connectTimeoutMs }
            : {}),
          ...(options.readTimeoutMs !== undefined ? { readTimeoutMs: options.readTimeoutMs } : {}),
          // SMB headers on top of the PDUs: a little room beyond the association cap.
          maxConnectionBytes: (options.maxAssociationBytes ?? 1024 * 1024) + 64 * 1024,
          ...(smb.calledNames !== undefined ? { calledNames: smb.calledNames } : {}),
        },
        log,
      );
      if (isSmbFailure(session)) {
        last = rpcOf(session, `${label} over ${protocol.toUpperCase()} (TCP ${port.port})`);
        if (session.code === "scope-violation" || session.code === "resolve") return last;
        // Nothing listens here: the next port, not the next protocol.
        if (session.code === "connection-refused" || session.code === "connect-timeout") break;
        continue;
      }
      const pipe = await session.openPipe(name);
      if (isSmbFailure(pipe)) {
        session.close();
        // The pipe itself is refused (absent, access denied): another SMB will not change that.
        return rpcOf(pipe, `${label}: opening \\pipe\\${name}`);
      }
      return new PipeTransport(
        binding,
        session.connection,
        pipe,
        options,
        `${label} (${session.dialect})`,
      );
    }
  }
  return last ?? rpcFailure("transport-unavailable", `${label}: no SMB port to try`);
}

/** SMB failure codes in RPC terms (RpcFailureCode is the transports' shared vocabulary). */
const CODE_MAP: Readonly<Record<SmbFailure["code"], RpcFailureCode>> = {
  "scope-violation": "scope-violation",
  resolve: "resolve",
  "connection-refused": "connection-refused",
  "connect-timeout": "connect-timeout",
  "read-timeout": "read-timeout",
  deadline: "read-timeout",
  "pending-limit": "read-timeout",
  "connection-closed": "connection-closed",
  "byte-cap": "byte-cap",
  "session-refused": "connection-refused",
  decode: "protocol",
  protocol: "protocol",
  status: "protocol",
  "no-credits": "protocol",
  unsupported: "protocol",
  busy: "busy",
  closed: "closed",
  interrupted: "closed",
};

function rpcOf(failure: SmbFailure, context: string): RpcFailure {
  return rpcFailure(CODE_MAP[failure.code], `${context}: SMB ${failure.message}`, {
    ...(failure.error !== undefined ? { error: failure.error } : {}),
  });
}

type Waiter = () => void;

class PipeTransport implements RpcTransport {
  readonly maxFragLength: number;
  readonly readTimeoutMs: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly framer: PduFramer;
  private readonly queue: ReceivedPdu[] = [];
  private framedBytes = 0;
  private inFlight = false;
  private failure: RpcFailure | null = null;
  private waiter: Waiter | null = null;

  constructor(
    readonly binding: StringBinding,
    private readonly connection: SmbConnection,
    private readonly pipe: SmbPipe,
    options: TransportOptions,
    private readonly label: string,
  ) {
    this.maxFragLength = options.maxFragLength ?? DEFAULT_MAX_FRAG;
    this.readTimeoutMs = options.readTimeoutMs ?? 5000;
    this.remoteAddress = connection.remoteAddress;
    this.remotePort = connection.remotePort;
    this.framer = new PduFramer({ maxFragLength: this.maxFragLength });
  }

  get bytesReceived(): number {
    return this.connection.bytesReceived;
  }

  send(pdu: Uint8Array): RpcFailure | null {
    if (this.failure !== null) return this.failure;
    if (this.inFlight) {
      return rpcFailure("busy", `${this.label}: a pipe operation is already outstanding`);
    }
    const expectsAnswer = pdu[2] !== PTYPE_REQUEST || ((pdu[3] ?? 0) & PFC_LAST_FRAG) !== 0;
    void this.run(async () => {
      if (!expectsAnswer) {
        const written = await this.pipe.write(pdu);
        return isSmbFailure(written) ? written : null;
      }
      const answer = await this.pipe.transceive(pdu, this.maxFragLength);
      if (isSmbFailure(answer)) return answer;
      this.frame(answer.data);
      return answer.more ? this.readRest() : null;
    });
    return null;
  }

  receive(deadline = performance.now() + this.readTimeoutMs): Promise<ReceivedPdu | RpcFailure> {
    const ready = this.queue.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== null) return Promise.resolve(this.failure);
    if (this.waiter !== null) {
      return Promise.resolve(rpcFailure("busy", `${this.label}: a receive is already outstanding`));
    }
    // Nothing buffered and nothing on its way: the next fragment is a pipe read.
    if (!this.inFlight) void this.run(async () => this.readRest(true));
    return new Promise((done) => {
      const timer = setTimeout(
        () => {
          this.waiter = null;
          this.fail(
            rpcFailure(
              "read-timeout",
              `${this.label}: no complete reply within the ${this.readTimeoutMs} ms read deadline`,
            ),
          );
          done(this.failure as RpcFailure);
        },
        Math.max(0, deadline - performance.now()),
      );
      this.waiter = () => {
        const pdu = this.queue.shift();
        if (pdu === undefined && this.failure === null) return;
        clearTimeout(timer);
        this.waiter = null;
        done(pdu ?? (this.failure as RpcFailure));
      };
    });
  }

  close(): void {
    this.fail(rpcFailure("closed", `${this.label}: the association is closed`));
  }

  /** Read pipe data until a whole message is in (STATUS_BUFFER_OVERFLOW means "more"). */
  private async readRest(first = false): Promise<SmbFailure | null> {
    // A pipe message is at most one fragment; a few reads cover it, a drip is cut off.
    for (let reads = 0; reads < 16; reads++) {
      const chunk = await this.pipe.read(this.maxFragLength);
      if (isSmbFailure(chunk)) return chunk;
      this.frame(chunk.data);
      if (!chunk.more && (!first || chunk.data.length > 0)) return null;
      first = false;
    }
    return null;
  }

  private async run(op: () => Promise<SmbFailure | null>): Promise<void> {
    this.inFlight = true;
    const failure = await op();
    this.inFlight = false;
    if (failure !== null) this.fail(rpcOf(failure, this.label));
    this.waiter?.();
  }

  private frame(data: Uint8Array): void {
    if (this.failure !== null || data.length === 0) return;
    const { pdus, issue } = this.framer.push(data);
    for (const bytes of pdus) {
      this.queue.push({ bytes, offset: this.framedBytes });
      this.framedBytes += bytes.length;
    }
    if (issue !== null) this.fail(decodeFailure(issue, this.label));
    this.waiter?.();
  }

  private fail(failure: RpcFailure): void {
    if (this.failure !== null) return;
    this.failure = failure;
    // No half-open associations; the server cleans up the pipe and session with the TCP close.
    this.connection.close();
    this.waiter?.();
  }
}
