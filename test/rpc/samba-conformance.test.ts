import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IS_ROOT, runCli, scratchDir } from "../helpers/cli.js";
import type { EndpointDump } from "../../src/rpc/index.js";

/**
 * Conformance against a real endpoint mapper: Samba's samba-dcerpcd run standalone, exactly as
 * lab-and-peers.md §2 shows, with tshark dissecting the same exchange as the oracle. Samba sends
 * its last page with 0x16c9a0d6 and in two fragments, the two interop rules this guards.
 */
const DCERPCD = "/usr/libexec/samba/samba-dcerpcd";
const TSHARK = "/usr/bin/tshark";
const NDR_UUID = "8a885d04-1ceb-11c9-9fe8-08002b104860";
/** 127.0.0.2 as in the lab doc; others if something already holds :135 there (not 127.20/14). */
const CANDIDATES = ["127.0.0.2", "127.0.0.42", "127.0.0.43"];

const missing = !IS_ROOT
  ? "needs root to bind TCP 135"
  : !existsSync(DCERPCD)
    ? `samba is not installed (${DCERPCD} missing; apt-get install -y samba)`
    : !existsSync(TSHARK)
      ? "tshark is not installed"
      : null;
if (missing !== null)
  console.warn(`skipping the Samba endpoint-mapper conformance test: ${missing}`);

function accepts(host: string, port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function smbConf(dir: string, address: string): string {
  return `[global]
  workgroup = LABGROUP
  netbios name = LABSMB
  server string = ringfence lab smb peer
  server role = standalone server
  interfaces = ${address}/8
  bind interfaces only = yes
  smb ports = 445 139
  disable netbios = no
  map to guest = Bad User
  guest account = nobody
  security = user
  pid directory = ${dir}/pid
  lock directory = ${dir}/lock
  state directory = ${dir}/state
  cache directory = ${dir}/cache
  private dir = ${dir}/private
  ncalrpc dir = ${dir}/ncalrpc
  log file = ${dir}/log/%m.log
  log level = 1
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = NT1
  rpc start on demand helpers = no
[public]
  path = ${dir}/share
  read only = yes
  guest ok = yes
`;
}

/** tshark -T fields output, one list per field, all occurrences. */
function tsharkFields(file: string, filter: string, fields: string[]): string[][] {
  const out = execFileSync(
    TSHARK,
    [
      "-r",
      file,
      "-d",
      "tcp.port==135,dcerpc",
      "-Y",
      filter,
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "separator=\t",
    ].concat(fields.flatMap((f) => ["-e", f])),
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  return out
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.split("\t"));
}

function count(items: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const item of items) map.set(item, (map.get(item) ?? 0) + 1);
  return map;
}

