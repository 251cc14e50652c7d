import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EXPECTED_RPCSS_VERDICTS,
  Estate,
  LAB_TCP_PORTS,
  PERSONAS,
  readGroundTruth,
  type ExpectedCheckVerdict,
  type ExpectedSmb,
  type ExpectedVerdicts,
  type GroundTruth,
} from "../../src/lab/index.js";
import { behaviourOf } from "../../src/lab/behaviour.js";
import { groundTruthHost, rpcEndpointTable, writeGroundTruth } from "../../src/lab/ground-truth.js";
import { renderLabRuleset } from "../../src/lab/lab-ruleset.js";

/**
 * The catalogue layout and the ground truth's expected verdicts, without a daemon. The table below
 * restates every persona's expected verdicts by hand, a second time (personas.ts is the first): a
 * change to either must be deliberate.
 */
/** The SMB half, restated: SMB1-only hosts of 2003 (all without MS17-010). */
const SMB1_ERA = (os: string): ExpectedSmb => ({
  os,
  dialects: ["NT LM 0.12"],
  signing: "disabled",
  checks: {
    "smbv1-enabled": "VULNERABLE",
    "ms17-010-peeknamedpipe": "VULNERABLE",
    "smbghost-compression-capability": "NOT_APPLICABLE",
    "smb-signing-not-required": "VULNERABLE",
  },
});
const WIN98: ExpectedSmb = {
  os: "Windows 95/98/ME",
  dialects: ["NT LM 0.12"],
  signing: "disabled",
  checks: {
    "smbv1-enabled": "VULNERABLE",
    "ms17-010-peeknamedpipe": "UNKNOWN",
    "smbghost-compression-capability": "NOT_APPLICABLE",
    "smb-signing-not-required": "VULNERABLE",
  },
};
const NT6 = (os: string, ms17: ExpectedCheckVerdict): ExpectedSmb => ({
  os,
  dialects: ["NT LM 0.12", "2.0.2", "2.1"],
  signing: "enabled",
  checks: {
    "smbv1-enabled": "VULNERABLE",
    "ms17-010-peeknamedpipe": ms17,
    "smbghost-compression-capability": "NOT_VULNERABLE",
    "smb-signing-not-required": "VULNERABLE",
  },
});
const WIN10 = (
  os: string,
  ghost: ExpectedCheckVerdict,
  signing: "enabled" | "required",
): ExpectedSmb => ({
  os,
  dialects: ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"],
  signing,
  checks: {
    "smbv1-enabled": "NOT_VULNERABLE",
    "ms17-010-peeknamedpipe": "NOT_APPLICABLE",
    "smbghost-compression-capability": ghost,
    "smb-signing-not-required": signing === "required" ? "NOT_VULNERABLE" : "VULNERABLE",
  },
});
const SAMBA: ExpectedSmb = {
  os: "Samba 4.x",
  dialects: ["NT LM 0.12", "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"],
  signing: "enabled",
  checks: {
    "smbv1-enabled": "VULNERABLE",
    "ms17-010-peeknamedpipe": "NOT_VULNERABLE",
    "smbghost-compression-capability": "NOT_VULNERABLE",
    "smb-signing-not-required": "VULNERABLE",
  },
};
const HOSTILE_SMB: ExpectedSmb = {
  os: null,
  dialects: [],
  signing: null,
  checks: {
    "smbv1-enabled": "UNKNOWN",
    "ms17-010-peeknamedpipe": "UNKNOWN",
    "smbghost-compression-capability": "UNKNOWN",
    "smb-signing-not-required": "UNKNOWN",
  },
};

