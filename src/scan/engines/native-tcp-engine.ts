import { RingfenceError } from "../../errors.js";
import type { NativeAddon, NativeBatchStats } from "./native-addon.js";
import {
  REASONS,
  type EngineIo,
  type EngineOptions,
  type EngineStats,
  type TcpProbeEngine,
  type TcpProbeResult,
} from "./probe-engine.js";

const STATES = ["open", "closed", "filtered"] as const;
/** Layout of one result written by native/probe-engine.c (result_t). */
const RESULT_BYTES = 16;

/** The epoll probe loop of native/probe-engine.c, running on its own thread. */
export class NativeTcpEngine implements TcpProbeEngine {
  readonly name: "native-syn" | "native-connect";
  readonly supportsIPv6 = false;

  constructor(
    private readonly addon: NativeAddon,
    private readonly kind: "syn" | "connect",
    private readonly options: EngineOptions,
  ) {
    this.name = kind === "syn" ? "native-syn" : "native-connect";
  }

  run(io: EngineIo, signal: AbortSignal): Promise<EngineStats> {
    const { addon } = this;
    return new Promise((resolve, reject) => {
      let ended = false;
      let failure: unknown;
      // Enough queued work that the thread never idles between two pulls.
      const chunk = Math.max(2048, Math.min(this.options.concurrency * 2, 65536));

      const feed = (): void => {
        if (ended) return;
        let probes;
        try {
          probes = io.pull(chunk);
        } catch (error) {
          // The scope guard (or the target source) refused: stop sending at once.
          failure = error;
          ended = true;
          addon.cancel(handle);
          return;
        }
        if (probes.length === 0) {
          ended = true;
          addon.end(handle);
          return;
        }
        const addrs = new Uint32Array(probes.length);
        const ports = new Uint16Array(probes.length);
        const tags = new Uint32Array(probes.length);
        for (let i = 0; i < probes.length; i++) {
          const probe = probes[i]!;
          if (probe.v4 < 0) {
            failure = new RingfenceError("RINGFENCE_ENGINE", "the native engine probes IPv4 only");
            ended = true;
            addon.cancel(handle);
            return;
          }
          addrs[i] = probe.v4;
          ports[i] = probe.port;
          tags[i] = probe.tag;
        }
        addon.push(handle, addrs, ports, tags);
      };

      const onBatch = (buffer: ArrayBuffer, stats: NativeBatchStats): void => {
        const view = new DataView(buffer);
        const count = buffer.byteLength / RESULT_BYTES;
        if (count > 0) {
          const results: TcpProbeResult[] = new Array(count);
          for (let i = 0; i < count; i++) {
            const at = i * RESULT_BYTES;
            const rtt = view.getFloat32(at + 12, true);
            results[i] = {
              tag: view.getUint32(at + 8, true),
              state: STATES[view.getUint8(at + 6)] ?? "filtered",
              reason: REASONS[view.getUint8(at + 7)] ?? "unknown",
              rttMs: rtt < 0 ? null : Math.round(rtt * 1000) / 1000,
            };
          }
          try {
            io.onResults(results);
          } catch (error) {
            failure ??= error;
            addon.cancel(handle);
          }
        }
        io.onStats(stats);
        if (stats.needInput) feed();
        if (stats.done) {
          signal.removeEventListener("abort", onAbort);
          addon.release(handle);
          if (failure !== undefined) reject(failure);
          else if (stats.error) reject(new RingfenceError("RINGFENCE_ENGINE", stats.error));
          else resolve(stats);
        }
      };

      const handle = addon.create(
        {
          syn: this.kind === "syn" ? 1 : 0,
          concurrency: this.options.concurrency,
          timeoutMs: this.options.timeoutMs,
          retries: this.options.retries,
          rate: this.options.rate,
          // A fresh secret per run: answers to an earlier run's probes never validate.
          secret: (Math.random() * 0xffffffff) >>> 0,
        },
        onBatch,
      );
      const onAbort = (): void => {
        ended = true;
        addon.cancel(handle);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort);
      feed();
    });
  }
}
