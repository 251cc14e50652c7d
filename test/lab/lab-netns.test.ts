import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
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
import {
  NEEDS_ROOT,
  cleanupLab,
  nmapInNetns,
  privileged,
  probe,
  run,
  samplePerPersona,
  tcpStateOf,
  tempStateDir,
  uniqueLabName,
  which,
} from "./helpers.js";

const nmap = await which("nmap");
const nmblookup = await which("nmblookup");
const ALL_TCP = [22, 80, 135, 139, 445, 593, 4444];

describe.skipIf(!privileged)(`netns lab of 256 hosts [${NEEDS_ROOT}]`, () => {
  const name = uniqueLabName("ns");
  const netns = `rf-lab-${name}`;
  let stateDir = "";
  let state: LabState;
  let truth: GroundTruth;

  beforeAll(async () => {
    stateDir = await tempStateDir();
    state = await labUp({ name, hosts: 256, seed: "netns-test", mode: "netns", stateDir });
    truth = await readGroundTruth(state);
  });

  afterAll(async () => {
    await cleanupLab(name, stateDir, netns);
  });

  it("records the lab in its state file", async () => {
    expect(state).toMatchObject({
      name,
      mode: "netns",
      netns,
      netnsPath: `/run/netns/${netns}`,
      base: "127.20.0.0",
      hosts: 256,
      range: "127.20.0.0/24",
      portOffset: 0,
      tcpPorts: ALL_TCP,
      udpPorts: [137],
    });
    expect(existsSync(state.netnsPath ?? "")).toBe(true);
    const status = await labStatus({ name, stateDir });
    expect(status?.alive).toBe(true);
    expect(status?.netnsPresent).toBe(true);
    expect(truth.hosts).toHaveLength(256);
    expect(truth.hosts.every((h) => h.degraded === null)).toBe(true);
  });

  it.skipIf(nmap === null)(
    "nmap -sT inside the namespace sees exactly the ground truth",
    async () => {
      // Timing options only shorten the wait on dropped ports; they do not change what is found.
      const seen = await nmapInNetns(netns, [
        "-sT",
        "--max-rtt-timeout",
        "200ms",
        "--max-retries",
        "1",
        `-p${ALL_TCP.join(",")}`,
        state.range,
      ]);
      const expected = expectedObservations(truth, { tcpPorts: ALL_TCP, udpPorts: [] });
      expect(expected).toHaveLength(256 * ALL_TCP.length);
      const mismatches = expected.filter(
        (o) => seen.get(`${o.address}/tcp/${o.wirePort}`) !== o.state,
      );
      expect(mismatches).toEqual([]);
      // The sample must contain every state, or it proves little.
      expect(new Set(expected.map((o) => o.state))).toEqual(
        new Set(["open", "closed", "filtered"]),
      );
    },
  );

  it("closed ports RST at once; open ports complete the handshake and are never reset", async () => {
    const hosts = samplePerPersona(truth, 3);
    const results = await probe(netns, {
      tcp: hosts.flatMap((h) => ALL_TCP.map((port) => ({ address: h.address, port }))),
      timeoutMs: 1_500,
      holdMs: 400,
    });
    expect(results.tcp).toHaveLength(hosts.length * ALL_TCP.length);
    for (const r of results.tcp) {
      const host = hosts.find((h) => h.address === r.address);
      if (host === undefined) throw new Error(r.address);
      expect(`${r.address}:${r.port} ${r.result}`).toBe(
        `${r.address}:${r.port} ${tcpStateOf(host, r.port)}`,
      );
      // ECONNREFUSED well before any retransmission timer: a RST, not a timeout.
      if (r.result === "closed") expect(r.ms).toBeLessThan(500);
    }
  });

  it("treats addresses outside the lab as hosts with nothing open, not as accept-then-close", async () => {
    const outside = ["127.20.1.0", "127.20.255.255", "127.0.0.1"];
    const results = await probe(netns, {
      tcp: outside.flatMap((address) => [135, 445].map((port) => ({ address, port }))),
      udp: outside.map((address) => ({
        address,
        port: 137,
        hex: encodeNodeStatusRequest(1).toString("hex"),
      })),
      timeoutMs: 1_000,
      holdMs: 300,
    });
    expect(results.tcp.map((r) => r.result)).toEqual(Array(6).fill("closed"));
    expect(results.udp.map((r) => r.result)).toEqual(Array(3).fill("refused"));
  });

  it("answers NBSTAT from the host's own address for NetBIOS personas only", async () => {
    const hosts = samplePerPersona(truth, 2);
    const request = encodeNodeStatusRequest(0x1234).toString("hex");
    const results = await probe(netns, {
      udp: hosts.map((h) => ({ address: h.address, port: 137, hex: request })),
      timeoutMs: 1_000,
    });
    for (const r of results.udp) {
      const host = hosts.find((h) => h.address === r.address);
      if (host === undefined) throw new Error(r.address);
      if (host.udp.open.includes(137)) {
        expect(r.result).toBe("answer");
        // The probe's socket is connected: only a datagram from address:137 reaches it.
        expect(r.from).toBe(`${host.address}:137`);
        const status = decodeNodeStatusResponse(Buffer.from(r.hex ?? "", "hex"));
        if ("kind" in status) throw new Error(status.message);
        expect(status.transactionId).toBe(0x1234);
        expect(status.mac).toBe(host.netbios?.mac);
        expect(status.names.map((n) => `${n.name}<${n.suffix}>`)).toEqual(
          expect.arrayContaining([
            `${host.netbios?.computerName}<0>`,
            "LABGROUP<0>",
            `${host.netbios?.computerName}<32>`,
          ]),
        );
      } else if (host.udp.closed.includes(137)) {
        expect(`${host.address} ${r.result}`).toBe(`${host.address} refused`);
      } else {
        expect(`${host.address} ${r.result}`).toBe(`${host.address} silent`);
      }
    }
  });

  it.skipIf(nmap === null)(
    "nmap's UDP scan and nbstat script agree (raw-socket datagrams too)",
    async () => {
      const sample = samplePerPersona(truth, 1);
      const xml = await run("ip", [
        "netns",
        "exec",
        netns,
        "nmap",
        "-n",
        "-Pn",
        "-sU",
        "-p137",
        "--script",
        "nbstat",
        "-oX",
        "-",
        ...sample.map((h) => h.address),
      ]);
      for (const host of sample) {
        const block =
          xml.stdout.split("<host ").find((b) => b.includes(`addr="${host.address}"`)) ?? "";
        const state = /<state state="([^"]+)"/.exec(block)?.[1];
        const expected =
          host.udp.open.length > 0
            ? "open"
            : host.udp.closed.length > 0
              ? "closed"
              : "open|filtered";
        expect(`${host.address} ${state}`).toBe(`${host.address} ${expected}`);
        if (host.netbios !== null)
          expect(block).toContain(`NetBIOS name: ${host.netbios.computerName}`);
      }
    },
  );

  it.skipIf(nmblookup === null)(
    "nmblookup -A lists our names (conformance with Samba's client)",
    async () => {
      const host = truth.hosts.find((h) => h.netbios !== null);
      if (host?.netbios == null) throw new Error("no NetBIOS host in the lab");
      const out = await run("ip", ["netns", "exec", netns, "nmblookup", "-A", host.address]);
      expect(out.stdout).toContain(host.netbios.computerName);
      expect(out.stdout).toContain("LABGROUP");
    },
  );

  it("refuses a second `lab up` of the same name and leaves the first alone", async () => {
    const second = labUp({ name, hosts: 16, mode: "netns", stateDir });
    await expect(second).rejects.toBeInstanceOf(RingfenceError);
    await expect(second).rejects.toMatchObject({
      code: "RINGFENCE_LAB",
      message: expect.stringMatching(/already up/),
    });
    expect((await labStatus({ name, stateDir }))?.alive).toBe(true);
  });

  it("keeps its firewall inside the namespace", async () => {
    const root = await run("nft", ["list", "tables"]);
    expect(root.stdout).not.toContain("ringfence_lab");
    const inside = await run("ip", ["netns", "exec", netns, "nft", "list", "tables"]);
    expect(inside.stdout).toContain("table ip ringfence_lab");
    // Stateless: nothing made conntrack start in the lab namespace.
    const ct = await run("ip", [
      "netns",
      "exec",
      netns,
      "sh",
      "-c",
      "cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0",
    ]);
    expect(ct.stdout.trim()).toBe("0");
  });

  it("lab down removes the daemon, the namespace and the state; a second down is a no-op", async () => {
    const pid = state.pid;
    const first = await labDown({ name, stateDir });
    expect(first).toEqual({ name, stopped: true, netnsDeleted: true });
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(`/run/netns/${netns}`)).toBe(false);
    expect(existsSync(state.groundTruthFile)).toBe(false);
    expect(await labStatus({ name, stateDir })).toBeNull();
    expect(await labDown({ name, stateDir })).toEqual({
      name,
      stopped: false,
      netnsDeleted: false,
    });
  });
});