const EXPECTED: Readonly<Record<string, ExpectedVerdicts>> = {
  "nt4-sp6a": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows NT 4.0") },
  "w2k-sp4": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows 2000") },
  "w2k-sp4-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows 2000"),
  },
  "w2k-sp4-patched": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows 2000") },
  "xp-sp1": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows XP") },
  "xp-sp2-shielded": { rpcss: null, blaster: null, smb: null },
  "w2k3-rtm": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows Server 2003") },
  "w2k3-sp1": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows Server 2003") },
  "blaster-xp": { rpcss: "VULNERABLE_MS03_026", blaster: "present", smb: SMB1_ERA("Windows XP") },
  "blaster-w2k": {
    rpcss: "VULNERABLE_MS03_026",
    blaster: "present",
    smb: SMB1_ERA("Windows 2000"),
  },
  "linux-server": { rpcss: null, blaster: null, smb: null },
  "linux-samba": { rpcss: null, blaster: null, smb: SAMBA },
  closed: { rpcss: null, blaster: null, smb: null },
  filtered: { rpcss: null, blaster: null, smb: null },
  "nt4-sp6a-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows NT 4.0"),
  },
  "nt4-sp6a-patched": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows NT 4.0") },
  "w2k-sp2": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows 2000") },
  "w2k-sp2-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows 2000"),
  },
  "w2k-sp2-patched": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows 2000") },
  "w2k-sp3": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows 2000") },
  "w2k-sp3-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows 2000"),
  },
  "w2k-sp3-patched": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows 2000") },
  "xp-rtm": { rpcss: "VULNERABLE_MS03_026", blaster: null, smb: SMB1_ERA("Windows XP") },
  "xp-rtm-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows XP"),
  },
  "xp-rtm-patched": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows XP") },
  "xp-sp1-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows XP"),
  },
  "xp-sp1-patched": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows XP") },
  "w2k3-rtm-kb823980": {
    rpcss: "VULNERABLE_MS03_039_ONLY",
    blaster: null,
    smb: SMB1_ERA("Windows Server 2003"),
  },
  "w2k3-rtm-patched": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: SMB1_ERA("Windows Server 2003"),
  },
  "xp-sp2-open": { rpcss: "PATCHED_MS03_039", blaster: null, smb: SMB1_ERA("Windows XP") },
  "w2k-sp4-dcom-disabled": {
    rpcss: "DCOM_RESTRICTED",
    blaster: null,
    smb: SMB1_ERA("Windows 2000"),
  },
  "win98-dcom": { rpcss: "NOT_APPLICABLE_WIN9X", blaster: null, smb: WIN98 },
  "hpux-dced": { rpcss: "NOT_APPLICABLE_NON_WINDOWS", blaster: null, smb: null },
  "linux-dev-4444": { rpcss: null, blaster: "absent", smb: null },
  "rpc-truncated": { rpcss: "UNKNOWN", blaster: null, smb: null },
  "rpc-frag-lie": { rpcss: "UNKNOWN", blaster: null, smb: null },
  "rpc-endless-fragments": { rpcss: "UNKNOWN", blaster: null, smb: null },
  "rpc-slow-drip": { rpcss: "UNKNOWN", blaster: null, smb: null },
  "rpc-wrong-call-id": { rpcss: "UNKNOWN", blaster: null, smb: null },
  "rpc-garbage-after-bind": { rpcss: "UNKNOWN", blaster: null, smb: null },
  "win7-sp1": { rpcss: "PATCHED_MS03_039", blaster: null, smb: NT6("Windows 7", "VULNERABLE") },
  "win7-sp1-ms17-010": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: NT6("Windows 7", "NOT_VULNERABLE"),
  },
  "w2k8r2-sp1": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: NT6("Windows Server 2008 R2", "VULNERABLE"),
  },
  "w2k8r2-sp1-ms17-010": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: NT6("Windows Server 2008 R2", "NOT_VULNERABLE"),
  },
  "win10-1903": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: WIN10("Windows 10 1903", "VULNERABLE", "enabled"),
  },
  "win10-1909": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: WIN10("Windows 10 1909", "VULNERABLE", "enabled"),
  },
  "win10-1909-adv200005": {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: WIN10("Windows 10 1909", "NOT_VULNERABLE", "enabled"),
  },
  w2k19: {
    rpcss: "PATCHED_MS03_039",
    blaster: null,
    smb: WIN10("Windows 10 1809 / Server 2019", "NOT_VULNERABLE", "required"),
  },
  "smb-netbios-oversize": { rpcss: null, blaster: null, smb: HOSTILE_SMB },
  "smb-structure-lie": { rpcss: null, blaster: null, smb: HOSTILE_SMB },
  "smb-truncated": { rpcss: null, blaster: null, smb: HOSTILE_SMB },
  "smb-compound-garbage": { rpcss: null, blaster: null, smb: HOSTILE_SMB },
  "smb-endless-pending": { rpcss: null, blaster: null, smb: HOSTILE_SMB },
};

const TCP = [...LAB_TCP_PORTS];

