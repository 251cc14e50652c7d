import { createSocket } from "node:dgram";
import { randomInt } from "node:crypto";
import {
  decodeNodeStatusResponse,
  encodeNodeStatusRequest,
  isDecodeIssue,
} from "../protocols/netbios/index.js";
import { scopeViolation, type Scope } from "../scope/index.js";
import { smbFailure, type SmbFailure } from "./smb-failure.js";

/**
 * NBSTAT names and MAC (RFC 1002 §4.2.17-18, `nmblookup -A`, `nbtstat -A`): what the scan stores
 * as the udp/137 observation detail, and what one unicast query returns here when no scan gave
 * it. Scope-checked; one datagram, one deadline, no retry.
 */

export interface NbstatName {
  readonly name: string;
  readonly suffix: number;
  readonly group: boolean;
}

export interface NbstatInfo {
  readonly names: readonly NbstatName[];
  /** UNIT_ID as colon hex; Samba's nmbd sends all zeros. */
  readonly mac: string | null;
}

/** The udp/137 observation detail the scan stores (src/scan/udp/udp-probes.ts), if it is one. */
export function nbstatFromDetail(detail: unknown): NbstatInfo | null {
  if (typeof detail !== "object" || detail === null) return null;
  const d = detail as { names?: unknown; mac?: unknown };
  if (!Array.isArray(d.names)) return null;
  const names: NbstatName[] = [];
  for (const n of d.names as unknown[]) {
    if (typeof n !== "object" || n === null) continue;
    const { name, suffix, group } = n as Record<string, unknown>;
    if (typeof name === "string" && typeof suffix === "number") {
      names.push({ name, suffix, group: group === true });
    }
  }
  return { names, mac: typeof d.mac === "string" ? d.mac : null };
}

/** The names to call on TCP 139 after *SMBSERVER: the unique <20> (server) names, then <00>. */
export function calledNamesFrom(info: NbstatInfo | null): string[] {
  if (info === null) return [];
  const unique = info.names.filter((n) => !n.group);
  return [
    ...unique.filter((n) => n.suffix === 0x20).map((n) => n.name),
    ...unique.filter((n) => n.suffix === 0x00).map((n) => n.name),
  ];
}

/** One unicast NODE STATUS query to `address`:`port`. Never throws. */
export async function queryNbstat(
  address: string,
  options: { scope: Scope; port?: number; timeoutMs: number; signal?: AbortSignal },
): Promise<NbstatInfo | SmbFailure> {
  if (!options.scope.allows(address)) {
    const error = scopeViolation(address, options.scope);
    return smbFailure("scope-violation", error.message, { error });
  }
  const port = options.port ?? 137;
  const label = `nbstat:${address}[${port}]`;
  if (options.signal?.aborted === true) return smbFailure("interrupted", `${label}: interrupted`);
  const transactionId = randomInt(1, 0xffff);
  const family = address.includes(":") ? "udp6" : "udp4";
  return new Promise((done) => {
    const socket = createSocket(family);
    let finished = false;
    const finish = (result: NbstatInfo | SmbFailure) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.close();
      done(result);
    };
    const onAbort = () => finish(smbFailure("interrupted", `${label}: interrupted`));
    const timer = setTimeout(
      () =>
        finish(smbFailure("read-timeout", `${label}: no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("error", (error: NodeJS.ErrnoException) =>
      finish(
        smbFailure(
          error.code === "ECONNREFUSED" ? "connection-refused" : "connection-closed",
          `${label}: ${error.code ?? error.message}`,
        ),
      ),
    );
    socket.on("message", (bytes, from) => {
      // Only an answer from the address asked, to this transaction, counts.
      if (from.address !== address) return;
      const status = decodeNodeStatusResponse(bytes);
      if (isDecodeIssue(status) || status.transactionId !== transactionId) return;
      finish({
        names: status.names.map((n) => ({ name: n.name, suffix: n.suffix, group: n.group })),
        mac: status.mac,
      });
    });
    socket.connect(port, address, () => socket.send(encodeNodeStatusRequest(transactionId)));
  });
}
