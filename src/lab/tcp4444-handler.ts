import {
  holdConnection,
  registerConnectionHandler,
  type ConnectionHandler,
} from "./protocol-handlers.js";

/**
 * TCP 4444 (research §4.1): Blaster's exploit leaves a cmd.exe bound to this port, and the only
 * safe remote indicator is its banner, read on connect without sending anything (research §4.1
 * [R]: "Only read the banner; never send input"). The lab's blaster-* personas print the console
 * banner of their Windows version; linux-dev-4444 prints another service's banner so a check has
 * a negative case. Nothing is ever executed: input is read and discarded (so a peer's close or
 * reset is noticed) and the connection is held until the idle timeout, like every other port.
 */
export const serveTcp4444: ConnectionHandler = (socket, context) => {
  const service = context.host.persona.tcp4444;
  if (service !== null) socket.write(service.banner, "latin1");
  holdConnection(socket, context);
};

/** Attach to the daemon's nominal-port hook (protocol-handlers.ts). */
export function registerTcp4444Handler(): void {
  registerConnectionHandler(4444, serveTcp4444);
}
