import {
  EPMAPPER,
  EPMAPPER_STATUS_NO_MORE_ENTRIES,
  EPT_INQUIRY,
  EPT_LOOKUP_OPNUM,
  EPT_VERS_OPTION,
  NULL_CONTEXT_HANDLE,
  decodeEptLookupResponse,
  describeTower,
  encodeEptLookupRequest,
  eptLookupPageState,
  findInterface,
  isDecodeIssue,
  isNullContextHandle,
  type ContextHandle,
  type EptEntry,
  type SyntaxId,
} from "../protocols/dcerpc/index.js";
import { RpcClient, type BindOutcome } from "./rpc-client.js";
import { decodeFailure, isRpcFailure, rpcFailure, type RpcFailure } from "./rpc-failure.js";
import { connectTransport, type TransportOptions } from "./socket-transport.js";
import type { StringBinding } from "./string-binding.js";

/**
 * Endpoint-mapper enumeration: ept_lookup (C706 Appendix O, opnum 2) walked page by page with
 * the entry handle, as impacket rpcdump does (research Appendix E). Two interop rules:
 *  - Samba answers its last page WITH entries and status 0x16c9a0d6 (ept_s_not_registered /
 *    EPMAPPER_STATUS_NO_MORE_ENTRIES) and a NULL handle (lab-and-peers.md §2): that is success,
 *    and the page's entries are kept (the codec's eptLookupPageState says "last").
 *  - A hostile mapper could hand back a fresh handle forever: the walk stops after maxPages.
 */

/** One registered endpoint, as rpcdump prints it. */
export interface EndpointEntry {
  /** Floor 1 of the tower: the interface UUID and version; null if the tower has none. */
  readonly interface: SyntaxId | null;
  /** Well-known short name ("lsarpc", "samr", ...) from the codec's table, or null. */
  readonly name: string | null;
  readonly object: string;
  readonly annotation: string;
  /** e.g. ncacn_ip_tcp:127.0.0.2[49152]; null when the tower is NULL or not understood. */
  readonly binding: string | null;
  readonly protseq: string | null;
}

export type WalkStop = "no-more-entries" | "null-handle" | "empty-page" | "page-cap";

export interface EndpointWalk {
  readonly entries: readonly EndpointEntry[];
  readonly pages: number;
  /** error_status_t of the last page (0 or 0x16c9a0d6 on success). */
  readonly finalStatus: number;
  readonly stop: WalkStop;
  /** False only when the page cap cut the walk short. */
  readonly complete: boolean;
}

export interface WalkOptions {
  /** max_ents per page; default 500 as impacket (research Appendix E). */
  readonly maxEnts?: number;
  /** Most ept_lookup calls per walk; default 64 (32,000 entries at 500 per page). */
  readonly maxPages?: number;
}

export const DEFAULT_MAX_ENTS = 500;
export const DEFAULT_MAX_PAGES = 64;

/** Walk the map over a client already bound to epmapper on `contextId`. Never throws. */
export async function lookupAllEndpoints(
  client: RpcClient,
  contextId: number,
  options: WalkOptions = {},
): Promise<EndpointWalk | RpcFailure> {
  const maxEnts = options.maxEnts ?? DEFAULT_MAX_ENTS;
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  const entries: EndpointEntry[] = [];
  let handle: ContextHandle = NULL_CONTEXT_HANDLE;
  for (let page = 1; page <= maxPages; page++) {
    // RPC_C_EP_ALL_ELTS, NULL object and interface, RPC_C_VERS_ALL: everything (research App. E).
    const stub = encodeEptLookupRequest({
      inquiryType: EPT_INQUIRY.allElements,
      object: null,
      interfaceId: null,
      versOption: EPT_VERS_OPTION.all,
      entryHandle: handle,
      maxEnts,
    });
    const outcome = await client.call(contextId, EPT_LOOKUP_OPNUM, stub);
    if (isRpcFailure(outcome)) return outcome;
    if (outcome.kind === "fault") {
      return rpcFailure("protocol", `ept_lookup faulted with ${outcome.statusName}`);
    }
    const response = decodeEptLookupResponse(outcome.stub, outcome.drep);
    if (isDecodeIssue(response)) return decodeFailure(response, "ept_lookup response stub");
    const state = eptLookupPageState(response);
    if (state === "failed") {
      // A first page with an error status means the map is not readable; a later one loses
      // only the rest of the walk, which the caller learns from `complete`.
      const status = `0x${response.status.toString(16).padStart(8, "0")}`;
      return rpcFailure("protocol", `ept_lookup returned status ${status} on page ${page}`);
    }
    entries.push(...response.entries.map(toEndpointEntry));
    if (state === "last") {
      const stop: WalkStop =
        response.status === EPMAPPER_STATUS_NO_MORE_ENTRIES
          ? "no-more-entries"
          : response.entries.length === 0
            ? "empty-page"
            : "null-handle";
      return { entries, pages: page, finalStatus: response.status, stop, complete: true };
    }
    handle = response.entryHandle;
    if (isNullContextHandle(handle)) break;
  }
  return { entries, pages: maxPages, finalStatus: 0, stop: "page-cap", complete: false };
}

function toEndpointEntry(entry: EptEntry): EndpointEntry {
  const tower = entry.tower === null ? null : describeTower(entry.tower);
  const iface = tower?.interface ?? null;
  return {
    interface: iface,
    name: iface === null ? null : (findInterface(iface.uuid, iface.major)?.name ?? null),
    object: entry.object,
    annotation: entry.annotation,
    binding: tower?.binding ?? null,
    protseq: tower?.protseq ?? null,
  };
}

export interface EndpointDump extends EndpointWalk {
  /** The binding we connected to, with the address actually used. */
  readonly target: string;
  readonly bind: Extract<BindOutcome, { kind: "bind-ack" }>;
}

export interface DumpOptions extends TransportOptions, WalkOptions {}

/**
 * Connect to the mapper at `binding`, bind epmapper v3.0 over NDR 2.0, walk the map, close.
 * "not-endpoint-mapper" when the peer answers but not as a mapper (bind refused, or bytes that
 * are not CO RPC in reply to the bind).
 */
export async function dumpEndpointMapper(
  binding: StringBinding,
  options: DumpOptions,
): Promise<EndpointDump | RpcFailure> {
  const transport = await connectTransport(binding, options);
  if (isRpcFailure(transport)) return transport;
  const client = new RpcClient(transport);
  const target = `${binding.protseq}:${transport.remoteAddress}[${transport.remotePort}]`;
  try {
    const bind = await client.bind([{ abstractSyntax: EPMAPPER }]);
    if (isRpcFailure(bind)) {
      if (bind.code !== "decode" && bind.code !== "protocol") return bind;
      return rpcFailure(
        "not-endpoint-mapper",
        `${target} is not an endpoint mapper: ${bind.message}`,
        bind.issue ? { issue: bind.issue } : {},
      );
    }
    if (bind.kind === "bind-nak") {
      return rpcFailure(
        "not-endpoint-mapper",
        `${target} is not an endpoint mapper: bind_nak (${bind.reason})`,
      );
    }
    const context = bind.contexts[0];
    if (context === undefined || !context.accepted) {
      return rpcFailure(
        "not-endpoint-mapper",
        `${target} is not an endpoint mapper: epmapper v3.0 was refused (${context?.result ?? "no result"}, ${context?.reason ?? "-"})`,
      );
    }
    const walk = await lookupAllEndpoints(client, context.contextId, options);
    if (isRpcFailure(walk)) return walk;
    return { ...walk, target, bind };
  } finally {
    client.close();
  }
}
