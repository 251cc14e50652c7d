import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostCheckReport } from "../../src/checks/index.js";
import type { EndpointDump } from "../../src/rpc/index.js";
import { printable } from "../../src/cli/smb-output.js";
import type { SmbFingerprint } from "../../src/smb/fingerprint.js";
import { ROOT, scratchDir, type CliResult } from "../helpers/cli.js";
import { waitFor } from "../helpers/net.js";
import { SAMBA_DAEMONS, sambaMissing, startSamba } from "../helpers/samba.js";
import { TSHARK, tsharkFields } from "../helpers/tshark.js";
import { IP, Netns, captured } from "./netns.js";

/**
 * Conformance of the SMB client, the fingerprint, the SMB checks and the named-pipe transport
 * against a real Samba (smbd + nmbd + samba-dcerpcd from Debian, lab-and-peers.md §2) in a
 * network namespace of this test's own, with `server min protocol = NT1` so SMB1 is offered.
 * Oracles: the server's own configuration, nmap's smb-os-discovery / smb-protocols /
 * smb2-security-mode, `nmblookup -A`, the endpoint map Samba serves on TCP 135, and tshark,
 * which must dissect every packet ringfence sends without a malformed-packet error.
 */

const SMBD = SAMBA_DAEMONS.smbd;
const NMAP = "/usr/bin/nmap";
const NMBLOOKUP = "/usr/bin/nmblookup";
const ADDRESS = "127.0.0.2";

const missing = sambaMissing(["samba-dcerpcd", "smbd", "nmbd"], [IP, NMAP, NMBLOOKUP, TSHARK]);
if (missing !== null) console.warn(`skipping the Samba SMB conformance test: ${missing}`);

interface CheckJson {
  readonly hosts: readonly HostCheckReport[];
}

/** nmap's script output lines under `| name:` for one script. */
function nmapScript(output: string, name: string): string[] {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`| ${name}:`));
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^\|[ _]/.test(line)) break;
    out.push(line.replace(/^\|[ _]\s*/, ""));
    if (line.startsWith("|_")) break;
  }
  return out;
}

