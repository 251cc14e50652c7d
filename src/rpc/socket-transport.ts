import { lookup } from "node:dns/promises";
import { isIP, Socket } from "node:net";
import {
  DEFAULT_MAX_FRAG,
  PduFramer,
  decodeIssue,
  type DecodeIssue,
} from "../protocols/dcerpc/index.js";
import { scopeViolation, type Scope } from "../scope/index.js";
import { connectPipeTransport, type PipeTransportOptions } from "./pipe-transport.js";
import { decodeFailure, rpcFailure, type RpcFailure } from "./rpc-failure.js";
import { parsePort, type StringBinding } from "./string-binding.js";

/**
 * Connection-oriented transports (C706 ch. 12 "ncacn"): TCP 135 and RPC over HTTP v1 on 593
 * here, SMB named pipes (ncacn_np) in pipe-transport.ts.
 * Both carry raw CO PDUs; ncacn_http first sends a 14-byte `ncacn_http/1.0` banner (research
 * §2.3; impacket transport.py HTTPTransport.connect checks it), after which it is TCP.
 *
 * Safety rules from research §3.2-3.3, enforced here and not left to callers:
 *  - the resolved address passes the scope check before any packet leaves (SYN included);
 *  - connect and read deadlines; on a timeout the association is closed, never retried, since
 *    a peer that stops answering may have crashed and must not be probed again;
 *  - a byte cap per association and a frag_length cap (our max_recv_frag), so a peer cannot
 *    grow our memory; one receive at a time, so one request is outstanding per connection.
 */

/** One transport per protocol sequence; the client sees only this. */
export interface RpcTransport {
  readonly binding: StringBinding;
  /** The address actually connected to (after resolution and the scope check). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Largest frag_length accepted from the peer; the client advertises it as max_recv_frag. */
  readonly maxFragLength: number;
  readonly readTimeoutMs: number;
  /** Bytes received on this association so far, banner included. */
  readonly bytesReceived: number;
  /** Queue one whole PDU for sending; a failure if the association is no longer usable. */
  send(pdu: Uint8Array): RpcFailure | null;
  /**
   * The next whole PDU (exactly frag_length bytes) and its offset in the received stream, or a
   * failure. `deadline` is a performance.now() instant; default now + readTimeoutMs.
   */
  receive(deadline?: number): Promise<ReceivedPdu | RpcFailure>;
  close(): void;
}

export interface ReceivedPdu {
  readonly bytes: Uint8Array;
  /** Offset of the PDU's first byte in the association's received stream. */
  readonly offset: number;
}

export interface TransportOptions {
  /** Every connection is checked against it on the resolved address. */
  readonly scope: Scope;
  /** Default 3 s (research §3.3: 3-5 s). */
  readonly connectTimeoutMs?: number;
  /** Default 5 s (research §3.3: 5-10 s per PDU). */
  readonly readTimeoutMs?: number;
  /** Most bytes the peer may send on one association; default 1 MiB. */
  readonly maxAssociationBytes?: number;
  /** Largest fragment accepted, i.e. our max_recv_frag; default 4280 (research §2.1). */
  readonly maxFragLength?: number;
  /** ncacn_np: SMB ports (with a lab's offset), protocols and NetBIOS names to try. */
  readonly smb?: PipeTransportOptions;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
export const DEFAULT_READ_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_ASSOCIATION_BYTES = 1024 * 1024;
/** RPC over HTTP v1 banner (impacket transport.py: `if resp[:14] != b'ncacn_http/1.0'`). */
export const NCACN_HTTP_BANNER = "ncacn_http/1.0";

/**
 * Resolve, scope-check and connect to `binding`. For ncacn_http the banner is read and checked
 * before this returns; ncacn_np sets up an anonymous SMB session and opens the pipe
 * (pipe-transport.ts). Never throws.
 */
export async function connectTransport(
  binding: StringBinding,
  options: TransportOptions,
): Promise<RpcTransport | RpcFailure> {
  if (binding.protseq === "ncacn_np") return connectPipeTransport(binding, options);
  const port = parsePort(binding.endpoint);
  if (port === undefined) {
    return rpcFailure("protocol", `"${binding.endpoint}" is not a TCP port`);
  }
  const address = await resolve(binding.host);
  if (typeof address !== "string") return address;
  // The check is on the address we are about to connect to, not the name the user typed: a
  // name is only as trustworthy as the resolver that answered it.
  if (!options.scope.allows(address)) {
    const error = scopeViolation(address, options.scope);
    return rpcFailure("scope-violation", error.message, { error });
  }
  const transport = new SocketTransport(binding, address, port, options);
  const connected = await transport.open(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  if (connected !== null) return connected;
  if (binding.protseq === "ncacn_http") {
    const banner = await transport.awaitBanner();
    if (banner !== null) return banner;
  }
  return transport;
}

async function resolve(host: string): Promise<string | RpcFailure> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host, { verbatim: true })).address;
  } catch (error) {
    return rpcFailure("resolve", `cannot resolve ${host}: ${(error as Error).message}`);
  }
}

type Waiter = () => void;

class SocketTransport implements RpcTransport {
  readonly maxFragLength: number;
  readonly readTimeoutMs: number;
  bytesReceived = 0;
  private readonly socket = new Socket();
  private readonly framer: PduFramer;
  private readonly maxAssociationBytes: number;
  private readonly label: string;
  private readonly queue: ReceivedPdu[] = [];
  /** Set once; every later operation answers it. PDUs framed before it are still delivered. */
  private failure: RpcFailure | null = null;
  private waiter: Waiter | null = null;
  /** ncacn_http: banner bytes still expected, and what arrived so far. */
  private bannerLeft: number;
  private banner = "";
  /** Stream offset where framed PDU data starts (after the banner). */
  private framedFrom = 0;
  private framedBytes = 0;

