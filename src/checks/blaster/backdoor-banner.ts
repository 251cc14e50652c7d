import { Socket } from "node:net";
import type { Scope } from "../../scope/index.js";
import type { CheckResult } from "../types.js";

/**
 * The Blaster backdoor indicator (research §4.1): the exploit Blaster used binds cmd.exe to TCP
 * 4444 (CERT CA-2003-19: "a backdoor, which is in some cases 4444/TCP"). A listener there that
 * greets with a Windows command-shell banner is evidence of compromise by some DCOM exploit; its
 * absence proves nothing (Graham: the port is open only while the worm spreads). We only read:
 * not one byte is ever written to the socket, so nothing can reach the shell.
 */

export const BLASTER_CHECK_ID = "blaster-backdoor-4444";
const MAX_BANNER_BYTES = 2048;

export interface BannerRead {
  readonly text: string;
  readonly bytes: number;
  /** Why reading stopped. */
  readonly ended: "prompt" | "peer-closed" | "byte-cap" | "timeout";
}

export type BannerFailure = {
  readonly kind: "failure";
  readonly code: string;
  readonly message: string;
};

/** cmd.exe's greeting (`Microsoft Windows XP [Version 5.1.2600]`) and prompt (`C:\WINDOWS\system32>`). */
const GREETING = /Microsoft Windows(?: [A-Za-z0-9 ]+)? \[Version (\d+\.\d+(?:\.\d+)*)\]/;
const PROMPT = /(?:^|[\r\n])([A-Za-z]:\\[^\r\n<>|]*)>\s*$/;

export interface BannerClassification {
  readonly shell: boolean;
  readonly greeting: string | null;
  readonly version: string | null;
  readonly prompt: string | null;
}

/** Pure: does this text look like a Windows command shell greeting us? */
export function classifyBanner(text: string): BannerClassification {
  const greeting = GREETING.exec(text);
  const prompt = PROMPT.exec(text);
  return {
    // A prompt alone is enough (a shell spawned with /Q or after `cls` has no greeting).
    shell: prompt !== null,
    greeting: greeting?.[0] ?? null,
    version: greeting?.[1] ?? null,
    prompt: prompt?.[1] ?? null,
  };
}

/** Printable, bounded: the banner as evidence, never as terminal control sequences. */
export function printableBanner(text: string, max = 200): string {
  const cleaned = text
    .replace(/\r\n/g, "\\n")
    .replace(/[^\x20-\x7e\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}

/** Connect, read what the peer says unprompted, close. Never writes. */
export async function readBanner(
  address: string,
  port: number,
  scope: Scope,
  timeouts: { readonly connectMs: number; readonly readMs: number },
  signal?: AbortSignal,
): Promise<BannerRead | BannerFailure> {
  if (!scope.allows(address)) {
    return {
      kind: "failure",
      code: "scope-violation",
      message: `${address} is outside the authorized scope`,
    };
  }
  return new Promise((resolve) => {
    const socket = new Socket();
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (result: BannerRead | BannerFailure): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", interrupted);
      socket.destroy();
      resolve(result);
    };
    const interrupted = () =>
      finish({ kind: "failure", code: "interrupted", message: "interrupted" });
    const done = (ended: BannerRead["ended"]): void => {
      const text = Buffer.concat(chunks).toString("latin1");
      finish({ text, bytes: received, ended });
    };
    let timer = setTimeout(
      () =>
        finish({
          kind: "failure",
          code: "connect-timeout",
          message: `no connection to ${address}:${port} within ${timeouts.connectMs} ms`,
        }),
      timeouts.connectMs,
    );
    if (signal?.aborted === true) return interrupted();
    signal?.addEventListener("abort", interrupted, { once: true });
    socket.once("connect", () => {
      clearTimeout(timer);
      timer = setTimeout(() => done("timeout"), timeouts.readMs);
    });
    socket.on("data", (chunk: Buffer) => {
      const room = MAX_BANNER_BYTES - received;
      chunks.push(chunk.subarray(0, room));
      received += Math.min(chunk.length, room);
      if (received >= MAX_BANNER_BYTES) return done("byte-cap");
      if (classifyBanner(Buffer.concat(chunks).toString("latin1")).shell) done("prompt");
    });
    socket.once("end", () => done("peer-closed"));
    socket.once("error", (error: NodeJS.ErrnoException) =>
      settled
        ? undefined
        : received > 0
          ? done("peer-closed")
          : finish({
              kind: "failure",
              code: error.code === "ECONNREFUSED" ? "connection-refused" : "connection-error",
              message: `${address}:${port}: ${error.message}`,
            }),
    );
    socket.connect({ host: address, port });
  });
}

export async function runBlasterCheck(
  address: string,
  wirePort: number,
  scope: Scope,
  timeouts: { readonly connectMs: number; readonly readMs: number },
  signal?: AbortSignal,
): Promise<CheckResult> {
  const advisories = ["blaster-backdoor"];
  const read = await readBanner(address, wirePort, scope, timeouts, signal);
  if ("kind" in read) {
    return {
      checkId: BLASTER_CHECK_ID,
      advisories,
      verdict: "UNKNOWN",
      reason: { code: read.code, message: read.message },
      evidence: [
        { step: "connect TCP 4444 and read", connection: 1, outcome: `failed: ${read.code}` },
      ],
    };
  }
  const found = classifyBanner(read.text);
  const evidence = [
    {
      step: "connect TCP 4444 and read (nothing sent)",
      connection: 1,
      outcome: `${read.bytes} bytes, ${read.ended}`,
      details: {
        banner: printableBanner(read.text),
        ...(found.version !== null ? { windowsVersion: found.version } : {}),
        ...(found.prompt !== null ? { prompt: found.prompt } : {}),
      },
    },
  ];
  if (found.shell) {
    return {
      checkId: BLASTER_CHECK_ID,
      advisories,
      verdict: "VULNERABLE",
      reason: {
        code: "cmd-shell-banner",
        message: `TCP 4444 greets with a Windows command shell (${found.greeting ?? `prompt ${found.prompt ?? ""}`}): compromised by a DCOM exploit such as Blaster; isolate the host`,
      },
      evidence,
    };
  }
  return {
    checkId: BLASTER_CHECK_ID,
    advisories,
    verdict: "NOT_VULNERABLE",
    reason:
      read.bytes === 0
        ? {
            code: "silent",
            message: `TCP 4444 is open but said nothing in ${timeouts.readMs} ms: no shell banner (absence proves nothing)`,
          }
        : {
            code: "other-banner",
            message: `TCP 4444 answers, but not with a command shell: "${printableBanner(read.text, 60)}"`,
          },
    evidence,
  };
}
