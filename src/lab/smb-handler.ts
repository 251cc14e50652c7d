import type { Socket } from "node:net";
import {
  NEGATIVE_SESSION_ERROR,
  SMBSERVER_NAME,
  SMBSERVER_SUFFIX,
  SessionFramer,
  encodeSessionMessage,
  encodeSessionPacket,
  type SessionPacket,
  type SessionTransport,
} from "../protocols/netbios/index.js";
import { sniffSmbProtocol } from "../protocols/smb/index.js";
import { serveHostileSmb } from "./hostile-smb.js";
import {
  holdConnection,
  registerConnectionHandler,
  type ConnectionContext,
  type ConnectionHandler,
} from "./protocol-handlers.js";
import type { SmbServerProfile } from "./smb-profiles.js";
import { SMB_LIMITS, smbServerFor, type SmbReply, type SmbServer } from "./smb-server.js";
import { Smb1Server } from "./smb1-server.js";
import { Smb2Server } from "./smb2-server.js";

/**
 * The lab's SMB server on TCP 445 (direct TCP, MS-SMB2 §2.1) and 139 (NetBIOS session service,
 * RFC 1002 §4.3), per persona (Persona.smb, smb-profiles.ts): the session framing here, SMB1 in
 * smb1-server.ts, SMB2/3 in smb2-server.ts, named pipes into the DCE/RPC server in smb-pipes.ts,
 * hostile peers in hostile-smb.ts.
 *
 * On 139 the first packet must be a SESSION REQUEST (RFC 1002 §4.3.2). The called name
 * `*SMBSERVER<20>` (MS-CIFS §2.1.1.1, research §2.3 step 1) or the host's computer name with
 * suffix <20> gets a POSITIVE SESSION RESPONSE; any other name a NEGATIVE SESSION RESPONSE
 * 0x82 "called name not present", what Windows 2003 answers a client that calls it by its
 * address (smbclient: "session request … failed (Called name not present)"), then the close.
 * Windows 9x answers its own name only; Samba any name (smb-profiles.ts calledNames).
 *
 * Costs: as the DCE/RPC emulation, nothing is allocated until the peer sends a byte (a port scan
 * pays for one `data` listener and the idle timer); the framer refuses messages above
 * SMB_LIMITS.messageBytes before allocating; an incomplete frame must complete within one idle
 * period; a connection is closed after SMB_LIMITS.messages messages; a client that does not read
 * stops being read (backpressure); every pipe's RPC association (and its timer) is disposed with
 * the connection.
 */

/** After our FIN, how long a peer that never closes keeps the descriptor (as holdConnection). */
const LINGER_AFTER_END_MS = 1_000;

export function registerSmbHandlers(): void {
  registerConnectionHandler(445, serveSmbDirect);
  registerConnectionHandler(139, serveSmbNetbios);
}

export const serveSmbDirect: ConnectionHandler = (socket, context) =>
  serveSmb(socket, context, "direct-tcp");

export const serveSmbNetbios: ConnectionHandler = (socket, context) =>
  serveSmb(socket, context, "netbios");

function serveSmb(socket: Socket, context: ConnectionContext, transport: SessionTransport): void {
  const profile = context.host.persona.smb;
  if (profile === null) {
    holdConnection(socket, context);
    return;
  }
  if (profile.kind === "hostile") {
    serveHostileSmb(socket, context, profile.behaviour, transport);
    return;
  }
  socket.setTimeout(context.idleTimeoutMs, () => endSocket(socket));
  socket.once("data", (first: Buffer) => {
    let connection: SmbConnection;
    try {
      connection = new SmbConnection(socket, context, profile, transport);
    } catch {
      // An event handler must never throw: it would take the daemon down, not one connection.
      socket.destroy();
      return;
    }
    socket.once("close", () => connection.dispose());
    connection.receive(first);
    socket.on("data", (chunk: Buffer) => connection.receive(chunk));
  });
}

function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.setTimeout(LINGER_AFTER_END_MS, () => socket.destroy());
}