  constructor(
    readonly binding: StringBinding,
    readonly remoteAddress: string,
    readonly remotePort: number,
    options: TransportOptions,
  ) {
    this.maxFragLength = options.maxFragLength ?? DEFAULT_MAX_FRAG;
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.maxAssociationBytes = options.maxAssociationBytes ?? DEFAULT_MAX_ASSOCIATION_BYTES;
    this.framer = new PduFramer({ maxFragLength: this.maxFragLength });
    this.bannerLeft = binding.protseq === "ncacn_http" ? NCACN_HTTP_BANNER.length : 0;
    this.label = `${binding.protseq}:${remoteAddress}[${remotePort}]`;
  }

  open(timeoutMs: number): Promise<RpcFailure | null> {
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.fail(
          rpcFailure("connect-timeout", `${this.label}: no connection within ${timeoutMs} ms`),
        );
        done(this.failure);
      }, timeoutMs);
      this.socket.once("connect", () => {
        clearTimeout(timer);
        done(null);
      });
      this.socket.on("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.fail(
          error.code === "ECONNREFUSED"
            ? rpcFailure("connection-refused", `${this.label}: connection refused`)
            : rpcFailure("connection-closed", `${this.label}: ${error.code ?? error.message}`),
        );
        done(this.failure);
      });
      this.socket.on("close", () => {
        const partial = this.framer.buffered;
        const where =
          partial > 0 ? ` in the middle of a PDU (${partial} bytes of it received)` : "";
        this.fail(
          rpcFailure("connection-closed", `${this.label}: the peer closed the connection${where}`),
        );
      });
      this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
      this.socket.connect({ host: this.remoteAddress, port: this.remotePort });
    });
  }

  /** ncacn_http: wait for the 14-byte banner; research §2.3 says never to parse without it. */
  awaitBanner(): Promise<RpcFailure | null> {
    return this.waitFor(performance.now() + this.readTimeoutMs, "the ncacn_http banner", () =>
      this.bannerLeft === 0 ? null : undefined,
    );
  }

  send(pdu: Uint8Array): RpcFailure | null {
    if (this.failure !== null) return this.failure;
    this.socket.write(pdu);
    return null;
  }

  receive(deadline = performance.now() + this.readTimeoutMs): Promise<ReceivedPdu | RpcFailure> {
    return this.waitFor(deadline, "reply", () => this.queue.shift());
  }

  close(): void {
    this.fail(rpcFailure("closed", `${this.label}: the association is closed`));
  }

  /**
   * Resolve with `ready()` once it yields a value, else with the failure, else at the deadline
   * with "read-timeout". One waiter at a time: a second is "busy" (one outstanding request).
   */
  private waitFor<T>(
    deadline: number,
    what: string,
    ready: () => T | undefined,
  ): Promise<T | RpcFailure> {
    const now = ready();
    if (now !== undefined) return Promise.resolve(now);
    if (this.failure !== null) return Promise.resolve(this.failure);
    if (this.waiter !== null) {
      return Promise.resolve(
        rpcFailure("busy", `${this.label}: a receive is already outstanding on this connection`),
      );
    }
    return new Promise((done) => {
      const timer = setTimeout(
        () => {
          this.waiter = null;
          this.fail(
            rpcFailure(
              "read-timeout",
              `${this.label}: no complete ${what} within the ${this.readTimeoutMs} ms read deadline`,
            ),
          );
          done(this.failure as RpcFailure);
        },
        Math.max(0, deadline - performance.now()),
      );
      this.waiter = () => {
        const value = ready();
        if (value === undefined && this.failure === null) return;
        clearTimeout(timer);
        this.waiter = null;
        done(value ?? (this.failure as RpcFailure));
      };
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== null) return;
    this.bytesReceived += chunk.length;
    if (this.bytesReceived > this.maxAssociationBytes) {
      this.fail(
        rpcFailure(
          "byte-cap",
          `${this.label}: the peer sent more than the ${this.maxAssociationBytes}-byte cap for one association`,
        ),
      );
      return;
    }
    let data: Uint8Array = chunk;
    if (this.bannerLeft > 0) {
      const take = Math.min(this.bannerLeft, data.length);
      this.banner += Buffer.from(data.subarray(0, take)).toString("latin1");
      this.bannerLeft -= take;
      data = data.subarray(take);
      this.framedFrom += take;
      if (this.bannerLeft === 0 && this.banner !== NCACN_HTTP_BANNER) {
        this.fail(
          rpcFailure(
            "bad-banner",
            `${this.label}: not RPC over HTTP: expected "${NCACN_HTTP_BANNER}", got ${JSON.stringify(this.banner)}`,
          ),
        );
        return;
      }
    }
    if (data.length > 0) this.frame(data);
    this.waiter?.();
  }

  private frame(data: Uint8Array): void {
    const { pdus, issue } = this.framer.push(data);
    for (const bytes of pdus) {
      this.queue.push({ bytes, offset: this.framedFrom + this.framedBytes });
      this.framedBytes += bytes.length;
    }
    if (issue !== null) this.fail(decodeFailure(this.inStream(issue), this.label));
  }

  /** The framer counts offsets from the first PDU byte; the stream also holds the banner. */
  private inStream(issue: DecodeIssue): DecodeIssue {
    return decodeIssue(issue.what, issue.offset + this.framedFrom, issue.message, issue.needed);
  }

  private fail(failure: RpcFailure): void {
    if (this.failure !== null) return;
    this.failure = failure;
    // No half-open associations: whatever went wrong, the connection is finished (research §3.3).
    this.socket.destroy();
    this.waiter?.();
  }
}
