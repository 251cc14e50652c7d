import net from "node:net";
import { LAB_TCP_PORTS, type LabHost } from "../../src/lab/personas.js";
import type { ConnectionHandler } from "../../src/lab/protocol-handlers.js";

/**
 * One in-process server for a (handler, host) pair on an ephemeral loopback port, the way the
 * daemon's bind mode hands connections to a handler, with a short idle timeout so a test sees the
 * lab end a connection in well under a second.
 */
export async function serveInProcess(
  handler: ConnectionHandler,
  host: LabHost,
  nominalPort: number,
  idleTimeoutMs: number,
): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => undefined);
    handler(socket, {
      host,
      nominalPort,
      wirePort: socket.localPort ?? 0,
      idleTimeoutMs,
      mode: "bind",
      tcpPorts: [...LAB_TCP_PORTS],
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, server };
}

export function closeServers(servers: readonly net.Server[]): Promise<void> {
  return Promise.all(
    servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  ).then(() => undefined);
}

/** Everything a raw connection receives, chunk by chunk, until the peer ends it. */
export class RawClient {
  readonly chunks: Buffer[] = [];
  readonly closed: Promise<void>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        for (const w of this.waiters.splice(0)) w();
        resolve();
      }),
    );
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once("error", reject);
      socket.once("connect", () => resolve(new RawClient(socket)));
    });
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /**
   * Wait until at least `bytes` bytes arrived, the peer closed, or `capMs` passed (a bound on the
   * wait, not an assertion); returns what arrived.
   */
  async atLeast(bytes: number, capMs = 5_000): Promise<Buffer> {
    const deadline = Date.now() + capMs;
    while (this.received.length < bytes && !this.socket.destroyed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (this.socket.readableEnded) break;
    }
    return this.received;
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
