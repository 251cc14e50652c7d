import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpEndpointMapper, isRpcFailure, type ProtocolSequence } from "../../src/rpc/index.js";
import { loopbackScope, miniMapper, startServer, type TestServer } from "./peer-server.js";

/**
 * One suite every CO transport passes (STYLE.md "One conformance suite per family"): the same
 * two-page, multi-fragment mapper, reached over ncacn_ip_tcp and over ncacn_http.
 */
const HOST = "127.0.0.31";

function runTransportSuite(protseq: ProtocolSequence): void {
  describe(`${protseq} transport`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(HOST, (s) => miniMapper(s, protseq === "ncacn_http"));
    });
    afterAll(() => server.close());

    it("walks both pages, keeps Samba's last page sent with 0x16c9a0d6, reassembles fragments", async () => {
      const dump = await dumpEndpointMapper(
        { protseq, host: HOST, endpoint: String(server.port) },
        { scope: loopbackScope(), connectTimeoutMs: 1000, readTimeoutMs: 1000 },
      );
      if (isRpcFailure(dump)) throw new Error(dump.message);
      expect(dump.pages).toBe(2);
      expect(dump.stop).toBe("no-more-entries");
      expect(dump.complete).toBe(true);
      expect(dump.bind.assocGroupId).toBe(0x1234);
      expect(dump.bind.contexts[0]?.result).toBe("acceptance");
      expect(dump.entries.map((e) => [e.name, e.binding, e.annotation])).toEqual([
        ["epmapper", "ncacn_ip_tcp:127.0.0.9[135]", "page 1"],
        ["epmapper", "ncacn_ip_tcp:127.0.0.9[49152]", "page 2"],
        ["epmapper", "ncacn_ip_tcp:127.0.0.9[49153]", "page 2"],
      ]);
      expect(server.connections()).toBe(1);
    });
  });
}

runTransportSuite("ncacn_ip_tcp");
runTransportSuite("ncacn_http");

describe("ncacn_np", () => {
  it("is a typed 'not available yet', not a crash or a connection", async () => {
    const dump = await dumpEndpointMapper(
      { protseq: "ncacn_np", host: HOST, endpoint: "\\pipe\\epmapper" },
      { scope: loopbackScope() },
    );
    expect(isRpcFailure(dump) && dump.code).toBe("transport-unavailable");
  });
});
