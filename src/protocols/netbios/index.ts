export {
  NAME_FLAG_ACTIVE,
  NAME_FLAG_GROUP,
  NAME_FLAG_PERMANENT,
  NBSTAT_CLASS_IN,
  NBSTAT_TYPE,
  decodeNodeStatusRequest,
  decodeNodeStatusResponse,
  encodeNodeStatusRequest,
  encodeNodeStatusResponse,
  formatMac,
  type EncodeNodeStatusResponseOptions,
  type NodeStatus,
  type NodeStatusName,
  type NodeStatusRequest,
} from "./nbstat-codec.js";
export {
  encodeNetbiosName,
  netbiosNameBytes,
  netbiosNameFromBytes,
  readWireName,
  type WireName,
} from "./name-codec.js";
export { decodeIssue, isDecodeIssue, type DecodeIssue } from "./decode-issue.js";
