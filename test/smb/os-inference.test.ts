import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inferOs, type OsEvidence } from "../../src/smb/os-inference.js";

const ntlm = (major: number, minor: number, build: number) => ({
  ntlmVersion: { major, minor, build, ntlmRevision: 15 },
});

describe("NT build → product (NTLMSSP VERSION alone)", () => {
  it.each([
    [4, 0, 1381, "Windows NT 4.0", "affected"],
    [5, 0, 2195, "Windows 2000", "affected"],
    [5, 1, 2600, "Windows XP", "unknown"],
    [5, 2, 3790, "Windows XP x64 / Server 2003", "unknown"],
    [6, 0, 6000, "Windows Vista", "not-affected"],
    [6, 0, 6001, "Windows Vista / Server 2008", "not-affected"],
    [6, 0, 6002, "Windows Vista / Server 2008", "not-affected"],
    [6, 1, 7600, "Windows 7 / Server 2008 R2", "not-affected"],
    [6, 1, 7601, "Windows 7 / Server 2008 R2", "not-affected"],
    [6, 2, 9200, "Windows 8 / Server 2012", "not-affected"],
    [6, 3, 9600, "Windows 8.1 / Server 2012 R2", "not-affected"],
    [10, 0, 10240, "Windows 10 1507", "not-affected"],
    [10, 0, 14393, "Windows 10 1607 / Server 2016", "not-affected"],
    [10, 0, 17763, "Windows 10 1809 / Server 2019", "not-affected"],
    [10, 0, 18362, "Windows 10 1903", "not-affected"],
    [10, 0, 18363, "Windows 10 1909", "not-affected"],
    [10, 0, 19045, "Windows 10 22H2", "not-affected"],
    [10, 0, 20348, "Windows Server 2022", "not-affected"],
    [10, 0, 22000, "Windows 11 21H2", "not-affected"],
    [10, 0, 22631, "Windows 11 23H2", "not-affected"],
    [10, 0, 26100, "Windows 11 24H2 / Server 2025", "not-affected"],
  ] as const)("%i.%i.%i → %s", (major, minor, build, product, range) => {
    const result = inferOs(ntlm(major, minor, build));
    expect(result).toMatchObject({
      family: "windows",
      product,
      version: `${major}.${minor}`,
      build,
      ms03026Range: range,
      conflicts: [],
    });
    expect(result.confidence).toBeGreaterThanOrEqual(90);
    expect(result.evidence[0]).toMatchObject({ source: "ntlm-version" });
  });

  it("reads the service pack a Vista/7 build implies, and none for Windows 8+", () => {
    expect(inferOs(ntlm(6, 1, 7601))).toMatchObject({
      servicePack: 1,
      spRange: { min: 1, max: 1 },
      candidates: ["Windows 7", "Windows Server 2008 R2"],
    });
    expect(inferOs(ntlm(6, 0, 6002))).toMatchObject({ servicePack: 2 });
    expect(inferOs(ntlm(10, 0, 19045))).toMatchObject({ servicePack: null, spRange: null });
    expect(inferOs(ntlm(5, 1, 2600))).toMatchObject({
      servicePack: null,
      spRange: { min: 0, max: 3 },
    });
  });

  it("names unlisted builds by their neighbourhood, with less confidence", () => {
    const win10 = inferOs(ntlm(10, 0, 19046));
    expect(win10).toMatchObject({ product: "Windows 10 / Server (build 19046)", version: "10.0" });
    expect(win10.confidence).toBeLessThan(90);
    expect(inferOs(ntlm(10, 0, 26200)).product).toBe("Windows 11 / Server (build 26200)");
    expect(inferOs(ntlm(6, 1, 7602)).product).toBe("Windows 7 / Server 2008 R2 (build 7602)");
  });
});

