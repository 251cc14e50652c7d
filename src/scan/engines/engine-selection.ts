import { readFileSync } from "node:fs";
import { RingfenceError } from "../../errors.js";
import { JsTcpEngine } from "./js-tcp-engine.js";
import { loadNativeAddon, nativeAddonLoadError } from "./native-addon.js";
import { NativeTcpEngine } from "./native-tcp-engine.js";
import type { TcpProbeEngine } from "./probe-engine.js";

export type EngineChoice = "auto" | "syn" | "connect" | "js";
export const ENGINE_CHOICES: readonly EngineChoice[] = ["auto", "syn", "connect", "js"];

export interface EngineSelection {
  readonly engine: TcpProbeEngine;
  readonly concurrency: number;
  /** Why this engine and this window, for the user (shown with --verbose and in warnings). */
  readonly notes: readonly string[];
  /** Set when a limit of the machine caps the window below what was asked. */
  readonly limitWarning?: string;
}

/** Sockets kept free for the store, stdio, UDP probes and Node itself. */
const FD_RESERVE = 512;

function openFileLimits(): { soft: number; hard: number } {
  const addon = loadNativeAddon();
  if (addon) {
    const soft = addon.raiseOpenFileLimit();
    return { soft, hard: addon.limits().openFilesHard };
  }
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [soft, hard] = (line?.match(/\d+/g) ?? []).map(Number);
    if (soft && hard) return { soft, hard };
  } catch {
    // not Linux: assume a small default
  }
  return { soft: 1024, hard: 1024 };
}

/**
 * Picks the probe loop: raw SYN when privileged (as nmap picks -sS for root), else the native
 * connect loop, else Node sockets (IPv6 targets, or no native build).
 */
export function selectEngine(
  choice: EngineChoice,
  wanted: {
    hasIPv6: boolean;
    concurrency?: number;
    timeoutMs: number;
    retries: number;
    rate: number;
  },
): EngineSelection {
  const addon = loadNativeAddon();
  const notes: string[] = [];
  const base = { timeoutMs: wanted.timeoutMs, retries: wanted.retries, rate: wanted.rate };
  const needsNative = choice === "syn" || choice === "connect";
  if (needsNative && !addon && !(choice === "connect" && wanted.hasIPv6))
    throw new RingfenceError(
      "RINGFENCE_ENGINE",
      `the native probe engine is not available: ${nativeAddonLoadError()}`,
      { hint: "run `npm run build:native`, or use --engine js" },
    );
  const raw = addon?.limits().rawSockets ?? false;
  if (choice === "syn" && wanted.hasIPv6)
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      "SYN probes are IPv4-only; use --engine connect for IPv6 targets",
    );
  if (choice === "syn" && !raw)
    throw new RingfenceError(
      "RINGFENCE_NEEDS_PRIVILEGE",
      "SYN probes need raw sockets (CAP_NET_RAW)",
      { hint: "run as root or grant CAP_NET_RAW, or use --engine connect" },
    );

  if (addon && !wanted.hasIPv6 && (choice === "syn" || (choice === "auto" && raw))) {
    // No file descriptor per probe: the window is bounded by memory and the rate only.
    const concurrency = wanted.concurrency ?? 16384;
    notes.push("raw SYN probes (privileged); no connection is completed on targets");
    return {
      engine: new NativeTcpEngine(addon, "syn", { ...base, concurrency }),
      concurrency,
      notes,
    };
  }

  const fds = openFileLimits();
  const fdCap = Math.max(16, fds.soft - FD_RESERVE);
  const asked = wanted.concurrency ?? 4096;
  const concurrency = Math.min(asked, fdCap);
  const limitWarning =
    concurrency < asked
      ? `open-file limit ${fds.soft} (hard ${fds.hard}) caps concurrent connects at ${concurrency}; raise it with \`ulimit -n ${Math.min(fds.hard, asked + FD_RESERVE)}\`` +
        (fds.soft >= fds.hard ? " after raising the hard limit (needs CAP_SYS_RESOURCE)" : "")
      : undefined;
  if (addon && !wanted.hasIPv6 && choice !== "js") {
    if (choice === "auto") notes.push("connect probes (no raw-socket privilege)");
    return {
      engine: new NativeTcpEngine(addon, "connect", { ...base, concurrency }),
      concurrency,
      notes,
      ...(limitWarning ? { limitWarning } : {}),
    };
  }
  if (choice !== "js")
    notes.push(
      wanted.hasIPv6
        ? "IPv6 targets: using the JavaScript connect engine"
        : `native engine unavailable (${nativeAddonLoadError()}): using the JavaScript connect engine`,
    );
  return {
    engine: new JsTcpEngine({ ...base, concurrency }),
    concurrency,
    notes,
    ...(limitWarning ? { limitWarning } : {}),
  };
}
