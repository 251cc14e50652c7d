import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IS_ROOT, ROOT, runCli, scratchDir } from "../helpers/cli.js";
import {
  ILOCAL_OBJECT_EXPORTER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  EPMAPPER,
  isDecodeIssue,
} from "../../src/protocols/dcerpc/index.js";
import {
  REMOTE_ACTIVATION_OPNUM,
  REMOTE_CREATE_INSTANCE_OPNUM,
  REMOTE_GET_CLASS_OBJECT_OPNUM,
  checkARemoteActivationStub,
  decodeRemoteActivationRequest,
  kb824146ScanCreateInstanceStub,
  kb824146ScanEeyeStub,
  kb824146ScanUnboundContextStub,
  parseObjectName,
} from "../../src/protocols/dcom/index.js";
import {
  PERSONAS,
  personaById,
  readGroundTruth,
  type ExpectedRpcssVerdict,
  type GroundTruth,
  type GroundTruthHost,
  type LabState,
} from "../../src/lab/index.js";
import { servedInterfaces } from "../../src/lab/rpcss-model.js";
import type { HostCheckReport } from "../../src/checks/index.js";

/**
 * The MS03-026 / MS03-039 checks against independent peers, in a catalogue lab (one host per
 * persona) in its own network namespace:
 *  1. tshark dissects every PDU the checks send (and the lab's replies), one request per
 *     connection (research §3.2), no UNC server name beyond 15 characters;
 *  2. impacket's rpcmap finds exactly the interfaces the lab's RPCSS serves per persona;
 *  3. a verdict over ncacn_http (593) is the verdict over ncacn_ip_tcp (135).
 */

const TSHARK = "/usr/bin/tshark";
const RPCMAP = "/usr/share/doc/python3-impacket/examples/rpcmap.py";
const SYSTEM_PYTHON = "/usr/bin/python3";
const haveDist = existsSync(join(ROOT, "dist", "lab", "daemon.js"));
const haveTshark = existsSync(TSHARK);
const haveRpcmap = existsSync(RPCMAP) && existsSync(SYSTEM_PYTHON);

const labMissing = !IS_ROOT
  ? "needs root (the lab runs in its own network namespace)"
  : !haveDist
    ? "dist/ is not built (npm run build)"
    : null;
if (labMissing !== null) console.warn(`skipping the checks' peer-conformance tests: ${labMissing}`);
else {
  if (!haveTshark)
    console.warn(
      `skipping the tshark conformance test: ${TSHARK} missing (apt-get install tshark)`,
    );
  if (!haveRpcmap)
    console.warn(
      `skipping the rpcmap conformance test: ${RPCMAP} missing (apt-get install python3-impacket)`,
    );
}

const LAB_NAME = `pc${process.pid.toString(36)}`;
const NETNS = `rf-lab-${LAB_NAME}`;

// ---- small helpers ----

function run(
  command: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CheckReport {
  check: string;
  hosts: HostCheckReport[];
}

/** The whole table of tshark -T fields output: one row per frame, each field's occurrences split. */
function tsharkFields(
  file: string,
  filter: string,
  fields: readonly string[],
  extra: readonly string[] = [],
): string[][][] {
  const out = execFileSync(
    TSHARK,
    [
      "-r",
      file,
      // Every stream here is to TCP 135. Without this, tshark hands a stream to whatever owns
      // the client's ephemeral port when one is registered (34980 is EtherCAT): DCE/RPC over
      // TCP is only a heuristic dissector, tried after the port table.
      "-d",
      "tcp.port==135,dcerpc",
      ...extra,
      "-Y",
      filter,
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=|",
      "-E",
      "separator=\t",
      ...fields.flatMap((f) => ["-e", f]),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 },
  );
  return out
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) =>
      line.split("\t").map((cell) => (cell === "" ? [] : cell.split("|").filter((v) => v !== ""))),
    );
}

/** KB824146Scan reason codes that leave it undecided from what the host answered. */
const INDETERMINATE_FROM_ANSWERS = /^req\d-indeterminate$/;