describe.skipIf(missing !== null)("Samba endpoint mapper (samba-dcerpcd on :135)", () => {
  const tmp = scratchDir("rf-rpc-samba-");
  let samba: ChildProcess | undefined;
  let address = "";
  let pcap = "";
  let dump: EndpointDump;
  let cli: Awaited<ReturnType<typeof runCli>>;
  let check: Awaited<ReturnType<typeof runCli>>;
  let checkPcap = "";

  /** Run `action` while tshark records its traffic with the peer into `file`. */
  async function captured<T>(file: string, action: () => Promise<T>): Promise<T> {
    const tshark = spawn(TSHARK, ["-i", "lo", "-f", `host ${address} and port 135`, "-w", file], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let tsharkErr = "";
    tshark.stderr!.on("data", (d: Buffer) => (tsharkErr += d.toString()));
    await waitFor(async () => tsharkErr.includes("Capturing on"), "tshark to start capturing");
    const result = await action();
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise((r) => tshark.once("exit", r));
    tshark.kill("SIGINT");
    await exited;
    return result;
  }

  beforeAll(async () => {
    for (const candidate of CANDIDATES) {
      if (!(await accepts(candidate, 135))) {
        address = candidate;
        break;
      }
    }
    if (address === "") throw new Error(`TCP 135 is taken on all of ${CANDIDATES.join(", ")}`);
    const dir = join(tmp.dir, "samba");
    for (const sub of ["pid", "lock", "state", "cache", "private", "ncalrpc", "log", "share"]) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    writeFileSync(join(dir, "smb.conf"), smbConf(dir, address));
    // detached: its own process group, so afterAll can stop it and its rpcd_* workers at once.
    samba = spawn(
      DCERPCD,
      [
        "-F",
        "--no-process-group",
        "--libexec-rpcds",
        `--configfile=${join(dir, "smb.conf")}`,
        "--debug-stdout",
        "-d",
        "0",
      ],
      { detached: true, stdio: "ignore" },
    );
    await waitFor(() => accepts(address, 135), `samba-dcerpcd on ${address}:135`);

    const scope = join(tmp.dir, "scope.yaml");
    writeFileSync(scope, `name: samba-peer\nallow: [${address}]\n`);
    pcap = join(tmp.dir, "epm.pcapng");
    cli = await captured(pcap, () =>
      runCli(["rpc", "dump", address, "--scope", scope, "--json", "--timeout", "5s", "--no-store"]),
    );
    checkPcap = join(tmp.dir, "check.pcapng");
    check = await captured(checkPcap, () =>
      runCli([
        "check",
        "ms03-026-remote-activation",
        address,
        "--scope",
        scope,
        "--json",
        "--no-store",
      ]),
    );
    dump = JSON.parse(cli.stdout) as EndpointDump;
  });

  afterAll(() => {
    if (samba?.pid !== undefined) {
      try {
        process.kill(-samba.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    tmp.cleanup();
  });

  it("enumerates the map, accepting the last page sent with 0x16c9a0d6", () => {
    expect(cli.code).toBe(0);
    expect(dump.complete).toBe(true);
    expect(dump.stop).toBe("no-more-entries");
    expect(dump.finalStatus).toBe(0x16c9a0d6);
    expect(dump.entries.length).toBeGreaterThanOrEqual(30);
    const names = new Set(dump.entries.map((e) => e.name));
    for (const name of ["epmapper", "lsarpc", "samr", "srvsvc", "wkssvc", "winreg", "netdfs"]) {
      expect(names).toContain(name);
    }
    expect(dump.entries.map((e) => e.binding)).toContain(`ncacn_ip_tcp:${address}[135]`);
  });

  it("has every entry tshark dissects from the same exchange", () => {
    const rows = tsharkFields(pcap, "epm.opnum == 2 && dcerpc.pkt_type == 2", [
      "epm.uuid",
      "epm.annotation",
    ]);
    const theirInterfaces = rows.flatMap((r) =>
      (r[0] ?? "").split(",").filter((u) => u !== "" && u !== NDR_UUID),
    );
    const theirAnnotations = rows.flatMap((r) => (r[1] ?? "").split(",").filter((a) => a !== ""));
    expect(theirInterfaces.length).toBeGreaterThan(0);
    const ours = count(dump.entries.map((e) => e.interface?.uuid ?? ""));
    for (const [uuid, n] of count(theirInterfaces))
      expect([uuid, ours.get(uuid)]).toEqual([uuid, n]);
    const ourAnnotations = count(dump.entries.map((e) => e.annotation));
    for (const [a, n] of count(theirAnnotations))
      expect([a, ourAnnotations.get(a)]).toEqual([a, n]);
  });

  it("sends only PDUs tshark dissects as DCERPC, none malformed", () => {
    const ourPayloadFrames = tsharkFields(pcap, "tcp.dstport == 135 && tcp.len > 0", [
      "frame.number",
    ]);
    const ourDcerpc = tsharkFields(pcap, "tcp.dstport == 135 && dcerpc", ["dcerpc.pkt_type"]);
    expect(ourPayloadFrames.length).toBeGreaterThanOrEqual(2);
    expect(ourDcerpc.length).toBe(ourPayloadFrames.length);
    // bind (11) then ept_lookup request(s) (0)
    expect(ourDcerpc.map((r) => r[0])).toEqual(["11", ...Array(ourDcerpc.length - 1).fill("0")]);
    expect(tsharkFields(pcap, "_ws.malformed", ["frame.number"])).toEqual([]);
    // Samba's reply really was fragmented, so reassembly was exercised.
    expect(
      tsharkFields(pcap, "dcerpc.pkt_type == 2 && dcerpc.cn_flags.last_frag == 0", ["frame.number"])
        .length,
    ).toBeGreaterThan(0);
  });

  it("the MS03-026/MS03-039 checks call Samba NOT_APPLICABLE_NON_WINDOWS, never VULNERABLE", () => {
    expect(check.code).toBe(0);
    const report = JSON.parse(check.stdout) as {
      hosts: {
        rpcss: { classification: string };
        results: { checkId: string; verdict: string }[];
      }[];
    };
    expect(report.hosts).toHaveLength(1);
    expect(report.hosts[0]?.rpcss.classification).toBe("NOT_APPLICABLE_NON_WINDOWS");
    expect(report.hosts[0]?.results.map((r) => r.verdict)).toEqual([
      "NOT_APPLICABLE",
      "NOT_APPLICABLE",
    ]);
  });

  it("the checks send only binds tshark dissects cleanly, and no request once the bind is refused", () => {
    const ourPayloadFrames = tsharkFields(checkPcap, "tcp.dstport == 135 && tcp.len > 0", [
      "frame.number",
    ]);
    const ourDcerpc = tsharkFields(checkPcap, "tcp.dstport == 135 && dcerpc", ["dcerpc.pkt_type"]);
    expect(ourPayloadFrames.length).toBeGreaterThanOrEqual(1);
    expect(ourDcerpc.length).toBe(ourPayloadFrames.length);
    expect(new Set(ourDcerpc.map((r) => r[0]))).toEqual(new Set(["11"]));
    expect(tsharkFields(checkPcap, "_ws.malformed", ["frame.number"])).toEqual([]);
    // Samba's bind_ack rejects IRemoteActivation: provider rejection, abstract syntax unsupported.
    const acks = tsharkFields(checkPcap, "dcerpc.pkt_type == 12", [
      "dcerpc.cn_ack_result",
      "dcerpc.cn_ack_reason",
    ]);
    expect(acks).toEqual([["2", "1"]]);
  });
});
