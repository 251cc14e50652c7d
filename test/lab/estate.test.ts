import { describe, expect, it } from "vitest";
import {
  Estate,
  LAB_BASE,
  LAB_TCP_PORTS,
  PERSONAS,
  expectedObservations,
  labAddress,
  labIndex,
  labRange,
  type GroundTruth,
} from "../../src/lab/index.js";
import { behaviourOf } from "../../src/lab/behaviour.js";
import { groundTruthHost } from "../../src/lab/ground-truth.js";
import { renderLabRuleset } from "../../src/lab/lab-ruleset.js";

describe("lab addresses", () => {
  it("puts host i at 127.20.0.0 + i, up to 127.23.255.255", () => {
    expect(LAB_BASE).toBe("127.20.0.0");
    expect(labAddress(0)).toBe("127.20.0.0");
    expect(labAddress(0x1a3)).toBe("127.20.1.163");
    expect(labAddress(262_143)).toBe("127.23.255.255");
    expect(() => labAddress(262_144)).toThrow(RangeError);
    expect(labIndex("127.20.1.163")).toBe(0x1a3);
    expect(labIndex("::ffff:127.20.0.7")).toBe(7);
    expect(labIndex("127.24.0.0")).toBeNull();
    expect(labIndex("127.0.0.1")).toBeNull();
  });

  it("names the range as a CIDR block when it is one", () => {
    expect(labRange(4096)).toBe("127.20.0.0/20");
    expect(labRange(262_144)).toBe("127.20.0.0/14");
    expect(labRange(1)).toBe("127.20.0.0/32");
    expect(labRange(300)).toBe("127.20.0.0-127.20.1.43");
  });
});

describe("personas", () => {
  it("weights are whole shares, hostile personas weigh 0, and cover the brief's kinds of host", () => {
    for (const p of PERSONAS) {
      expect(Number.isInteger(p.weight), p.id).toBe(true);
      expect(p.weight === 0, p.id).toBe(p.rpcss.kind === "hostile" || p.smb?.kind === "hostile");
    }
    expect(new Set(PERSONAS.map((p) => p.id)).size).toBe(PERSONAS.length);
    const ids = PERSONAS.map((p) => p.id);
    for (const id of [
      "nt4-sp6a",
      "w2k-sp4",
      "w2k-sp4-patched",
      "xp-sp1",
      "xp-sp2-shielded",
      "w2k3-rtm",
      "w2k3-sp1",
      "blaster-xp",
      "linux-server",
      "linux-samba",
      "closed",
      "filtered",
    ]) {
      expect(ids).toContain(id);
    }
    for (const p of PERSONAS) {
      for (const port of [...p.tcpOpen, ...p.tcpFiltered]) expect(LAB_TCP_PORTS).toContain(port);
    }
  });

  it("is deterministic per seed and differs between seeds", () => {
    const a = new Estate("seed-a", 2048);
    expect(new Estate("seed-a", 2048).personaOf).toEqual(a.personaOf);
    expect(new Estate("seed-b", 2048).personaOf).not.toEqual(a.personaOf);
    // A host's persona does not depend on the lab's size.
    expect(new Estate("seed-a", 100).personaOf).toEqual(a.personaOf.subarray(0, 100));
  });

  it("draws personas in proportion to their weights, never a weight-0 one", () => {
    const total = PERSONAS.reduce((sum, p) => sum + p.weight, 0);
    const estate = new Estate("distribution", 65_536);
    const counts = new Map<string, number>();
    for (let i = 0; i < estate.hosts; i++) {
      const id = estate.persona(i).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const p of PERSONAS) {
      const share = (counts.get(p.id) ?? 0) / estate.hosts;
      expect(Math.abs(share - p.weight / total)).toBeLessThan(0.01);
      if (p.weight === 0) expect(counts.get(p.id) ?? 0, p.id).toBe(0);
    }
  });

  it("appending personas keeps every host the new ones do not take (seed ringfence, pinned)", () => {
    // The default estate's first 32 hosts as drawn before the DCOM personas (index ≥ 14) existed.
    const before = [
      "linux-server",
      "closed",
      "w2k-sp4-kb823980",
      "blaster-xp",
      "w2k3-rtm",
      "w2k-sp4",
      "nt4-sp6a",
      "xp-sp2-shielded",
      "w2k-sp4-kb823980",
      "xp-sp1",
      "w2k-sp4-patched",
      "w2k3-sp1",
      "xp-sp2-shielded",
      "w2k-sp4-patched",
      "linux-server",
      "nt4-sp6a",
      "xp-sp1",
      "blaster-xp",
      "w2k-sp4-patched",
      "w2k-sp4-kb823980",
      "closed",
      "w2k-sp4-patched",
      "xp-sp2-shielded",
      "blaster-xp",
      "xp-sp1",
      "linux-samba",
      "closed",
      "xp-sp2-shielded",
      "linux-server",
      "w2k-sp4-patched",
      "xp-sp1",
      "w2k-sp4-patched",
    ];
    const estate = new Estate("ringfence", before.length);
    let kept = 0;
    for (const [i, id] of before.entries()) {
      if (estate.persona(i).id === id) kept++;
      else expect(estate.personaOf[i] ?? 0, `host ${i}`).toBeGreaterThanOrEqual(14);
    }
    expect(kept).toBeGreaterThan(before.length / 2);
  });

  it("gives NetBIOS hosts a name derived from the index, the workgroup and a MAC", () => {
    const estate = new Estate("netbios", 1024);
    const index = [...estate.personaOf.keys()].find(
      (i) => estate.persona(i).nameTable === "windows",
    );
    expect(index).toBeDefined();
    const host = estate.host(index ?? 0);
    expect(host.netbios?.computerName).toBe(
      `LAB-${(index ?? 0).toString(16).toUpperCase().padStart(6, "0")}`,
    );
    expect(host.netbios?.workgroup).toBe("LABGROUP");
    expect(host.netbios?.mac).toMatch(/^02:4c(:[0-9a-f]{2}){4}$/);
    expect(host.netbios?.names.map((n) => `${n.name}<${n.suffix.toString(16)}>`)).toContain(
      "LABGROUP<1e>",
    );
  });
});

