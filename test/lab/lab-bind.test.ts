import { existsSync } from "node:fs";
import { chmod } from "node:fs/promises";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectedObservations,
  labDown,
  labStatus,
  labUp,
  readGroundTruth,
  type GroundTruth,
  type LabState,
} from "../../src/lab/index.js";
import {
  decodeNodeStatusResponse,
  encodeNodeStatusRequest,
} from "../../src/protocols/netbios/index.js";
import { cleanupLab, probe, run, tempStateDir, uniqueLabName, which } from "./helpers.js";

const ALL_TCP = [22, 80, 135, 139, 445, 593, 4444];
/** Away from the default 20000 so a user's own bind-mode lab cannot collide with the test's. */
const OFFSET = 30_000;

function listenOn(address: string, port: number, banner: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end(banner);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve(server));
  });
}

function readBanner(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString()));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("bind-mode lab of 64 hosts with a port offset (root namespace, no firewall)", () => {
  const name = uniqueLabName("bind");
  let stateDir = "";
  let state: LabState;
  let truth: GroundTruth;
  let neighbour: net.Server | undefined;

  beforeAll(async () => {
    stateDir = await tempStateDir();
    // Another server on loopback first, on the very port the lab uses for 135: the lab must not
    // take it (it binds lab addresses only, never a wildcard).
    neighbour = await listenOn("127.0.0.2", 135 + OFFSET, "neighbour");
    state = await labUp({
      name,
      hosts: 64,
      seed: "bind-test",
      mode: "bind",
      portOffset: OFFSET,
      stateDir,
    });
    truth = await readGroundTruth(state);
  });

  afterAll(async () => {
    neighbour?.close();
    await cleanupLab(name, stateDir, null);
  });

  it("records bind mode, no namespace and the offset", () => {
    expect(state).toMatchObject({
      mode: "bind",
      netns: null,
      netnsPath: null,
      portOffset: OFFSET,
      hosts: 64,
    });
    expect(truth.tcpPorts).toContainEqual({ nominal: 135, port: 135 + OFFSET });
  });

  it("says in the ground truth that dropping personas degrade to closed", () => {
    const degraded = truth.hosts.filter((h) => h.degraded !== null);
    expect(degraded.length).toBeGreaterThan(0);
    for (const host of truth.hosts) {
      expect(host.tcp.filtered).toEqual([]);
      expect(host.udp.filtered).toEqual([]);
      expect(host.elsewhere).toBe("closed");
    }
  });

  it("matches the ground truth on every host and port, from the root namespace", async () => {
    const expected = expectedObservations(truth, { tcpPorts: ALL_TCP, udpPorts: [137] });
    const request = encodeNodeStatusRequest(0x4242).toString("hex");
    const results = await probe(null, {
      tcp: expected
        .filter((o) => o.protocol === "tcp")
        .map((o) => ({ address: o.address, port: o.wirePort })),
      udp: expected
        .filter((o) => o.protocol === "udp")
        .map((o) => ({ address: o.address, port: o.wirePort, hex: request })),
      timeoutMs: 1_000,
      holdMs: 300,
    });
    for (const o of expected.filter((e) => e.protocol === "tcp")) {
      const r = results.tcp.find((t) => t.address === o.address && t.port === o.wirePort);
      expect(`${o.address}:${o.wirePort} ${r?.result}`).toBe(
        `${o.address}:${o.wirePort} ${o.state}`,
      );
    }
    for (const o of expected.filter((e) => e.protocol === "udp")) {
      const r = results.udp.find((u) => u.address === o.address);
      expect(`${o.address} ${r?.result}`).toBe(
        `${o.address} ${o.state === "open" ? "answer" : "refused"}`,
      );
      if (o.state === "open") {
        const status = decodeNodeStatusResponse(Buffer.from(r?.hex ?? "", "hex"));
        const host = truth.hosts.find((h) => h.address === o.address);
        expect(status).toMatchObject({ transactionId: 0x4242, mac: host?.netbios?.mac });
      }
    }
  });

  it("coexists with the server that was on loopback first", async () => {
    expect(await readBanner("127.0.0.2", 135 + OFFSET)).toBe("neighbour");
  });

  it("refuses to start where another lab already holds lab addresses", async () => {
    const squatter = await listenOn("127.20.0.5", 445 + OFFSET + 1_000, "squatter");
    try {
      const attempt = labUp({
        name: `${name}x`,
        hosts: 8,
        mode: "bind",
        portOffset: OFFSET + 1_000,
        stateDir,
      });
      await expect(attempt).rejects.toMatchObject({
        code: "RINGFENCE_LAB",
        message: expect.stringContaining(`127.20.0.5:${445 + OFFSET + 1_000}`),
      });
    } finally {
      squatter.close();
    }
  });

  it("refuses a bind-mode lab that would exceed the open-file budget, before starting anything", async () => {
    const attempt = labUp({
      name: `${name}y`,
      hosts: 16_384,
      mode: "bind",
      portOffset: OFFSET,
      stateDir,
    });
    await expect(attempt).rejects.toMatchObject({
      code: "RINGFENCE_LAB",
      message: expect.stringMatching(/needs \d+ sockets, more than the 15000/),
      hint: expect.stringMatching(/root/),
    });
    expect(await labStatus({ name: `${name}y`, stateDir })).toBeNull();
  });

  it("lab down stops it; the addresses are free again", async () => {
    const result = await labDown({ name, stateDir });
    expect(result.stopped).toBe(true);
    expect(existsSync(state.groundTruthFile)).toBe(false);
    const open = truth.hosts.find((h) => h.tcp.open.length > 0);
    const after = await probe(null, {
      tcp: [{ address: open?.address ?? "", port: open?.tcp.open[0] ?? 0 }],
    });
    expect(after.tcp[0]?.result).toBe("closed");
  });
});

