import { z } from "zod";
import { MAX_LAB_HOSTS } from "./address.js";
import type { LabLayout } from "./personas.js";

/**
 * The contract between `labUp` and the daemon process: written by labUp as JSON next to the
 * state file, passed as the daemon's only argument. The daemon recomputes the estate from the
 * seed, so this stays a few hundred bytes even for a /14.
 */
export const daemonConfigSchema = z.object({
  name: z.string().min(1),
  mode: z.enum(["netns", "bind"]),
  hosts: z.number().int().min(1).max(MAX_LAB_HOSTS),
  seed: z.string(),
  /** How hosts get personas; the daemon must draw the same estate as labUp (personas.ts). */
  layout: z.enum(["estate", "catalogue"] satisfies LabLayout[]).default("estate"),
  portOffset: z.number().int().min(0).max(65_000),
  tcpPorts: z.array(z.number().int().min(1).max(65_535)),
  /** Where the daemon reports readiness (or its startup error) as JSON, written atomically. */
  readyFile: z.string().min(1),
  /** TCP accept workers (Node cluster, shared listening sockets); 0 = accept in the main process. */
  workers: z.number().int().min(0).max(16),
  /**
   * Persona overrides (`ringfence lab patch`, persona-overrides.ts), re-read on SIGHUP; the
   * primary acknowledges in `<file minus .overrides.json>.overrides-ack.json`. Absent: no reload.
   */
  overridesFile: z.string().min(1).optional(),
});

export type DaemonConfig = z.infer<typeof daemonConfigSchema>;

/** What the daemon writes to `readyFile`. */
export type DaemonReady =
  | {
      readonly ok: true;
      readonly pid: number;
      readonly tcpListeners: number;
      readonly udpSockets: number;
      readonly workers: number;
      readonly rssBytes: number;
    }
  | { readonly ok: false; readonly pid: number; readonly error: string };
