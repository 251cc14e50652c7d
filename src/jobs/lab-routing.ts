import { RingfenceError } from "../errors.js";
import { labStatus, type LabState } from "../lab/index.js";
import { loadNativeAddon } from "../scan/index.js";
import { parseRangeExpression, type AddressRange } from "../targets/index.js";

/** Which running lab to route into (`--lab-name`, `--lab-dir`). */
export interface LabRef {
  readonly name?: string;
  readonly stateDir?: string;
}

function labRange(state: LabState): AddressRange {
  const range = parseRangeExpression(state.range);
  if ("reason" in range)
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `lab "${state.name}" has an invalid range ${state.range}: ${range.reason}`,
    );
  return range;
}

/**
 * The running lab that holds every one of `ranges`, if any. Targets that straddle its range are
 * refused: half of them would be probed inside the lab's namespace (or with its port offset) and
 * half outside, which no user means.
 */
export async function labHolding(
  ranges: readonly AddressRange[],
  ref: LabRef,
): Promise<LabState | undefined> {
  const status = await labStatus(ref);
  if (!status?.alive) return undefined;
  const lab = labRange(status.state);
  const sameFamily = (r: AddressRange) => lab.family === r.family;
  if (ranges.every((r) => sameFamily(r) && lab.first <= r.first && r.last <= lab.last))
    return status.state;
  if (ranges.some((r) => sameFamily(r) && r.first <= lab.last && lab.first <= r.last))
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `the targets overlap lab "${status.state.name}" (${status.state.range}) but are not all inside it`,
      { hint: `target ${status.state.range} (or part of it) on its own, or pass --no-lab` },
    );
  return undefined;
}

/**
 * Moves this process's main thread (and the threads it starts later) into the lab's network
 * namespace, so every socket opened afterwards reaches the lab's hosts. A no-op for bind labs.
 */
export function enterLab(lab: { readonly netnsPath: string | null }): void {
  if (!lab.netnsPath) return;
  const addon = loadNativeAddon();
  if (!addon)
    throw new RingfenceError(
      "RINGFENCE_ENGINE",
      "reaching the namespaced lab needs the native addon (build it with `npm run build:native`)",
    );
  try {
    addon.joinNetns(lab.netnsPath);
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `cannot enter the lab's network namespace ${lab.netnsPath}: ${(error as Error).message}`,
      { hint: "is the lab still up? `ringfence lab status`" },
    );
  }
}