describe("SMB1 NativeOS / NativeLanMan (research §2.7)", () => {
  it("maps the research's examples", () => {
    expect(
      inferOs({ nativeOs: "Windows 5.1", nativeLanMan: "Windows 2000 LAN Manager" }),
    ).toMatchObject({
      family: "windows",
      product: "Windows XP",
      version: "5.1",
      servicePack: null,
      spRange: { min: 0, max: 3 },
      ms03026Range: "unknown",
      conflicts: [],
    });
    expect(
      inferOs({ nativeOs: "Windows 5.0", nativeLanMan: "Windows 2000 LAN Manager" }),
    ).toMatchObject({ product: "Windows 2000", version: "5.0", ms03026Range: "affected" });
    const sp1 = inferOs({
      nativeOs: "Windows Server 2003 3790 Service Pack 1",
      nativeLanMan: "Windows Server 2003 5.2",
    });
    expect(sp1).toMatchObject({
      product: "Windows Server 2003",
      version: "5.2",
      build: 3790,
      servicePack: 1,
      ms03026Range: "not-affected",
      conflicts: [],
    });
    expect(sp1.confidence).toBeGreaterThanOrEqual(90);
  });

  it('reads a missing "Service Pack" as SP0 (2003 RTM: affected)', () => {
    expect(inferOs({ nativeOs: "Windows Server 2003 3790" })).toMatchObject({
      product: "Windows Server 2003",
      servicePack: 0,
      ms03026Range: "affected",
    });
    expect(inferOs({ nativeOs: "Windows Server 2003 R2 3790 Service Pack 2" })).toMatchObject({
      servicePack: 2,
      ms03026Range: "not-affected",
    });
  });

  it("maps NT 4.0, Windows 9x, and Vista-era product strings", () => {
    expect(
      inferOs({ nativeOs: "Windows NT 4.0", nativeLanMan: "NT LAN Manager 4.0" }),
    ).toMatchObject({ product: "Windows NT 4.0", version: "4.0", ms03026Range: "affected" });
    expect(inferOs({ nativeOs: "Windows 4.0", nativeLanMan: "Windows 4.0" })).toMatchObject({
      product: "Windows 95/98/ME",
      ms03026Range: "not-affected",
    });
    expect(
      inferOs({
        nativeOs: "Windows Server 2008 R2 Standard 7601 Service Pack 1",
        nativeLanMan: "Windows Server 2008 R2 Standard 6.1",
      }),
    ).toMatchObject({
      product: "Windows Server 2008 R2",
      version: "6.1",
      build: 7601,
      servicePack: 1,
      candidates: ["Windows 7"],
      conflicts: [],
    });
    expect(inferOs({ nativeOs: "Windows 7 Professional 7600" })).toMatchObject({
      product: "Windows 7",
      servicePack: 0,
    });
    expect(inferOs({ nativeOs: "Windows 10 Pro 19045" })).toMatchObject({
      product: "Windows 10 22H2",
      servicePack: null,
    });
  });

  it("ignores trailing NULs (nmap prints them)", () => {
    expect(
      inferOs({ nativeOs: "Windows 5.1\0", nativeLanMan: "Windows 2000 LAN Manager\0" }).product,
    ).toBe("Windows XP");
  });
});

describe("Samba", () => {
  /** What Samba 4.17.12 sent here (test/ntlmssp/samba-challenge.test.ts captures it live). */
  const samba417: OsEvidence = {
    nativeOs: "Windows 6.1",
    nativeLanMan: "Samba 4.17.12-Debian",
    ntlmVersion: { major: 6, minor: 1, build: 0, ntlmRevision: 15 },
    ntlmTimestamp: true,
    serverGuid: "6c6162736d6200000000000000000000",
    netbiosName: "LABSMB",
    smbDialects: ["NT LM 0.12", "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"],
    nbstat: { answered: true, mac: "00:00:00:00:00:00" },
  };

  it("recognises Samba 4.17 from everything it sends", () => {
    const result = inferOs(samba417);
    expect(result).toMatchObject({
      family: "samba",
      product: "Samba 4.x",
      version: "4.17.12",
      build: null,
      ms03026Range: "not-affected",
      conflicts: [],
    });
    expect(result.confidence).toBeGreaterThanOrEqual(95);
  });

  it("recognises Samba without SMB1: NTLM 6.1.0, its GUID, the all-zero MAC", () => {
    const result = inferOs({
      ntlmVersion: samba417.ntlmVersion,
      // "labsmb" + zeros as MS-DTYP GUID text (Data1..Data3 little-endian).
      serverGuid: "{7362616c-626d-0000-0000-000000000000}",
      netbiosName: "labsmb",
      nbstat: { answered: true, mac: "00-00-00-00-00-00" },
      smbDialects: ["3.1.1"],
    });
    expect(result).toMatchObject({ family: "samba", product: "Samba 4.x", version: null });
    expect(result.evidence).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          source: "ntlm-version",
          contributes: expect.stringMatching(/Samba/),
        }),
        expect.objectContaining({
          source: "server-guid",
          contributes: expect.stringMatching(/Samba/),
        }),
        expect.objectContaining({
          source: "nbstat-mac",
          contributes: expect.stringMatching(/Samba/),
        }),
      ]),
    );
  });

  it("recognises old Samba (NativeOS Unix)", () => {
    expect(inferOs({ nativeOs: "Unix", nativeLanMan: "Samba 3.0.37" })).toMatchObject({
      family: "samba",
      product: "Samba 3.x",
      version: "3.0.37",
    });
  });

  it("recognises impacket's SMB server by its all-0xff VERSION", () => {
    expect(
      inferOs({ ntlmVersion: { major: 255, minor: 255, build: 65535, ntlmRevision: 255 } }),
    ).toMatchObject({
      family: "unknown",
      product: "impacket SMB server",
      ms03026Range: "not-affected",
    });
  });
});

