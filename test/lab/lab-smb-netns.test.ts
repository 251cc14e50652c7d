import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PERSONAS,
  labUp,
  personaById,
  readGroundTruth,
  rpcEndpointsOf,
  type GroundTruth,
  type GroundTruthHost,
  type LabState,
  type SmbServerProfile,
} from "../../src/lab/index.js";
import { encodeSmb2NegotiateRequest } from "../../src/protocols/smb/index.js";
import {
  NEEDS_ROOT,
  cleanupLab,
  privileged,
  run,
  tempStateDir,
  uniqueLabName,
  which,
} from "./helpers.js";
import { parseRpcdump } from "./rpcdump.js";

/**
 * Conformance of the lab's SMB personas with real peers (issue 4, item 6), through the real
 * daemon in its network namespace, one host per persona (catalogue layout):
 *  - impacket's SMBConnection (negotiate, login('', ''), connectTree('IPC$')) accepts every SMB
 *    persona and reports the persona's dialect (the highest impacket 0.10 speaks: 3.0) and OS
 *    (NativeOS over SMB1, "Windows M.m Build B" from the NTLM VERSION over SMB2);
 *  - `nmap --script smb-os-discovery,smb-protocols` run inside the namespace lists the persona's
 *    dialects and (SMB1 personas) its NativeOS / NativeLanMan, as nmap prints them;
 *  - `rpcdump.py -port 445` lists over \PIPE\epmapper exactly the map TCP 135 serves, where a null
 *    session may open the pipe, and fails with STATUS_ACCESS_DENIED where it may not;
 *  - tshark dissects every SMB/NetBIOS reply of the lab without a malformed mark.
 * Root only (a namespace); the peers are skipped one by one when missing.
 */

const IMPACKET = "/usr/share/doc/python3-impacket/examples";
const RPCDUMP = `${IMPACKET}/rpcdump.py`;
const SMB_IMPACKET = fileURLToPath(new URL("./fixtures/smb-impacket.py", import.meta.url));
const haveImpacket = existsSync(RPCDUMP);
const haveDist = existsSync(fileURLToPath(new URL("../../dist/lab/daemon.js", import.meta.url)));
const nmap = await which("nmap");
const tshark = await which("tshark");

const NMAP_DIALECTS: Readonly<Record<string, string>> = {
  "NT LM 0.12": "NT LM 0.12 (SMBv1) [dangerous, but default]",
  "2.0.2": "202",
  "2.1": "210",
  "3.0": "300",
  "3.0.2": "302",
  "3.1.1": "311",
};

/** nmap's smb.get_windows_version: "Windows 5.0" → "Windows 2000", "Windows 5.1" → "Windows XP". */
function nmapOsName(nativeOs: string): string {
  if (nativeOs === "Windows 5.0") return "Windows 2000";
  if (nativeOs === "Windows 5.1") return "Windows XP";
  return nativeOs;
}

function profileOf(host: GroundTruthHost): SmbServerProfile | null {
  const smb = personaById(host.persona)?.smb ?? null;
  return smb?.kind === "server" ? smb : null;
}

/** The script outputs of nmap's -oX: address → script id → output text. */
function nmapScripts(xml: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const block of xml.split("<host ").slice(1)) {
    const address = /<address addr="([^"]+)"/.exec(block)?.[1];
    if (address === undefined) continue;
    const scripts = new Map<string, string>();
    for (const m of block.matchAll(/<script id="([^"]+)" output="([^"]*)"/g)) {
      scripts.set(
        m[1] ?? "",
        (m[2] ?? "")
          .replace(/&#xa;/g, "\n")
          .replace(/&quot;/g, '"')
          .replace(/&lt;/g, "<")
          .replace(/&gt;/g, ">")
          .replace(/&amp;/g, "&"),
      );
    }
    out.set(address, scripts);
  }
  return out;
}

