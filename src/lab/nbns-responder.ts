import dgram from "node:dgram";
import { decodeNodeStatusRequest, encodeNodeStatusResponse } from "../protocols/netbios/index.js";
import { intToIpv4, labIndex } from "./address.js";
import type { LabMode } from "./behaviour.js";
import { behaviourOf } from "./behaviour.js";
import { NBSTAT_STAMP_OFFSET } from "./lab-ruleset.js";
import type { Estate, LabHost } from "./personas.js";

/** Reply sockets kept bound (netns mode) so a burst to one host does not rebind per datagram. */
const MAX_REPLY_SOCKETS = 1_024;
const REPLY_SOCKET_IDLE_MS = 5_000;

/**
 * The lab's NetBIOS name service: answers NODE STATUS (RFC 1002 §4.2.17/18) for hosts whose
 * persona speaks NetBIOS, with the names and MAC of that host. Other queries (name query,
 * registration...) are ignored, as is anything that does not decode.
 *
 * netns mode: one wildcard socket receives for every host; the destination address comes from the
 * stamp nftables wrote into the request (see lab-ruleset.ts). The answer must come *from* that
 * address, or scanners discard it, so it is sent from a socket bound to (host address, 137) next to
 * the wildcard one (SO_REUSEADDR on both; the kernel prefers the more specific bind), kept for a few
 * seconds in a small cache.
 *
 * bind mode: one socket per NetBIOS host, bound to its address; the socket says which host it is.
 */
export class NbnsResponder {
  private readonly replySockets = new Map<
    string,
    { socket: dgram.Socket; timer: NodeJS.Timeout }
  >();
  private readonly pendingBinds = new Map<string, Promise<dgram.Socket | null>>();
  private readonly sockets: dgram.Socket[] = [];
  private closed = false;

  constructor(
    private readonly estate: Estate,
    private readonly mode: LabMode,
    private readonly tcpPorts: readonly number[],
    private readonly wirePort: number,
    private readonly log: (message: string) => void,
  ) {}

  get socketCount(): number {
    return this.sockets.length + this.replySockets.size;
  }

  /** netns mode: the one wildcard socket. */
  async listenWildcard(): Promise<void> {
    const socket = this.createSocket((msg, rinfo) => this.onStampedMessage(msg, rinfo));
    await bindSocket(socket, this.wirePort, "0.0.0.0");
    this.sockets.push(socket);
  }

  /** bind mode: one socket per NetBIOS host. */
  async listenPerHost(hosts: readonly LabHost[]): Promise<void> {
    for (const host of hosts) {
      const socket = this.createSocket((msg, rinfo) => this.answer(host, msg, rinfo, socket));
      await bindSocket(socket, this.wirePort, host.address);
      this.sockets.push(socket);
    }
  }

  close(): void {
    this.closed = true;
    for (const socket of this.sockets) socket.close();
    for (const { socket, timer } of this.replySockets.values()) {
      clearTimeout(timer);
      socket.close();
    }
    this.sockets.length = 0;
    this.replySockets.clear();
  }

  private createSocket(onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): dgram.Socket {
    // reuseAddr lets the per-host reply sockets bind next to the wildcard one.
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    socket.on("message", (msg, rinfo) => {
      try {
        onMessage(msg, rinfo);
      } catch (error) {
        this.log(`nbns: dropped a datagram from ${rinfo.address}: ${String(error)}`);
      }
    });
    // ICMP errors from scanners that already left arrive as socket errors; they are not ours to fix.
    socket.on("error", (error) => this.log(`nbns socket: ${error.message}`));
    return socket;
  }

  private onStampedMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < NBSTAT_STAMP_OFFSET + 4) return;
    const index = labIndex(intToIpv4(msg.readUInt32BE(NBSTAT_STAMP_OFFSET)));
    if (index === null || index >= this.estate.hosts) return; // not stamped by our ruleset
    msg.fill(0, NBSTAT_STAMP_OFFSET, NBSTAT_STAMP_OFFSET + 4); // restore NSCOUNT/ARCOUNT = 0
    const host = this.estate.host(index);
    void this.replySocketFor(host.address).then((socket) => {
      if (socket !== null) this.answer(host, msg, rinfo, socket);
    });
  }

  private answer(host: LabHost, msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket): void {
    if (this.closed || host.netbios === null) return;
    if (behaviourOf(host.persona, this.mode, this.tcpPorts).udp137 !== "nbstat") return;
    const request = decodeNodeStatusRequest(msg);
    if ("kind" in request) return;
    // Windows answers node status for "*" and for its own names; anything else is not for us.
    const known =
      request.name === "*" ||
      host.netbios.names.some((n) => n.name === request.name && n.suffix === request.suffix);
    if (!known || request.name === null) return;
    const response = encodeNodeStatusResponse(
      { transactionId: request.transactionId, names: host.netbios.names, mac: host.netbios.mac },
      { queryName: request.name, querySuffix: request.suffix ?? 0 },
    );
    via.send(response, rinfo.port, rinfo.address);
  }

  private replySocketFor(address: string): Promise<dgram.Socket | null> {
    const cached = this.replySockets.get(address);
    if (cached !== undefined) {
      cached.timer.refresh();
      return Promise.resolve(cached.socket);
    }
    const pending = this.pendingBinds.get(address);
    if (pending !== undefined) return pending;
    const bound = this.bindReplySocket(address);
    this.pendingBinds.set(address, bound);
    void bound.finally(() => this.pendingBinds.delete(address));
    return bound;
  }

  private async bindReplySocket(address: string): Promise<dgram.Socket | null> {
    if (this.replySockets.size >= MAX_REPLY_SOCKETS) {
      const oldest = this.replySockets.keys().next();
      if (oldest.done !== true) this.dropReplySocket(oldest.value);
    }
    // Datagrams that reach this socket instead of the wildcard one are stamped all the same.
    const socket = this.createSocket((msg, rinfo) => this.onStampedMessage(msg, rinfo));
    try {
      await bindSocket(socket, this.wirePort, address);
    } catch (error) {
      this.log(`nbns: cannot bind a reply socket to ${address}: ${(error as Error).message}`);
      socket.close();
      return null;
    }
    if (this.closed) {
      socket.close();
      return null;
    }
    const timer = setTimeout(() => this.dropReplySocket(address), REPLY_SOCKET_IDLE_MS);
    timer.unref();
    this.replySockets.set(address, { socket, timer });
    return socket;
  }

  private dropReplySocket(address: string): void {
    const entry = this.replySockets.get(address);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    entry.socket.close();
    this.replySockets.delete(address);
  }
}

function bindSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    socket.once("error", onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off("error", onError);
      resolve();
    });
  });
}
