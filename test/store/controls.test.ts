/** Verified controls in the store (schema version 4): recorded, superseded by id, filtered by time. */
import { describe, expect, it } from "vitest";
import type { Control } from "../../src/risk/types.js";
import { openStore } from "../../src/store/index.js";
import { createTestStoreLocation } from "../helpers/test-store.js";

function control(id: string, verifiedAt: string, expiresAt?: string): Control {
  return {
    id,
    kind: "perimeter-block",
    appliesTo: { ranges: ["203.0.113.130"] },
    covers: [{ proto: "tcp", port: 135 }],
    verifiedAt,
    method: "rescan-external",
    ...(expiresAt === undefined ? {} : { expiresAt }),
    prov: { source: "test" },
  };
}

describe("controls", () => {
  it("keeps the latest version of each control and filters by validity", async () => {
    const where = await createTestStoreLocation("rf-controls-");
    const store = await openStore(where.location);
    try {
      expect(await store.listControls()).toEqual([]);
      const a1 = control("a", "2026-01-01T00:00:00.000Z", "2026-01-08T00:00:00.000Z");
      const b = control("b", "2026-01-02T00:00:00.000Z");
      await store.recordControls([a1, b]);
      await store.recordControls([]);
      expect(await store.listControls()).toEqual([a1, b]);
      const a2 = control("a", "2026-01-05T00:00:00.000Z", "2026-01-12T00:00:00.000Z");
      await store.recordControls([a2]);
      expect(await store.listControls()).toEqual([a2, b]);
      expect(await store.listControls({ validAt: "2026-01-03T00:00:00.000Z" })).toEqual([b]);
      expect(await store.listControls({ validAt: "2026-01-12T00:00:00.000Z" })).toEqual([b]);
      expect(await store.listControls({ validAt: "2026-01-06T00:00:00.000Z" })).toEqual([a2, b]);
      await expect(store.recordControls([control("", "2026-01-01T00:00:00.000Z")])).rejects.toThrow(
        /without an id/,
      );
    } finally {
      await store.close();
      await where.cleanup();
    }
  });
});
