import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NCACN_HTTP_BANNER,
  acceptsNdr64,
  labUp,
  personaById,
  readGroundTruth,
  rpcEndpointsOf,
  type GroundTruth,
  type GroundTruthHost,
  type LabState,
} from "../../src/lab/index.js";
import {
  NEEDS_ROOT,
  cleanupLab,
  privileged,
  probe,
  run,
  tempStateDir,
  uniqueLabName,
} from "./helpers.js";
import { parseRpcdump } from "./rpcdump.js";

const EPM_DUMP = fileURLToPath(new URL("./fixtures/epm-dump.mjs", import.meta.url));
const IMPACKET = "/usr/share/doc/python3-impacket/examples";
const RPCDUMP = `${IMPACKET}/rpcdump.py`;
const GETARCH = `${IMPACKET}/getArch.py`;
const haveImpacket = existsSync(RPCDUMP) && existsSync(GETARCH);
const NEEDS_IMPACKET = `skipped unless python3-impacket is installed (${IMPACKET})`;
/** dist/ is what the daemon (and the epm-dump fixture) run. */
const haveDist = existsSync(fileURLToPath(new URL("../../dist/lab/daemon.js", import.meta.url)));

function expectedLines(truth: GroundTruth, host: GroundTruthHost): string[] {
  return (rpcEndpointsOf(truth, host) ?? []).map((e) => `${e.uuid} v${e.version} ${e.binding}`);
}

const sorted = (lines: readonly string[]): string[] => [...lines].sort();

