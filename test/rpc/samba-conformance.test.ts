import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, scratchDir } from "../helpers/cli.js";
import { sambaMissing, startSamba, type SambaPeer } from "../helpers/samba.js";
import { TSHARK, captured, tsharkFields } from "../helpers/tshark.js";
import type { EndpointDump } from "../../src/rpc/index.js";

/**
 * Conformance against a real endpoint mapper: Samba's samba-dcerpcd run standalone, exactly as
 * lab-and-peers.md §2 shows, with tshark dissecting the same exchange as the oracle. Samba sends
 * its last page with 0x16c9a0d6 and in two fragments, the two interop rules this guards.
 */
const NDR_UUID = "8a885d04-1ceb-11c9-9fe8-08002b104860";
/** 127.0.0.2 as in the lab doc; others if something already holds :135 there (not 127.20/14). */
const CANDIDATES = ["127.0.0.2", "127.0.0.42", "127.0.0.43"];
const DECODE_AS = ["tcp.port==135,dcerpc"];

const missing = sambaMissing(["samba-dcerpcd"], [TSHARK]);
if (missing !== null)
  console.warn(`skipping the Samba endpoint-mapper conformance test: ${missing}`);

function count(items: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const item of items) map.set(item, (map.get(item) ?? 0) + 1);
  return map;
}

describe.skipIf(missing !== null)("Samba endpoint mapper (samba-dcerpcd on :135)", () => {
  const tmp = scratchDir("rf-rpc-samba-");
  let samba: SambaPeer | undefined;
  let address = "";
  let pcap = "";
  let dump: EndpointDump;
  let cli: Awaited<ReturnType<typeof runCli>>;
  let check: Awaited<ReturnType<typeof runCli>>;
  let checkPcap = "";

  /** Run `action` while tshark records its traffic with the peer into `file`. */
  const capture = <T>(file: string, action: () => Promise<T>): Promise<T> =>
    captured(file, `host ${address} and port 135`, action);

  beforeAll(async () => {
    samba = await startSamba({
      dir: tmp.dir,
      daemons: ["samba-dcerpcd"],
      candidates: CANDIDATES,
      ports: [135],
      timeoutMs: 10_000,
    });
    address = samba.address;

    const scope = join(tmp.dir, "scope.yaml");
    writeFileSync(scope, `name: samba-peer\nallow: [${address}]\n`);
    pcap = join(tmp.dir, "epm.pcapng");
    cli = await capture(pcap, () =>
      runCli(["rpc", "dump", address, "--scope", scope, "--json", "--timeout", "5s", "--no-store"]),
    );
    checkPcap = join(tmp.dir, "check.pcapng");
    check = await capture(checkPcap, () =>
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
    samba?.stop();
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
    const rows = tsharkFields(
      pcap,
      "epm.opnum == 2 && dcerpc.pkt_type == 2",
      ["epm.uuid", "epm.annotation"],
      DECODE_AS,
    );
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
    const ourPayloadFrames = tsharkFields(
      pcap,
      "tcp.dstport == 135 && tcp.len > 0",
      ["frame.number"],
      DECODE_AS,
    );
    const ourDcerpc = tsharkFields(
      pcap,
      "tcp.dstport == 135 && dcerpc",
      ["dcerpc.pkt_type"],
      DECODE_AS,
    );
    expect(ourPayloadFrames.length).toBeGreaterThanOrEqual(2);
    expect(ourDcerpc.length).toBe(ourPayloadFrames.length);
    // bind (11) then ept_lookup request(s) (0)
    expect(ourDcerpc.map((r) => r[0])).toEqual(["11", ...Array(ourDcerpc.length - 1).fill("0")]);
    expect(tsharkFields(pcap, "_ws.malformed", ["frame.number"], DECODE_AS)).toEqual([]);
    // Samba's reply really was fragmented, so reassembly was exercised.
    expect(
      tsharkFields(
        pcap,
        "dcerpc.pkt_type == 2 && dcerpc.cn_flags.last_frag == 0",
        ["frame.number"],
        DECODE_AS,
      ).length,
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
    const ourPayloadFrames = tsharkFields(
      checkPcap,
      "tcp.dstport == 135 && tcp.len > 0",
      ["frame.number"],
      DECODE_AS,
    );
    const ourDcerpc = tsharkFields(
      checkPcap,
      "tcp.dstport == 135 && dcerpc",
      ["dcerpc.pkt_type"],
      DECODE_AS,
    );
    expect(ourPayloadFrames.length).toBeGreaterThanOrEqual(1);
    expect(ourDcerpc.length).toBe(ourPayloadFrames.length);
    expect(new Set(ourDcerpc.map((r) => r[0]))).toEqual(new Set(["11"]));
    expect(tsharkFields(checkPcap, "_ws.malformed", ["frame.number"], DECODE_AS)).toEqual([]);
    // Samba's bind_ack rejects IRemoteActivation: provider rejection, abstract syntax unsupported.
    const acks = tsharkFields(
      checkPcap,
      "dcerpc.pkt_type == 12",
      ["dcerpc.cn_ack_result", "dcerpc.cn_ack_reason"],
      DECODE_AS,
    );
    expect(acks).toEqual([["2", "1"]]);
  });
});
