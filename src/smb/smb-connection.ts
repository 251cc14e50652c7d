import { lookup } from "node:dns/promises";
import { isIP, Socket } from "node:net";
import {
  NEGATIVE_SESSION_ERROR,
  NETBIOS_SESSION_MAX_LENGTH,
  SMBSERVER_NAME,
  SMBSERVER_SUFFIX,
  SessionFramer,
  encodeSessionMessage,
  encodeSessionPacket,
  negativeSessionErrorText,
  type SessionPacket,
  type SessionTransport,
} from "../protocols/netbios/index.js";
import { scopeViolation, type Scope } from "../scope/index.js";
import { smbDecodeFailure, smbFailure, type SmbFailure } from "./smb-failure.js";

/**
 * One TCP connection carrying SMB messages: TCP 445 with the 4-byte direct-TCP framing (MS-SMB2
 * §2.1), or TCP 139 with an RFC 1002 session request first (called name `*SMBSERVER`, then the
 * host's own NetBIOS names if that is refused; research §2.3 step 1). The SMB clients
 * (smb1-client.ts, smb2-client.ts) see only the SmbChannel interface, so their state handling
 * can be tested against scripted peers.
 *
 * Safety rules (research §3.3), enforced here rather than left to callers:
 *  - the resolved address passes the scope check before the SYN;
 *  - connect and read deadlines, and an optional hard deadline (the per-host budget) that caps
 *    every wait; a timeout closes the connection, nothing is retried on it;
 *  - a byte cap per connection and a cap on one message (the session framer refuses any length
 *    above it before allocating);
 *  - one receive at a time: one request outstanding per connection.
 */

/** Where to reach an SMB server: the wire port and its framing. */
export interface SmbEndpoint {
  readonly address: string;
  readonly port: number;
  readonly transport: SessionTransport;
}

export interface SmbConnectOptions {
  readonly scope: Scope;
  /** Default 3 s (research §3.3). */
  readonly connectTimeoutMs?: number;
  /** Default 5 s per answer (research §3.3). */
  readonly readTimeoutMs?: number;
  /** Most bytes the peer may send on this connection; default 1 MiB. */
  readonly maxConnectionBytes?: number;
  /** A performance.now() instant (the per-host budget): no wait runs past it. */
  readonly deadline?: number;
  /** Ctrl-C: the connection is closed at once. */
  readonly signal?: AbortSignal;
  /**
   * TCP 139: names to call, in order, after `*SMBSERVER` is refused (RFC 1002 §4.3.4). NT 4.0
   * accepts only its own name, which the scan's NBSTAT answer gives (the <20> server name).
   */
  readonly calledNames?: readonly string[];
  /** TCP 139: our calling name; default "RINGFENCE". */
  readonly callingName?: string;
}

/** A bidirectional stream of whole SMB messages (the NetBIOS/direct-TCP framing removed). */
export interface SmbChannel {
  /** e.g. "smb:127.0.0.2[445]", for messages. */
  readonly label: string;
  /** Queue one SMB message (framed here); a failure if the connection is no longer usable. */
  send(message: Uint8Array): SmbFailure | null;
  /** The next whole SMB message, or a failure; `deadline` is a performance.now() instant. */
  receive(deadline?: number): Promise<Uint8Array | SmbFailure>;
  close(): void;
}

/** One TCP 139 session request and how the server answered it. */
export interface SessionAttempt {
  readonly calledName: string;
  /** "positive", "negative: called name not present", "retarget", or a failure code. */
  readonly outcome: string;
}

export interface SmbConnection extends SmbChannel {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly transport: SessionTransport;
  readonly readTimeoutMs: number;
  /** TCP 139: the name the session was established with; null on 445. */
  readonly calledName: string | null;
  /** TCP 139: every session request made, in order (one TCP connection each). */
  readonly sessionAttempts: readonly SessionAttempt[];
  readonly bytesReceived: number;
  readonly bytesSent: number;
}

