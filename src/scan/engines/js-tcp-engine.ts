import { Socket } from "node:net";
import type {
  EngineIo,
  EngineOptions,
  EngineStats,
  TcpProbe,
  TcpProbeEngine,
  TcpProbeResult,
} from "./probe-engine.js";
import { TokenBucket } from "./token-bucket.js";

/**
 * The portable engine: Node sockets, IPv4 and IPv6. Used for IPv6 targets and where the native
 * addon is not built. CPU-bound near 10k probes/s (lab-and-peers.md §5), hence the native one.
 */
export class JsTcpEngine implements TcpProbeEngine {
  readonly name = "js-connect" as const;
  readonly supportsIPv6 = true;

  constructor(private readonly options: EngineOptions) {}

  run(io: EngineIo, signal: AbortSignal): Promise<EngineStats> {
    const { concurrency, timeoutMs, retries } = this.options;
    const bucket = new TokenBucket(this.options.rate);
    const retryQueue: { probe: TcpProbe; tries: number }[] = [];
    let buffered: TcpProbe[] = [];
    let exhausted = false;
    let inFlight = 0;
    let sent = 0;
    let retried = 0;
    let fdLimitHits = 0;
    let portLimitHits = 0;
    let limit = concurrency;
    let results: TcpProbeResult[] = [];
    let failure: unknown;
    let wakeTimer: NodeJS.Timeout | undefined;
    let finished = false;

    const stats = (): EngineStats => ({
      sent,
      retries: retried,
      inFlight,
      concurrencyLimit: limit,
      fdLimitHits,
      portLimitHits,
    });

    return new Promise((resolve, reject) => {
      const flushTimer = setInterval(() => flush(), 20);
      const flush = (): void => {
        if (results.length > 0) {
          const batch = results;
          results = [];
          io.onResults(batch);
        }
        io.onStats(stats());
      };
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearInterval(flushTimer);
        if (wakeTimer) clearTimeout(wakeTimer);
        try {
          flush();
        } catch (error) {
          failure ??= error;
        }
        if (failure !== undefined) reject(failure);
        else resolve(stats());
      };

      const next = (): { probe: TcpProbe; tries: number } | undefined => {
        const retry = retryQueue.shift();
        if (retry) return retry;
        if (buffered.length === 0 && !exhausted) {
          buffered = io.pull(Math.max(256, concurrency)).reverse();
          if (buffered.length === 0) exhausted = true;
        }
        const probe = buffered.pop();
        return probe ? { probe, tries: 0 } : undefined;
      };

      const launch = (item: { probe: TcpProbe; tries: number }): void => {
        const { probe, tries } = item;
        const started = performance.now();
        const socket = new Socket();
        inFlight++;
        sent++;
        if (tries > 0) retried++;
        let settled = false;
        const settle = (state: TcpProbeResult["state"] | "retry" | "later", reason: string) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket.removeAllListeners();
          socket.on("error", () => undefined);
          // resetAndDestroy() on a socket still connecting waits for the connection to complete
          // before resetting it (Node's net.js), which for a silent host keeps the handle alive for
          // the kernel's whole SYN retry period; closing a SYN_SENT socket needs no RST anyway.
          if (socket.connecting) socket.destroy();
          else socket.resetAndDestroy();
          inFlight--;
          if (state === "retry") retryQueue.push({ probe, tries: tries + 1 });
          else if (state === "later") {
            sent--;
            retryQueue.push(item);
          } else
            results.push({
              tag: probe.tag,
              state,
              reason,
              rttMs: Math.round((performance.now() - started) * 1000) / 1000,
            });
          pump();
        };
        const timer = setTimeout(
          () => settle(tries < retries ? "retry" : "filtered", "no-response"),
          timeoutMs,
        );
        socket.once("connect", () => settle("open", "syn-ack"));
        socket.once("error", (error: NodeJS.ErrnoException) => {
          switch (error.code) {
            case "ECONNREFUSED":
              return settle("closed", "conn-refused");
            case "EHOSTUNREACH":
              return settle("filtered", "host-unreach");
            case "ENETUNREACH":
              return settle("filtered", "net-unreach");
            case "EACCES":
            case "EPERM":
              return settle("filtered", "admin-prohibited");
            case "EMFILE":
            case "ENFILE":
              fdLimitHits++;
              limit = Math.max(16, inFlight - 16);
              return settle("later", "");
            case "EADDRNOTAVAIL":
              portLimitHits++;
              return settle("later", "");
            default:
              return settle("filtered", error.code ?? "error");
          }
        });
        socket.connect({ host: probe.address, port: probe.port });
      };

      const pump = (): void => {
        if (signal.aborted || failure !== undefined) {
          if (inFlight === 0) finish();
          return;
        }
        while (inFlight < limit) {
          if (!bucket.take()) {
            if (!wakeTimer)
              wakeTimer = setTimeout(() => {
                wakeTimer = undefined;
                pump();
              }, bucket.waitMs());
            break;
          }
          let item;
          try {
            item = next();
          } catch (error) {
            failure = error;
            break;
          }
          if (!item) break;
          launch(item);
        }
        if (inFlight === 0 && (exhausted || failure !== undefined) && retryQueue.length === 0)
          finish();
      };
      signal.addEventListener("abort", () => pump(), { once: true });
      pump();
    });
  }
}
