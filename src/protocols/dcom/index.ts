/**
 * DCOM activation codec (MS-DCOM §2.2, §3.1.2.5) for the RPCSS checks of MS03-026 / MS03-039:
 * RemoteActivation, RemoteCreateInstance and RemoteGetClassObject request stubs and the replies'
 * fields the checks read, plus the server-side decoders the lab's RPCSS stand-in uses. Pure: bytes
 * in, values or DecodeIssues out; the PDUs around these stubs come from ../dcerpc.
 */
export { HRESULT, NCA_STATUS, describeStatus, hex32 } from "./hresult.js";
export type { OrpcThis } from "./orpc.js";
export {
  REMOTE_ACTIVATION_FAILURE_STUB_LENGTH,
  REMOTE_ACTIVATION_OPNUM,
  decodeRemoteActivationReply,
  decodeRemoteActivationRequest,
  encodeRemoteActivationReply,
  encodeRemoteActivationRequest,
  parseObjectName,
  type RemoteActivationReply,
  type RemoteActivationRequest,
} from "./remote-activation.js";
export {
  ACTIVATION_FAILURE_STUB_LENGTH,
  KNOWN_ACTIVATION_PROPERTY_CLSIDS,
  OBJREF_SIGNATURE,
  REMOTE_CREATE_INSTANCE_OPNUM,
  REMOTE_GET_CLASS_OBJECT_OPNUM,
  decodeActivationReply,
  decodeRemoteCreateInstanceRequest,
  decodeRemoteGetClassObjectRequest,
  encodeActivationReply,
  encodeRemoteGetClassObjectStub,
  kb824146ScanCreateInstanceStub,
  shortClsid,
  type ActivationReply,
  type Kb824146ScanVariant,
  type RemoteCreateInstanceRequest,
  type RemoteGetClassObjectRequest,
} from "./activation-properties.js";
export {
  RINGFENCE_CID,
  RINGFENCE_PROBE_CLSID,
  checkARemoteActivationStub,
  kb824146ScanEeyeStub,
  kb824146ScanUnboundContextStub,
} from "./probes.js";