class SmbConnection {
  private readonly framer: SessionFramer;
  private readonly server: SmbServer;
  private readonly smb2: Smb2Server;
  private readonly smb1: Smb1Server;
  /** TCP 139 before a positive session response carries nothing but a session request. */
  private sessionEstablished: boolean;
  /** Which protocol the connection negotiated; a message of the other one ends it. */
  private protocol: "smb1" | "smb2" | null = null;
  private messages = 0;
  private closed = false;
  private deadline: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly context: ConnectionContext,
    profile: SmbServerProfile,
    private readonly transport: SessionTransport,
  ) {
    this.framer = new SessionFramer({ transport, maxMessageLength: SMB_LIMITS.messageBytes });
    this.server = smbServerFor(context, profile);
    this.smb2 = new Smb2Server(this.server);
    this.smb1 = new Smb1Server(this.server, this.smb2);
    this.sessionEstablished = transport === "direct-tcp";
  }

  receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      const { packets, issue } = this.framer.push(chunk);
      for (const packet of packets) {
        if (this.closed) return;
        this.onPacket(packet);
      }
      if (issue !== null) return this.close();
      this.armDeadline();
    } catch {
      // Defence in depth: codecs return issues rather than throw, but the daemon must live.
      this.close();
    }
  }

  dispose(): void {
    this.closed = true;
    this.clearDeadline();
    this.smb1.dispose();
    this.smb2.dispose();
  }

  private onPacket(packet: SessionPacket): void {
    if (packet.type === "keep-alive") return;
    if (!this.sessionEstablished) {
      if (packet.type !== "session-request") return this.close();
      if (!this.acceptsCalledName(packet.calledName, packet.calledSuffix)) {
        this.write(
          encodeSessionPacket({
            type: "negative-response",
            errorCode: NEGATIVE_SESSION_ERROR.calledNameNotPresent,
          }),
        );
        return this.close();
      }
      this.sessionEstablished = true;
      this.write(encodeSessionPacket({ type: "positive-response" }));
      return;
    }
    // Only session messages once the session is up (RFC 1002 §4.3.6).
    if (packet.type !== "session-message") return this.close();
    if (++this.messages > SMB_LIMITS.messages) return this.close();
    this.onMessage(packet.payload);
  }

  private acceptsCalledName(name: string, suffix: number): boolean {
    const own = this.server.names.computerName.toUpperCase();
    const called = name.toUpperCase();
    switch (this.server.profile.calledNames) {
      case "any":
        return true;
      case "own":
        return suffix === SMBSERVER_SUFFIX && called === own;
      case "smbserver-or-own":
        return suffix === SMBSERVER_SUFFIX && (called === SMBSERVER_NAME || called === own);
    }
  }

  private onMessage(payload: Uint8Array): void {
    const protocol = sniffSmbProtocol(payload);
    let answer: SmbReply;
    if (protocol === "smb1" && this.protocol !== "smb2") {
      answer = this.smb1.handle(payload);
      if (answer.switchToSmb2 === true) this.protocol = "smb2";
      else if (!answer.close) this.protocol = "smb1";
    } else if (protocol === "smb2" && this.protocol !== "smb1") {
      // An SMB1-only server does not know 0xFE 'SMB': it drops the connection.
      if (this.server.profile.smb2Dialects.length === 0) return this.close();
      answer = this.smb2.handle(payload);
      if (!answer.close) this.protocol = "smb2";
    } else {
      // Transform headers (we have no keys), unknown protocols, or a protocol switch mid-way.
      return this.close();
    }
    for (const response of answer.responses) {
      this.write(encodeSessionMessage(response, this.transport));
    }
    if (answer.close) this.close();
  }

  private write(bytes: Uint8Array): void {
    if (this.closed || this.socket.destroyed) return;
    // A peer that sends without reading must not grow our write buffer: stop reading until it
    // drains (the idle timeout still ends a peer that never reads).
    if (!this.socket.write(bytes) && !this.socket.isPaused()) {
      this.socket.pause();
      this.socket.once("drain", () => this.socket.resume());
    }
  }

  /** An incomplete frame must complete within one idle period (a drip cannot hold us). */
  private armDeadline(): void {
    if (this.framer.buffered === 0) {
      this.clearDeadline();
      return;
    }
    if (this.deadline !== null) return;
    this.deadline = setTimeout(() => this.close(), this.context.idleTimeoutMs);
    this.deadline.unref();
  }

  private clearDeadline(): void {
    if (this.deadline === null) return;
    clearTimeout(this.deadline);
    this.deadline = null;
  }

  private close(): void {
    if (this.closed) return;
    this.dispose();
    this.socket.removeAllListeners("data");
    endSocket(this.socket);
  }
}