/** tshark's expert severities (epan/proto.h PI_NOTE, PI_WARN). */
const PI_WARN = 0x00600000;
/** Frames tshark flags for TCP-level repair (retransmission, duplicate or D-SACK ACKs), not for what they carry. */
const NOT_TCP_REPAIR =
  "!tcp.analysis.retransmission && !tcp.analysis.fast_retransmission && !tcp.analysis.spurious_retransmission && !tcp.analysis.duplicate_ack && !tcp.options.sack.dsack";

/** Every UNC server component (`\\server` up to NUL or `\`) of the UTF-16LE strings in a stub. */
function uncServers(stub: Uint8Array): string[] {
  const servers: string[] = [];
  for (let i = 0; i + 4 <= stub.length; i++) {
    if (stub[i] !== 0x5c || stub[i + 1] !== 0 || stub[i + 2] !== 0x5c || stub[i + 3] !== 0) {
      continue;
    }
    let name = "";
    for (let j = i + 4; j + 2 <= stub.length && name.length <= 64; j += 2) {
      const unit = stub[j]! | (stub[j + 1]! << 8);
      if (unit === 0 || unit === 0x5c) break;
      name += String.fromCharCode(unit);
    }
    servers.push(name);
    i += 3;
  }
  return servers;
}

/** The MS03-039-only verdict (skipMs03026): the MS03-026 distinction collapses. */
function expectedWithoutCheckA(expected: ExpectedRpcssVerdict): string {
  return expected === "VULNERABLE_MS03_026" || expected === "VULNERABLE_MS03_039_ONLY"
    ? "VULNERABLE_MS03_039_ONLY_OR_WORSE"
    : expected;
}

/** Distinct fresh connections a host's sequence made (evidence steps carry their number). */
function connectionsOf(report: HostCheckReport): number {
  const evidence = report.results[0]?.evidence ?? [];
  return new Set(evidence.map((e) => e.connection)).size;
}

/** `rpcmap.py` output → "UUID vM.m" found, with the majors -brute-versions saw accepted. */
function parseRpcmap(output: string): Map<string, Set<number>> {
  const found = new Map<string, Set<number>>();
  let current: Set<number> | null = null;
  for (const line of output.split("\n")) {
    const uuid = /^UUID: ([0-9A-Fa-f-]{36}) v(\d+\.\d+)\s*$/.exec(line);
    if (uuid !== null) {
      current = new Set();
      found.set(`${uuid[1]!.toLowerCase()} v${uuid[2]!}`, current);
      continue;
    }
    const versions = /^Versions (\d+)(?:-(\d+))?: (.*)$/.exec(line);
    if (versions !== null && current !== null && versions[3] === "success") {
      const from = Number(versions[1]);
      const to = versions[2] === undefined ? from : Number(versions[2]);
      for (let v = from; v <= to; v++) current.add(v);
    }
  }
  return found;
}

// ---- the lab ----

