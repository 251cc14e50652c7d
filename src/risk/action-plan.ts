/**
 * The ordered action plan of research §5.6, "protect, then fix": contain, shield, verify the
 * shield, triage, patch, verify the fix, reconnect, monitor. Each step's condition cites where it
 * comes from; the order is fixed, so the plan never depends on the order of the inputs.
 */
import {
  compareText,
  parseInstant,
  RATING_LEVELS,
  rank,
  type Advisory,
  type AdvisoryPatch,
  type RatingLevel,
} from "../advisories/index.js";
import type { ExposureResult } from "./exposure.js";
import type { DsoiOutcome } from "./ssvc.js";
import type { Action, ActionKind, Asset, Clocks } from "./types.js";

export interface PlanInput {
  readonly advisory: Advisory;
  readonly asset: Asset;
  readonly asOfMs: number;
  readonly rating: RatingLevel;
  readonly outcome: DsoiOutcome;
  readonly exposure: ExposureResult;
  readonly compromise: boolean;
  readonly triage: boolean;
  readonly clocks: Clocks;
  readonly checkId: string;
  readonly monitorDays: number;
  readonly monitorUntil: string;
  readonly verifyShieldBy?: string;
  /** Reason ids to cite, by topic. */
  readonly because: {
    readonly rating: string;
    readonly exposure: string;
    readonly outcome: string;
    readonly compromise?: string;
    readonly triage?: string;
    readonly protect?: string;
    readonly fix?: string;
  };
}

/** The newest patch released by `t`, following supersedence (MS04-012 ⟹ MS03-039 ⟹ MS03-026). */
export function newestPatch(
  patches: readonly AdvisoryPatch[],
  t: number,
): AdvisoryPatch | undefined {
  const released = patches.filter((patch) => {
    const ms = parseInstant(patch.released);
    return ms !== undefined && ms <= t;
  });
  const superseded = new Set(released.flatMap((patch) => patch.supersedes));
  const candidates = released
    .filter((patch) => !superseded.has(patch.id))
    .sort((a, b) => compareText(b.released, a.released) || compareText(a.id, b.id));
  return candidates[0];
}

class Plan {
  private readonly actions: Omit<Action, "seq">[] = [];

  add(
    kind: ActionKind,
    detail: Record<string, unknown>,
    due: string | undefined,
    gate: readonly ActionKind[],
    because: readonly (string | undefined)[],
  ): void {
    this.actions.push({
      kind,
      detail,
      ...(due === undefined ? {} : { due }),
      gate: gate.filter((g) => this.has(g)),
      because: [...new Set(because.filter((b): b is string => b !== undefined))],
    });
  }

  has(kind: ActionKind): boolean {
    return this.actions.some((action) => action.kind === kind);
  }

  done(): Action[] {
    return this.actions.map((action, i) => ({ seq: i + 1, ...action }));
  }
}

const serviceText = (s: { proto: string; port: number }): string => `${s.proto}/${s.port}`;

