import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { waitFor } from "./net.js";

export const TSHARK = "/usr/bin/tshark";

/**
 * tshark -T fields over a capture file: one list of fields per matching packet, all occurrences
 * of a field comma-joined. `decodeAs` adds `-d` rules (e.g. "tcp.port==135,dcerpc").
 */
export function tsharkFields(
  file: string,
  filter: string,
  fields: readonly string[],
  decodeAs: readonly string[] = [],
): string[][] {
  const out = execFileSync(
    TSHARK,
    [
      "-r",
      file,
      ...decodeAs.flatMap((d) => ["-d", d]),
      "-Y",
      filter,
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "separator=\t",
      ...fields.flatMap((f) => ["-e", f]),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  return out
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.split("\t"));
}

/** Starts tshark with `args`, detached (its own process group) and with stderr piped. */
export type TsharkLauncher = (args: readonly string[]) => ChildProcess;

const onHost: TsharkLauncher = (args) =>
  spawn(TSHARK, args, { detached: true, stdio: ["ignore", "ignore", "pipe"] });

/**
 * Runs `action` while tshark records loopback traffic matching the capture `filter` into `file`;
 * stopped (SIGINT to its process group) after a short grace period so the last segments are
 * written. `launch` starts tshark somewhere else (a network namespace).
 */
export async function captured<T>(
  file: string,
  filter: string,
  action: () => Promise<T>,
  launch: TsharkLauncher = onHost,
): Promise<T> {
  const tshark = launch(["-i", "lo", "-f", filter, "-w", file]);
  let err = "";
  tshark.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  await waitFor(() => err.includes("Capturing on"), "tshark to start capturing");
  const result = await action();
  await new Promise((r) => setTimeout(r, 500));
  const exited = new Promise((r) => tshark.once("exit", r));
  if (tshark.pid !== undefined) process.kill(-tshark.pid, "SIGINT");
  await exited;
  return result;
}
