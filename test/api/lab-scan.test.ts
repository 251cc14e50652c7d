/**
 * POST /scans with `lab: true`: a bind-mode lab (loopback addresses, ports + offset) is scanned
 * at its nominal ports and checked; a namespaced lab is refused, since entering its namespace
 * would move the whole server.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labUp, readGroundTruth, type LabState } from "../../src/lab/index.js";
import { scratchDir } from "../helpers/cli.js";
import { cleanupLab, privileged, uniqueLabName } from "../lab/helpers.js";
import { createApiFixture, expectProblem, type ApiFixture } from "./api-helpers.js";

const tmp = scratchDir("rf-api-lab-");
const bindLab = { name: uniqueLabName("apib"), stateDir: join(tmp.dir, "lab") };
// An offset no other suite's bind lab uses, so the two can run side by side.
const OFFSET = 33_417;
let lab: LabState;
let fixture: ApiFixture;

beforeAll(async () => {
  await labDown(bindLab).catch(() => undefined);
  lab = await labUp({ ...bindLab, hosts: 8, mode: "bind", portOffset: OFFSET });
  fixture = await createApiFixture({ allow: ["127.20.0.0/14"], labStateDir: bindLab.stateDir });
});
afterAll(async () => {
  await fixture.close();
  await cleanupLab(bindLab.name, bindLab.stateDir, null);
  tmp.cleanup();
});

describe("lab scans through the API", () => {
  it("scans a bind-mode lab at its nominal ports, checks it, and matches the ground truth", async () => {
    const truth = await readGroundTruth(lab);
    const addresses = truth.hosts.map((h) => h.address);
    const started = await fixture.server.app.inject({
      method: "POST",
      url: "/scans",
      headers: fixture.headers.operator,
      payload: {
        targets: [`${addresses[0]}-${addresses.at(-1)}`],
        ports: "T:135,139,445,593,4444",
        engine: "connect",
        checks: "safe",
        lab: true,
        labName: bindLab.name,
      },
    });
    expect(started.statusCode, started.body).toBe(202);
    const id = (started.json() as { id: string }).id;
    await fixture.server.scans.settled(id);
    const scan = await fixture.store.requireScan(id);
    expect(scan.status, scan.error ?? "").toBe("completed");

    const hosts = (
      await fixture.server.app.inject({
        method: "GET",
        url: `/hosts?scanId=${id}`,
        headers: fixture.headers.viewer,
      })
    ).json() as { address: string; openPorts: string[] }[];
    const wanted = new Set([135, 139, 445, 593, 4444]);
    for (const host of truth.hosts) {
      const open = host.tcp.open
        .map((wire) => wire - OFFSET)
        .filter((port) => wanted.has(port))
        .sort((a, b) => a - b)
        .map((port) => `tcp/${port}`);
      const seen = hosts.find((h) => h.address === host.address)?.openPorts ?? [];
      expect(seen, host.address).toEqual(open);
    }
    // Every host with a port the safe checks need was checked, and the runs are stored.
    const checked = new Set(
      (await fixture.store.listCheckRuns({ scanId: id })).map((r) => r.address),
    );
    const needing = truth.hosts.filter((h) =>
      h.tcp.open.some((wire) => [135, 139, 445, 593, 4444].includes(wire - OFFSET)),
    );
    expect(needing.length).toBeGreaterThan(0);
    for (const host of needing) expect(checked.has(host.address), host.address).toBe(true);
  });

  it.skipIf(!privileged)(
    "refuses a namespaced lab with 409 and stores nothing (root only)",
    async () => {
      const netnsLab = { name: uniqueLabName("apin"), stateDir: join(tmp.dir, "netns-lab") };
      const server = await createApiFixture({
        allow: ["127.20.0.0/14"],
        labStateDir: netnsLab.stateDir,
      });
      let netns: string | null = null;
      try {
        const state = await labUp({ ...netnsLab, hosts: 2, mode: "netns" });
        netns = state.netns;
        const response = await server.server.app.inject({
          method: "POST",
          url: "/scans",
          headers: server.headers.operator,
          payload: {
            targets: [state.base],
            ports: "T:135",
            checks: "none",
            lab: true,
            labName: netnsLab.name,
          },
        });
        const problem = expectProblem(response, 409);
        expect(problem["detail"]).toContain("network namespace");
        expect(await server.store.listScans()).toEqual([]);
      } finally {
        await server.close();
        await cleanupLab(netnsLab.name, netnsLab.stateDir, netns);
      }
    },
  );
});
