import type { Socket } from "node:net";
import type { LabMode } from "./behaviour.js";
import type { LabHost } from "./personas.js";

/**
 * What the lab daemon does with an accepted TCP connection. A port without an emulator completes
 * the handshake and holds the connection; the DCE/RPC (135, 593: dcerpc-handler.ts), SMB (139,
 * 445: smb-handler.ts) and TCP 4444 (tcp4444-handler.ts) emulators register here by nominal port
 * and branch on `context.host.persona`.
 */
export interface ConnectionContext {
  readonly host: LabHost;
  /** The port as the persona knows it (135). */
  readonly nominalPort: number;
  /** The port on the wire (135 + portOffset). */
  readonly wirePort: number;
  /** How long to hold a silent connection; shorter when the daemon holds many (see daemon.ts). */
  readonly idleTimeoutMs: number;
  /** The lab's mode and port universe: what is really open on the host (behaviourOf). */
  readonly mode: LabMode;
  readonly tcpPorts: readonly number[];
}

/** Must not throw, and must eventually end or destroy the socket; the daemon guards both. */
export type ConnectionHandler = (socket: Socket, context: ConnectionContext) => void;

/** After our FIN, how long a peer that never closes keeps the descriptor. */
const LINGER_AFTER_END_MS = 1_000;

/**
 * Hold the connection like a service waiting for a request: read and discard (reading is also how a
 * scanner's RST is noticed at once), close when the peer closes or after the idle timeout. Never
 * accept-then-reset: a scanner must see a plain open port.
 */
export const holdConnection: ConnectionHandler = (socket, context) => {
  socket.setTimeout(context.idleTimeoutMs, () => {
    socket.end();
    socket.setTimeout(LINGER_AFTER_END_MS, () => socket.destroy());
  });
  socket.resume();
};

const byPort = new Map<number, ConnectionHandler>();

/** Attach a protocol emulator to a nominal port (DCE/RPC on 135/593, SMB on 139/445, 4444). */
export function registerConnectionHandler(nominalPort: number, handler: ConnectionHandler): void {
  byPort.set(nominalPort, handler);
}

export function connectionHandlerFor(nominalPort: number): ConnectionHandler {
  return byPort.get(nominalPort) ?? holdConnection;
}