describe.skipIf(!privileged)(`netns lab recovery [${NEEDS_ROOT}]`, () => {
  const name = uniqueLabName("crash");
  const netns = `rf-lab-${name}`;
  let stateDir = "";

  beforeAll(async () => {
    stateDir = await tempStateDir();
  });
  afterAll(async () => {
    await cleanupLab(name, stateDir, netns);
  });

  it("gives up on a daemon that is not ready in time, and removes what it made", async () => {
    const attempt = labUp({ name, hosts: 8, mode: "netns", stateDir, readyTimeoutMs: 1 });
    await expect(attempt).rejects.toMatchObject({
      code: "RINGFENCE_LAB",
      message: expect.stringMatching(/not ready after 1 ms/),
      hint: expect.stringMatching(/full log: .*\.log/),
    });
    expect(existsSync(`/run/netns/${netns}`)).toBe(false);
    expect(await labStatus({ name, stateDir })).toBeNull();
  });

  it("cleans up after a daemon that died, and can come up again", async () => {
    const state = await labUp({ name, hosts: 8, mode: "netns", stateDir });
    process.kill(state.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    expect((await labStatus({ name, stateDir }))?.alive).toBe(false);
    // A new `lab up` replaces the dead lab instead of refusing.
    const again = await labUp({ name, hosts: 8, mode: "netns", stateDir });
    expect(again.pid).not.toBe(state.pid);
    expect((await labStatus({ name, stateDir }))?.alive).toBe(true);
    // A stale namespace without any state is removed by lab down.
    process.kill(again.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    await run("sh", ["-c", `rm -f ${stateDir}/*.json`]);
    expect(await labDown({ name, stateDir })).toEqual({ name, stopped: false, netnsDeleted: true });
    expect(existsSync(`/run/netns/${netns}`)).toBe(false);
  });
});
