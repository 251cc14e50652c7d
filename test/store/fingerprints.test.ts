import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import { openStore, type Store } from "../../src/store/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { probe, sqlRows } from "./store-test-helpers.js";

/**
 * recordFingerprints: the SMB fingerprint on the asset (os, os_confidence, detail_json "smb"),
 * an asset created for an address that has none, other detail keys kept, all-or-nothing.
 */

let where: TestStoreLocation;
let path: string;
let store: Store;
beforeEach(async () => {
  where = await createTestStoreLocation();
  path = where.location;
  store = await openStore(path);
});
afterEach(async () => {
  await store.close();
  await where.cleanup();
});

function assetRows(): Promise<
  {
    address: string;
    os: string | null;
    os_confidence: number | null;
    detail_json: string | null;
  }[]
> {
  return sqlRows(
    path,
    "select address, os, os_confidence, detail_json from assets order by address_key",
  );
}

describe("recordFingerprints", () => {
  it("creates the asset when the address has none, and lists it with its OS and detail", async () => {
    await store.recordFingerprints([
      {
        address: "10.0.0.5",
        os: "Windows XP SP1",
        osConfidence: 85.4,
        detail: { acceptedDialects: ["NT LM 0.12"] },
      },
    ]);
    const [host] = await store.listHosts({ address: "10.0.0.5" });
    expect(host).toMatchObject({
      address: "10.0.0.5",
      os: "Windows XP SP1",
      osConfidence: 85,
      detail: { smb: { acceptedDialects: ["NT LM 0.12"] } },
    });
    expect(await store.listHosts({ os: "xp" })).toHaveLength(1);
  });

  it("updates a scanned asset in place, keeping the other detail keys", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
    await store.recordBatch(scan.id, [probe("10.0.0.6", 445, "open")], {
      step: 1,
      probesDone: 1,
      counts: {},
    });
    await sqlRows(path, "update assets set detail_json = ? where address = ?", [
      JSON.stringify({ tags: ["dmz"] }),
      "10.0.0.6",
    ]);
    await store.recordFingerprints([
      { address: "10.0.0.6", os: "Samba 4.17.12", osConfidence: 99, detail: { v: 1 } },
    ]);
    await store.recordFingerprints([
      { address: "10.0.0.6", os: "Samba 4.17.12", osConfidence: 98, detail: { v: 2 } },
    ]);
    expect(await assetRows()).toEqual([
      {
        address: "10.0.0.6",
        os: "Samba 4.17.12",
        os_confidence: 98,
        detail_json: JSON.stringify({ tags: ["dmz"], smb: { v: 2 } }),
      },
    ]);
    const [host] = await store.listHosts();
    expect(host?.openPorts).toEqual(["tcp/445"]);
  });

  it("writes nothing when one row is bad", async () => {
    const bad = [
      { address: "10.0.0.7", os: "Windows 2000", osConfidence: 80, detail: {} },
      { address: "not an address", os: null, osConfidence: null, detail: {} },
    ];
    await expect(store.recordFingerprints(bad)).rejects.toBeInstanceOf(RingfenceError);
    await expect(
      store.recordFingerprints([{ address: "10.0.0.8", os: "x", osConfidence: 101, detail: {} }]),
    ).rejects.toThrow(/osConfidence/);
    expect(await assetRows()).toEqual([]);
  });

  it("stores an unknown OS as null", async () => {
    await store.recordFingerprints([
      { address: "2001:db8::9", os: null, osConfidence: null, detail: { failures: [] } },
    ]);
    expect(await assetRows()).toEqual([
      {
        address: "2001:db8::9",
        os: null,
        os_confidence: null,
        detail_json: JSON.stringify({ smb: { failures: [] } }),
      },
    ]);
  });
});
