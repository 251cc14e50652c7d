import { afterEach, describe, expect, it } from "vitest";
import { labAddress, labDown, labUp, readGroundTruth } from "../../src/lab/index.js";
import {
  NEEDS_ROOT,
  cleanupLab,
  privileged,
  probe,
  tcpStateOf,
  tempStateDir,
  uniqueLabName,
} from "./helpers.js";

/**
 * Big labs: what the discovery benchmarks scan. Tests never assert on time (STYLE.md); the
 * numbers are printed for the record.
 */
describe.skipIf(!privileged)(`large netns labs [${NEEDS_ROOT}]`, () => {
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  for (const hosts of [65_536, 262_144]) {
    it(`brings up ${hosts.toLocaleString("en")} hosts and answers at both ends of the range`, async () => {
      const name = uniqueLabName(`l${hosts}`);
      const stateDir = await tempStateDir();
      cleanup = () => cleanupLab(name, stateDir, `rf-lab-${name}`);

      const state = await labUp({ name, hosts, mode: "netns", stateDir });
      console.log(
        `lab of ${hosts} hosts: up in ${state.timings.totalMs} ms (nft -f ${state.timings.nftLoadMs} ms, ` +
          `daemon ready ${state.timings.daemonReadyMs} ms), daemon RSS ${(state.daemonRssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(state.range).toBe(hosts === 65_536 ? "127.20.0.0/16" : "127.20.0.0/14");

      const truth = await readGroundTruth(state);
      expect(truth.hosts).toHaveLength(hosts);
      const sample = [0, 1, 2, 3, hosts - 4, hosts - 3, hosts - 2, hosts - 1];
      const results = await probe(state.netns, {
        tcp: sample.flatMap((i) => [135, 445].map((port) => ({ address: labAddress(i), port }))),
        timeoutMs: 1_000,
        holdMs: 100,
      });
      for (const r of results.tcp) {
        const host = truth.hosts.find((h) => h.address === r.address);
        if (host === undefined) throw new Error(r.address);
        expect(`${r.address}:${r.port} ${r.result}`).toBe(
          `${r.address}:${r.port} ${tcpStateOf(host, r.port)}`,
        );
      }
      expect((await labDown({ name, stateDir })).netnsDeleted).toBe(true);
    });
  }
});
