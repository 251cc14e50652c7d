/**
 * DCE/RPC client side: transports chosen by string binding (ncacn_ip_tcp, ncacn_http, and
 * ncacn_np over an anonymous SMB session), a bind/call client, and the endpoint-mapper walk. Everything here returns RpcFailure
 * values instead of throwing, and refuses to connect outside the authorized scope.
 */
export {
  decodeFailure,
  isRpcFailure,
  rpcFailure,
  type RpcFailure,
  type RpcFailureCode,
} from "./rpc-failure.js";
export {
  DEFAULT_ENDPOINT,
  formatStringBinding,
  isBindingIssue,
  parseStringBinding,
  type BindingIssue,
  type ProtocolSequence,
  type StringBinding,
} from "./string-binding.js";
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_ASSOCIATION_BYTES,
  DEFAULT_READ_TIMEOUT_MS,
  NCACN_HTTP_BANNER,
  connectTransport,
  type ReceivedPdu,
  type RpcTransport,
  type TransportOptions,
} from "./socket-transport.js";
export {
  DEFAULT_SMB_PORTS,
  connectPipeTransport,
  pipeName,
  type PipeTransportOptions,
  type SmbPortSpec,
} from "./pipe-transport.js";
export {
  RpcClient,
  type BindOutcome,
  type CallOptions,
  type CallOutcome,
  type ContextOutcome,
  type ContextProposal,
  type ContextResultName,
  type RpcClientOptions,
} from "./rpc-client.js";
export {
  DEFAULT_MAX_ENTS,
  DEFAULT_MAX_PAGES,
  dumpEndpointMapper,
  lookupAllEndpoints,
  type DumpOptions,
  type EndpointDump,
  type EndpointEntry,
  type EndpointWalk,
  type WalkOptions,
  type WalkStop,
} from "./endpoint-mapper.js";
