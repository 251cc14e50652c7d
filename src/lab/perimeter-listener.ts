/**
 * The perimeter lab's hosts (src/lab/perimeter.ts): run inside the "dmz" namespace, one TCP
 * listener per (address, open port) of each host's persona and a UDP echo on 137 for the hosts
 * whose persona answers NBSTAT. argv[2]: JSON [{ address, tcp: number[], udp: number[] }].
 * Prints "ready" once everything is bound; runs until killed (`ringfence lab down`).
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

interface HostSpec {
  readonly address: string;
  readonly tcp: readonly number[];
  readonly udp: readonly number[];
}

const hosts = JSON.parse(process.argv[2] ?? "[]") as HostSpec[];
const pending: Promise<void>[] = [];
for (const host of hosts) {
  for (const port of host.tcp) {
    const server = createServer((socket) => {
      socket.on("error", () => undefined);
      socket.end();
    });
    pending.push(
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host.address, () => resolve());
      }),
    );
  }
  for (const port of host.udp) {
    const socket = createSocket("udp4");
    socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
    pending.push(
      new Promise((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, host.address, () => resolve());
      }),
    );
  }
}
Promise.all(pending).then(
  () => process.stdout.write("ready\n"),
  (error: Error) => {
    process.stderr.write(`perimeter listener: ${error.message}\n`);
    process.exit(1);
  },
);