/** The plan for a vulnerability, configuration weakness or indicator finding. */
export function planActions(input: PlanInput): Action[] {
  const { advisory, asset, exposure, clocks, because } = input;
  const plan = new Plan();
  const atLeastHigh = rank(RATING_LEVELS, input.rating) >= rank(RATING_LEVELS, "high");
  const containment = new Set(asset.containment.map((c) => c.kind));
  // Canonical orders throughout: the plan must not depend on the order of the advisory's lists.
  const block = [...advisory.remediation.block]
    .sort(
      (a, b) =>
        compareText(a.proto, b.proto) || a.port - b.port || compareText(a.direction, b.direction),
    )
    .map((b) => ({
      proto: b.proto,
      port: b.port,
      direction: b.direction,
      ...(b.reason === undefined ? {} : { reason: b.reason }),
    }));
  const exposedList = exposure.services.map(serviceText);
  const asOf = new Date(input.asOfMs).toISOString();

  // 1. Quarantine on compromise indicators: isolate, keep evidence, no rebuild before imaging
  //    (CA-2003-20; ED 21-01, 21-02, 24-01).
  if (input.compromise && !containment.has("quarantined")) {
    plan.add(
      "quarantine",
      { isolate: "completely", keepEvidence: true, note: "image before any rebuild" },
      clocks.protectBy ?? asOf,
      [],
      [because.compromise],
    );
  }
  // 2. Disconnect from the Internet: Very High, open because it faces the Internet, and no
  //    verified perimeter block (Gartner 2003: "until firewall shielding and vulnerability
  //    patching are completed").
  if (
    !input.compromise &&
    input.rating === "very-high" &&
    exposure.level === "open" &&
    exposure.internetFacing &&
    !exposure.perimeterShielded &&
    !containment.has("disconnected-internet") &&
    !containment.has("quarantined")
  ) {
    plan.add(
      "disconnect-internet",
      { until: ["shield-perimeter", "patch"], exposed: exposedList },
      clocks.protectBy,
      [],
      [because.rating, because.exposure, because.protect],
    );
  }
  const shieldWorthy = atLeastHigh || input.compromise;
  // 3. Shield at the perimeter: deny rules for the advisory's ports, never 80/443 wholesale
  //    (those get mitigate-service), default-deny stance.
  if (
    shieldWorthy &&
    exposure.internetFacing &&
    !exposure.perimeterShielded &&
    exposure.services.length > 0
  ) {
    plan.add(
      "shield-perimeter",
      { stance: "default-deny", deny: block, exposed: exposedList },
      clocks.protectBy,
      [],
      [because.rating, because.exposure, because.protect],
    );
  }
  // 4. Shield the host: centrally managed host firewall, roaming laptops first; restrict sources
  //    on domain controllers rather than closing 135 (KB 828189).
  if (shieldWorthy && exposure.level !== "small" && !exposure.shielded) {
    const dc = asset.role.value === "domain-controller";
    plan.add(
      "shield-host",
      {
        mode: dc ? "restrict-sources" : "deny",
        ports: block.filter((b) => b.direction !== "outbound").map(serviceText),
        priority:
          asset.zone.value === "roaming" || asset.role.value === "laptop" ? "first" : "normal",
        ...(dc ? { note: "blocking 135 breaks Active Directory (KB 828189)" } : {}),
      },
      clocks.protectBy,
      [],
      [because.rating, because.exposure, because.protect],
    );
  }
  // 5. Mitigate the service: for conditional services (disable CIS / RPC over HTTP instead of
  //    blocking 80/443), or when no patch exists yet (disable the service, with its caveats).
  const patch = newestPatch(advisory.remediation.patches, input.asOfMs);
  const needsPatch = advisory.kind === "vulnerability" || advisory.kind === "indicator";
  const workaround = (kind: string) =>
    [...advisory.remediation.workarounds]
      .sort((a, b) => compareText(a.id, b.id))
      .find((w) => w.kind === kind);
  if (
    exposure.conditionalServices.length > 0 ||
    (needsPatch && patch === undefined && shieldWorthy)
  ) {
    const feature = workaround("disable-feature");
    const service = workaround("disable-service");
    const chosen =
      exposure.conditionalServices.length > 0 ? (feature ?? service) : (service ?? feature);
    plan.add(
      "mitigate-service",
      {
        ...(chosen === undefined
          ? { workaround: "none listed by the advisory" }
          : {
              workaround: chosen.id,
              title: chosen.title,
              caveats: chosen.caveats,
              refs: chosen.refs,
            }),
        why:
          exposure.conditionalServices.length > 0
            ? `conditional services open: ${exposure.conditionalServices.join(", ")}`
            : "no patch released as of the assessment date",
      },
      clocks.protectBy ?? clocks.fixBy,
      [],
      [because.exposure, because.rating],
    );
  }
  // 6. Verify the shield from the right vantage point; a verified control re-runs the
  //    assessment (exposure falls, the fix clock may relax).
  const shields: ActionKind[] = [
    "disconnect-internet",
    "shield-perimeter",
    "shield-host",
    "mitigate-service",
    "quarantine",
  ];
  if (shields.some((kind) => plan.has(kind))) {
    const external = plan.has("shield-perimeter") || plan.has("disconnect-internet");
    plan.add(
      "verify-shield",
      {
        vantage:
          external && plan.has("shield-host")
            ? ["external", "peer"]
            : external
              ? ["external"]
              : ["peer"],
        onSuccess: "record a verified control and re-assess",
      },
      input.verifyShieldBy,
      shields,
      [because.exposure],
    );
  }
  // 7. Forensic triage: BOD 26-04 3DF, active exploitation while open, or compromise; collect
  //    volatile evidence before patching.
  if (input.triage && clocks.forensicTriage !== undefined) {
    plan.add(
      "forensic-triage",
      { ...clocks.forensicTriage, collectVolatileEvidenceBeforePatching: true },
      clocks.forensicTriage.decisionBy,
      [],
      [because.triage],
    );
  }
  // 8. Patch with the newest superseding update, after basic QA (Gartner FT-21-0280), or
  //    reconfigure for a weakness.
  if (advisory.kind === "configuration") {
    plan.add(
      "reconfigure",
      {
        changes: [...advisory.remediation.reconfigure]
          .sort((a, b) => compareText(a.id, b.id))
          .map((r) => ({
            id: r.id,
            title: r.title,
            caveats: r.caveats,
            refs: r.refs,
          })),
        ...(input.outcome === "defer" ? { when: "with the next system upgrade" } : {}),
      },
      clocks.fixBy,
      ["forensic-triage"],
      [because.outcome, because.fix],
    );
  } else if (needsPatch && patch !== undefined) {
    plan.add(
      "patch",
      {
        patch: patch.id,
        ...(patch.kb === undefined ? {} : { kb: patch.kb }),
        title: patch.title,
        supersedes: [...patch.supersedes].sort(compareText),
        qa: "basic QA of the patch before broad rollout",
        ...(input.compromise ? { after: "triage, and clean-up or rebuild" } : {}),
        ...(input.outcome === "defer" ? { when: "with the next system upgrade" } : {}),
      },
      clocks.fixBy,
      ["forensic-triage", "quarantine"],
      [because.outcome, because.fix],
    );
  } else if (needsPatch) {
    // No update yet (SMBGhost between ADV200005 and KB4551762): the fix clock still runs, and
    // the step says what to watch for; mitigate-service above carries the protection meanwhile.
    plan.add(
      "patch",
      {
        patch: null,
        note: "no update released as of the assessment date: apply the vendor's fix when it ships",
        watch: [...(advisory.ids.bulletin ?? []), ...(advisory.ids.kb ?? [])].sort(compareText),
      },
      clocks.fixBy,
      ["forensic-triage", "quarantine"],
      [because.outcome, because.fix],
    );
  }
  // 9. Verify the fix: the safe check again plus the patch level; the finding closes only on a
  //    verified negative result.
  if (plan.has("patch") || plan.has("reconfigure")) {
    plan.add(
      "verify-fix",
      { check: input.checkId, closeOn: "a verified negative result of the check" },
      clocks.verifyBy,
      ["patch", "reconfigure"],
      [because.fix],
    );
  }
  // 10. Reconnect only after the shield and the fix are verified (and triage found nothing or
  //     the host was rebuilt): ED 20-04, ED 24-01, CA-2003-20.
  if (
    plan.has("disconnect-internet") ||
    plan.has("quarantine") ||
    containment.has("disconnected-internet") ||
    containment.has("quarantined")
  ) {
    plan.add(
      "reconnect",
      {
        requires: [
          "verified shield",
          "verified fix",
          ...(input.triage ? ["triage found no compromise, or the host was rebuilt"] : []),
        ],
      },
      undefined,
      ["verify-shield", "verify-fix", "forensic-triage"],
      [because.exposure],
    );
  }
  // 11. Monitor inside the firewall for the worm's traces (SANS, Cisco, CA-2003-20).
  if (
    advisory.remediation.monitor.length > 0 &&
    (input.rating === "very-high" || input.compromise)
  ) {
    plan.add(
      "monitor",
      {
        detections: [...advisory.remediation.monitor]
          .sort((a, b) => compareText(a.id, b.id))
          .map((m) => ({
            id: m.id,
            description: m.description,
            ...(m.proto === undefined ? {} : { proto: m.proto }),
            ...(m.port === undefined ? {} : { port: m.port }),
          })),
        days: input.monitorDays,
        until: input.monitorUntil,
      },
      undefined,
      [],
      [because.rating],
    );
  }
  return plan.done();
}
