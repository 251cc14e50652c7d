import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { PortState } from "../observation.js";
import { TokenBucket } from "../engines/token-bucket.js";
import type { UdpProbe } from "./udp-probes.js";

export interface UdpTask {
  readonly tag: number;
  readonly address: string;
  /** Port on the wire (lab offset applied). */
  readonly port: number;
  readonly probe: UdpProbe;
}

export interface UdpResult {
  readonly tag: number;
  readonly state: PortState;
  readonly reason: string;
  readonly rttMs: number | null;
  readonly detail?: Record<string, unknown>;
}

export interface UdpEngineOptions {
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly rate: number;
}

/**
 * One connected datagram socket per probe: connecting lets the kernel report ICMP port
 * unreachable as ECONNREFUSED on that socket, which is how "closed" is told from silence.
 */
export async function runUdpProbes(
  tasks: AsyncIterable<UdpTask> | Iterable<UdpTask>,
  options: UdpEngineOptions,
  onResult: (result: UdpResult) => void,
  signal: AbortSignal,
): Promise<{ sent: number }> {
  const bucket = new TokenBucket(options.rate);
  let sent = 0;
  const running = new Set<Promise<void>>();

  const probeOnce = (task: UdpTask, transactionId: number): Promise<UdpResult | "silent"> =>
    new Promise((resolve) => {
      const socket: Socket = createSocket(isIPv6(task.address) ? "udp6" : "udp4");
      const started = performance.now();
      let done = false;
      const finish = (value: UdpResult | "silent") => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.close();
        resolve(value);
      };
      const timer = setTimeout(() => finish("silent"), options.timeoutMs);
      const rtt = () => Math.round((performance.now() - started) * 1000) / 1000;
      socket.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "ECONNREFUSED")
          finish({ tag: task.tag, state: "closed", reason: "port-unreach", rttMs: rtt() });
        else if (error.code === "EHOSTUNREACH" || error.code === "ENETUNREACH")
          finish({ tag: task.tag, state: "filtered", reason: "host-unreach", rttMs: rtt() });
        else
          finish({ tag: task.tag, state: "filtered", reason: error.code ?? "error", rttMs: rtt() });
      });
      socket.on("message", (bytes) => {
        const detail = task.probe.parse(bytes, transactionId);
        // Anything else on the socket is ignored: only an answer to our request proves the service.
        if (detail)
          finish({ tag: task.tag, state: "open", reason: "udp-response", rttMs: rtt(), detail });
      });
      socket.connect(task.port, task.address, () => {
        sent++;
        socket.send(task.probe.request(transactionId));
      });
    });

  const runTask = async (task: UdpTask): Promise<void> => {
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      const result = await probeOnce(task, (task.tag + attempt * 7919) & 0xffff);
      if (result !== "silent") return onResult(result);
      if (signal.aborted) return;
    }
    onResult({ tag: task.tag, state: "open|filtered", reason: "no-response", rttMs: null });
  };

  for await (const task of tasks) {
    if (signal.aborted) break;
    while (running.size >= options.concurrency) await Promise.race(running);
    while (!bucket.take()) await new Promise((r) => setTimeout(r, bucket.waitMs()));
    const promise: Promise<void> = runTask(task).finally(() => running.delete(promise));
    running.add(promise);
  }
  await Promise.all(running);
  return { sent };
}