export const SMB_DEFAULT_CONNECT_TIMEOUT_MS = 3000;
export const SMB_DEFAULT_READ_TIMEOUT_MS = 5000;
export const SMB_DEFAULT_MAX_CONNECTION_BYTES = 1024 * 1024;
/** Largest single message accepted: a 64 KiB pipe read plus headers, with room to spare. */
const MAX_MESSAGE_LENGTH = 256 * 1024;
/** RFC 1002 names are 15 characters (plus the suffix byte). */
const NETBIOS_NAME_MAX = 15;

/**
 * Resolve, scope-check and connect; on TCP 139 also establish the NetBIOS session, trying
 * `*SMBSERVER` and then each of `calledNames` (each on a fresh connection: RFC 1002 §4.3.4 says
 * the server closes after a negative response). Never throws.
 */
export async function openSmbConnection(
  endpoint: SmbEndpoint,
  options: SmbConnectOptions,
): Promise<SmbConnection | SmbFailure> {
  const address = await resolve(endpoint.address);
  if (typeof address !== "string") return address;
  if (!options.scope.allows(address)) {
    const error = scopeViolation(address, options.scope);
    return smbFailure("scope-violation", error.message, { error });
  }
  if (endpoint.transport === "direct-tcp") {
    const connection = new SocketConnection(address, endpoint.port, "direct-tcp", options, null);
    const failure = await connection.open();
    return failure ?? connection;
  }
  const names = [SMBSERVER_NAME, ...(options.calledNames ?? [])]
    .map((n) => n.trim().toUpperCase())
    .filter((n, i, all) => n !== "" && n.length <= NETBIOS_NAME_MAX && all.indexOf(n) === i);
  const attempts: SessionAttempt[] = [];
  let last: SmbFailure | null = null;
  for (const name of names) {
    const connection = new SocketConnection(address, endpoint.port, "netbios", options, name);
    const opened = await connection.open();
    if (opened !== null) {
      attempts.push({ calledName: name, outcome: opened.code });
      // A refused or silent port will not answer the next name either.
      return opened;
    }
    const answer = await connection.requestSession(options.callingName ?? "RINGFENCE");
    if (answer === null) {
      attempts.push({ calledName: name, outcome: "positive" });
      connection.sessionAttempts = attempts;
      return connection;
    }
    connection.close();
    attempts.push({ calledName: name, outcome: answer.outcome });
    last = answer.failure;
    // Only "not listening on / not present" is worth another name; anything else is final.
    if (!answer.tryNext) break;
  }
  const tried = attempts.map((a) => `${a.calledName}: ${a.outcome}`).join("; ");
  return last?.code === "session-refused" || last === null
    ? smbFailure(
        "session-refused",
        `netbios:${address}[${endpoint.port}]: no NetBIOS session (${tried})`,
      )
    : last;
}

async function resolve(host: string): Promise<string | SmbFailure> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host, { verbatim: true })).address;
  } catch (error) {
    return smbFailure("resolve", `cannot resolve ${host}: ${(error as Error).message}`);
  }
}

type Waiter = () => void;