describe.skipIf(!privileged || !haveDist)(
  `SMB personas against real peers in a netns catalogue lab [${NEEDS_ROOT}; needs npm run build]`,
  () => {
    const name = uniqueLabName("smb");
    const netns = `rf-lab-${name}`;
    let stateDir = "";
    let state: LabState;
    let truth: GroundTruth;
    let smbHosts: GroundTruthHost[] = [];
    let capture: ChildProcess | null = null;
    let pcap = "";
    const inNetns = (command: string, args: readonly string[], input?: string) =>
      run("ip", ["netns", "exec", netns, command, ...args], input);

    beforeAll(async () => {
      stateDir = await tempStateDir();
      state = await labUp({
        name,
        hosts: PERSONAS.length,
        layout: "catalogue",
        mode: "netns",
        stateDir,
      });
      truth = await readGroundTruth(state);
      smbHosts = truth.hosts.filter((h) => h.expected.smb !== null && profileOf(h) !== null);
      if (tshark !== null) {
        pcap = join(stateDir, "smb.pcapng");
        capture = spawn(
          "ip",
          [
            "netns",
            "exec",
            netns,
            tshark,
            "-i",
            "lo",
            "-f",
            "tcp port 445 or tcp port 139",
            "-w",
            pcap,
          ],
          { stdio: "ignore" },
        );
        // tshark is capturing once the file exists.
        for (let i = 0; i < 100 && !existsSync(pcap); i++)
          await new Promise((r) => setTimeout(r, 50));
      }
    }, 60_000);

    afterAll(async () => {
      if (capture?.pid !== undefined && capture.exitCode === null) capture.kill("SIGKILL");
      await cleanupLab(name, stateDir, netns);
    });

    it("has a host for every SMB persona, with 445 or 139 open", () => {
      expect(smbHosts.length).toBeGreaterThanOrEqual(30);
      for (const host of smbHosts) {
        expect(host.tcp.open.includes(445) || host.tcp.open.includes(139), host.persona).toBe(true);
      }
    });

    it.skipIf(!haveImpacket)(
      "impacket's SMBConnection accepts every persona and reports its dialect and OS",
      async () => {
        const targets = smbHosts.map((h) => ({
          address: h.address,
          port: h.tcp.open.includes(445) ? 445 : 139,
          // Windows 98 answers its own name only (smb-profiles.ts calledNames).
          name: h.netbios?.computerName ?? "*SMBSERVER",
        }));
        const out = await inNetns("/usr/bin/python3", [SMB_IMPACKET], JSON.stringify(targets));
        expect(out.stderr).toBe("");
        const results = JSON.parse(out.stdout) as {
          address: string;
          dialect: string | null;
          os: string | null;
          tree: number | null;
          error: string | null;
        }[];
        for (const [i, host] of smbHosts.entries()) {
          const profile = profileOf(host)!;
          const result = results[i];
          const port = targets[i]?.port;
          // impacket 0.10 offers 2.0.2, 2.1 and 3.0 over 445, only "SMB 2.002" over 139.
          const offered = port === 445 ? [0x0202, 0x0210, 0x0300] : [0x0202];
          const common = profile.smb2Dialects.filter((d) => offered.includes(d));
          const top = common[common.length - 1];
          const version = profile.ntlm?.version;
          const expected =
            top === undefined
              ? { dialect: "NT LM 0.12", os: profile.smb1?.nativeOs }
              : {
                  dialect: `0x${top.toString(16).padStart(4, "0")}`,
                  os: version
                    ? `Windows ${version.major}.${version.minor} Build ${version.build}`
                    : "",
                };
          expect({
            persona: host.persona,
            dialect: result?.dialect,
            os: result?.os,
            error: result?.error,
          }).toEqual({ persona: host.persona, ...expected, error: null });
          expect(result?.tree, host.persona).toBeGreaterThan(0);
        }
      },
      60_000,
    );

    it.skipIf(nmap === null)(
      "nmap smb-os-discovery and smb-protocols report each persona's OS and dialects",
      async () => {
        const out = await inNetns(nmap!, [
          "-n",
          "-Pn",
          "-p139,445",
          "--script",
          "smb-os-discovery,smb-protocols",
          "-oX",
          "-",
          ...smbHosts.map((h) => h.address),
        ]);
        expect(out.code).toBe(0);
        const scripts = nmapScripts(out.stdout);
        const differences: string[] = [];
        for (const host of smbHosts) {
          const profile = profileOf(host)!;
          const expected = host.expected.smb!;
          const mine = scripts.get(host.address) ?? new Map<string, string>();
          const protocols = mine.get("smb-protocols") ?? "";
          for (const dialect of expected.dialects) {
            if (!protocols.includes(NMAP_DIALECTS[dialect] ?? dialect)) {
              differences.push(`${host.persona}: smb-protocols lacks ${dialect}: ${protocols}`);
            }
          }
          const listed = protocols.split("\n").filter((l) => /^\s+(NT LM|\d{3}$)/.test(l)).length;
          if (listed !== expected.dialects.length) {
            differences.push(`${host.persona}: smb-protocols lists ${listed}: ${protocols}`);
          }
          const os = mine.get("smb-os-discovery");
          if (profile.smb1 !== null && profile.smb1.capabilities & 0x4) {
            const want = `OS: ${nmapOsName(profile.smb1.nativeOs)} (${profile.smb1.nativeLanMan})`;
            if (!os?.includes(want))
              differences.push(`${host.persona}: smb-os-discovery ${os ?? "-"}`);
            if (!os?.includes(`NetBIOS computer name: ${host.netbios?.computerName}`)) {
              differences.push(`${host.persona}: no computer name in ${os ?? "-"}`);
            }
          }
          // SMB1 off: nmap 7.93's smb-os-discovery (SMB1 only) has nothing to say.
          if (profile.smb1 === null && os !== undefined && os.includes("OS:")) {
            differences.push(`${host.persona}: smb-os-discovery without SMB1: ${os}`);
          }
        }
        // Windows 98 has no Unicode: nmap's SMB1 parser reads its OEM NEGOTIATE strings as UTF-16
        // and gives up ("aborting [14]", then "No dialects accepted"), as it would against a real
        // Windows 98. Recorded here, not ours to fix; impacket reads the same persona fine.
        const win98 = differences.filter((d) => d.startsWith("win98-dcom:"));
        expect(differences.filter((d) => !win98.includes(d))).toEqual([]);
        expect(win98.length).toBeGreaterThan(0);
      },
      120_000,
    );

    it.skipIf(!haveImpacket)(
      "rpcdump -port 445 lists over \\PIPE\\epmapper what TCP 135 serves, or is refused",
      async () => {
        const hosts = smbHosts.filter((h) => h.tcp.open.includes(445) && h.tcp.open.includes(135));
        let compared = 0;
        for (const host of hosts) {
          const profile = profileOf(host)!;
          const out = await inNetns("/usr/bin/python3", [RPCDUMP, "-port", "445", host.address]);
          if (profile.anonymousPipes && profile.smb1 !== null) {
            const want = (rpcEndpointsOf(truth, host) ?? []).map(
              (e) => `${e.uuid} v${e.version} ${e.binding}`,
            );
            expect([...parseRpcdump(out.stdout)].sort(), `${host.persona}\n${out.stdout}`).toEqual(
              [...want].sort(),
            );
            compared++;
          } else {
            expect(out.stdout, host.persona).toContain("STATUS_ACCESS_DENIED");
          }
        }
        expect(compared).toBeGreaterThanOrEqual(10);
      },
      120_000,
    );

    it("keeps serving while hostile SMB peers misbehave", async () => {
      const hostile = truth.hosts.filter((h) => h.persona.startsWith("smb-"));
      expect(hostile).toHaveLength(5);
      const negotiate = Buffer.from(
        encodeSmb2NegotiateRequest(
          {
            dialects: [0x0202],
            securityMode: 1,
            capabilities: 0,
            clientGuid: "00000000-0000-0000-0000-000000000001",
            contexts: [],
          },
          { messageId: 0n, credits: 1 },
        ),
      );
      const frame = Buffer.concat([Buffer.from([0, 0, 0, negotiate.length]), negotiate]).toString(
        "hex",
      );
      // A short poke at each (bounded by the probe's own timeout), then an ordinary host answers.
      const script = `
        const net = require("node:net");
        const poke = (address) => new Promise((resolve) => {
          const s = net.connect({ host: address, port: 445 });
          let n = 0;
          s.on("data", (d) => (n += d.length));
          s.on("error", () => resolve(n));
          s.on("connect", () => s.write(Buffer.from("${frame}", "hex")));
          setTimeout(() => { s.destroy(); resolve(n); }, 700);
        });
        (async () => {
          const hostile = ${JSON.stringify(hostile.map((h) => h.address))};
          const got = await Promise.all(hostile.map(poke));
          const after = await poke(${JSON.stringify(smbHosts.find((h) => h.persona === "win7-sp1")?.address)});
          process.stdout.write(JSON.stringify({ got, after }));
        })();
      `;
      const out = await inNetns(process.execPath, ["-e", script]);
      const { got, after } = JSON.parse(out.stdout) as { got: number[]; after: number };
      for (const bytes of got) expect(bytes).toBeGreaterThan(0);
      expect(after).toBeGreaterThan(64);
    });

    it.skipIf(tshark === null)(
      "tshark dissects every SMB and NetBIOS reply without a malformed mark",
      async () => {
        if (capture?.pid !== undefined) capture.kill("SIGINT");
        await new Promise((resolve) => capture?.once("exit", resolve));
        capture = null;
        const fields = async (filter: string, field: string): Promise<string[]> => {
          const out = await run(tshark!, [
            "-r",
            pcap,
            "-d",
            "tcp.port==139,nbss",
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            field,
          ]);
          return out.stdout.split("\n").filter((l) => l !== "");
        };
        const ours =
          "(tcp.srcport == 445 || tcp.srcport == 139) && !(tcp.dstport == 445 || tcp.dstport == 139)";
        // The hostile peers are malformed on purpose: leave their addresses out.
        const hostile = truth.hosts
          .filter((h) => h.persona.startsWith("smb-"))
          .map((h) => `ip.src != ${h.address}`);
        const filter = `${ours} && ${hostile.join(" && ")}`;
        expect(
          Number((await fields(`${filter} && (smb || smb2)`, "frame.number")).length),
        ).toBeGreaterThan(100);
        expect(await fields(`${filter} && _ws.malformed`, "frame.number")).toEqual([]);
        // Warnings: only tshark's own "not decoded yet" notes about ncalrpc towers in EPM replies.
        const warnings = await fields(
          `${filter} && _ws.expert.severity >= warning && !tcp.flags.reset && !tcp.analysis.flags`,
          "_ws.expert.message",
        );
        for (const line of warnings) {
          for (const message of line.split(",")) {
            expect(message).toMatch(/RightHandSide not decoded yet/);
          }
        }
      },
      60_000,
    );
  },
);
