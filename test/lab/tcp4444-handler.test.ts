import { describe, expect, it } from "vitest";
import { CMD_BANNER_W2K, CMD_BANNER_XP, Estate, PERSONAS } from "../../src/lab/index.js";
import { serveTcp4444 } from "../../src/lab/tcp4444-handler.js";
import { RawClient, closeServers, serveInProcess } from "./in-process.js";

/** TCP 4444 in process (lab-catalogue.test.ts checks the same through the daemon). */
const IDLE_MS = 300;
const estate = new Estate("tcp4444", PERSONAS.length, "catalogue");

async function bannerOf(personaId: string): Promise<{ banner: string; after: number }> {
  const host = estate.host(PERSONAS.findIndex((p) => p.id === personaId));
  const { port, server } = await serveInProcess(serveTcp4444, host, 4444, IDLE_MS);
  try {
    const client = await RawClient.connect(port);
    const expected = host.persona.tcp4444?.banner.length ?? 0;
    await client.atLeast(expected);
    const banner = client.received.toString("latin1");
    // Input is discarded: whatever a peer types, the lab says nothing more, then the idle
    // timeout ends the connection.
    client.send(Buffer.from("start msblast.exe\r\n"));
    await client.closed;
    return { banner, after: client.received.length - banner.length };
  } finally {
    await closeServers([server]);
  }
}

describe("TCP 4444", () => {
  it("Blaster hosts print their Windows version's cmd.exe banner and run nothing", async () => {
    expect(await bannerOf("blaster-xp")).toEqual({ banner: CMD_BANNER_XP, after: 0 });
    expect(await bannerOf("blaster-w2k")).toEqual({ banner: CMD_BANNER_W2K, after: 0 });
    expect(CMD_BANNER_XP.endsWith("C:\\WINDOWS\\system32>")).toBe(true);
    expect(CMD_BANNER_W2K.endsWith("C:\\WINNT\\system32>")).toBe(true);
  });

  it("the dev box's 4444 speaks first too, but is no shell", async () => {
    const { banner } = await bannerOf("linux-dev-4444");
    expect(banner.length).toBeGreaterThan(0);
    expect(banner).not.toContain("Microsoft Windows");
  });

  it("a persona without a 4444 service only holds the connection", async () => {
    expect(await bannerOf("w2k-sp4")).toEqual({ banner: "", after: 0 });
  });
});
