import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { miniMapper, startServer, type TestServer } from "./peer-server.js";

// 127.99.0.1 is outside the default scope (the lab's 127.20.0.0/14) and still loopback.
const OUTSIDE = "127.99.0.1";

describe("ringfence rpc dump (CLI)", () => {
  let listener: TestServer;
  beforeAll(async () => {
    listener = await startServer(OUTSIDE, (s) => miniMapper(s, false));
  });
  afterAll(() => listener.close());

  it("refuses a target outside the scope with exit 3, and never connects", async () => {
    const result = await runCli(["rpc", "dump", OUTSIDE, "--port", String(listener.port)]);
    expect(result.code).toBe(3);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain(`${OUTSIDE} is outside the authorized scope`);
    expect(listener.connections()).toBe(0);
  });

  it("refuses the string-binding form the same way", async () => {
    const result = await runCli(["rpc", "dump", `ncacn_http:${OUTSIDE}[${listener.port}]`]);
    expect(result.code).toBe(3);
    expect(listener.connections()).toBe(0);
  });

  it("refuses an ncacn_np binding outside the scope with exit 3, in one line", async () => {
    const result = await runCli(["rpc", "dump", `ncacn_np:${OUTSIDE}[\\pipe\\epmapper]`]);
    expect(result.code).toBe(3);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(listener.connections()).toBe(0);
  });

  it("reports an ncacn_np host with no SMB port in one line (exit 7)", async () => {
    // In the default scope; nothing listens on 445 or 139 of 127.23.255.253.
    const result = await runCli([
      "rpc",
      "dump",
      "ncacn_np:127.23.255.253[\\pipe\\epmapper]",
      "--timeout",
      "1s",
      "--no-lab",
    ]);
    expect(result.code).toBe(7);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toMatch(/connection refused/);
  });

  it("reports a refused connection in one line", async () => {
    // 127.20.0.0/14 is in the default scope; nothing listens on this port of 127.23.255.254.
    const result = await runCli([
      "rpc",
      "dump",
      "127.23.255.254",
      "--port",
      "1",
      "--timeout",
      "1s",
    ]);
    expect(result.code).toBe(7);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toMatch(/connection refused/);
  });
});