const setpriv = await which("setpriv");
const isRoot = process.getuid?.() === 0;
const LAB_MODULE = fileURLToPath(new URL("../../src/lab/index.ts", import.meta.url));

describe.skipIf(!isRoot || setpriv === null)(
  `an unprivileged user (run as nobody through setpriv${!isRoot ? "; skipped: the test runner must be root to switch user" : setpriv === null ? "; skipped: setpriv missing" : ""})`,
  () => {
    let stateDir = "";
    const name = uniqueLabName("user");

    beforeAll(async () => {
      stateDir = await tempStateDir();
      await chmod(stateDir, 0o777);
    });
    afterAll(async () => {
      await cleanupLab(name, stateDir, null);
    });

    /** Run a snippet against the lab API as nobody; prints JSON. */
    async function asNobody(snippet: string): Promise<unknown> {
      const script = `import * as lab from ${JSON.stringify(LAB_MODULE)};\nconst out = await (async () => { ${snippet} })();\nconsole.log(JSON.stringify(out));`;
      const result = await run("setpriv", [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        process.execPath,
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        script,
      ]);
      if (result.code !== 0) throw new Error(result.stderr);
      return JSON.parse(result.stdout.trim().split("\n").pop() ?? "null");
    }

    it("gets a bind-mode lab with the default offset 20000 in auto mode, and can stop it", async () => {
      const dir = JSON.stringify(stateDir);
      const state = (await asNobody(
        `const s = await lab.labUp({ name: "${name}", hosts: 16, stateDir: ${dir} }); return s;`,
      )) as LabState;
      expect(state).toMatchObject({ mode: "bind", portOffset: 20_000, netns: null });
      const truthHost = (await readGroundTruth(state)).hosts.find((h) => h.tcp.open.length > 0);
      const results = await probe(null, {
        tcp: [{ address: truthHost?.address ?? "", port: truthHost?.tcp.open[0] ?? 0 }],
      });
      expect(results.tcp[0]?.result).toBe("open");
      expect(
        await asNobody(`return lab.labDown({ name: "${name}", stateDir: ${dir} });`),
      ).toMatchObject({ stopped: true });
    });

    it("is told clearly that netns mode needs privilege", async () => {
      const dir = JSON.stringify(stateDir);
      const error = await asNobody(
        `try { await lab.labUp({ name: "${name}", hosts: 4, mode: "netns", stateDir: ${dir} }); return null; } catch (e) { return { code: e.code, message: e.message, hint: e.hint }; }`,
      );
      expect(error).toMatchObject({
        code: "RINGFENCE_NEEDS_PRIVILEGE",
        hint: expect.stringMatching(/root/),
      });
    });
  },
);
