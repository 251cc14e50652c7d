import { readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { RingfenceError } from "../errors.js";
import type { LabMode } from "./behaviour.js";
import type { LabLayout } from "./personas.js";

/**
 * The state file of a running lab, `<stateDir>/<name>.json`: everything a scanner needs to use it
 * (namespace path, range, port offset) and everything `lab down` needs to stop it.
 */
export interface LabState {
  readonly format: "ringfence-lab-state/1";
  readonly name: string;
  readonly mode: LabMode;
  /** Namespace name (netns mode), e.g. "rf-lab" or "rf-lab-demo"; null in bind mode. */
  readonly netns: string | null;
  /** `/run/netns/<netns>`: what a scanner opens and setns()es into; null in bind mode. */
  readonly netnsPath: string | null;
  /** Host 0's address; host i is base + i. */
  readonly base: string;
  readonly hosts: number;
  readonly seed: string;
  /** How hosts got personas: seeded by weight ("estate") or one per persona ("catalogue"). */
  readonly layout: LabLayout;
  /** Added to every nominal port on the wire (bind mode: 20000 by default, so 135 → 20135). */
  readonly portOffset: number;
  /** The port universe, nominal numbers; on the wire each is `port + portOffset`. */
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
  /** The lab daemon (the cluster primary when it has accept workers). */
  readonly pid: number;
  readonly groundTruthFile: string;
  readonly logFile: string;
  readonly startedAt: string;
  /** The lab's addresses as a scanner target: CIDR when hosts is a power of two, else "a-b". */
  readonly range: string;
  readonly timings: {
    /** `nft -f` of the lab ruleset inside the namespace (netns mode). */
    readonly nftLoadMs: number | null;
    /** From spawning the daemon to all sockets bound. */
    readonly daemonReadyMs: number;
    readonly totalMs: number;
  };
  /** The daemon's resident set when it became ready. */
  readonly daemonRssBytes: number;
}

const stateSchema = z.object({
  format: z.literal("ringfence-lab-state/1"),
  name: z.string(),
  mode: z.enum(["netns", "bind"]),
  netns: z.string().nullable(),
  netnsPath: z.string().nullable(),
  base: z.string(),
  hosts: z.number().int(),
  seed: z.string(),
  // State files of labs started before layouts existed are estates.
  layout: z.enum(["estate", "catalogue"] satisfies LabLayout[]).default("estate"),
  portOffset: z.number().int(),
  tcpPorts: z.array(z.number().int()),
  udpPorts: z.array(z.number().int()),
  pid: z.number().int(),
  groundTruthFile: z.string(),
  logFile: z.string(),
  startedAt: z.string(),
  range: z.string(),
  timings: z.object({
    nftLoadMs: z.number().nullable(),
    daemonReadyMs: z.number(),
    totalMs: z.number(),
  }),
  daemonRssBytes: z.number(),
});

export const DEFAULT_LAB_NAME = "default";
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function checkLabName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new RingfenceError("RINGFENCE_LAB", `invalid lab name ${JSON.stringify(name)}`, {
      hint: "use 1-32 lowercase letters, digits and dashes, starting with a letter or digit",
    });
  }
  return name;
}

/** "rf-lab" for the default lab, "rf-lab-<name>" otherwise. */
export function netnsNameFor(name: string): string {
  return name === DEFAULT_LAB_NAME ? "rf-lab" : `rf-lab-${name}`;
}

export function defaultStateDir(): string {
  const fromEnv = process.env["RINGFENCE_LAB_DIR"];
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : join(homedir(), ".ringfence", "lab");
}

/** Every file a lab owns in its state directory. */
export function labFiles(stateDir: string, name: string) {
  // Absolute: the daemon runs with another working directory (and, in netns mode, elsewhere).
  const base = join(resolve(stateDir), name);
  return {
    state: `${base}.json`,
    groundTruth: `${base}.ground-truth.json`,
    daemonConfig: `${base}.daemon.json`,
    ready: `${base}.ready.json`,
    ruleset: `${base}.nft`,
    log: `${base}.log`,
    lock: `${base}.lock`,
    // `lab patch`: persona overrides the daemon re-reads on SIGHUP, and its acknowledgement.
    overrides: `${base}.overrides.json`,
    overridesAck: `${base}.overrides-ack.json`,
  };
}

export async function readLabState(file: string): Promise<LabState | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RingfenceError("RINGFENCE_LAB", `cannot read lab state ${file}`, { cause: error });
  }
  const parsed = stateSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    throw new RingfenceError("RINGFENCE_LAB", `lab state ${file} is damaged`, {
      hint: "run `ringfence lab down` for this lab to clean up, then `lab up` again",
    });
  }
  return parsed.data;
}

export async function writeLabState(file: string, state: LabState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, file);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