class SocketConnection implements SmbConnection {
  readonly label: string;
  readonly readTimeoutMs: number;
  bytesReceived = 0;
  bytesSent = 0;
  sessionAttempts: readonly SessionAttempt[] = [];
  private readonly socket = new Socket();
  private readonly framer: SessionFramer;
  private readonly maxBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly hardDeadline: number;
  private readonly queue: SessionPacket[] = [];
  private failure: SmbFailure | null = null;
  private waiter: Waiter | null = null;
  private readonly onAbort = () =>
    this.fail(smbFailure("interrupted", `${this.label}: interrupted`));

  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly transport: SessionTransport,
    private readonly options: SmbConnectOptions,
    readonly calledName: string | null,
  ) {
    this.label = `${transport === "netbios" ? "netbios" : "smb"}:${remoteAddress}[${remotePort}]`;
    this.readTimeoutMs = options.readTimeoutMs ?? SMB_DEFAULT_READ_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? SMB_DEFAULT_CONNECT_TIMEOUT_MS;
    this.maxBytes = options.maxConnectionBytes ?? SMB_DEFAULT_MAX_CONNECTION_BYTES;
    this.hardDeadline = options.deadline ?? Number.POSITIVE_INFINITY;
    this.framer = new SessionFramer({
      transport,
      // RFC 1002 lengths stop at 17 bits.
      maxMessageLength: Math.min(
        MAX_MESSAGE_LENGTH,
        this.maxBytes,
        transport === "netbios" ? NETBIOS_SESSION_MAX_LENGTH : MAX_MESSAGE_LENGTH,
      ),
    });
  }

  open(): Promise<SmbFailure | null> {
    const signal = this.options.signal;
    if (signal?.aborted === true) {
      return Promise.resolve(smbFailure("interrupted", `${this.label}: interrupted`));
    }
    const budget = Math.min(this.connectTimeoutMs, this.hardDeadline - performance.now());
    if (budget <= 0) {
      return Promise.resolve(smbFailure("deadline", `${this.label}: the per-host budget is spent`));
    }
    signal?.addEventListener("abort", this.onAbort, { once: true });
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.fail(
          budget < this.connectTimeoutMs
            ? smbFailure("deadline", `${this.label}: the per-host budget ran out while connecting`)
            : smbFailure("connect-timeout", `${this.label}: no connection within ${budget} ms`),
        );
        done(this.failure);
      }, budget);
      this.socket.once("connect", () => {
        clearTimeout(timer);
        done(this.failure);
      });
      this.socket.on("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.fail(
          error.code === "ECONNREFUSED"
            ? smbFailure("connection-refused", `${this.label}: connection refused`)
            : smbFailure("connection-closed", `${this.label}: ${error.code ?? error.message}`),
        );
        done(this.failure);
      });
      this.socket.on("close", () => {
        clearTimeout(timer);
        const partial = this.framer.buffered;
        const where = partial > 0 ? ` in the middle of a message (${partial} bytes of it)` : "";
        this.fail(
          smbFailure("connection-closed", `${this.label}: the peer closed the connection${where}`),
        );
        done(this.failure);
      });
      this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
      this.socket.setNoDelay(true);
      this.socket.connect({ host: this.remoteAddress, port: this.remotePort });
    });
  }

  /**
   * RFC 1002 §4.3.2: SESSION REQUEST, then wait for the answer. null when positive; otherwise
   * what to record and whether another called name is worth a try.
   */
  async requestSession(
    callingName: string,
  ): Promise<{ outcome: string; failure: SmbFailure; tryNext: boolean } | null> {
    const calledName = this.calledName ?? SMBSERVER_NAME;
    const request = encodeSessionPacket({
      type: "session-request",
      calledName,
      calledSuffix: SMBSERVER_SUFFIX,
      callingName: callingName.slice(0, NETBIOS_NAME_MAX).toUpperCase(),
      callingSuffix: 0x00,
    });
    const sent = this.write(request);
    if (sent !== null) return { outcome: sent.code, failure: sent, tryNext: false };
    const answer = await this.nextPacket(this.readDeadline(), "a session response");
    if ("kind" in answer) return { outcome: answer.code, failure: answer, tryNext: false };
    switch (answer.type) {
      case "positive-response":
        return null;
      case "negative-response": {
        const text = negativeSessionErrorText(answer.errorCode);
        const tryNext =
          answer.errorCode === NEGATIVE_SESSION_ERROR.notListeningOnCalledName ||
          answer.errorCode === NEGATIVE_SESSION_ERROR.calledNameNotPresent ||
          answer.errorCode === NEGATIVE_SESSION_ERROR.unspecified;
        return {
          outcome: `negative: ${text}`,
          failure: smbFailure("session-refused", `${this.label}: ${calledName}: ${text}`),
          tryNext,
        };
      }
      case "retarget-response":
        // Never followed: the new address would escape the scope check made for this one.
        return {
          outcome: `retarget to ${answer.address}:${answer.port} (not followed)`,
          failure: smbFailure(
            "session-refused",
            `${this.label}: retargeted to ${answer.address}:${answer.port} (not followed)`,
          ),
          tryNext: false,
        };
      default:
        return {
          outcome: `unexpected ${answer.type}`,
          failure: smbFailure(
            "protocol",
            `${this.label}: a ${answer.type} where a session response was due`,
          ),
          tryNext: false,
        };
    }
  }

  send(message: Uint8Array): SmbFailure | null {
    if (this.failure !== null) return this.failure;
    let framed: Uint8Array;
    try {
      framed = encodeSessionMessage(message, this.transport);
    } catch (error) {
      return smbFailure("protocol", `${this.label}: ${(error as Error).message}`);
    }
    return this.write(framed);
  }

  async receive(deadline = this.readDeadline()): Promise<Uint8Array | SmbFailure> {
    // Keep-alives are skipped; anything but a session message is out of place once established.
    for (;;) {
      const packet = await this.nextPacket(Math.min(deadline, this.hardDeadline), "reply");
      if ("kind" in packet) return packet;
      if (packet.type === "keep-alive") continue;
      if (packet.type === "session-message") return packet.payload;
      const failure = smbFailure(
        "protocol",
        `${this.label}: a NetBIOS ${packet.type} inside an established session`,
      );
      this.fail(failure);
      return failure;
    }
  }

  close(): void {
    this.fail(smbFailure("closed", `${this.label}: the connection is closed`));
  }

  private readDeadline(): number {
    return Math.min(performance.now() + this.readTimeoutMs, this.hardDeadline);
  }

  private write(bytes: Uint8Array): SmbFailure | null {
    if (this.failure !== null) return this.failure;
    this.bytesSent += bytes.length;
    this.socket.write(bytes);
    return null;
  }

  /** The next framed packet, or the failure; one waiter at a time ("busy" otherwise). */
  private nextPacket(deadline: number, what: string): Promise<SessionPacket | SmbFailure> {
    const ready = this.queue.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== null) return Promise.resolve(this.failure);
    if (this.waiter !== null) {
      return Promise.resolve(
        smbFailure("busy", `${this.label}: a receive is already outstanding on this connection`),
      );
    }
    return new Promise((done) => {
      const timer = setTimeout(
        () => {
          this.waiter = null;
          const byBudget = deadline >= this.hardDeadline;
          this.fail(
            byBudget
              ? smbFailure(
                  "deadline",
                  `${this.label}: the per-host budget ran out awaiting ${what}`,
                )
              : smbFailure(
                  "read-timeout",
                  `${this.label}: no complete ${what} within the ${this.readTimeoutMs} ms read deadline`,
                ),
          );
          done(this.failure as SmbFailure);
        },
        Math.max(0, deadline - performance.now()),
      );
      this.waiter = () => {
        const packet = this.queue.shift();
        if (packet === undefined && this.failure === null) return;
        clearTimeout(timer);
        this.waiter = null;
        done(packet ?? (this.failure as SmbFailure));
      };
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== null) return;
    this.bytesReceived += chunk.length;
    if (this.bytesReceived > this.maxBytes) {
      this.fail(
        smbFailure(
          "byte-cap",
          `${this.label}: the peer sent more than the ${this.maxBytes}-byte cap for one connection`,
        ),
      );
      return;
    }
    const { packets, issue } = this.framer.push(chunk);
    this.queue.push(...packets);
    if (issue !== null) this.fail(smbDecodeFailure(issue, this.label));
    this.waiter?.();
  }

  private fail(failure: SmbFailure): void {
    if (this.failure !== null) return;
    this.failure = failure;
    this.options.signal?.removeEventListener("abort", this.onAbort);
    // No half-open connections: whatever went wrong, this one is finished (research §3.3).
    this.socket.destroy();
    this.waiter?.();
  }
}
