import cliProgress from "cli-progress";
import type { ScanProgress } from "../scan/index.js";

export type ProgressMode = "auto" | "bar" | "plain" | "json" | "none";
export const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "bar", "plain", "json", "none"];

export interface ProgressDisplay {
  start(info: { scanId: string; total: number; engine: string; resumed: boolean }): void;
  update(progress: ScanProgress): void;
  warn(code: string, message: string): void;
  /** Informational line (engine choice, lab routing). */
  note(message: string): void;
  /** The check phase after discovery: hosts checked so far. */
  checks(progress: CheckProgress): void;
  stop(): void;
}

export interface CheckProgress {
  readonly done: number;
  readonly total: number;
  readonly vulnerable: number;
  readonly elapsedMs: number;
}

function checkLine(p: CheckProgress): string {
  const rate = p.done / Math.max(0.001, p.elapsedMs / 1000);
  return `checks: ${p.done}/${p.total} hosts, ${rate.toFixed(0)} hosts/s, ${p.vulnerable} vulnerable`;
}

function seconds(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "?";
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** A live bar on a terminal, periodic plain lines in logs, JSON events for programs. */
export function createProgressDisplay(
  mode: ProgressMode,
  stream: NodeJS.WriteStream,
): ProgressDisplay {
  const resolved = mode === "auto" ? (stream.isTTY ? "bar" : "plain") : mode;
  const write = (text: string) => stream.write(text);
  switch (resolved) {
    case "bar": {
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format:
            " {bar} {percentage}% | {value}/{total} probes | {rate}/s | ETA {etaText} | open {open}",
          hideCursor: true,
          clearOnComplete: false,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      let checkBar: InstanceType<typeof cliProgress.SingleBar> | undefined;
      return {
        start(info) {
          write(`scan ${info.scanId}${info.resumed ? " (resumed)" : ""} with ${info.engine}\n`);
          bar.start(info.total, 0, { rate: 0, etaText: "?", open: 0 });
          started = true;
        },
        update(p) {
          bar.update(p.done, {
            rate: Math.round(p.probesPerSecond),
            etaText: seconds(p.etaMs),
            open: p.open,
          });
        },
        warn(_code, message) {
          // Written above the bar so it stays readable.
          if (started) bar.stop();
          write(`ringfence: warning: ${message}\n`);
          if (started) bar.start(bar.getTotal(), 0);
        },
        note(message) {
          if (!started) write(`ringfence: ${message}\n`);
        },
        checks(p) {
          if (started) bar.stop();
          started = false;
          if (checkBar === undefined) {
            checkBar = new cliProgress.SingleBar(
              {
                stream,
                format:
                  " {bar} {percentage}% | {value}/{total} hosts checked | vulnerable {vulnerable}",
                hideCursor: true,
                fps: 10,
              },
              cliProgress.Presets.shades_classic,
            );
            checkBar.start(p.total, p.done, { vulnerable: p.vulnerable });
          } else checkBar.update(p.done, { vulnerable: p.vulnerable });
          if (p.done >= p.total) {
            checkBar.stop();
            checkBar = undefined;
          }
        },
        stop() {
          if (started) bar.stop();
          started = false;
          checkBar?.stop();
          checkBar = undefined;
        },
      };
    }
    case "plain": {
      let last = 0;
      let lastCheckLine = 0;
      let latest: ScanProgress | undefined;
      const line = (p: ScanProgress) =>
        write(
          `progress: ${((p.done / Math.max(1, p.total)) * 100).toFixed(1)}% ${p.done}/${p.total} probes, ` +
            `${Math.round(p.probesPerSecond)}/s, open ${p.open}, eta ${seconds(p.etaMs)}\n`,
        );
      return {
        start(info) {
          write(
            `scan ${info.scanId}${info.resumed ? " (resumed)" : ""} started: ${info.total} probes with ${info.engine}\n`,
          );
        },
        update(p) {
          latest = p;
          const now = performance.now();
          if (now - last >= 2000) {
            last = now;
            line(p);
          }
        },
        warn(_code, message) {
          write(`ringfence: warning: ${message}\n`);
        },
        note(message) {
          write(`ringfence: ${message}\n`);
        },
        checks(p) {
          const now = performance.now();
          if (now - lastCheckLine >= 2000 || p.done >= p.total) {
            lastCheckLine = now;
            write(`${checkLine(p)}\n`);
          }
        },
        stop() {
          if (latest) line(latest);
          latest = undefined;
        },
      };
    }
    case "json":
      return {
        start(info) {
          write(JSON.stringify({ type: "start", ...info }) + "\n");
        },
        update(p) {
          write(JSON.stringify({ type: "progress", ...p }) + "\n");
        },
        warn(code, message) {
          write(JSON.stringify({ type: "warning", code, message }) + "\n");
        },
        note(message) {
          write(JSON.stringify({ type: "note", message }) + "\n");
        },
        checks(p) {
          write(JSON.stringify({ type: "check-progress", ...p }) + "\n");
        },
        stop() {},
      };
    case "none":
      return { start() {}, update() {}, warn() {}, note() {}, checks() {}, stop() {} };
  }
}
