import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PERSONAS,
  expectedObservations,
  labStatus,
  labUp,
  readGroundTruth,
  type GroundTruth,
  type GroundTruthHost,
  type LabState,
} from "../../src/lab/index.js";
import {
  EPMAPPER,
  NDR_TRANSFER_SYNTAX,
  encodeBind,
  encodeRequest,
} from "../../src/protocols/dcerpc/index.js";
import { checkARemoteActivationStub } from "../../src/protocols/dcom/index.js";
import { BIN, runCli } from "../helpers/cli.js";
import {
  NEEDS_ROOT,
  cleanupLab,
  privileged,
  probe,
  tempStateDir,
  uniqueLabName,
} from "./helpers.js";
import { RawClient } from "./in-process.js";
import { RpcTestClient } from "./rpc-client.js";

/**
 * The catalogue layout through the real daemon: one host per persona, started by the CLI
 * (`lab up --layout catalogue`) in bind mode (no privilege needed), the 4444 banners, every hostile
 * persona poked over raw sockets while the daemon keeps serving its other hosts; and, as root, the
 * same catalogue in a namespace behind nftables matching its ground truth port for port.
 */

const N = PERSONAS.length;
/** Away from the default 20000 and from the other lab tests' offsets. */
const OFFSET = 34_000;
const haveDist = existsSync(join(BIN, "..", "..", "dist", "cli", "main.js"));