describe.skipIf(labMissing !== null)(
  `checks against independent peers in a catalogue lab [${LAB_NAME}]`,
  () => {
    // Created in beforeAll: a skipped suite's body still runs (collection), its hooks do not.
    let scratch: ReturnType<typeof scratchDir> | undefined;
    let labDir = "";
    let truth: GroundTruth;
    let tshark: ChildProcess | undefined;

    const labArgs = () => ["--lab-dir", labDir, "--lab-name", LAB_NAME];
    const check = async (id: string, targets: readonly string[], extra: readonly string[] = []) => {
      const result = await runCli([
        "check",
        id,
        ...targets,
        ...labArgs(),
        "--json",
        "--no-store",
        "--timeout",
        "2s",
        "--host-timeout",
        "10s",
        ...extra,
      ]);
      // 0: nothing vulnerable, 1: something vulnerable; anything else is a usage/scope error.
      expect([0, 1], `${result.stderr}`).toContain(result.code);
      return { result, report: JSON.parse(result.stdout) as CheckReport };
    };
    const hostOf = (address: string): GroundTruthHost => {
      const host = truth.hosts.find((h) => h.address === address);
      if (host === undefined) throw new Error(`${address} is not in the lab`);
      return host;
    };
    const isHostile = (h: GroundTruthHost) => personaById(h.persona)?.rpcss.kind === "hostile";
    const firstOf = (persona: string): GroundTruthHost => {
      const host = truth.hosts.find((h) => h.persona === persona);
      if (host === undefined) throw new Error(`no ${persona} host in the lab`);
      return host;
    };

    beforeAll(async () => {
      scratch = scratchDir("rf-peer-conf-");
      labDir = join(scratch.dir, "lab");
      const up = await runCli([
        "lab",
        "up",
        "--layout",
        "catalogue",
        "--hosts",
        String(PERSONAS.length),
        "--name",
        LAB_NAME,
        "--lab-dir",
        labDir,
        "--json",
      ]);
      if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}`);
      const state = JSON.parse(up.stdout) as LabState;
      expect(state.netns).toBe(NETNS);
      truth = await readGroundTruth(state);
    });

    afterAll(async () => {
      if (tshark?.pid !== undefined && tshark.exitCode === null) tshark.kill("SIGKILL");
      if (scratch === undefined) return;
      await runCli(["lab", "down", "--name", LAB_NAME, "--lab-dir", labDir]).catch(() => undefined);
      if (existsSync(`/run/netns/${NETNS}`)) await run("ip", ["netns", "delete", NETNS]);
      scratch.cleanup();
    });

    // ---- 1. tshark ----
    describe.skipIf(!haveTshark)("tshark dissects every PDU the checks send", () => {
      let pcap = "";
      /** The full sequence (safe profile) on every non-hostile host with 135 open. */
      let safeRun: CheckReport;
      /** KB824146Scan + Check B (intrusive) on every host with 135 open, hostile ones included. */
      let aggressiveRun: CheckReport;
      let safeHosts: GroundTruthHost[] = [];
      let allRpcHosts: GroundTruthHost[] = [];
      const hostile = new Set<string>();
      /** Hosts where the aggressive run sent Check B (RemoteGetClassObject). */
      const checkBHosts = new Set<string>();

      beforeAll(async () => {
        pcap = join(scratch!.dir, "checks.pcapng");
        allRpcHosts = truth.hosts.filter((h) => h.tcp.open.includes(135));
        safeHosts = allRpcHosts.filter((h) => !isHostile(h));
        for (const h of allRpcHosts) if (isHostile(h)) hostile.add(h.address);

        tshark = spawn(
          "ip",
          ["netns", "exec", NETNS, TSHARK, "-i", "lo", "-f", "tcp port 135", "-w", pcap],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        let tsharkErr = "";
        tshark.stderr!.on("data", (d: Buffer) => (tsharkErr += d.toString()));
        const exited = new Promise((r) => tshark!.once("exit", r));
        for (let i = 0; i < 200 && !tsharkErr.includes("Capturing on"); i++) await sleep(50);
        if (!tsharkErr.includes("Capturing on")) throw new Error(`tshark: ${tsharkErr}`);

        safeRun = (
          await check(
            "ms03-026-remote-activation",
            safeHosts.map((h) => h.address),
          )
        ).report;
        aggressiveRun = (
          await check(
            "ms03-039-get-class-object",
            allRpcHosts.map((h) => h.address),
          )
        ).report;

        await sleep(500); // let the last FINs reach the capture
        tshark.kill("SIGINT");
        await exited;

        for (const report of aggressiveRun.hosts) {
          const steps = report.results[0]?.evidence ?? [];
          if (steps.some((e) => e.step.startsWith("Check B"))) checkBHosts.add(report.address);
        }
      });

      it("covers the personas the brief names, and the checks reach the ground truth's verdicts", () => {
        const personas = new Set(safeHosts.map((h) => h.persona));
        for (const p of [
          "nt4-sp6a",
          "w2k-sp4",
          "w2k-sp4-kb823980",
          "w2k-sp4-patched",
          "xp-sp2-open",
          "w2k-sp4-dcom-disabled",
          "win98-dcom",
          "hpux-dced",
        ]) {
          expect(personas, p).toContain(p);
        }
        expect(safeRun.hosts).toHaveLength(safeHosts.length);
        for (const report of safeRun.hosts) {
          const host = hostOf(report.address);
          expect(report.rpcss?.classification, `${host.persona}`).toBe(host.expected.rpcss);
        }
      });

      it("runs Check B only where KB824146Scan was indeterminate from the answers", () => {
        expect(aggressiveRun.hosts).toHaveLength(allRpcHosts.length);
        for (const report of aggressiveRun.hosts) {
          const host = hostOf(report.address);
          const steps = (report.results[0]?.evidence ?? []).map((e) => e.step);
          const ranCheckB = checkBHosts.has(report.address);
          const own = report.results[0]?.reason.code ?? "";
          // KB824146Scan's own conclusion, from the safe run where there is one (no Check B there).
          const safe = safeRun.hosts.find((r) => r.address === report.address)?.results[0];
          if (ranCheckB) {
            expect(report.results[0]?.checkId).toBe("ms03-039-get-class-object");
            if (safe !== undefined) expect(safe.reason.code).toMatch(INDETERMINATE_FROM_ANSWERS);
          } else {
            // Conclusive, or a transport failure (never Check B then: the host may be down).
            expect(own, `${host.persona}: ${steps.join("; ")}`).not.toMatch(
              INDETERMINATE_FROM_ANSWERS,
            );
            expect(safe?.reason.code ?? "", host.persona).not.toMatch(INDETERMINATE_FROM_ANSWERS);
            expect(report.results[0]?.checkId).toBe("ms03-039-kb824146scan");
            expect(report.rpcss?.classification, host.persona).toBe(
              expectedWithoutCheckA(host.expected.rpcss!),
            );
          }
        }
        // Today no persona leaves KB824146Scan undecided from its answers (the hostile peers fail
        // at the transport), so no Check B ran: the capture test then finds no opnum 3 at all.
      });

      it("sends only binds and requests, each dissected as DCE/RPC, none malformed", () => {
        // TCP's own repairs under load (a retransmitted segment, a D-SACK) are not ours to judge:
        // the original segment is checked, and the retransmission carries the same bytes.
        const payload = tsharkFields(
          pcap,
          `tcp.dstport == 135 && tcp.len > 0 && ${NOT_TCP_REPAIR}`,
          ["frame.number", "dcerpc.pkt_type"],
        );
        expect(payload.length).toBeGreaterThan(100);
        for (const [frame, types] of payload) {
          expect(types, `frame ${frame?.[0]} is not DCE/RPC`).not.toEqual([]);
          for (const t of types ?? []) expect(["11", "0"], `frame ${frame?.[0]}`).toContain(t);
        }
        expect(tsharkFields(pcap, "tcp.dstport == 135 && _ws.malformed", ["frame.number"])).toEqual(
          [],
        );
        // Warnings: only tshark's "Long frame" on RemoteCreateInstance, whose stub is Microsoft's
        // KB824146Scan request byte for byte (research §2.6.4); the ISystemActivator dissector
        // stops short of its activation-property blob.
        const warned = tsharkFields(
          pcap,
          `tcp.dstport == 135 && _ws.expert.severity >= ${PI_WARN} && ${NOT_TCP_REPAIR}`,
          ["frame.number", "dcerpc.opnum", "_ws.expert.severity", "_ws.expert.message"],
        );
        for (const [frame, opnums, severities, messages] of warned) {
          const serious = (messages ?? []).filter(
            (_, i) => Number(severities?.[i] ?? 0) >= PI_WARN,
          );
          expect([frame?.[0], opnums, serious]).toEqual([
            frame?.[0],
            [String(REMOTE_CREATE_INSTANCE_OPNUM)],
            ["Long frame"],
          ]);
        }
      });

      it("makes one connection per step: one bind, at most one request, on what the procedure names", () => {
        const rows = tsharkFields(pcap, "tcp.dstport == 135 && dcerpc", [
          "tcp.stream",
          "ip.dst",
          "dcerpc.pkt_type",
          "dcerpc.cn_ctx_id",
          "dcerpc.cn_bind_to_uuid",
          "dcerpc.opnum",
        ]);
        interface Stream {
          address: string;
          binds: { ctx: string; uuid: string }[];
          requests: { ctx: string; opnum: number }[];
        }
        const streams = new Map<string, Stream>();
        for (const [stream, dst, types, ctxs, uuids, opnums] of rows) {
          const id = stream?.[0] ?? "";
          const s = streams.get(id) ?? { address: dst?.[0] ?? "", binds: [], requests: [] };
          streams.set(id, s);
          if (types?.[0] === "11") {
            expect(types).toEqual(["11"]);
            expect(uuids, `one presentation context per bind (stream ${id})`).toHaveLength(1);
            s.binds.push({ ctx: ctxs?.[0] ?? "", uuid: uuids?.[0] ?? "" });
          } else {
            expect(types).toEqual(["0"]);
            s.requests.push({ ctx: ctxs?.[0] ?? "", opnum: Number(opnums?.[0]) });
          }
        }

        const calls = new Map<string, number>();
        const boundUuids = new Set<string>();
        for (const [id, s] of streams) {
          expect(s.binds, `stream ${id} to ${s.address}`).toHaveLength(1);
          expect(s.requests.length, `stream ${id} to ${s.address}`).toBeLessThanOrEqual(1);
          const bind = s.binds[0]!;
          expect(bind.ctx).toBe("0");
          boundUuids.add(bind.uuid);
          for (const r of s.requests) {
            // A request on context 0 calls the bound interface; any other context is unbound
            // (KB824146Scan's req4 on context 1).
            const key =
              r.ctx === "0"
                ? `${bind.uuid}#${r.opnum}`
                : `unbound ctx ${r.ctx} on ${bind.uuid}#${r.opnum}`;
            calls.set(key, (calls.get(key) ?? 0) + 1);
          }
        }
        expect([...boundUuids].sort()).toEqual(
          [IREMOTE_ACTIVATION.uuid, ILOCAL_OBJECT_EXPORTER.uuid, ISYSTEM_ACTIVATOR.uuid].sort(),
        );
        const createInstance = `${ISYSTEM_ACTIVATOR.uuid}#${REMOTE_CREATE_INSTANCE_OPNUM}`;
        const remoteActivation = `${IREMOTE_ACTIVATION.uuid}#${REMOTE_ACTIVATION_OPNUM}`;
        const req4 = `unbound ctx 1 on ${ISYSTEM_ACTIVATOR.uuid}#${REMOTE_ACTIVATION_OPNUM}`;
        expect(calls.get(createInstance)).toBeGreaterThan(0);
        expect(calls.get(remoteActivation)).toBeGreaterThan(0);
        const getClassObject = `${ISYSTEM_ACTIVATOR.uuid}#${REMOTE_GET_CLASS_OBJECT_OPNUM}`;
        expect([...calls.keys()].sort()).toEqual(
          [createInstance, remoteActivation, req4]
            .concat(checkBHosts.size > 0 ? [getClassObject] : [])
            .sort(),
        );
        // Check B (RemoteGetClassObject, opnum 3) went exactly to the hosts that reported it.
        const opnum3 = [...streams.values()]
          .filter((s) => s.binds[0]?.uuid === ISYSTEM_ACTIVATOR.uuid)
          .filter((s) => s.requests.some((r) => r.opnum === REMOTE_GET_CLASS_OBJECT_OPNUM))
          .map((s) => s.address);
        expect(opnum3.sort()).toEqual([...checkBHosts].sort());

        // Every connection the checks report is a stream in the capture, and no other.
        const reported = new Map<string, number>();
        for (const report of [...safeRun.hosts, ...aggressiveRun.hosts]) {
          reported.set(report.address, (reported.get(report.address) ?? 0) + connectionsOf(report));
        }
        const captured = new Map<string, number>();
        for (const s of streams.values())
          captured.set(s.address, (captured.get(s.address) ?? 0) + 1);
        expect(Object.fromEntries(captured)).toEqual(Object.fromEntries(reported));
      });

      it("names no UNC server longer than 15 characters in any request stub", () => {
        // Without the DCOM dissectors tshark hands over the stub bytes as dcerpc.stub_data.
        const stubs = tsharkFields(
          pcap,
          "tcp.dstport == 135 && dcerpc.pkt_type == 0",
          ["frame.number", "dcerpc.cn_ctx_id", "dcerpc.opnum", "dcerpc.stub_data"],
          ["--disable-protocol", "isystemactivator", "--disable-protocol", "remact"],
        );
        const remactNames = new Map(
          tsharkFields(pcap, "tcp.dstport == 135 && remact && dcerpc.pkt_type == 0", [
            "frame.number",
            "remact.object_name",
          ]).map(([frame, names]) => [frame?.[0] ?? "", names ?? []]),
        );
        expect(stubs.length).toBeGreaterThan(0);
        const servers = new Set<string>();
        let remoteActivations = 0;
        for (const [frame, , opnums, hex] of stubs) {
          const stub = Uint8Array.from(Buffer.from(hex?.[0] ?? "", "hex"));
          expect(stub.length, `frame ${frame?.[0]}`).toBeGreaterThan(0);
          for (const server of uncServers(stub)) {
            servers.add(server);
            expect(server.length, `frame ${frame?.[0]}: \\\\${server}`).toBeLessThanOrEqual(15);
          }
          if (Number(opnums?.[0]) !== REMOTE_ACTIVATION_OPNUM) continue;
          // RemoteActivation-shaped: Check A, the eEye pair, and req4 on the unbound context.
          const request = decodeRemoteActivationRequest(stub);
          if (isDecodeIssue(request)) throw new Error(`frame ${frame?.[0]}: ${request.message}`);
          expect(request.objectName, `frame ${frame?.[0]}`).not.toBeNull();
          const { server } = parseObjectName(request.objectName!);
          expect(server, `frame ${frame?.[0]}`).not.toBeNull();
          expect(server!.length, `frame ${frame?.[0]}`).toBeLessThanOrEqual(15);
          remoteActivations++;
          // tshark's REMACT dissector reads the same name (up to the first NUL).
          const theirs = remactNames.get(frame?.[0] ?? "");
          if (theirs !== undefined) expect(theirs).toEqual([`\\\\${server}`]);
        }
        expect(remoteActivations).toBeGreaterThan(0);
        // The scan saw the names it should: Check A's and req6's "A", req7's address, req4's MEOW.
        expect(servers).toContain("A");
        expect(servers).toContain("MEOW");
      });

      it("dissects the lab's replies with no malformed frame or warning", () => {
        const notHostile = [...hostile].map((a) => `ip.src != ${a}`).join(" && ");
        const replies = tsharkFields(pcap, `tcp.srcport == 135 && tcp.len > 0 && ${notHostile}`, [
          "frame.number",
          "dcerpc.pkt_type",
        ]);
        expect(replies.length).toBeGreaterThan(100);
        for (const [frame, types] of replies) {
          expect(types, `frame ${frame?.[0]} is not DCE/RPC`).not.toEqual([]);
          // bind_ack 12, bind_nak 13, response 2, fault 3
          for (const t of types ?? [])
            expect(["12", "13", "2", "3"], `frame ${frame?.[0]}`).toContain(t);
        }
        expect(
          tsharkFields(
            pcap,
            `tcp.srcport == 135 && (_ws.malformed || _ws.expert.severity >= ${PI_WARN}) && ${notHostile}`,
            ["frame.number", "_ws.expert.message"],
          ),
        ).toEqual([]);
        // The DCOM dissectors did read the activation answers.
        const hresults = tsharkFields(pcap, "tcp.srcport == 135 && dcom.hresult", ["dcom.hresult"]);
        expect(hresults.length).toBeGreaterThan(0);
      });
    });

    // ---- 2. rpcmap ----
    describe.skipIf(!haveRpcmap)(
      "impacket rpcmap -brute-uuids finds the persona's interfaces",
      () => {
        /** One rpcmap run per binding (~1 s each: 354 UUIDs, one connection per bind). */
        const runs = new Map<string, Promise<Map<string, Set<number>>>>();
        const rpcmap = (binding: string) => {
          if (!runs.has(binding)) runs.set(binding, rpcmapOnce(binding));
          return runs.get(binding)!;
        };
        const rpcmapOnce = async (binding: string) => {
          const out = await run("ip", [
            "netns",
            "exec",
            NETNS,
            SYSTEM_PYTHON,
            RPCMAP,
            // No NTLM: the lab (like an anonymous 2003 RPCSS probe) binds without auth.
            "-auth-level",
            "1",
            "-brute-uuids",
            // Bind majors 0..3 of each found UUID: "found" alone also covers binds rejected for a
            // reason rpcmap does not list (it skips only abstract_syntax_not_supported and two
            // Samba reasons), so the accepted major is what proves an interface is served.
            "-brute-versions",
            "-version-max",
            "3",
            binding,
          ]);
          expect(out.code, out.stderr + out.stdout).toBe(0);
          expect(out.stdout + out.stderr).not.toContain("Protocol failed");
          expect(out.stdout).toMatch(/Tested \d+ UUID/);
          return parseRpcmap(out.stdout);
        };
        const served = (host: GroundTruthHost): string[] => {
          const profile = personaById(host.persona)!.rpcss;
          if (profile.kind !== "windows" && profile.kind !== "win9x" && profile.kind !== "dce") {
            throw new Error(`${host.persona} has no emulated RPCSS`);
          }
          return servedInterfaces(profile)
            .map((s) => `${s.uuid} v${s.major}.${s.minor}`)
            .sort();
        };
        const expectServed = (found: Map<string, Set<number>>, host: GroundTruthHost) => {
          expect([...found.keys()].sort(), host.persona).toEqual(served(host));
          for (const [tup, majors] of found) {
            expect([tup, [...majors]], host.persona).toEqual([
              tup,
              [Number(/ v(\d+)\./.exec(tup)![1])],
            ]);
          }
        };
        const tup = (s: { uuid: string; major: number; minor: number }) =>
          `${s.uuid} v${s.major}.${s.minor}`;

        for (const persona of ["w2k-sp4", "w2k3-sp1", "win98-dcom"]) {
          it(`${persona}: exactly the interfaces its RPCSS serves`, async () => {
            const host = firstOf(persona);
            const found = await rpcmap(`ncacn_ip_tcp:${host.address}[135]`);
            expectServed(found, host);
          });
        }

        it("w2k-sp4 serves the endpoint mapper and the three activation interfaces", async () => {
          const host = firstOf("w2k-sp4");
          const found = await rpcmap(`ncacn_ip_tcp:${host.address}[135]`);
          for (const s of [
            EPMAPPER,
            IREMOTE_ACTIVATION,
            ISYSTEM_ACTIVATOR,
            ILOCAL_OBJECT_EXPORTER,
          ]) {
            expect([...found.keys()]).toContain(tup(s));
          }
        });

        it("nt4-sp6a: no ISystemActivator (COM before 5.6)", async () => {
          const host = firstOf("nt4-sp6a");
          const found = await rpcmap(`ncacn_ip_tcp:${host.address}[135]`);
          expectServed(found, host);
          expect([...found.keys()]).not.toContain(tup(ISYSTEM_ACTIVATOR));
          expect([...found.keys()]).toContain(tup(IREMOTE_ACTIVATION));
        });

        it("w2k3-rtm over ncacn_http (593): the same interfaces as over 135", async () => {
          const host = firstOf("w2k3-rtm");
          expect(host.tcp.open).toContain(593);
          const overHttp = await rpcmap(`ncacn_http:${host.address}[593]`);
          const overTcp = await rpcmap(`ncacn_ip_tcp:${host.address}[135]`);
          expectServed(overHttp, host);
          expect([...overHttp.keys()].sort()).toEqual([...overTcp.keys()].sort());
        });
      },
    );

    // ---- 3. transport independence ----
    describe("verdicts are independent of the transport", () => {
      it("the Server 2003 personas classify the same over ncacn_http (593) as over 135", async () => {
        const hosts = truth.hosts.filter((h) => h.tcp.open.includes(593));
        expect(hosts.map((h) => h.persona).sort()).toEqual(
          PERSONAS.filter((p) => p.tcpOpen.includes(593))
            .map((p) => p.id)
            .sort(),
        );
        expect(hosts.length).toBeGreaterThanOrEqual(2);
        const addresses = hosts.map((h) => h.address);
        const overTcp = (await check("ms03-026-remote-activation", addresses)).report;
        const overHttp = (await check("ms03-026-remote-activation", addresses, ["--port", "593"]))
          .report;
        const summary = (r: HostCheckReport) => ({
          classification: r.rpcss?.classification,
          reason: r.rpcss?.reason.code,
          verdicts: r.results.map((x) => `${x.checkId}=${x.verdict}`),
          steps: (r.results[0]?.evidence ?? []).map(
            (e) => `${e.step} → ${e.outcome}${e.status !== undefined ? ` (${e.status})` : ""}`,
          ),
        });
        for (const host of hosts) {
          const tcp = overTcp.hosts.find((r) => r.address === host.address)!;
          const http = overHttp.hosts.find((r) => r.address === host.address)!;
          expect(tcp.rpcss).toMatchObject({ port: 135, protseq: "ncacn_ip_tcp" });
          expect(http.rpcss).toMatchObject({ port: 593, protseq: "ncacn_http" });
          expect(tcp.rpcss?.classification, host.persona).toBe(host.expected.rpcss);
          expect(summary(http), host.persona).toEqual(summary(tcp));
          for (const r of http.results) expect(r.port).toBe(593);
        }
      });
    });
  },
);

