import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostCheckReport } from "../../src/checks/index.js";
import { scratchDir } from "../helpers/cli.js";
import { waitFor } from "../helpers/net.js";
import { Netns, missingTools } from "./netns.js";

/**
 * impacket's smbserver.py as a second real SMB server (lab-and-peers.md §3): with -smb2support
 * it speaks SMB1 and SMB 2.0.2 only, without it SMB1 only. ringfence must report exactly those
 * dialects (impacket even answers an offer of 2.1 or 3.x alone with 2.0.2, which is a "no"), and
 * agree with nmap's smb-protocols.
 */

const PYTHON = "/usr/bin/python3";
const SMBSERVER = "/usr/share/doc/python3-impacket/examples/smbserver.py";
const NMAP = "/usr/bin/nmap";
const WITH_SMB2 = "127.0.0.3";
const SMB1_ONLY = "127.0.0.4";

const missing = missingTools([PYTHON, SMBSERVER, NMAP]);
if (missing !== null) console.warn(`skipping the impacket smbserver conformance test: ${missing}`);

describe.skipIf(missing !== null)("impacket smbserver.py", () => {
  const tmp = scratchDir("rf-smb-impacket-");
  const ns = new Netns(`rf-smbi-${process.pid}`);
  const reports = new Map<string, HostCheckReport>();
  const nmap = new Map<string, string>();

  beforeAll(async () => {
    ns.create();
    const share = join(tmp.dir, "share");
    mkdirSync(share);
    writeFileSync(
      join(tmp.dir, "scope.yaml"),
      `name: impacket\nallow: [${WITH_SMB2}, ${SMB1_ONLY}]\n`,
    );
    const server = (address: string, smb2: boolean) =>
      ns.spawn(PYTHON, [
        SMBSERVER,
        "-ip",
        address,
        "-port",
        "445",
        ...(smb2 ? ["-smb2support"] : []),
        "SHARE",
        share,
      ]);
    server(WITH_SMB2, true);
    server(SMB1_ONLY, false);
    await waitFor(
      () => ns.accepts(WITH_SMB2, 445) && ns.accepts(SMB1_ONLY, 445),
      "smbserver.py to listen",
    );
    for (const address of [WITH_SMB2, SMB1_ONLY]) {
      const result = await ns.cli([
        "check",
        "smbghost",
        address,
        "--scope",
        join(tmp.dir, "scope.yaml"),
        "--json",
        "--no-store",
        "--timeout",
        "3s",
      ]);
      if (result.code !== 0) throw new Error(`${address}: exit ${result.code}: ${result.stderr}`);
      reports.set(address, (JSON.parse(result.stdout) as { hosts: HostCheckReport[] }).hosts[0]!);
      nmap.set(address, ns.run(NMAP, ["-n", "-Pn", "-p445", "--script", "smb-protocols", address]));
    }
  }, 180_000);

  afterAll(() => {
    ns.destroy();
    tmp.cleanup();
  });

  it("with -smb2support: exactly SMB1 and 2.0.2", () => {
    const fp = reports.get(WITH_SMB2)!.smb!;
    expect(fp.acceptedDialects).toEqual(["NT LM 0.12", "2.0.2"]);
    // Offered alone, 2.1 and 3.x get a 2.0.2 answer: recorded as refusals, with the reason.
    for (const d of fp.dialects.filter((x) => !["NT LM 0.12", "2.0.2"].includes(x.dialect))) {
      expect([d.dialect, d.accepted]).toEqual([d.dialect, false]);
      expect(d.reason).toContain("not offered");
    }
    expect(fp.os.product).toBe("impacket SMB server");
    expect(fp.ntlm?.version).toBe("255.255.65535");
    expect(fp.smb2?.dialect).toBe("2.0.2");
  });

  it("without it: SMB1 only (every SMB2 NEGOTIATE answered STATUS_NOT_SUPPORTED)", () => {
    const fp = reports.get(SMB1_ONLY)!.smb!;
    expect(fp.acceptedDialects).toEqual(["NT LM 0.12"]);
    for (const d of fp.dialects.filter((x) => x.dialect !== "NT LM 0.12")) {
      expect([d.dialect, d.accepted, d.reason]).toEqual([
        d.dialect,
        false,
        "STATUS_NOT_SUPPORTED (0xc00000bb)",
      ]);
    }
    expect(fp.smb2).toBeNull();
    expect(fp.signing.at).toBe("smb1");
  });

  it("reads SMBGhost as not vulnerable on 2.0.2 and not applicable on SMB1 only", () => {
    expect(reports.get(WITH_SMB2)!.results.map((r) => [r.verdict, r.reason.code])).toEqual([
      ["NOT_VULNERABLE", "no-smb-3.1.1"],
    ]);
    expect(reports.get(SMB1_ONLY)!.results.map((r) => [r.verdict, r.reason.code])).toEqual([
      ["NOT_APPLICABLE", "no-smb2"],
    ]);
  });

  it("agrees with nmap's smb-protocols", () => {
    const dialects = (output: string) =>
      output
        .split("\n")
        .map((l) => l.replace(/^\|[ _]\s*/, "").trim())
        .filter((l) => /^(NT LM 0\.12|2:0:2|2:1:0|3:0:0|3:0:2|3:1:1|202|210|300|302|311)\b/.test(l))
        .map((l) =>
          l.startsWith("NT LM")
            ? "NT LM 0.12"
            : (({ "2:0:2": "2.0.2", "202": "2.0.2" } as Record<string, string>)[l] ?? l),
        );
    expect(dialects(nmap.get(WITH_SMB2)!)).toEqual(reports.get(WITH_SMB2)!.smb!.acceptedDialects);
    expect(dialects(nmap.get(SMB1_ONLY)!)).toEqual(reports.get(SMB1_ONLY)!.smb!.acceptedDialects);
  });
});
