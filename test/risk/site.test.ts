/**
 * Asset context from a site file (issue 5 item 4): zones by address range or tag, tags, impacts
 * and operator overrides, each with provenance; malformed files rejected with file, path, line.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RingfenceFileError } from "../../src/advisories/index.js";
import {
  emptySite,
  loadSiteFile,
  parseSiteFile,
  resolveAsset,
  type ObservedAsset,
} from "../../src/risk/index.js";

const SITE = `schema: ringfence.site/1
name: hq
updated: 2003-07-17
zones:
  - { zone: internal, ranges: [10.0.0.0/8] }
  - { zone: restricted, ranges: [10.9.0.0/16] }
  - { zone: internet, ranges: [198.51.100.0/24] }
  - { zone: roaming, tags: [laptop] }
assets:
  - match: { addresses: [198.51.100.10] }
    tags: [sensitive]
    role: server
    os: { family: windows-server, version: 2003 }
    humanImpact: high
    provenance: { source: operator, ref: CHG-1234 }
  - match: { ranges: [10.9.0.0/16] }
    missionImpact: mef-failure
    safetyImpact: marginal
  - match: { ids: [pc-7] }
    zone: isolated
    provenance: { source: operator, ref: "quarantine ticket 77" }
defaults:
  missionImpact: degraded
`;

const observed = (
  id: string,
  address: string,
  extra: Partial<ObservedAsset> = {},
): ObservedAsset => ({
  id,
  address,
  reachable: [],
  ...extra,
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ringfence-site-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("zones and context", () => {
  const site = parseSiteFile(SITE, "site.yaml");

  it("assigns the most specific range, with the rule as provenance", () => {
    expect(resolveAsset(site, observed("a", "10.1.1.1")).zone).toEqual({
      value: "internal",
      prov: { source: "site-file", ref: "site.yaml#zones[0]" },
    });
    const restricted = resolveAsset(site, observed("b", "10.9.1.1"));
    expect(restricted.zone.value).toBe("restricted");
    expect(restricted.zoneEvidence).toBe("declared");
    expect(restricted.missionImpact).toEqual({
      value: "mef-failure",
      prov: { source: "site-file", ref: "site.yaml#assets[1]", observedAt: "2003-07-17" },
    });
  });

  it("a tag rule beats a range rule; an operator override beats both", () => {
    expect(resolveAsset(site, observed("c", "10.1.1.2", { tags: ["laptop"] })).zone.value).toBe(
      "roaming",
    );
    const pc7 = resolveAsset(site, observed("pc-7", "10.1.1.3", { tags: ["laptop"] }));
    expect(pc7.zone).toEqual({
      value: "isolated",
      prov: {
        source: "operator",
        ref: "site.yaml#assets[2] quarantine ticket 77",
        observedAt: "2003-07-17",
      },
    });
  });

  it("merges tags, OS, role and impacts with provenance; site defaults fill the gaps", () => {
    const web = resolveAsset(
      site,
      observed("web-1", "198.51.100.10", {
        tags: ["iis"],
        os: { family: "windows-server", version: "2000" },
      }),
    );
    expect(web.zone.value).toBe("internet");
    expect(web.tags.map((t) => [t.value, t.prov.source])).toEqual([
      ["iis", "inventory"],
      ["sensitive", "operator"],
    ]);
    expect(web.os?.value).toEqual({ family: "windows-server", version: "2003" });
    expect(web.role.value).toBe("server");
    expect(web.humanImpact?.value).toBe("high");
    expect(web.missionImpact).toEqual({
      value: "degraded",
      prov: { source: "site-file", ref: "site.yaml#defaults.missionImpact" },
    });
  });

  it("infers the zone from the address when no rule matches (research §5.1)", () => {
    const none = emptySite();
    expect(resolveAsset(none, observed("x", "192.168.1.5")).zone.value).toBe("internal");
    const publicAddress = resolveAsset(none, observed("y", "203.0.113.9"));
    expect(publicAddress.zone.value).toBe("internet");
    expect(publicAddress.zoneEvidence).toBe("inferred");
    const seen = resolveAsset(
      none,
      observed("z", "10.0.0.9", { reachable: [{ proto: "tcp", port: 135, from: "internet" }] }),
    );
    expect([seen.zone.value, seen.zoneEvidence]).toEqual(["internet", "external-scan"]);
    expect(resolveAsset(none, observed("w", "10.0.0.8")).role).toEqual({
      value: "server",
      prov: { source: "default" },
    });
  });

  it("loads from disk", async () => {
    const path = join(dir, "site.yaml");
    await writeFile(path, SITE);
    expect((await loadSiteFile(path)).name).toBe("hq");
  });
});

describe("malformed site files", () => {
  function siteError(text: string): RingfenceFileError {
    let caught: unknown;
    try {
      parseSiteFile(text, "bad-site.yaml");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RingfenceFileError);
    expect((caught as RingfenceFileError).code).toBe("RINGFENCE_SITE_FILE");
    return caught as RingfenceFileError;
  }

  it("a bad range: file, path, line and reason", () => {
    const error = siteError(SITE.replace("10.9.0.0/16] }", "10.9.0.0/33] }"));
    expect(error.message).toMatch(
      /^site file bad-site\.yaml, line 6: zones\[1\]\.ranges\[0\]: bad range "10\.9\.0\.0\/33"/,
    );
  });

  it("an unknown zone, an unknown key, a bad address, a YAML error, a wrong schema", () => {
    expect(siteError(SITE.replace("zone: internet,", "zone: dmz,")).issues[0]).toMatchObject({
      path: "zones[2].zone",
      line: 7,
    });
    expect(siteError(SITE.replace("    role: server", "    rol: server")).issues[0]).toMatchObject({
      path: "assets[0].rol",
      line: 12,
      reason: 'unknown key "rol"',
    });
    expect(siteError(SITE.replace("198.51.100.10]", "198.51.100.300]")).issues[0]).toMatchObject({
      path: "assets[0].match.addresses[0]",
      line: 10,
      reason: '"198.51.100.300" is not an IP address',
    });
    expect(siteError(SITE.replace("name: hq", "name: [hq")).message).toContain("YAML syntax error");
    expect(siteError(SITE.replace("ringfence.site/1", "ringfence.site/2")).issues[0]?.path).toBe(
      "schema",
    );
    expect(
      siteError(SITE.replace("  - { zone: roaming, tags: [laptop] }", "  - { zone: roaming }"))
        .issues[0],
    ).toMatchObject({
      path: "zones[3]",
      reason: "a zone rule needs ranges or tags",
    });
  });
});