describe("weak evidence and conflicts", () => {
  it("uses dialects and compression when nothing names the OS", () => {
    expect(inferOs({ smbDialects: ["NT LM 0.12"] })).toMatchObject({
      family: "windows",
      product: "Windows (before Vista)",
      version: null,
      ms03026Range: "unknown",
    });
    expect(inferOs({ smbDialects: ["0x0202", "0x0210"] })).toMatchObject({
      product: "Windows 7 / Server 2008 R2",
      version: "6.1",
    });
    const modern = inferOs({ smbDialects: ["2.1", "3.1.1"], compressionOffered: true });
    expect(modern).toMatchObject({ version: "10.0", ms03026Range: "not-affected" });
    expect(modern.confidence).toBeLessThan(60);
  });

  it("lowers confidence and reports conflicting evidence", () => {
    const agreeing = inferOs({ ...ntlm(5, 1, 2600), nativeOs: "Windows 5.1" });
    const disagreeing = inferOs({ ...ntlm(5, 1, 2600), nativeOs: "Windows 5.0" });
    expect(disagreeing).toMatchObject({ product: "Windows XP" });
    expect(disagreeing.conflicts).toEqual(['native-os "Windows 5.0": says NT 5.0, not 5.1']);
    expect(disagreeing.confidence).toBeLessThan(agreeing.confidence);

    // Windows 10 1809 that offers compression: compression came with 1903.
    const odd = inferOs({ ...ntlm(10, 0, 17763), compressionOffered: true });
    expect(odd.conflicts[0]).toMatch(/build 18362 or later/);

    // A Windows build with Samba's NativeLanMan.
    const mixed = inferOs({ ...ntlm(6, 1, 7601), nativeLanMan: "Samba 4.17.12" });
    expect(mixed.conflicts.length).toBeGreaterThan(0);
    expect(mixed.confidence).toBeLessThan(90);
  });

  it("records names, capabilities and an unanswered NBSTAT without using them", () => {
    const result = inferOs({
      ...ntlm(10, 0, 20348),
      smb2Capabilities: 0x2f,
      nbstat: { answered: false },
      dnsComputerName: "dc1.lab.example",
      serverGuid: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    });
    expect(result.evidence.map((e) => [e.source, e.contributes])).toEqual(
      expect.arrayContaining([
        ["smb2-capabilities", "recorded only"],
        ["nbstat", "recorded only"],
        ["dns-computer-name", "names only"],
        ["server-guid", "recorded only"],
      ]),
    );
    expect(result.product).toBe("Windows Server 2022");
  });

  it("answers unknown with no evidence", () => {
    expect(inferOs({})).toMatchObject({
      family: "unknown",
      product: null,
      confidence: 0,
      ms03026Range: "unknown",
    });
  });

  it("never throws and stays in 0–100 on arbitrary evidence", () => {
    const text = fc.option(fc.string({ maxLength: 60 }), { nil: null });
    fc.assert(
      fc.property(
        fc.record(
          {
            ntlmVersion: fc.option(
              fc.record({
                major: fc.integer({ min: 0, max: 255 }),
                minor: fc.integer({ min: 0, max: 255 }),
                build: fc.integer({ min: 0, max: 65535 }),
              }),
              { nil: null },
            ),
            nativeOs: fc.oneof(text, fc.constantFrom("Windows 5.1", "Unix", "Windows 6.1")),
            nativeLanMan: fc.oneof(text, fc.constantFrom("Samba 4.1", "Windows 2000 LAN Manager")),
            smbDialects: fc.array(
              fc.constantFrom("NT LM 0.12", "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1", "x"),
            ),
            compressionOffered: fc.option(fc.boolean(), { nil: null }),
            ntlmTimestamp: fc.option(fc.boolean(), { nil: null }),
            nbstat: fc.option(fc.record({ answered: fc.boolean(), mac: text }), { nil: null }),
            serverGuid: fc.oneof(
              text,
              fc
                .uint8Array({ minLength: 16, maxLength: 16 })
                .map((b) => Buffer.from(b).toString("hex")),
            ),
            netbiosName: text,
          },
          { requiredKeys: [] },
        ),
        (evidence) => {
          const result = inferOs(evidence);
          expect(result.confidence).toBeGreaterThanOrEqual(0);
          expect(result.confidence).toBeLessThanOrEqual(100);
          expect(["windows", "samba", "unknown"]).toContain(result.family);
          expect(["affected", "not-affected", "unknown"]).toContain(result.ms03026Range);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