describe("catalogue layout", () => {
  it("gives host i persona i mod PERSONAS.length, weight-0 personas included", () => {
    const n = PERSONAS.length;
    const estate = new Estate("any", 2 * n + 3, "catalogue");
    expect(estate.layout).toBe("catalogue");
    for (let i = 0; i < estate.hosts; i++) expect(estate.persona(i)).toBe(PERSONAS[i % n]);
    expect(new Estate("other seed", n, "catalogue").personaOf).toEqual(
      new Estate("any", n, "catalogue").personaOf,
    );
    // The default is still the seeded estate.
    expect(new Estate("any", 64).layout).toBe("estate");
  });

  it("knows every persona, and every persona is in the hand-written table", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(PERSONAS.map((p) => p.id).sort());
    for (const p of PERSONAS) {
      expect(p.expected, p.id).toEqual(EXPECTED[p.id]);
      if (p.expected.rpcss !== null) expect(EXPECTED_RPCSS_VERDICTS).toContain(p.expected.rpcss);
    }
  });

  it("states expected verdicts consistent with the personas' ports and patches", () => {
    for (const p of PERSONAS) {
      // A verdict exactly when the port the check needs is open (research §2.10: TCP 135 first).
      expect(p.expected.rpcss !== null, p.id).toBe(p.tcpOpen.includes(135));
      expect(p.expected.blaster !== null, p.id).toBe(p.tcpOpen.includes(4444));
      expect(p.tcp4444 !== null, p.id).toBe(p.tcpOpen.includes(4444));
      if (p.expected.blaster === "present") expect(p.tcp4444?.kind).toBe("cmd-shell");
      if (p.expected.blaster === "absent") expect(p.tcp4444?.kind).toBe("banner");
      if (p.rpcss.kind === "hostile") expect(p.expected.rpcss).toBe("UNKNOWN");
      // An SMB verdict exactly when 139 or 445 is open and something speaks SMB there.
      const smbOpen = p.tcpOpen.includes(139) || p.tcpOpen.includes(445);
      expect(p.expected.smb !== null, p.id).toBe(smbOpen && p.smb !== null);
      if (p.smb?.kind === "hostile") {
        expect(Object.values(p.expected.smb?.checks ?? {}).every((v) => v === "UNKNOWN")).toBe(
          true,
        );
      }
      if (p.rpcss.kind === "windows" && !p.rpcss.hardened && p.rpcss.dcom === "enabled") {
        const byPatches: Readonly<Record<string, string>> = {
          "vulnerable/vulnerable": "VULNERABLE_MS03_026",
          "patched/vulnerable": "VULNERABLE_MS03_039_ONLY",
          "patched/patched": "PATCHED_MS03_039",
        };
        const want = byPatches[`${p.patches.ms03_026}/${p.patches.ms03_039}`];
        if (p.tcpOpen.includes(135)) expect(p.expected.rpcss, p.id).toBe(want);
      }
    }
  });

  it("nulls a verdict in the ground truth when the mode does not open its port", () => {
    const estate = new Estate("gt", PERSONAS.length, "catalogue");
    for (const mode of ["netns", "bind"] as const) {
      for (let i = 0; i < estate.hosts; i++) {
        const host = groundTruthHost(estate, i, mode, TCP, 0);
        const persona = PERSONAS[i];
        if (persona === undefined) throw new Error(String(i));
        const b = behaviourOf(persona, mode, TCP);
        expect(host.expected, `${mode} ${persona.id}`).toEqual({
          rpcss: b.tcp.get(135) === "open" ? EXPECTED[persona.id]?.rpcss : null,
          blaster: b.tcp.get(4444) === "open" ? EXPECTED[persona.id]?.blaster : null,
          smb:
            b.tcp.get(139) === "open" || b.tcp.get(445) === "open"
              ? EXPECTED[persona.id]?.smb
              : null,
        });
      }
    }
    // A universe without 135 runs no RPCSS check anywhere.
    const no135 = groundTruthHost(estate, 1, "netns", [22, 139, 445], 0);
    expect(no135.expected).toEqual({ rpcss: null, blaster: null, smb: EXPECTED["w2k-sp4"]?.smb });
    const noSmb = groundTruthHost(estate, 1, "netns", [135], 0);
    expect(noSmb.expected.smb).toBeNull();
  });

  it("records endpoint tables for the new runtimes and none for hostile peers", () => {
    const table = rpcEndpointTable({ name: "t", mode: "netns", tcpPorts: TCP, portOffset: 0 });
    for (const p of PERSONAS) {
      const runtime =
        p.rpcss.kind === "windows" || p.rpcss.kind === "win9x" || p.rpcss.kind === "dce";
      const reachable = p.tcpOpen.includes(135) || p.tcpOpen.includes(593);
      expect(table[p.id] !== undefined, p.id).toBe(runtime && reachable);
    }
    const lines = (id: string) =>
      (table[id] ?? []).map((e) => `${e.uuid} v${e.version} ${e.binding}`);
    expect(lines("hpux-dced")).toEqual([
      "e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0 ncacn_ip_tcp:{address}[135]",
      "afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0 ncacn_ip_tcp:{address}[135]",
    ]);
    expect(lines("win98-dcom")).toContain(
      "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57 v0.0 ncacn_ip_tcp:{address}[135]",
    );
    expect(lines("win98-dcom").some((l) => l.startsWith("000001a0"))).toBe(false);
    expect(lines("win98-dcom").some((l) => l.includes("ncacn_np"))).toBe(false);
    expect(lines("nt4-sp6a-patched").some((l) => l.startsWith("000001a0"))).toBe(false);
    expect(lines("w2k-sp2").some((l) => l.startsWith("000001a0"))).toBe(true);
    // XP SP2 disables the Messenger service.
    expect(
      lines("xp-sp2-open").some((l) => l.includes("Messenger") || l.startsWith("5a7b91f8")),
    ).toBe(false);
    expect(lines("xp-rtm").some((l) => l.startsWith("5a7b91f8"))).toBe(true);
  });

  it("renders an nftables chain for every persona of the catalogue", () => {
    const estate = new Estate("ruleset", PERSONAS.length, "catalogue");
    const text = renderLabRuleset(estate, { tcpPorts: TCP, portOffset: 0 });
    for (const p of PERSONAS) {
      if (p.id === "filtered") continue; // dropped outright by the map
      expect(text).toContain(`chain persona_${p.id.replace(/-/g, "_")} {`);
    }
  });
});

