import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PortState, ProbeObservation, Protocol } from "../../src/scan/observation.js";

/** A fresh directory per test; removed by the returned cleanup. */
export function tempDirectory(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), "ringfence-store-"));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** sha256 of a file's bytes, or "absent". */
export function fileHash(path: string): string {
  if (!existsSync(path)) return "absent";
  if (statSync(path).isDirectory()) return "directory";
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The directory listing and every file's hash: "unchanged" means this is equal before and after. */
export function directorySnapshot(directory: string): Record<string, string> {
  const snapshot: Record<string, string> = {};
  for (const name of readdirSync(directory).sort())
    snapshot[name] = fileHash(join(directory, name));
  return snapshot;
}

export function probe(
  address: string,
  port: number,
  state: PortState,
  extra: Partial<ProbeObservation> & { protocol?: Protocol } = {},
): ProbeObservation {
  const reasons: Record<PortState, string> = {
    open: "syn-ack",
    closed: "reset",
    filtered: "no-response",
    "open|filtered": "no-response",
  };
  return {
    address,
    protocol: extra.protocol ?? "tcp",
    port,
    state,
    reason: extra.reason ?? reasons[state],
    rttMs: extra.rttMs ?? (state === "open" || state === "closed" ? 1.25 : null),
    ...(extra.hostnames === undefined ? {} : { hostnames: extra.hostnames }),
    ...(extra.detail === undefined ? {} : { detail: extra.detail }),
  };
}