describe.skipIf(!privileged || !haveDist)(
  `endpoint mapper in a netns lab of 64 hosts [${NEEDS_ROOT}; needs npm run build]`,
  () => {
    const name = uniqueLabName("rpc");
    const netns = `rf-lab-${name}`;
    let stateDir = "";
    let state: LabState;
    let truth: GroundTruth;
    /** One host per Windows persona that has 135 open. */
    let mappers: GroundTruthHost[] = [];

    beforeAll(async () => {
      stateDir = await tempStateDir();
      state = await labUp({ name, hosts: 64, seed: "rpc-netns", mode: "netns", stateDir });
      truth = await readGroundTruth(state);
      const seen = new Set<string>();
      mappers = truth.hosts.filter((h) => {
        if (seen.has(h.persona) || !h.tcp.open.includes(135)) return false;
        seen.add(h.persona);
        return true;
      });
    });

    afterAll(async () => {
      await cleanupLab(name, stateDir, netns);
    });

    it("records an endpoint table for every persona with an RPC runtime on 135, and no other", () => {
      expect(mappers.length).toBeGreaterThanOrEqual(5);
      for (const host of truth.hosts) {
        const endpoints = rpcEndpointsOf(truth, host);
        const kind = personaById(host.persona)?.rpcss.kind;
        const mapper =
          (kind === "windows" || kind === "win9x" || kind === "dce") && host.tcp.open.includes(135);
        expect(endpoints !== null, `${host.address} ${host.persona}`).toBe(mapper);
      }
    });

    it("serves each persona's exact table on 135 inside the namespace", async () => {
      for (const host of mappers) {
        const out = await run("ip", [
          "netns",
          "exec",
          netns,
          process.execPath,
          EPM_DUMP,
          host.address,
          "135",
        ]);
        expect(out.stderr).toBe("");
        const dump = JSON.parse(out.stdout) as {
          lines: string[];
          statuses: number[];
          ndr64: { result: number; reason: number } | null;
        };
        expect(dump.lines, host.persona).toEqual(expectedLines(truth, host));
        expect(dump.statuses).toEqual([0]);
        // getArch's question: the 2003-era runtimes refuse NDR64 with "proposed transfer syntaxes
        // not supported"; the 64-bit ones (Windows 7 on) accept it.
        const persona = personaById(host.persona);
        expect(dump.ndr64, host.persona).toEqual(
          persona !== undefined && acceptsNdr64(persona)
            ? { result: 0, reason: 0 }
            : { result: 2, reason: 2 },
        );
      }
    });

    it("serves ncacn_http on 593 for Server 2003 (banner, then the same mapper)", async () => {
      const hosts = truth.hosts.filter((h) => h.tcp.open.includes(593));
      expect(hosts.length).toBeGreaterThan(0);
      for (const host of hosts.slice(0, 2)) {
        const out = await run("ip", [
          "netns",
          "exec",
          netns,
          process.execPath,
          EPM_DUMP,
          host.address,
          "593",
          "http",
        ]);
        const dump = JSON.parse(out.stdout) as { banner: string; lines: string[] };
        expect(dump.banner).toBe(NCACN_HTTP_BANNER);
        expect(dump.lines).toEqual(expectedLines(truth, host));
      }
    });

    it("keeps 135 closed on Linux and closed personas", async () => {
      const others = truth.hosts
        .filter((h) => h.os.family !== "windows" && !h.tcp.open.includes(135))
        .slice(0, 8);
      const results = await probe(netns, {
        tcp: others.map((h) => ({ address: h.address, port: 135 })),
        timeoutMs: 1_000,
      });
      for (const r of results.tcp) {
        const host = others.find((h) => h.address === r.address);
        expect(r.result).toBe(host?.elsewhere === "filtered" ? "filtered" : "closed");
      }
    });

    describe.skipIf(!haveImpacket)(`with impacket [${NEEDS_IMPACKET}]`, () => {
      const python = (script: string, args: readonly string[]) =>
        run("ip", ["netns", "exec", netns, "/usr/bin/python3", script, ...args]);

      it("rpcdump -port 135 lists exactly the ground truth of each persona", async () => {
        for (const host of mappers) {
          const out = await python(RPCDUMP, ["-port", "135", host.address]);
          expect(out.code).toBe(0);
          expect(sorted(parseRpcdump(out.stdout)), `${host.persona}\n${out.stdout}`).toEqual(
            sorted(expectedLines(truth, host)),
          );
        }
      });

      it("getArch says 32-bit for the 2003-era runtimes, 64-bit for Windows 7 on", async () => {
        for (const host of mappers) {
          const out = await python(GETARCH, ["-target", host.address]);
          const persona = personaById(host.persona);
          const bits = persona !== undefined && acceptsNdr64(persona) ? 64 : 32;
          expect(`${out.stdout}${out.stderr}`).toContain(`${host.address} is ${bits}-bit`);
        }
      });

      it("rpcdump -port 593 (ncacn_http) against Server 2003", async () => {
        const host = truth.hosts.find((h) => h.tcp.open.includes(593));
        if (host === undefined) throw new Error("no Server 2003 host in the lab");
        const out = await python(RPCDUMP, ["-port", "593", host.address]);
        expect(sorted(parseRpcdump(out.stdout)), out.stdout).toEqual(
          sorted(expectedLines(truth, host)),
        );
      });
    });
  },
);

describe("rpcdump output parser", () => {
  it("reads Protocol/Provider/UUID/Bindings blocks", () => {
    const sample = [
      "Impacket v0.10.0 - Copyright 2022 SecureAuth Corporation",
      "",
      "[*] Retrieving endpoint list from 127.20.0.5",
      "Protocol: [MS-RPCE]: Remote Management Interface ",
      "Provider: rpcrt4.dll ",
      "UUID    : E1AF8308-5D1F-11C9-91A4-08002B14A0FA v3.0 ",
      "Bindings: ",
      "          ncacn_ip_tcp:127.20.0.5[135]",
      "          ncacn_np:\\\\LAB-000005[\\PIPE\\epmapper]",
      "",
      "[*] Received 2 endpoints.",
    ].join("\n");
    expect(parseRpcdump(sample)).toEqual([
      "e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0 ncacn_ip_tcp:127.20.0.5[135]",
      "e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0 ncacn_np:\\\\LAB-000005[\\PIPE\\epmapper]",
    ]);
  });
});
