import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { PERSONAS, type Estate, type Persona } from "./personas.js";

/**
 * Persona overrides of a running lab (`ringfence lab patch`): host index → persona id, written by
 * the CLI, re-read by the daemon on SIGHUP. Only the persona of a host changes, never its open
 * ports (lab-patch.ts refuses a variant that would), so the namespace's nftables ruleset, the bind
 * list and the NBNS sockets stay valid and a reload is an in-place update of Estate.personaOf.
 */
const overridesSchema = z.object({
  format: z.literal("ringfence-lab-overrides/1"),
  /** Bumped by every write; the daemon acknowledges the generation it applied. */
  generation: z.number().int().min(1),
  hosts: z.record(z.string().regex(/^\d{1,7}$/), z.string().min(1).max(100)),
});
export type PersonaOverrides = z.infer<typeof overridesSchema>;

const ackSchema = z.object({ generation: z.number().int().min(0), pid: z.number().int() });
export type OverridesAck = z.infer<typeof ackSchema>;

export function emptyOverrides(): PersonaOverrides {
  return { format: "ringfence-lab-overrides/1", generation: 0, hosts: {} };
}

/** The overrides file, or none when it is absent or unreadable (the daemon then keeps the seed's). */
export function readOverridesSync(file: string): PersonaOverrides | null {
  try {
    const parsed = overridesSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function writeJsonAtomicSync(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

export function readAckSync(file: string): OverridesAck | null {
  try {
    const parsed = ackSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * Resets the estate to its seeded personas (`baseline`), then applies the overrides. Entries that
 * name a host outside the lab or an unknown persona are skipped: a damaged file cannot crash the
 * daemon. Returns how many were applied.
 */
export function applyOverrides(
  estate: Estate,
  baseline: Uint8Array,
  overrides: PersonaOverrides | null,
): number {
  estate.personaOf.set(baseline);
  if (overrides === null) return 0;
  let applied = 0;
  for (const [key, personaId] of Object.entries(overrides.hosts)) {
    const index = Number(key);
    const persona = PERSONAS.findIndex((p) => p.id === personaId);
    if (!Number.isInteger(index) || index < 0 || index >= estate.hosts || persona < 0) continue;
    estate.personaOf[index] = persona;
    applied++;
  }
  return applied;
}

/** The patch levels `lab patch --to` knows (personas.ts Fix). */
export const PATCH_TARGETS = ["kb824146", "kb823980", "none"] as const;
export type PatchTarget = (typeof PATCH_TARGETS)[number];

const PATCH_STATE: Record<PatchTarget, Persona["patches"]> = {
  none: { ms03_026: "vulnerable", ms03_039: "vulnerable" },
  kb823980: { ms03_026: "patched", ms03_039: "vulnerable" },
  kb824146: { ms03_026: "patched", ms03_039: "patched" },
};

/** Same wire shape: every port and the NetBIOS/SMB behaviour, so only RPCSS answers change. */
function sameShape(a: Persona, b: Persona): boolean {
  const ports = (p: readonly number[]) => [...p].sort((x, y) => x - y).join(",");
  return (
    a.os.family === b.os.family &&
    a.os.product === b.os.product &&
    a.os.sp === b.os.sp &&
    ports(a.tcpOpen) === ports(b.tcpOpen) &&
    ports(a.tcpFiltered) === ports(b.tcpFiltered) &&
    a.udp137 === b.udp137 &&
    a.nameTable === b.nameTable &&
    a.elsewhere === b.elsewhere &&
    a.smb === b.smb &&
    a.tcp4444 === b.tcp4444 &&
    // Only real Windows RPCSS emulations have patch levels; hostile peers do not.
    a.rpcss.kind === "windows" &&
    JSON.stringify(a.rpcss) === JSON.stringify(b.rpcss)
  );
}

/**
 * The catalogue persona that is `persona` at another patch level (e.g. xp-sp1 → xp-sp1-patched
 * for kb824146), or undefined when the catalogue has none of the same shape.
 */
export function patchedVariant(persona: Persona, to: PatchTarget): Persona | undefined {
  const want = PATCH_STATE[to];
  if (persona.patches.ms03_026 === want.ms03_026 && persona.patches.ms03_039 === want.ms03_039)
    return persona;
  return PERSONAS.find(
    (p) =>
      p.patches.ms03_026 === want.ms03_026 &&
      p.patches.ms03_039 === want.ms03_039 &&
      sameShape(p, persona),
  );
}
