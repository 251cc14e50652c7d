/**
 * Scans started through the API run in this process, through the same job as `ringfence scan`
 * (src/jobs/scan-job.ts): the same scope rules, the same checkpoints, the same resume. The manager
 * keeps, per running scan, its abort controller and a short history of its events, so that a
 * client that subscribes late to the event stream still sees where the scan stands.
 */
import { executeScan, type ScanJobHooks, type ScanRequest } from "../jobs/scan-job.js";
import type { ScanRecord, Store } from "../store/index.js";
import { conflict } from "./problem.js";

export type ScanStreamEvent =
  | {
      event: "start";
      data: { scanId: string; engine: string; totalProbes: number; resumed: boolean };
    }
  | {
      event: "progress";
      data: { scanId: string; done: number; total: number; open: number; etaMs: number | null };
    }
  | { event: "warning"; data: { scanId: string; code: string; message: string } }
  | { event: "checks"; data: { scanId: string; hosts: number; alreadyChecked: number } }
  | { event: "host-checked"; data: { scanId: string; address: string; vulnerable: boolean } }
  | {
      event: "end";
      data: {
        scanId: string;
        status: string;
        probesDone: number;
        totalProbes: number;
        counts: Record<string, number>;
        error: string | null;
      };
    };

/** Events kept for late subscribers: the start, the latest progress and the rest up to this. */
const HISTORY_LIMIT = 200;

interface RunningScan {
  readonly controller: AbortController;
  readonly history: ScanStreamEvent[];
  readonly listeners: Set<(event: ScanStreamEvent) => void>;
  done: Promise<void>;
}

export function endEvent(scan: ScanRecord): ScanStreamEvent {
  return {
    event: "end",
    data: {
      scanId: scan.id,
      status: scan.status,
      probesDone: scan.probesDone,
      totalProbes: scan.totalProbes,
      counts: scan.counts,
      error: scan.error,
    },
  };
}

export class ScanManager {
  readonly #store: Store;
  readonly #running = new Map<string, RunningScan>();

  constructor(store: Store) {
    this.#store = store;
  }

  isRunning(scanId: string): boolean {
    return this.#running.has(scanId);
  }

  /** Starts a new scan; resolves once it is stored and running, rejects on a refused request. */
  start(request: ScanRequest, command: string): Promise<ScanRecord> {
    return this.#launch({ kind: "new", request, command });
  }

  /** Resumes an interrupted or failed scan with its stored parameters. */
  resume(scanId: string): Promise<ScanRecord> {
    if (this.#running.has(scanId)) throw conflict(`scan ${scanId} is running`);
    return this.#launch({ kind: "resume", scanId });
  }

  /** Asks a running scan to stop (it is then "interrupted" and resumable); false if not running. */
  cancel(scanId: string): boolean {
    const running = this.#running.get(scanId);
    if (running === undefined) return false;
    running.controller.abort();
    return true;
  }

  /**
   * The events so far and every later one, until "end". Undefined when the scan is not running
   * here (the caller then reports its stored state).
   */
  subscribe(
    scanId: string,
    listener: (event: ScanStreamEvent) => void,
  ): { history: readonly ScanStreamEvent[]; unsubscribe: () => void } | undefined {
    const running = this.#running.get(scanId);
    if (running === undefined) return undefined;
    running.listeners.add(listener);
    return {
      history: [...running.history],
      unsubscribe: () => running.listeners.delete(listener),
    };
  }

  /** Interrupts every running scan and waits until each has stored its checkpoint. */
  async stopAll(): Promise<void> {
    const all = [...this.#running.values()];
    for (const running of all) running.controller.abort();
    await Promise.all(all.map((running) => running.done));
  }

  /** Waits for a running scan to end (tests, shutdown); resolves at once if it is not running. */
  async settled(scanId: string): Promise<void> {
    await this.#running.get(scanId)?.done;
  }

  #launch(
    input:
      { kind: "new"; request: ScanRequest; command: string } | { kind: "resume"; scanId: string },
  ): Promise<ScanRecord> {
    const controller = new AbortController();
    const history: ScanStreamEvent[] = [];
    const listeners = new Set<(event: ScanStreamEvent) => void>();
    let scanId: string | undefined;
    const emit = (event: ScanStreamEvent) => {
      // Progress replaces the previous progress in the history: late subscribers need only the
      // latest one, and a long scan must not grow the history without bound.
      const last = history.at(-1);
      if (event.event === "progress" && last?.event === "progress")
        history[history.length - 1] = event;
      else if (history.length < HISTORY_LIMIT) history.push(event);
      for (const listener of listeners) listener(event);
    };
    return new Promise<ScanRecord>((resolve, reject) => {
      let started = false;
      const hooks: ScanJobHooks = {
        onStart: (info) => {
          scanId = info.scan.id;
          this.#running.set(scanId, { controller, history, listeners, done });
          started = true;
          emit({
            event: "start",
            data: {
              scanId,
              engine: info.engine,
              totalProbes: info.scan.totalProbes,
              resumed: info.resumed,
            },
          });
          resolve(info.scan);
        },
        onProgress: (p) =>
          emit({
            event: "progress",
            data: {
              scanId: scanId ?? "",
              done: p.done,
              total: p.total,
              open: p.open,
              etaMs: p.etaMs,
            },
          }),
        onWarning: (w) =>
          emit({
            event: "warning",
            data: { scanId: scanId ?? "", code: w.code, message: w.message },
          }),
        onChecksStart: (info) =>
          emit({
            event: "checks",
            data: { scanId: scanId ?? "", hosts: info.hosts, alreadyChecked: info.alreadyChecked },
          }),
        onHostChecked: (report) =>
          emit({
            event: "host-checked",
            data: {
              scanId: scanId ?? "",
              address: report.address,
              vulnerable: report.results.some((r) => r.verdict === "VULNERABLE"),
            },
          }),
      };
      const done: Promise<void> = executeScan(this.#store, input, hooks, controller.signal)
        .then(
          (result) => {
            emit(endEvent(result.scan));
          },
          async (error: unknown) => {
            if (!started) {
              reject(error);
              return;
            }
            // The job stored the failure; the stream reports the scan as stored.
            const scan = scanId === undefined ? undefined : await this.#store.getScan(scanId);
            if (scan !== undefined) emit(endEvent(scan));
          },
        )
        .catch(() => undefined)
        .finally(() => {
          if (scanId !== undefined) this.#running.delete(scanId);
          listeners.clear();
        });
    });
  }
}
