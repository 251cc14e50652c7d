import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpEndpointMapper, isRpcFailure, type ProtocolSequence } from "../../src/rpc/index.js";
import { createScope } from "../../src/scope/index.js";
import { parseRangeExpression } from "../../src/targets/index.js";
import {
  loopbackScope,
  mapperReplies,
  miniMapper,
  startServer,
  type TestServer,
} from "./peer-server.js";
import { miniSmbPipeServer } from "./smb-pipe-peer.js";

/**
 * One suite every CO transport passes (STYLE.md "One conformance suite per family"): the same
 * two-page, multi-fragment mapper, reached over ncacn_ip_tcp, over ncacn_http, and over an SMB2
 * named pipe (ncacn_np: transceive for the first fragment, READ for the next).
 */
const HOST = "127.0.0.31";

function runTransportSuite(protseq: ProtocolSequence): void {
  describe(`${protseq} transport`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(HOST, (s) =>
        protseq === "ncacn_np"
          ? miniSmbPipeServer(s, mapperReplies)
          : miniMapper(s, protseq === "ncacn_http"),
      );
    });
    afterAll(() => server.close());

    it("walks both pages, keeps Samba's last page sent with 0x16c9a0d6, reassembles fragments", async () => {
      const np = protseq === "ncacn_np";
      const dump = await dumpEndpointMapper(
        { protseq, host: HOST, endpoint: np ? "\\pipe\\epmapper" : String(server.port) },
        {
          scope: loopbackScope(),
          connectTimeoutMs: 1000,
          readTimeoutMs: 1000,
          ...(np
            ? { smb: { ports: [{ port: server.port, transport: "direct-tcp" as const }] } }
            : {}),
        },
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
runTransportSuite("ncacn_np");

describe("ncacn_np", () => {
  it("refuses an address outside the scope before connecting", async () => {
    const only = parseRangeExpression("127.0.0.31");
    if ("reason" in only) throw new Error(only.reason);
    const dump = await dumpEndpointMapper(
      { protseq: "ncacn_np", host: "127.0.0.33", endpoint: "\\pipe\\epmapper" },
      { scope: createScope({ name: "one", source: "test", allow: [only] }) },
    );
    expect(isRpcFailure(dump) && dump.code).toBe("scope-violation");
    expect(isRpcFailure(dump) && dump.error?.code).toBe("RINGFENCE_SCOPE_VIOLATION");
  });

  it("falls back from a refused 445 to the next SMB port, and reports refusal when none listens", async () => {
    const dump = await dumpEndpointMapper(
      { protseq: "ncacn_np", host: "127.0.0.32", endpoint: "\\pipe\\epmapper" },
      {
        scope: loopbackScope(),
        connectTimeoutMs: 500,
        smb: {
          ports: [
            { port: 1, transport: "direct-tcp" },
            { port: 2, transport: "netbios" },
          ],
        },
      },
    );
    expect(isRpcFailure(dump) && dump.code).toBe("connection-refused");
    expect(isRpcFailure(dump) && dump.message).toContain("TCP 2");
  });
});