function field(lines: readonly string[], name: string): string | undefined {
  const line = lines.find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

/** nmap smb-protocols' dialect words → ours. */
const NMAP_DIALECTS: Readonly<Record<string, string>> = {
  "NT LM 0.12 (SMBv1) [dangerous, but default]": "NT LM 0.12",
  "2:0:2": "2.0.2",
  "2:1:0": "2.1",
  "3:0:0": "3.0",
  "3:0:2": "3.0.2",
  "3:1:1": "3.1.1",
  "202": "2.0.2",
  "210": "2.1",
  "300": "3.0",
  "302": "3.0.2",
  "311": "3.1.1",
};

describe.skipIf(missing !== null)(
  "Samba smbd + nmbd (SMB1 and SMB2/3, NetBIOS, \\pipe\\epmapper)",
  () => {
    const tmp = scratchDir("rf-smb-samba-");
    const ns = new Netns(`rf-smbt-${process.pid}`);
    const scopeFile = join(tmp.dir, "scope.yaml");
    const pcap = join(tmp.dir, "smb.pcapng");
    let fp445: SmbFingerprint;
    let fp139: SmbFingerprint;
    let report445: HostCheckReport;
    let checks: CliResult;
    let checkReport: HostCheckReport;
    let npDump: EndpointDump;
    let npDump139Smb1: EndpointDump;
    let tcpDump: EndpointDump;
    let nmap = "";
    let nmblookup = "";
    let smbdVersion = "";

    beforeAll(async () => {
      ns.create();
      writeFileSync(scopeFile, `name: samba-peer\nallow: [${ADDRESS}]\n`);
      // The server's configuration, the fingerprint's first oracle. `local master = no`: nmbd
      // never becomes the browse master, so its NBSTAT names do not change while the test runs.
      await startSamba({
        dir: tmp.dir,
        daemons: ["samba-dcerpcd", "smbd", "nmbd"],
        candidates: [ADDRESS],
        ports: [135, 139, 445],
        global: { "local master": "no", "preferred master": "no", "domain master": "no" },
        place: ns,
      });
      smbdVersion = ns.run(SMBD, ["--version"]).trim();
      await waitFor(
        () => /LABSMB\s+<20>/.test(ns.run(NMBLOOKUP, ["-A", ADDRESS], { allowFail: true })),
        "nmbd to register its names",
      );

      const cli = (args: string[]) =>
        ns.cli([...args, "--scope", scopeFile, "--json", "--no-store"]);
      const results = await captured(
        ns,
        pcap,
        `host ${ADDRESS} and (port 445 or port 139 or port 137)`,
        async () => ({
          fp445: await cli(["check", "smb-fingerprint", ADDRESS]),
          fp139: await cli(["check", "smb-fingerprint", ADDRESS, "--port", "139"]),
          checks: await cli(["check", "ms17-010", ADDRESS]),
          np: await ns.cli([
            "rpc",
            "dump",
            `ncacn_np:${ADDRESS}[\\pipe\\epmapper]`,
            "--scope",
            scopeFile,
            "--json",
            "--no-store",
          ]),
          np139: ns.run(
            process.execPath,
            [join(ROOT, "test/smb-client/fixtures/np-dump.mjs"), ADDRESS, "smb1", "139"],
            {
              allowFail: true,
            },
          ),
        }),
      );
      for (const [name, r] of Object.entries({
        fp445: results.fp445,
        fp139: results.fp139,
        checks: results.checks,
        np: results.np,
      })) {
        if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr}`);
      }
      report445 = (JSON.parse(results.fp445.stdout) as CheckJson).hosts[0]!;
      fp445 = report445.smb!;
      fp139 = (JSON.parse(results.fp139.stdout) as CheckJson).hosts[0]!.smb!;
      checks = results.checks;
      checkReport = (JSON.parse(checks.stdout) as CheckJson).hosts[0]!;
      npDump = JSON.parse(results.np.stdout) as EndpointDump;
      npDump139Smb1 = JSON.parse(results.np139) as EndpointDump;
      tcpDump = JSON.parse(
        (await ns.cli(["rpc", "dump", ADDRESS, "--scope", scopeFile, "--json", "--no-store"]))
          .stdout,
      ) as EndpointDump;
      nmap = ns.run(NMAP, [
        "-n",
        "-Pn",
        "-p445",
        "--script",
        "smb-os-discovery,smb-protocols,smb2-security-mode",
        ADDRESS,
      ]);
      nmblookup = ns.run(NMBLOOKUP, ["-A", ADDRESS]);
    }, 180_000);

    afterAll(() => {
      ns.destroy();
      tmp.cleanup();
    });

    it("agrees with the server's configuration", () => {
      // server min protocol = NT1, max default (SMB3_11): all six dialects.
      expect(fp445.acceptedDialects).toEqual([
        "NT LM 0.12",
        "2.0.2",
        "2.1",
        "3.0",
        "3.0.2",
        "3.1.1",
      ]);
      // server signing = default: SMB2 signing enabled, not required; SMB1 signing off.
      expect(fp445.signing).toEqual({
        at: "smb2",
        enabled: true,
        required: false,
        state: "enabled",
      });
      expect(fp445.smb1?.signingEnabled).toBe(false);
      // netbios name = LABSMB, workgroup = LABGROUP, security = user, a standalone server.
      expect(fp445.ntlm?.nbComputerName).toBe("LABSMB");
      expect(fp445.ntlm?.nbDomainName).toBe("LABSMB");
      expect(fp445.smb1?.primaryDomain).toBe("LABGROUP");
      expect(fp445.smb1?.userSecurity).toBe(true);
      // Samba's ServerGuid is its NetBIOS name in lower case (lab-and-peers.md, os-inference.ts).
      expect(fp445.serverGuid).toBe("7362616c-626d-0000-0000-000000000000");
      // The release smbd --version prints ("Version 4.17.12-Debian").
      const release = /Version (\S+)/.exec(smbdVersion)?.[1] ?? "";
      expect(fp445.smb1?.nativeLanMan).toBe(`Samba ${release}`);
      expect(fp445.os.family).toBe("samba");
      expect(fp445.os.product).toBe("Samba 4.x");
      expect(fp445.os.label).toBe(`Samba ${release.replace(/-.*$/, "")}`);
      expect(fp445.os.confidence).toBeGreaterThanOrEqual(90);
      expect(fp445.compression).toEqual({ offered: false, algorithms: [] });
      // Both anonymous sessions (SMB1 extended security, SMB2 SPNEGO/NTLMSSP) were accepted.
      expect(fp445.smb1?.nullSession.established).toBe(true);
      expect(fp445.smb2?.nullSession?.established).toBe(true);
      expect(fp445.smb1?.ipc).toBe("connected");
      expect(fp445.failures).toEqual([]);
    });

    it("says what nmap's smb-os-discovery, smb-protocols and smb2-security-mode say", () => {
      const os = nmapScript(nmap, "smb-os-discovery");
      expect(os.length).toBeGreaterThan(0);
      expect(field(os, "OS")).toBe(`${fp445.smb1?.nativeOs} (${fp445.smb1?.nativeLanMan})`);
      expect(field(os, "Computer name")).toBe(fp445.ntlm?.dnsComputerName);
      expect(field(os, "FQDN")).toBe(fp445.ntlm?.dnsComputerName);
      // Where nmap is wrong: it prints Samba's NetBIOS name with the NUL terminator it read from
      // the SMB1 reply ("LABSMB\x00"); the name in the NTLMSSP CHALLENGE and NBSTAT is "LABSMB".
      const nmapNetbios = field(os, "NetBIOS computer name");
      expect(nmapNetbios).toBe("LABSMB\\x00");
      expect(fp445.ntlm?.nbComputerName).toBe("LABSMB");
      const nmapTime = Date.parse(field(os, "System time") ?? "");
      expect(Math.abs(nmapTime - Date.parse(fp445.systemTime ?? ""))).toBeLessThan(120_000);

      const protocols = nmapScript(nmap, "smb-protocols").filter((l) => l.trim() !== "dialects:");
      expect(protocols.map((l) => NMAP_DIALECTS[l] ?? l)).toEqual(fp445.acceptedDialects);

      const security = nmapScript(nmap, "smb2-security-mode");
      const top = fp445.smb2!.dialect.replace(/\./g, "");
      const nmapTop = security[0]?.trim().replace(/:$/, "").replace(/:/g, "");
      expect(nmapTop).toBe(top.length === 2 ? `${top}0` : top);
      expect(security[1]).toBe("Message signing enabled but not required");
      expect(fp445.signing.state).toBe("enabled");
    });

    it("has the NBSTAT names and MAC nmblookup -A reports", () => {
      const theirs = nmblookup
        .split("\n")
        .map((l) => /^\s+(\S+)\s+<([0-9a-f]{2})>\s+-\s+(<GROUP>)?/.exec(l))
        .filter((m) => m !== null)
        .map((m) => `${m[1]}<${m[2]}>${m[3] !== undefined ? " group" : ""}`)
        .sort();
      const ours = (fp445.nbstat?.names ?? [])
        .map(
          (n) =>
            `${printable(n.name)}<${n.suffix.toString(16).padStart(2, "0")}>${n.group ? " group" : ""}`,
        )
        .sort();
      expect(theirs.length).toBeGreaterThan(0);
      expect(ours).toEqual(theirs);
      const mac = /MAC Address = (\S+)/.exec(nmblookup)?.[1];
      expect(fp445.nbstat?.mac?.replace(/:/g, "-").toUpperCase()).toBe(mac);
    });

    it("fingerprints the same over TCP 139, after a NetBIOS session request to *SMBSERVER", () => {
      expect(fp139.port).toBe(139);
      expect(fp139.netbiosCalledName).toBe("*SMBSERVER");
      expect(fp139.acceptedDialects).toEqual(fp445.acceptedDialects);
      expect(fp139.ntlm?.nbComputerName).toBe("LABSMB");
      expect(fp139.os.label).toBe(fp445.os.label);
    });

    it("reads the SMB checks' verdicts off Samba: SMBv1 on, MS17-010 not (invalid handle), no SMBGhost", () => {
      expect(checks.code).toBe(0);
      expect(checkReport.results.map((r) => [r.checkId, r.verdict, r.reason.code])).toEqual([
        ["ms17-010-peeknamedpipe", "NOT_VULNERABLE", "invalid-handle"],
      ]);
      const peek = checkReport.results[0]!.evidence.find((s) => s.step.includes("PeekNamedPipe"));
      expect(peek?.status).toBe("STATUS_INVALID_HANDLE (0xc0000008)");
      // The same fingerprint, read by the other three checks (in-process, from the JSON).
      expect(report445.results).toEqual([]);
    });

    it("lists Samba's endpoint map over \\pipe\\epmapper (SMB2 on 445, SMB1 on 139) as over TCP 135", () => {
      const key = (d: EndpointDump) =>
        d.entries.map((e) => `${e.interface?.uuid} ${e.binding}`).sort();
      expect(tcpDump.entries.length).toBeGreaterThanOrEqual(30);
      expect(npDump.target).toBe(`ncacn_np:${ADDRESS}[445]`);
      expect(key(npDump)).toEqual(key(tcpDump));
      expect(npDump139Smb1.target).toBe(`ncacn_np:${ADDRESS}[139]`);
      expect(key(npDump139Smb1)).toEqual(key(tcpDump));
      expect(npDump.complete).toBe(true);
    });

    it("sends only packets tshark dissects as NetBIOS/SMB/SMB2/NTLMSSP, none malformed", () => {
      // Every segment we sent with a payload is a NetBIOS session packet: a session request
      // (0x81, on 139) or a session message carrying SMB or SMB2.
      const ours = tsharkFields(pcap, "tcp.len > 0 && (tcp.dstport == 445 || tcp.dstport == 139)", [
        "frame.number",
        "frame.protocols",
        "nbss.type",
      ]);
      expect(ours.length).toBeGreaterThan(30);
      for (const [frame, protocols, type] of ours) {
        expect([frame, /:nbss(:|$)/.test(protocols ?? "")]).toEqual([frame, true]);
        const smb = /:(smb|smb2)(:|$)/.test(protocols ?? "");
        expect([frame, smb || type === "0x81"]).toEqual([frame, true]);
      }
      // Six fingerprint connections over 139, and one SMB1 pipe session.
      expect(ours.filter((r) => r[2] === "0x81").length).toBe(6 + 1);
      expect(tsharkFields(pcap, "_ws.malformed", ["frame.number"])).toEqual([]);
      // The anonymous NTLMSSP exchange in both SMB versions: NEGOTIATE (1) and AUTHENTICATE (3).
      const ntlm = tsharkFields(pcap, "(tcp.dstport == 445 || tcp.dstport == 139) && ntlmssp", [
        "smb.cmd",
        "smb2.cmd",
        "ntlmssp.messagetype",
      ]);
      const types = new Set(ntlm.map((r) => `${r[0] !== "" ? "smb1" : "smb2"} ${r[2]}`));
      for (const t of ["smb1 0x00000001", "smb1 0x00000003", "smb2 0x00000001", "smb2 0x00000003"])
        expect(types).toContain(t);
      // Our AUTHENTICATE is anonymous: empty user and NT response.
      const auth = tsharkFields(pcap, "ntlmssp.messagetype == 0x00000003", [
        "ntlmssp.auth.username",
        "ntlmssp.ntlmv2_response",
      ]);
      expect(auth.length).toBeGreaterThan(0);
      for (const [user, nt] of auth)
        expect([user === "" || user === "NULL", nt ?? ""]).toEqual([true, ""]);
      // The 3.1.1 probe's contexts, as tshark reads them (research Appendix C).
      const contexts = tsharkFields(pcap, "tcp.dstport == 445 && smb2.negotiate_context.type", [
        "smb2.negotiate_context.type",
      ]);
      expect(contexts.some((r) => r[0]?.split(",").includes("0x0003"))).toBe(true);
      // The MS17-010 probe: TRANS_PEEK_NMPIPE on FID 0.
      expect(
        tsharkFields(pcap, "tcp.dstport == 445 && smb.cmd == 0x25", ["frame.number"]).length,
      ).toBeGreaterThan(0);
      // NBSTAT on UDP 137 dissected as NBNS.
      expect(tsharkFields(pcap, "udp.dstport == 137 && nbns", ["nbns.id"]).length).toBeGreaterThan(
        0,
      );
    });
  },
);