describe("behaviour per mode", () => {
  const ports = [...LAB_TCP_PORTS];
  const byId = (id: string) => {
    const persona = PERSONAS.find((p) => p.id === id);
    if (persona === undefined) throw new Error(id);
    return persona;
  };

  it("netns mode shows shielded and filtered hosts as dropped", () => {
    const shielded = behaviourOf(byId("xp-sp2-shielded"), "netns", ports);
    expect(shielded.tcp.get(135)).toBe("filtered");
    expect(shielded.tcp.get(22)).toBe("closed");
    expect(shielded.udp137).toBe("filtered");
    const filtered = behaviourOf(byId("filtered"), "netns", ports);
    expect([...filtered.tcp.values()].every((s) => s === "filtered")).toBe(true);
    expect(filtered.elsewhere).toBe("filtered");
  });

  it("bind mode cannot drop: the same hosts are closed and say so", () => {
    const filtered = behaviourOf(byId("filtered"), "bind", ports);
    expect([...filtered.tcp.values()].every((s) => s === "closed")).toBe(true);
    expect(filtered.udp137).toBe("closed");
    expect(filtered.degraded).toMatch(/bind mode/);
    expect(behaviourOf(byId("xp-sp1"), "bind", ports).degraded).toBeNull();
  });
});

describe("ruleset", () => {
  it("maps every host to its persona chain, drops filtered hosts outright, never uses conntrack", () => {
    const estate = new Estate("ruleset", 512);
    const text = renderLabRuleset(estate, { tcpPorts: [...LAB_TCP_PORTS], portOffset: 0 });
    expect(text).not.toMatch(/\bct\b/);
    expect(text).toContain("ip daddr != 127.20.0.0/23 accept");
    for (let i = 0; i < estate.hosts; i++) {
      const persona = estate.persona(i);
      const element =
        persona.id === "filtered"
          ? `${labAddress(i)} : drop`
          : `${labAddress(i)} : jump persona_${persona.id.replace(/-/g, "_")}`;
      expect(text).toContain(element);
    }
  });

  it("applies the port offset to every port it names", () => {
    const estate = new Estate("offset", 256);
    const text = renderLabRuleset(estate, { tcpPorts: [...LAB_TCP_PORTS], portOffset: 1000 });
    expect(text).toContain("udp dport 1137");
    expect(text).not.toMatch(/dport \{?\s*135\b/);
  });
});

describe("expectedObservations", () => {
  const estate = new Estate("expect", 64);
  const tcpPorts = [...LAB_TCP_PORTS];
  const truth = (mode: "netns" | "bind", portOffset: number): GroundTruth => ({
    format: "ringfence-lab-ground-truth/1",
    name: "t",
    mode,
    seed: estate.seed,
    layout: "estate",
    base: LAB_BASE,
    range: labRange(64),
    hostCount: 64,
    portOffset,
    tcpPorts: tcpPorts.map((nominal) => ({ nominal, port: nominal + portOffset })),
    udpPorts: [{ nominal: 137, port: 137 + portOffset }],
    personaCounts: {},
    hosts: Array.from({ length: 64 }, (_, i) =>
      groundTruthHost(estate, i, mode, tcpPorts, portOffset),
    ),
  });

  it("lists every (host, port) once with nmap's states, nominal and wire ports", () => {
    const obs = expectedObservations(truth("bind", 20_000), {
      tcpPorts: [135, 3389],
      udpPorts: [137],
    });
    expect(obs).toHaveLength(64 * 3);
    const first = obs.find((o) => o.protocol === "tcp" && o.port === 135);
    expect(first?.wirePort).toBe(20_135);
    // Ports outside the universe are closed in bind mode: nothing listens there.
    expect(obs.filter((o) => o.port === 3389).every((o) => o.state === "closed")).toBe(true);
    expect(obs.some((o) => o.state === "filtered" || o.state === "open|filtered")).toBe(false);
  });

  it("reports dropped UDP as open|filtered and a filtered host's other ports as filtered", () => {
    const t = truth("netns", 0);
    const obs = expectedObservations(t, { tcpPorts: [3389], udpPorts: [137] });
    for (const host of t.hosts) {
      const udp = obs.find((o) => o.address === host.address && o.protocol === "udp");
      const tcp = obs.find((o) => o.address === host.address && o.protocol === "tcp");
      const persona = PERSONAS.find((p) => p.id === host.persona);
      if (persona?.udp137 === "filtered") expect(udp?.state).toBe("open|filtered");
      if (persona?.udp137 === "nbstat") expect(udp?.state).toBe("open");
      expect(tcp?.state).toBe(persona?.elsewhere);
    }
  });
});
