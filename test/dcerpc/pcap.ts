/**
 * A minimal libpcap writer for dissector tests: wraps TCP payloads in fake Ethernet/IPv4/TCP
 * headers with consistent sequence numbers so Wireshark reassembles the stream as it would a
 * capture. Timestamps are synthetic (no clock): packet i is at i milliseconds.
 */

export interface Endpoint {
  readonly ip: readonly [number, number, number, number];
  readonly port: number;
}

export interface Segment {
  readonly fromClient: boolean;
  readonly payload: Uint8Array;
}

const PCAP_MAGIC = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;

/** One TCP connection: handshake, then each segment as its own PSH|ACK packet. */
export function tcpConversation(
  client: Endpoint,
  server: Endpoint,
  segments: readonly Segment[],
): Uint8Array[] {
  let clientSeq = 1000;
  let serverSeq = 5000;
  const frames: Uint8Array[] = [];
  frames.push(frame(client, server, clientSeq, 0, TCP_SYN, new Uint8Array()));
  frames.push(frame(server, client, serverSeq, clientSeq + 1, TCP_SYN | TCP_ACK, new Uint8Array()));
  clientSeq += 1;
  serverSeq += 1;
  frames.push(frame(client, server, clientSeq, serverSeq, TCP_ACK, new Uint8Array()));
  for (const segment of segments) {
    if (segment.fromClient) {
      frames.push(frame(client, server, clientSeq, serverSeq, TCP_PSH | TCP_ACK, segment.payload));
      clientSeq += segment.payload.length;
    } else {
      frames.push(frame(server, client, serverSeq, clientSeq, TCP_PSH | TCP_ACK, segment.payload));
      serverSeq += segment.payload.length;
    }
  }
  return frames;
}

/** Ethernet II + IPv4 (no options) + TCP (no options) + payload. */
function frame(
  from: Endpoint,
  to: Endpoint,
  seq: number,
  ack: number,
  flags: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(14 + 20 + 20 + payload.length);
  const view = new DataView(out.buffer);
  out.set([0x02, 0, 0, 0, 0, to.ip[3]], 0); // locally administered MACs
  out.set([0x02, 0, 0, 0, 0, from.ip[3]], 6);
  view.setUint16(12, 0x0800);
  // IPv4
  view.setUint8(14, 0x45);
  view.setUint16(16, 20 + 20 + payload.length);
  view.setUint16(20, 0x4000); // DF
  view.setUint8(22, 64);
  view.setUint8(23, 6);
  out.set(from.ip, 26);
  out.set(to.ip, 30);
  view.setUint16(24, ipChecksum(out.subarray(14, 34)));
  // TCP; checksum left 0 (Wireshark does not verify it by default).
  view.setUint16(34, from.port);
  view.setUint16(36, to.port);
  view.setUint32(38, seq >>> 0);
  view.setUint32(42, ack >>> 0);
  view.setUint8(46, 5 << 4);
  view.setUint8(47, flags);
  view.setUint16(48, 0xffff);
  out.set(payload, 54);
  return out;
}

function ipChecksum(header: Uint8Array): number {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += view.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A libpcap file (microsecond timestamps, Ethernet link type) holding `frames` in order. */
export function pcapFile(frames: readonly Uint8Array[]): Uint8Array {
  const total = 24 + frames.reduce((sum, f) => sum + 16 + f.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, PCAP_MAGIC, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, LINKTYPE_ETHERNET, true);
  let at = 24;
  frames.forEach((f, i) => {
    view.setUint32(at, 1_700_000_000, true);
    view.setUint32(at + 4, i * 1000, true);
    view.setUint32(at + 8, f.length, true);
    view.setUint32(at + 12, f.length, true);
    out.set(f, at + 16);
    at += 16 + f.length;
  });
  return out;
}
