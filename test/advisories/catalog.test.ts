/**
 * The advisory catalog as data (issue 5 item 1): the built-in advisories, their ids, aliases and
 * checks, official versus derived CVSS vectors, exploitation facts and remediation; user
 * directories; and precise errors for bad files.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadAdvisoryCatalog,
  parseAdvisoryFile,
  RingfenceFileError,
  type AdvisoryCatalog,
} from "../../src/advisories/index.js";

let catalog: AdvisoryCatalog;
let dir: string;
beforeAll(async () => {
  catalog = await loadAdvisoryCatalog();
  dir = await mkdtemp(join(tmpdir(), "ringfence-advisories-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("built-in catalog", () => {
  it("has the advisories the issue asks for", () => {
    expect(catalog.list().map((a) => [a.id, a.kind])).toEqual([
      ["blaster-backdoor", "indicator"],
      ["default-deny-exposed-services", "policy"],
      ["ms03-026", "vulnerability"],
      ["ms03-039", "vulnerability"],
      ["ms17-010", "vulnerability"],
      ["new-release-windows-server-2003", "policy"],
      ["smbghost", "vulnerability"],
      ["smbv1-enabled", "configuration"],
    ]);
  });

  it.each([
    ["ms03-026-remote-activation", "ms03-026"],
    ["ms03-039-kb824146scan", "ms03-039"],
    ["ms17-010-peeknamedpipe", "ms17-010"],
    ["smbghost-compression-capability", "smbghost"],
    ["smbv1-enabled", "smbv1-enabled"],
    ["blaster-backdoor-4444", "blaster-backdoor"],
  ])("check %s belongs to %s", (check, advisory) => {
    expect(catalog.forCheck(check)?.id).toBe(advisory);
  });

  it.each([
    ["CVE-2003-0352", "ms03-026"],
    ["MS03-026", "ms03-026"],
    ["kb823980", "ms03-026"],
    ["VU#568148", "ms03-026"],
    ["CA-2003-20", "blaster-backdoor"],
    ["CVE-2003-0605", "ms03-039"],
    ["EternalBlue", "ms17-010"],
    ["KB4012598", "ms17-010"],
    ["CoronaBlue", "smbghost"],
    ["ADV200005", "smbghost"],
  ])("finds %s → %s", (key, id) => {
    expect(catalog.get(key)?.id).toBe(id);
  });

  it("MS03-039 has its three CVEs, the check detects all of them, and it supersedes MS03-026", () => {
    const advisory = catalog.require("MS03-039");
    expect(advisory.ids.cve).toEqual(["CVE-2003-0715", "CVE-2003-0528", "CVE-2003-0605"]);
    expect(advisory.checks[0]?.detects).toHaveLength(3);
    expect(advisory.remediation.patches.find((p) => p.id === "MS03-039")?.supersedes).toContain(
      "MS03-026",
    );
  });

  it("marks official vectors by their source and derived ones as ours (research §2.3)", () => {
    const cvss = catalog.require("ms03-026").vulnerabilities[0]?.cvss ?? [];
    expect(cvss.map((c) => [c.kind, c.source, c.vector.slice(0, 8)])).toEqual([
      ["primary", "nvd", "AV:N/AC:"],
      ["derived", "ringfence", "CVSS:3.1"],
      ["derived", "ringfence", "CVSS:4.0"],
    ]);
    // No 2003 CVE carries an official v3.x or v4.0 vector (research §0.2).
    for (const id of ["ms03-026", "ms03-039"]) {
      for (const vuln of catalog.require(id).vulnerabilities) {
        for (const c of vuln.cvss) if (c.vector.startsWith("CVSS:")) expect(c.kind).toBe("derived");
      }
    }
  });

  it("records dated exploitation facts, the ports to block and workaround caveats", () => {
    const ms03026 = catalog.require("ms03-026");
    expect(ms03026.exploitation.map((e) => [e.kind, e.date])).toEqual([
      ["public-exploit", "2003-07-25"],
      ["worm", "2003-08-11"],
    ]);
    expect(ms03026.remediation.block.map((b) => `${b.proto}/${b.port}`)).toEqual([
      "tcp/135",
      "udp/135",
      "udp/137",
      "udp/138",
      "tcp/139",
      "tcp/445",
      "udp/445",
      "tcp/593",
      "tcp/4444",
      "udp/69",
    ]);
    expect(
      ms03026.remediation.workarounds.find((w) => w.id === "disable-dcom")?.caveats.join(" "),
    ).toContain("physical access");
    expect(ms03026.services.filter((s) => s.condition !== undefined).map((s) => s.port)).toEqual([
      80, 443,
    ]);
  });
});

describe("user advisories", () => {
  const MINIMAL = `schema: ringfence.advisory/1
id: ms08-067
kind: vulnerability
title: Vulnerability in Server Service Could Allow Remote Code Execution
published: 2008-10-23
ids:
  cve: [CVE-2008-4250]
  bulletin: [MS08-067]
aliases: [Conficker flaw]
services:
  - { proto: tcp, port: 445, name: SMB }
checks:
  - id: ms08-067-netpathcanonicalize
    title: NetPathCanonicalize probe
    detects: [CVE-2008-4250]
vulnerabilities:
  - id: CVE-2008-4250
    title: Server service RPC request handling
    facts:
      attackVector: network
      privilegesRequired: none
      userInteraction: none
      impact: rce-system
      prevalence: ubiquitous
    cvss:
      - { vector: "AV:N/AC:L/Au:N/C:C/I:C/A:C", kind: primary, source: nvd, publishedScore: 10.0 }
`;

  it("loads extra directories next to the built-in ones", async () => {
    const user = join(dir, "user");
    await mkdir(user, { recursive: true });
    await writeFile(join(user, "ms08-067.yaml"), MINIMAL);
    await writeFile(join(user, "notes.txt"), "ignored");
    const withUser = await loadAdvisoryCatalog({ extraDirs: [user] });
    expect(withUser.get("Conficker flaw")?.id).toBe("ms08-067");
    expect(withUser.list()).toHaveLength(9);
    expect(withUser.sourceOf("ms08-067")).toBe(join(user, "ms08-067.yaml"));
    expect((await loadAdvisoryCatalog({ builtin: false, extraDirs: [user] })).list()).toHaveLength(
      1,
    );
  });

  it("refuses a user advisory that reuses a built-in alias, naming both files", async () => {
    const clash = join(dir, "clash");
    await mkdir(clash, { recursive: true });
    await writeFile(
      join(clash, "mine.yaml"),
      MINIMAL.replace("aliases: [Conficker flaw]", "aliases: [EternalBlue]"),
    );
    await expect(loadAdvisoryCatalog({ extraDirs: [clash] })).rejects.toThrow(
      /advisory file .*mine\.yaml: id or alias ETERNALBLUE is already defined by .*ms17-010\.yaml/,
    );
  });

  it("names a missing directory", async () => {
    await expect(loadAdvisoryCatalog({ extraDirs: [join(dir, "nope")] })).rejects.toThrow(
      /nope: cannot read the directory: no such file/,
    );
  });

  describe("a bad file gives the file, the path inside it, the line and the reason", () => {
    function advisoryError(text: string): RingfenceFileError {
      let caught: unknown;
      try {
        parseAdvisoryFile(text, "user/ms08-067.yaml");
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(RingfenceFileError);
      const error = caught as RingfenceFileError;
      expect(error.code).toBe("RINGFENCE_ADVISORY_FILE");
      expect(error.message).not.toContain("\n");
      return error;
    }

    it("accepts the minimal advisory", () => {
      expect(parseAdvisoryFile(MINIMAL, "x.yaml").id).toBe("ms08-067");
    });

    it.each([
      [
        MINIMAL.replace("impact: rce-system", "impact: rce"),
        "vulnerabilities[0].facts.impact",
        23,
        "Invalid option",
      ],
      [
        MINIMAL.replace("      prevalence: ubiquitous", "      prevalance: ubiquitous"),
        "vulnerabilities[0].facts.prevalance",
        24,
        'unknown key "prevalance"',
      ],
      [
        MINIMAL.replace("C:C/I:C/A:C", "C:C/I:C"),
        "vulnerabilities[0].cvss[0].vector",
        26,
        "incomplete CVSS 2.0 vector: missing base metric A",
      ],
      [
        MINIMAL.replace("kind: primary, source: nvd", "kind: derived, source: nvd"),
        "vulnerabilities[0].cvss[0].source",
        26,
        "a derived vector is ours: source must be ringfence",
      ],
      [
        MINIMAL.replace("    detects: [CVE-2008-4250]", "    detects: [CVE-2008-4251]"),
        "checks[0].detects[0]",
        15,
        "CVE-2008-4251 is not one of this advisory's vulnerabilities",
      ],
      [
        MINIMAL.replace("published: 2008-10-23", "published: 23/10/2008"),
        "published",
        5,
        "expected a date YYYY-MM-DD",
      ],
      [MINIMAL.replace("port: 445", "port: 70000"), "services[0].port", 11, "Too big"],
      [
        MINIMAL.replace("  cve: [CVE-2008-4250]", "  cve: [CVE-2008-4250, CVE-2008-4251]"),
        "ids.cve[1]",
        7,
        "has no entry under vulnerabilities",
      ],
      [
        MINIMAL.replace(
          "title: Vulnerability in Server Service Could Allow Remote Code Execution\n",
          "",
        ),
        "title",
        undefined,
        "missing (required)",
      ],
    ])("%#: %s", (text, path, line, reason) => {
      const error = advisoryError(text);
      const issue = error.issues.find((i) => i.path === path);
      expect(issue?.file).toBe("user/ms08-067.yaml");
      expect(issue?.path).toBe(path);
      if (line !== undefined) expect(issue?.line).toBe(line);
      expect(issue?.reason).toContain(reason);
      expect(error.message).toMatch(
        /^advisory file user\/ms08-067\.yaml(, line \d+)?: [\w.[\]]+: /,
      );
    });

    it("a YAML syntax error, an empty file, a wrong schema id", () => {
      expect(
        advisoryError(MINIMAL.replace("aliases: [Conficker flaw]", "aliases: [Conficker flaw"))
          .message,
      ).toContain("YAML syntax error");
      expect(advisoryError("").message).toBe("advisory file user/ms08-067.yaml: the file is empty");
      expect(
        advisoryError(MINIMAL.replace("ringfence.advisory/1", "ringfence.advisory/9")).issues[0],
      ).toMatchObject({
        path: "schema",
        line: 1,
        reason: "expected schema: ringfence.advisory/1",
      });
    });

    it("policy rules are validated too", () => {
      const policy = `schema: ringfence.advisory/1
id: new-release-2008
kind: policy
title: No sensitive exposure on Windows Server 2008 before SP1
published: 2008-02-27
checks:
  - { id: new-release-2008, title: rule, detects: [] }
rule:
  id: new-release-exposure/windows-server-2008
  kind: new-release-exposure
  match: { os: { family: windows-server, version: 2008 }, tagsAny: [sensitive], zones: [internet] }
  notBefore: { milestone: first-service-pack }
  onViolation: { rating: high, dueIn: P7D, actions: [remove-exposure] }
  exceptions: { approverRole: ciso, maxDuration: P1M }
`;
      const error = advisoryError(policy);
      expect(error.issues[0]).toMatchObject({ path: "rule.notBefore", line: 12 });
      expect(error.issues[0]?.reason).toContain(
        'milestone "first-service-pack" needs rule.facts.milestones.first-service-pack',
      );
      expect(
        parseAdvisoryFile(
          policy.replace(
            "  onViolation",
            "  facts: { milestones: { first-service-pack: 2009-05-26 } }\n  onViolation",
          ),
          "p.yaml",
        ).rule?.kind,
      ).toBe("new-release-exposure");
    });
  });
});
