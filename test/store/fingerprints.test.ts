import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import { openStore, type Store } from "../../src/store/index.js";
import { probe, tempDirectory } from "./store-test-helpers.js";

/**
 * recordFingerprints: the SMB fingerprint on the asset (os, os_confidence, detail_json "smb"),
 * an asset created for an address that has none, other detail keys kept, all-or-nothing.
 */

let dir: { path: string; cleanup: () => void };
let path: string;
let store: Store;
beforeEach(async () => {
  dir = tempDirectory();
  path = join(dir.path, "inv.db");
  store = await openStore(path);
});
afterEach(async () => {
  await store.close();
  dir.cleanup();
});

function assetRows(): {
  address: string;
  os: string | null;
  os_confidence: number | null;
  detail_json: string | null;
}[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare("select address, os, os_confidence, detail_json from assets order by address_key")
      .all() as never;
  } finally {
    db.close();
  }
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
    const db = new Database(path);
    db.prepare("update assets set detail_json = ? where address = ?").run(
      JSON.stringify({ tags: ["dmz"] }),
      "10.0.0.6",
    );
    db.close();
    await store.recordFingerprints([
      { address: "10.0.0.6", os: "Samba 4.17.12", osConfidence: 99, detail: { v: 1 } },
    ]);
    await store.recordFingerprints([
      { address: "10.0.0.6", os: "Samba 4.17.12", osConfidence: 98, detail: { v: 2 } },
    ]);
    expect(assetRows()).toEqual([
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
    expect(assetRows()).toEqual([]);
  });

  it("stores an unknown OS as null", async () => {
    await store.recordFingerprints([
      { address: "2001:db8::9", os: null, osConfidence: null, detail: { failures: [] } },
    ]);
    expect(assetRows()).toEqual([
      {
        address: "2001:db8::9",
        os: null,
        os_confidence: null,
        detail_json: JSON.stringify({ smb: { failures: [] } }),
      },
    ]);
  });
});