describe.skipIf(!haveDist)(
  `catalogue lab of ${N} hosts started by the CLI, bind mode [skipped unless built: npm run build]`,
  () => {
    const name = uniqueLabName("cat");
    let stateDir = "";
    let state: LabState;
    let truth: GroundTruth;
    const cli = (args: string[]) => runCli([...args, "--name", name, "--lab-dir", stateDir]);
    const hostOf = (id: string): GroundTruthHost => {
      const host = truth.hosts.find((h) => h.persona === id);
      if (host === undefined) throw new Error(id);
      return host;
    };

    beforeAll(async () => {
      stateDir = await tempStateDir();
      const up = await cli([
        "lab",
        "up",
        "--layout",
        "catalogue",
        "--hosts",
        String(N),
        "--mode",
        "bind",
        "--port-offset",
        String(OFFSET),
        "--json",
      ]);
      if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}`);
      state = JSON.parse(up.stdout) as LabState;
      truth = await readGroundTruth(state);
    });

    afterAll(async () => {
      await cleanupLab(name, stateDir, null);
    });

    it("records the layout in the state, the daemon config and the ground truth", async () => {
      expect(state).toMatchObject({ layout: "catalogue", hosts: N, mode: "bind" });
      expect(truth.layout).toBe("catalogue");
      const config = JSON.parse(await readFile(join(stateDir, `${name}.daemon.json`), "utf8")) as {
        layout: string;
      };
      expect(config.layout).toBe("catalogue");
      const status = await cli(["lab", "status"]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain("catalogue layout");
    });

    it("has one host per persona, in catalogue order, with its expected verdicts", () => {
      expect(truth.hosts.map((h) => h.persona)).toEqual(PERSONAS.map((p) => p.id));
      for (const [i, host] of truth.hosts.entries()) {
        const persona = PERSONAS[i];
        if (persona === undefined) throw new Error(String(i));
        // bind mode opens exactly tcpOpen, so every verdict whose port the persona opens stands.
        expect(host.expected, persona.id).toEqual(persona.expected);
      }
    });

    it("matches the ground truth on every host and port", async () => {
      const expected = expectedObservations(truth, {
        tcpPorts: [...state.tcpPorts],
        udpPorts: [],
      });
      const results = await probe(null, {
        tcp: expected.map((o) => ({ address: o.address, port: o.wirePort })),
        timeoutMs: 1_000,
        holdMs: 200,
      });
      for (const o of expected) {
        const r = results.tcp.find((t) => t.address === o.address && t.port === o.wirePort);
        expect(`${o.address}:${o.port} ${r?.result}`).toBe(`${o.address}:${o.port} ${o.state}`);
      }
    });

    it("TCP 4444: a cmd.exe banner on Blaster hosts, another banner on the dev box, nothing run", async () => {
      for (const persona of PERSONAS.filter((p) => p.tcp4444 !== null)) {
        const banner = persona.tcp4444?.banner ?? "";
        const client = await RawClient.connect(4444 + OFFSET, hostOf(persona.id).address);
        const got = await client.atLeast(banner.length);
        expect(got.toString("latin1"), persona.id).toBe(banner);
        client.send(Buffer.from("tftp -i 127.0.0.1 GET msblast.exe\r\n"));
        // Bounded wait: a shell would echo or answer; the lab reads and discards.
        const after = await client.atLeast(banner.length + 1, 300);
        expect(after.length, persona.id).toBe(banner.length);
        expect(client.socket.destroyed).toBe(false);
        client.close();
      }
      expect(hostOf("blaster-xp").expected.blaster).toBe("present");
      expect(hostOf("linux-dev-4444").expected.blaster).toBe("absent");
    });

    it("survives every hostile persona and keeps serving the other hosts", async () => {
      const bind = encodeBind({
        callId: 1,
        contexts: [
          { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
        ],
      });
      const request = encodeRequest({
        callId: 2,
        contextId: 0,
        opnum: 0,
        stub: checkARemoteActivationStub(),
      });
      const hostile = PERSONAS.filter((p) => p.rpcss.kind === "hostile");
      expect(hostile).toHaveLength(6);
      for (let round = 0; round < 3; round++) {
        const clients = await Promise.all(
          hostile.map((p) => RawClient.connect(135 + OFFSET, hostOf(p.id).address)),
        );
        clients.forEach((c) => c.send(bind));
        const first = await Promise.all(clients.map((c) => c.atLeast(1)));
        // Every one of them answers the bind with something (slow-drip: its first byte, 0x05).
        for (const [i, got] of first.entries()) expect(got[0], hostile[i]?.id).toBe(5);
        clients.forEach((c) => c.send(request));
        await Promise.all(clients.map((c) => c.atLeast(4_096, 300)));
        clients.forEach((c) => c.close());
      }
      // The rest of the lab is unaffected: a full endpoint map from a Windows host.
      const client = await RpcTestClient.connect(hostOf("w2k-sp4").address, 135 + OFFSET);
      expect((await client.bind())?.type).toBe("bind_ack");
      const { entries, statuses } = await client.lookupAll();
      client.close();
      expect(statuses).toEqual([0]);
      expect(entries.length).toBeGreaterThan(4);
      const status = await labStatus({ name, stateDir });
      expect(status?.alive).toBe(true);
      const log = await readFile(state.logFile, "utf8");
      expect(log).not.toMatch(/handler failed|uncaught|Error:/i);
    });
  },
);

describe.skipIf(!privileged)(`catalogue lab in a namespace behind nftables [${NEEDS_ROOT}]`, () => {
  const name = uniqueLabName("catns");
  const netns = `rf-lab-${name}`;
  let stateDir = "";
  let truth: GroundTruth;

  beforeAll(async () => {
    stateDir = await tempStateDir();
    const state = await labUp({ name, hosts: N, layout: "catalogue", mode: "netns", stateDir });
    truth = await readGroundTruth(state);
  });

  afterAll(async () => {
    await cleanupLab(name, stateDir, netns);
  });

  it("shows every persona as designed, hostile ones included, port for port", async () => {
    expect(truth.layout).toBe("catalogue");
    expect(truth.hosts.every((h) => h.degraded === null)).toBe(true);
    const expected = expectedObservations(truth, {
      tcpPorts: [...truth.tcpPorts.map((p) => p.nominal)],
      udpPorts: [],
    });
    const results = await probe(netns, {
      tcp: expected.map((o) => ({ address: o.address, port: o.wirePort })),
      timeoutMs: 500,
      holdMs: 200,
    });
    for (const o of expected) {
      const r = results.tcp.find((t) => t.address === o.address && t.port === o.wirePort);
      expect(`${o.address}:${o.port} ${r?.result}`).toBe(`${o.address}:${o.port} ${o.state}`);
    }
    for (const [i, host] of truth.hosts.entries()) {
      expect(host.expected, host.persona).toEqual(PERSONAS[i]?.expected);
    }
  });
});
