import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The C addon in native/probe-engine.c, built by node-gyp at install time. */
export interface NativeAddon {
  create(
    options: {
      syn: number;
      concurrency: number;
      timeoutMs: number;
      retries: number;
      rate: number;
      sourcePortBase?: number;
      secret?: number;
    },
    onBatch: (results: ArrayBuffer, stats: NativeBatchStats) => void,
  ): NativeHandle;
  push(handle: NativeHandle, addrs: Uint32Array, ports: Uint16Array, tags: Uint32Array): void;
  end(handle: NativeHandle): void;
  cancel(handle: NativeHandle): void;
  release(handle: NativeHandle): void;
  joinNetns(path: string): void;
  limits(): { openFilesSoft: number; openFilesHard: number; rawSockets: boolean };
  raiseOpenFileLimit(): number;
}

export type NativeHandle = { readonly __brand: "native-engine" };

export interface NativeBatchStats {
  sent: number;
  retries: number;
  inFlight: number;
  queued: number;
  concurrencyLimit: number;
  fdLimitHits: number;
  portLimitHits: number;
  done: boolean;
  needInput: boolean;
  error?: string;
}

let cached: NativeAddon | null | undefined;
let loadError: string | undefined;

function packageRoot(): string {
  // dist/scan/engines/native-addon.js or src/scan/engines/native-addon.ts -> three levels up.
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/** Loads the addon once; null when it was not built (the JavaScript engine is used instead). */
export function loadNativeAddon(): NativeAddon | null {
  if (cached !== undefined) return cached;
  const file = join(packageRoot(), "build", "Release", "probe_engine.node");
  if (process.env.RINGFENCE_NO_NATIVE === "1") {
    loadError = "disabled by RINGFENCE_NO_NATIVE=1";
    cached = null;
  } else if (!existsSync(file)) {
    loadError = `${file} is missing (run \`npm run build:native\`)`;
    cached = null;
  } else {
    try {
      cached = createRequire(import.meta.url)(file) as NativeAddon;
    } catch (error) {
      loadError = error instanceof Error ? error.message : String(error);
      cached = null;
    }
  }
  return cached;
}

export function nativeAddonLoadError(): string | undefined {
  loadNativeAddon();
  return loadError;
}
