import { spawn } from "node:child_process";
import { writeFileSync, existsSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IS_ROOT, isOneLineError, runCli, scratchDir } from "../helpers/cli.js";

// 127.99.0.1 is outside the default scope (the lab's 127.20.0.0/14): loopback, so even a bug
// could not send anything off this machine.
const OUTSIDE = "127.99.0.1";
const INSIDE = "127.20.0.1";
const PORT = 41135;

function listen(host: string): Promise<{ server: Server; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  return new Promise((resolve) =>
    server.listen(PORT, host, () => resolve({ server, connections: () => count })),
  );
}

describe("authorized scope", () => {
  const tmp = scratchDir();
  let outside: Awaited<ReturnType<typeof listen>>;
  let inside: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    outside = await listen(OUTSIDE);
    inside = await listen(INSIDE);
  });
  afterAll(() => {
    outside.server.close();
    inside.server.close();
    tmp.cleanup();
  });

  it("refuses a target outside the default scope before sending anything (connect engine)", async () => {
    const result = await runCli([
      "scan",
      OUTSIDE,
      "-p",
      String(PORT),
      "--engine",
      "connect",
      "--db",
      join(tmp.dir, "a.db"),
      "--no-lab",
    ]);
    expect(result.code).toBe(3);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain(OUTSIDE);
    expect(result.stderr).toContain("outside the authorized scope");
    expect(outside.connections()).toBe(0);
  });

  it("refuses a mixed target list whole: not even the in-scope target is probed", async () => {
    const result = await runCli([
      "scan",
      INSIDE,
      OUTSIDE,
      "-p",
      String(PORT),
      "--engine",
      "connect",
      "--db",
      join(tmp.dir, "b.db"),
      "--no-lab",
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(OUTSIDE);
    expect(inside.connections()).toBe(0);
    expect(outside.connections()).toBe(0);
  });

  it("honours a scope file: outside its ranges is refused, inside is scanned", async () => {
    const scope = join(tmp.dir, "scope.yaml");
    writeFileSync(
      scope,
      `name: test-scope\nallow:\n  - 127.20.0.0/24\ndeny:\n  - 127.20.0.128/25\n`,
    );
    const refused = await runCli([
      "scan",
      "127.20.0.200",
      "-p",
      String(PORT),
      "--scope",
      scope,
      "--engine",
      "connect",
      "--db",
      join(tmp.dir, "c.db"),
      "--no-lab",
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("127.20.0.200");
    expect(refused.stderr).toContain("test-scope");

    const allowed = await runCli([
      "scan",
      INSIDE,
      "-p",
      `T:${PORT}`,
      "--scope",
      scope,
      "--engine",
      "connect",
      "--db",
      join(tmp.dir, "c.db"),
      "--no-lab",
      "--json",
    ]);
    expect(allowed.code).toBe(0);
    const report = JSON.parse(allowed.stdout);
    expect(report.exposedHosts).toEqual([{ address: INSIDE, open: [`tcp/${PORT}`], details: {} }]);
    expect(inside.connections()).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!IS_ROOT || !existsSync("/usr/bin/tshark"))(
    "sends no packet at all to a refused target with the raw SYN engine (tshark on lo)",
    async () => {
      const pcap = join(tmp.dir, "refusal.pcapng");
      const capture = spawn("tshark", ["-i", "lo", "-f", `host ${OUTSIDE}`, "-w", pcap, "-q"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      // tshark reports "Capturing on" once the capture is live.
      await new Promise<void>((resolve) => {
        capture.stderr!.on("data", (d: Buffer) => {
          if (d.toString().includes("Capturing on")) resolve();
        });
      });
      const result = await runCli([
        "scan",
        OUTSIDE,
        "-p",
        String(PORT),
        "--engine",
        "syn",
        "--db",
        join(tmp.dir, "d.db"),
        "--no-lab",
      ]);
      // Positive control: one connection of our own, so the capture provably sees that host.
      await new Promise<void>((resolve) => {
        const socket = connect({ host: OUTSIDE, port: PORT }, () => {
          socket.end();
          resolve();
        });
        socket.on("error", () => resolve());
      });
      await new Promise((r) => setTimeout(r, 500));
      capture.kill("SIGINT");
      await new Promise((r) => capture.on("close", r));
      expect(result.code).toBe(3);
      const read = spawn("tshark", ["-r", pcap, "-T", "fields", "-e", "tcp.flags.str"]);
      let out = "";
      read.stdout.on("data", (d: Buffer) => (out += d.toString()));
      await new Promise((r) => read.on("close", r));
      const packets = out.trim().split("\n").filter(Boolean);
      // Only the control connection: SYN, SYN-ACK, ACK, ... and no SYN from the scanner.
      const syns = packets.filter((flags) => /S/.test(flags) && !/A/.test(flags));
      expect(packets.length).toBeGreaterThan(0);
      expect(syns.length).toBe(1);
    },
  );
});