describe("ground truth file", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rf-gt-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("records the layout in its header and every host's expected verdicts", async () => {
    const file = join(dir, "catalogue.json");
    const estate = new Estate("file", PERSONAS.length, "catalogue");
    await writeGroundTruth(file, estate, {
      name: "t",
      mode: "netns",
      tcpPorts: TCP,
      portOffset: 0,
    });
    const truth = await readGroundTruth({ groundTruthFile: file });
    expect(truth.layout).toBe("catalogue");
    expect(truth.hosts.map((h) => h.persona)).toEqual(PERSONAS.map((p) => p.id));
    for (const host of truth.hosts)
      expect(host.expected, host.persona).toEqual(EXPECTED[host.persona]);
    expect(Object.values(truth.personaCounts).every((n) => n === 1)).toBe(true);
  });

  it("reads a file written before layouts and verdicts existed as an estate, filling them in", async () => {
    const file = join(dir, "old.json");
    const estate = new Estate("old", PERSONAS.length, "catalogue");
    await writeGroundTruth(file, estate, {
      name: "t",
      mode: "bind",
      tcpPorts: TCP,
      portOffset: 20_000,
    });
    const current = JSON.parse(await readFile(file, "utf8")) as GroundTruth;
    const { layout: _layout, ...head } = current;
    void _layout;
    const old = { ...head, hosts: current.hosts.map(({ expected: _e, ...host }) => host) };
    await writeFile(file, JSON.stringify(old));
    const read = await readGroundTruth({ groundTruthFile: file });
    expect(read.layout).toBe("estate");
    expect(read.hosts.map((h) => h.expected)).toEqual(current.hosts.map((h) => h.expected));
  });

  it("fills in expected.smb for a file written before the lab spoke SMB", async () => {
    const file = join(dir, "pre-smb.json");
    const estate = new Estate("pre-smb", PERSONAS.length, "catalogue");
    await writeGroundTruth(file, estate, {
      name: "t",
      mode: "netns",
      tcpPorts: TCP,
      portOffset: 0,
    });
    const current = JSON.parse(await readFile(file, "utf8")) as GroundTruth;
    const old = {
      ...current,
      hosts: current.hosts.map((h) => ({
        ...h,
        expected: { rpcss: h.expected.rpcss, blaster: h.expected.blaster },
      })),
    };
    await writeFile(file, JSON.stringify(old));
    const read = await readGroundTruth({ groundTruthFile: file });
    expect(read.hosts.map((h) => h.expected)).toEqual(current.hosts.map((h) => h.expected));
  });
});
