/**
 * The shield plan of the inventory's open findings, as `ringfence shield plan` builds it without
 * an exposure file (src/cli/shield-command.ts): each open finding whose advisory the catalog knows
 * is an exposure; its latest assessment may ask for a quarantine or a domain controller's
 * restricted sources.
 */
import type { AdvisoryCatalog } from "../advisories/index.js";
import {
  buildShieldPlan,
  exposuresFromInventory,
  type ShieldPlan,
  type ShieldScope,
} from "../shield/index.js";
import type { Store } from "../store/index.js";
import { conflict } from "./problem.js";

export async function planFromStore(
  store: Store,
  catalog: AdvisoryCatalog,
  scope: ShieldScope,
): Promise<{ plan: ShieldPlan; skipped: string[] }> {
  const { exposures, services, skipped } = await exposuresFromInventory(store, catalog);
  if (exposures.length === 0)
    throw conflict("the inventory has no open findings to shield (scan with checks first)");
  const plan = buildShieldPlan(catalog, exposures, services, {
    name: "ringfence-api",
    source: "findings",
    scope,
  });
  return { plan, skipped };
}
