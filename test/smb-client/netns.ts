import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { BIN, IS_ROOT, ROOT, type CliResult } from "../helpers/cli.js";
import { TSHARK, captured as capturedOn } from "../helpers/tshark.js";

/**
 * A network namespace of the test's own, with only loopback up: real SMB peers (Samba, impacket)
 * bind 127.0.0.x:445/139/137 in it without touching the machine's namespace (nmbd binds the
 * wildcard UDP 137 too, which would collide with the lab and other tests), and everything that
 * talks to them (ringfence, nmap, nmblookup, tshark) runs inside it with `ip netns exec`.
 */

export const IP = "/usr/sbin/ip";

export function missingTools(tools: readonly string[]): string | null {
  if (!IS_ROOT) return "needs root for a network namespace";
  if (!existsSync(IP)) return "iproute2 is not installed";
  const gone = tools.filter((t) => !existsSync(t));
  return gone.length > 0 ? `missing ${gone.join(", ")}` : null;
}

export class Netns {
  private readonly children: ChildProcess[] = [];

  constructor(readonly name: string) {}

  create(): void {
    this.destroy();
    execFileSync(IP, ["netns", "add", this.name]);
    execFileSync(IP, ["-n", this.name, "link", "set", "lo", "up"]);
  }

  /** Run a command inside; stdout as text (throws on a non-zero exit unless `allowFail`). */
  run(
    command: string,
    args: readonly string[],
    options: { allowFail?: boolean; timeoutMs?: number } = {},
  ): string {
    try {
      return execFileSync(IP, ["netns", "exec", this.name, command, ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: options.timeoutMs ?? 60_000,
      });
    } catch (error) {
      if (options.allowFail === true) return (error as { stdout?: string }).stdout ?? "";
      throw error;
    }
  }

  /** A long-running process inside (its own process group, killed by stopAll). */
  spawn(
    command: string,
    args: readonly string[],
    options: { stdio?: "ignore" | "pipe" } = {},
  ): ChildProcess {
    const child = spawn(IP, ["netns", "exec", this.name, command, ...args], {
      detached: true,
      stdio: options.stdio === "pipe" ? ["ignore", "pipe", "pipe"] : "ignore",
    });
    this.children.push(child);
    return child;
  }

  /** Whether something accepts TCP connections on address:port inside. */
  accepts(address: string, port: number): boolean {
    try {
      execFileSync(
        IP,
        ["netns", "exec", this.name, "bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`],
        {
          stdio: "ignore",
          timeout: 2_000,
        },
      );
      return true;
    } catch {
      return false;
    }
  }

  /** The ringfence CLI (built dist/) run inside. */
  cli(args: readonly string[], timeoutMs = 120_000): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(IP, ["netns", "exec", this.name, process.execPath, BIN, ...args], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  stopAll(): void {
    for (const child of this.children) {
      if (child.pid === undefined || child.exitCode !== null) continue;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    this.children.length = 0;
  }

  destroy(): void {
    this.stopAll();
    try {
      execFileSync(IP, ["netns", "delete", this.name], { stdio: "ignore" });
    } catch {
      // did not exist
    }
  }
}

/** tshark capturing inside the namespace into `file` while `action` runs (helpers/tshark.ts). */
export function captured<T>(
  ns: Netns,
  file: string,
  filter: string,
  action: () => Promise<T>,
): Promise<T> {
  return capturedOn(file, filter, action, (args) => ns.spawn(TSHARK, args, { stdio: "pipe" }));
}
