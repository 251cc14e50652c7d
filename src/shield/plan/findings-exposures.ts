/**
 * The inventory's open findings as shield exposures: each finding whose advisory the catalog
 * knows is an exposure; its latest assessment may ask for a quarantine or for a domain
 * controller's restricted sources (research notes: do not close 135 on a DC wholesale), and a
 * compromise indicator (Blaster's backdoor) always quarantines. `ringfence shield plan` and the
 * REST API's shield routes both build their plans from this.
 */
import type { AdvisoryCatalog } from "../../advisories/index.js";
import type { Store } from "../../store/index.js";
import type { Exposure, OpenService } from "./plan-builder.js";

export interface InventoryExposures {
  readonly exposures: Exposure[];
  /** Every open service of the inventory, for the plan's allow and perimeter terms. */
  readonly services: OpenService[];
  /** Findings left out, each with the reason. */
  readonly skipped: string[];
}

export async function exposuresFromInventory(
  store: Store,
  catalog: AdvisoryCatalog,
): Promise<InventoryExposures> {
  const findings = await store.listFindings({ status: "open" });
  const assessments = await store.latestAssessments({ status: "open" });
  const byFinding = new Map(assessments.map((a) => [a.findingId, a]));
  const exposures: Exposure[] = [];
  const skipped: string[] = [];
  for (const f of findings) {
    const advisory = catalog.get(f.advisory);
    if (advisory === undefined) {
      skipped.push(`finding ${f.id} names advisory ${f.advisory}, which the catalog lacks`);
      continue;
    }
    let quarantine: string | undefined;
    let dc = false;
    const assessment = byFinding.get(f.id);
    if (assessment !== undefined) {
      try {
        const parsed = JSON.parse(assessment.assessmentJson) as {
          actions?: { kind: string; detail?: { mode?: string } }[];
        };
        for (const action of parsed.actions ?? []) {
          if (action.kind === "quarantine")
            quarantine = `assessment of finding ${f.id}: quarantine`;
          if (action.kind === "shield-host" && action.detail?.mode === "restrict-sources")
            dc = true;
        }
      } catch {
        // An unreadable assessment adds nothing; the finding still counts.
      }
    }
    if (advisory.kind === "indicator" && quarantine === undefined)
      quarantine = `compromise indicator ${advisory.id} (finding ${f.id})`;
    exposures.push({
      address: f.address,
      advisory: advisory.id,
      findingId: f.id,
      ...(dc ? { role: "domain-controller" as const } : {}),
      ...(quarantine === undefined ? {} : { quarantine }),
    });
  }
  const services: OpenService[] = (await store.listServices({ state: "open" })).map((s) => ({
    address: s.address,
    proto: s.protocol as "tcp" | "udp",
    port: s.port,
  }));
  return { exposures, services, skipped };
}
