/**
 * String bindings (C706 §2.2.4 / MS-RPCE §2.1 protocol sequences): `protseq:host[endpoint]`,
 * the form impacket's DCERPCTransportFactory and rpcdump print. Only the three protocol
 * sequences the MS03-026 checks use are accepted (research §2.3); ncacn_np is parsed so that a
 * caller gets a typed "not available yet" failure instead of a syntax error.
 */

export type ProtocolSequence = "ncacn_ip_tcp" | "ncacn_http" | "ncacn_np";

export interface StringBinding {
  readonly protseq: ProtocolSequence;
  /** Host name or address as written (IPv6 without brackets). */
  readonly host: string;
  /** TCP port for ncacn_ip_tcp / ncacn_http; pipe name (e.g. `\pipe\epmapper`) for ncacn_np. */
  readonly endpoint: string;
}

/** Well-known endpoints (research §2.3): 135 for the mapper, 593 for RPC over HTTP v1. */
export const DEFAULT_ENDPOINT: Readonly<Record<ProtocolSequence, string>> = Object.freeze({
  ncacn_ip_tcp: "135",
  ncacn_http: "593",
  ncacn_np: "\\pipe\\epmapper",
});

export interface BindingIssue {
  readonly kind: "binding-issue";
  readonly message: string;
}

const PROTSEQS: readonly ProtocolSequence[] = ["ncacn_ip_tcp", "ncacn_http", "ncacn_np"];

/**
 * Parse `ncacn_ip_tcp:10.0.0.1[135]`, `ncacn_http:host[593]`, `ncacn_np:host[\pipe\x]`. The
 * endpoint is optional (the protseq's default). Options after a comma inside the brackets
 * (`[135,timeout=5]`, MS-RPCE allows them) are refused: we do not implement any.
 */
export function parseStringBinding(text: string): StringBinding | BindingIssue {
  const match = /^([a-z_]+):(\[[^\]]*\]|[^[\]]*)(?:\[([^\]]*)\])?$/i.exec(text.trim());
  if (match === null) {
    return issue(`"${text}" is not a string binding (expected protseq:host[endpoint])`);
  }
  const protseq = match[1]?.toLowerCase() as ProtocolSequence;
  if (!PROTSEQS.includes(protseq)) {
    return issue(`unsupported protocol sequence "${match[1]}" (use ${PROTSEQS.join(", ")})`);
  }
  const host = (match[2] ?? "").replace(/^\[(.*)\]$/, "$1");
  if (host === "") return issue(`"${text}" names no host`);
  const endpoint = match[3] ?? DEFAULT_ENDPOINT[protseq];
  if (endpoint.includes(",")) return issue(`endpoint options are not supported: "${endpoint}"`);
  if (protseq !== "ncacn_np" && parsePort(endpoint) === undefined) {
    return issue(`"${endpoint}" is not a TCP port (1-65535)`);
  }
  return { protseq, host, endpoint };
}

export function isBindingIssue(value: unknown): value is BindingIssue {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "binding-issue"
  );
}

export function formatStringBinding(binding: StringBinding): string {
  const host = binding.host.includes(":") ? `[${binding.host}]` : binding.host;
  return `${binding.protseq}:${host}[${binding.endpoint}]`;
}

export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function issue(message: string): BindingIssue {
  return { kind: "binding-issue", message };
}
