import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storedEndpoint } from "../../src/cli/rpc-command.js";
import { labDown, labUp, readGroundTruth, type LabState } from "../../src/lab/index.js";
import type { EndpointEntry } from "../../src/rpc/index.js";
import { openStore } from "../../src/store/index.js";
import { IS_ROOT, runCli, scratchDir } from "../helpers/cli.js";

describe.skipIf(!IS_ROOT)("rpc dump reaches lab hosts inside the lab's namespace [root]", () => {
  const tmp = scratchDir();
  const labRef = { name: "rpcdump", stateDir: join(tmp.dir, "lab") };
  let lab: LabState;
  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: 32 });
  });
  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  it("dumps the endpoint map of every host whose TCP 135 is open, and only those", async () => {
    const truth = await readGroundTruth(lab);
    const db = join(tmp.dir, "inv.db");
    const args = [
      "--db",
      db,
      "--lab-dir",
      labRef.stateDir,
      "--lab-name",
      labRef.name,
      "--json",
      "--timeout",
      "2s",
    ];
    const withRpc = truth.hosts.filter((h) => h.tcp.open.includes(135)).slice(0, 3);
    const without = truth.hosts.find(
      (h) => !h.tcp.open.includes(135) && h.tcp.closed.includes(135),
    );
    expect(withRpc.length).toBeGreaterThan(0);
    const printed = new Map<string, unknown>();
    for (const host of withRpc) {
      const result = await runCli(["rpc", "dump", host.address, ...args]);
      expect(result.code).toBe(0);
      const dump = JSON.parse(result.stdout) as { entries: EndpointEntry[] };
      expect(dump.entries).toContainEqual(
        expect.objectContaining({ name: "epmapper", binding: `ncacn_ip_tcp:${host.address}[135]` }),
      );
      printed.set(host.address, dump.entries.map(storedEndpoint));
    }
    expect(without).toBeDefined();
    const refused = await runCli(["rpc", "dump", without!.address, ...args]);
    expect(refused.code).toBe(7);
    expect(refused.stderr).toContain("connection refused");

    // Stored under the nominal port 135 (not the lab's wire port), one scan per successful dump.
    const store = await openStore(db);
    try {
      expect(await store.listScans()).toHaveLength(withRpc.length);
      const services = await store.listServices();
      expect(services.map((s) => `${s.address} ${s.protocol}/${s.port} ${s.state}`)).toEqual(
        withRpc.map((h) => `${h.address} tcp/135 open`),
      );
      for (const service of services) {
        expect(service.detail).toEqual({ rpcEndpoints: printed.get(service.address) });
      }
    } finally {
      await store.close();
    }
  });
});
