import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { RingfenceError } from "../errors.js";
import { labIndex } from "./address.js";
import { writeGroundTruth } from "./ground-truth.js";
import { labStatus, type LabRef } from "./lab.js";
import { DEFAULT_LAB_NAME, defaultStateDir, labFiles } from "./lab-state.js";
import {
  applyOverrides,
  emptyOverrides,
  patchedVariant,
  readAckSync,
  readOverridesSync,
  writeJsonAtomicSync,
  type PatchTarget,
} from "./persona-overrides.js";
import { Estate, personaById } from "./personas.js";

export interface LabPatchOptions extends LabRef {
  /** A lab host's address. */
  readonly address: string;
  /** The patch level to switch to (default kb824146, the fix for both bulletins). */
  readonly to?: PatchTarget;
  /** How long to wait for the daemon to acknowledge (default 10 s). */
  readonly timeoutMs?: number;
}

export interface LabPatchResult {
  readonly address: string;
  readonly index: number;
  readonly from: string;
  readonly to: string;
  readonly generation: number;
}

/**
 * Switches a running lab host to its persona at another patch level (xp-sp1 → xp-sp1-patched):
 * writes the overrides file, signals the daemon (SIGHUP), waits for its acknowledgement, and
 * rewrites the ground truth so that tests and `lab` readers see the host as it now answers.
 */
export async function labPatch(options: LabPatchOptions): Promise<LabPatchResult> {
  const name = options.name ?? DEFAULT_LAB_NAME;
  const stateDir = options.stateDir ?? defaultStateDir();
  const status = await labStatus({ name, stateDir });
  if (status === null || !status.alive)
    throw new RingfenceError("RINGFENCE_LAB", `lab "${name}" is not running`, {
      hint: "start it with `ringfence lab up`",
    });
  const { state } = status;
  const index = labIndex(options.address);
  if (index === null || index >= state.hosts)
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `${options.address} is not a host of lab "${name}" (${state.range})`,
    );
  const files = labFiles(stateDir, name);
  // A daemon started before `lab patch` existed has no SIGHUP handler: the signal would kill it.
  const config = await readFile(files.daemonConfig, "utf8").catch(() => "{}");
  if (!config.includes('"overridesFile"'))
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `lab "${name}" was started by a ringfence without lab patch support`,
      { hint: "restart it (`ringfence lab down`, then `lab up`)" },
    );
  const estate = new Estate(state.seed, state.hosts, state.layout);
  const baseline = estate.personaOf.slice();
  const overrides = readOverridesSync(files.overrides) ?? emptyOverrides();
  applyOverrides(estate, baseline, overrides);
  const current = estate.persona(index);
  const to = options.to ?? "kb824146";
  const variant = patchedVariant(current, to);
  if (variant === undefined)
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `the lab has no ${to} variant of ${current.id} (${current.label}) with the same ports`,
      {
        hint: "lab patch switches Windows personas between patch levels (e.g. xp-sp1 → xp-sp1-patched)",
      },
    );
  const seeded = personaById(new Estate(state.seed, state.hosts, state.layout).persona(index).id);
  const hosts = { ...overrides.hosts };
  // Back to the seeded persona: drop the override rather than keep a no-op entry.
  if (seeded?.id === variant.id) delete hosts[String(index)];
  else hosts[String(index)] = variant.id;
  const generation = overrides.generation + 1;
  writeJsonAtomicSync(files.overrides, { ...overrides, generation, hosts });
  process.kill(state.pid, "SIGHUP");
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const ack = readAckSync(files.overridesAck);
    if (ack !== null && ack.pid === state.pid && ack.generation >= generation) break;
    if (Date.now() > deadline)
      throw new RingfenceError(
        "RINGFENCE_LAB",
        `the lab daemon (pid ${state.pid}) did not apply the persona change within ${options.timeoutMs ?? 10_000} ms`,
        { hint: `see its log, ${state.logFile}` },
      );
    await sleep(20);
  }
  applyOverrides(estate, baseline, { ...overrides, generation, hosts });
  await writeGroundTruth(files.groundTruth, estate, {
    name,
    mode: state.mode,
    tcpPorts: state.tcpPorts,
    portOffset: state.portOffset,
  });
  return { address: options.address, index, from: current.id, to: variant.id, generation };
}