// ---- the helpers' own tests (no root needed) ----

describe("peer-conformance helpers", () => {
  it("parseRpcmap reads found UUIDs and the majors -brute-versions accepted", () => {
    const sample = [
      "Impacket v0.10.0 - Copyright 2022 SecureAuth Corporation",
      "",
      "[*] Target MGMT interface not available",
      "[*] Bruteforcing UUIDs. The result may not be complete.",
      "Protocol: [MS-DCOM]: Distributed Component Object Model (DCOM) Remote",
      "Provider: rpcss.dll",
      "UUID: 000001A0-0000-0000-C000-000000000046 v0.0",
      "Versions 0: success",
      "Versions 1-3: abstract_syntax_not_supported (version not supported)",
      "",
      "Procotol: N/A",
      "Provider: rpcss.dll",
      "UUID: E1AF8308-5D1F-11C9-91A4-08002B14A0FA v3.0",
      "Versions 0: abstract_syntax_not_supported (version not supported)",
      "Versions 1: abstract_syntax_not_supported (version not supported)",
      "Versions 2: abstract_syntax_not_supported (version not supported)",
      "Versions 3: success",
      "",
      "UUID: E60C73E6-88F9-11CF-9AF1-0020AF6E72F4 v2.0",
      "",
      "[*] Tested 354 UUID(s)",
    ].join("\n");
    const found = parseRpcmap(sample);
    expect([...found.keys()]).toEqual([
      "000001a0-0000-0000-c000-000000000046 v0.0",
      "e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0",
      "e60c73e6-88f9-11cf-9af1-0020af6e72f4 v2.0",
    ]);
    expect([...found.values()].map((s) => [...s])).toEqual([[0], [3], []]);
  });

  it("uncServers finds every UTF-16 \\\\server in the probes' stubs", () => {
    // Check A's name is "\\A", NUL, "A\\AA": a second UNC-looking run after the embedded NUL.
    expect(uncServers(checkARemoteActivationStub())).toEqual(["A", "AA"]);
    expect(uncServers(kb824146ScanEeyeStub("req7"))).toContain("172.42.142.142");
    expect(uncServers(kb824146ScanUnboundContextStub())).toContain("MEOW");
    // InstanceInfo.fileName of Microsoft's request: a UNC path with an empty server component.
    expect(uncServers(kb824146ScanCreateInstanceStub("req1"))).toEqual([""]);
    const utf16 = (s: string) => Uint8Array.from(Buffer.from(s, "utf16le"));
    expect(uncServers(utf16("x\\\\SIXTEEN-CHARS-X\\share\0"))).toEqual(["SIXTEEN-CHARS-X"]);
    expect(uncServers(new Uint8Array(8))).toEqual([]);
  });
});
