/**
 * `ringfence lab`: a simulated 2003-era Windows estate on loopback, for training, demos, users' CI
 * pipelines, and as the target of our own tests and benchmarks.
 */
export {
  labUp,
  labDown,
  labStatus,
  DEFAULT_BIND_PORT_OFFSET,
  DEFAULT_LAB_HOSTS,
  DEFAULT_LAB_SEED,
  MAX_BIND_SOCKETS,
  type LabDownResult,
  type LabRef,
  type LabStatus,
  type LabUpOptions,
} from "./lab.js";
export { DEFAULT_LAB_NAME, defaultStateDir, netnsNameFor, type LabState } from "./lab-state.js";
export { labPatch, type LabPatchOptions, type LabPatchResult } from "./lab-patch.js";
export { PATCH_TARGETS, patchedVariant, type PatchTarget } from "./persona-overrides.js";
export {
  expectedObservations,
  readGroundTruth,
  rpcEndpointsOf,
  type ExpectedObservation,
  type GroundTruth,
  type GroundTruthHost,
  type PortLists,
} from "./ground-truth.js";
export {
  CMD_BANNER_W2K,
  CMD_BANNER_XP,
  EXPECTED_RPCSS_VERDICTS,
  Estate,
  SMB_CHECK_IDS,
  LAB_LAYOUTS,
  LAB_TCP_PORTS,
  LAB_UDP_PORTS,
  LAB_WORKGROUP,
  PERSONAS,
  computerName,
  personaById,
  type ExpectedCheckVerdict,
  type ExpectedRpcssVerdict,
  type ExpectedSmb,
  type ExpectedVerdicts,
  type SmbCheckId,
  type HostileRpcBehaviour,
  type LabHost,
  type LabLayout,
  type NetbiosBehaviour,
  type NetbiosIdentity,
  type PatchState,
  type Persona,
  type RpcssProfile,
  type Tcp4444Service,
  type WindowsGeneration,
} from "./personas.js";
export { LAB_BASE, MAX_LAB_HOSTS, labAddress, labIndex, labRange } from "./address.js";
export type { LabMode } from "./behaviour.js";
export { NCACN_HTTP_BANNER } from "./dcerpc-handler.js";
export { acceptsNdr64, type LabRpcEndpoint } from "./rpc-endpoints.js";
export {
  profileDialects,
  profileSigning,
  type HostileSmbBehaviour,
  type SmbProfile,
  type SmbServerProfile,
} from "./smb-profiles.js";
export {
  PERIMETER_CLIENTS,
  PERIMETER_DEFAULT_HOSTS,
  PERIMETER_HOST_INTERFACE,
  PERIMETER_INTERFACES,
  PERIMETER_LAN_CLIENTS,
  PERIMETER_MAX_HOSTS,
  PERIMETER_NAMESPACES,
  perimeterDown,
  perimeterFirewall,
  perimeterHosts,
  perimeterInternalHosts,
  perimeterUp,
  type PerimeterHost,
  type PerimeterLab,
} from "./perimeter.js";
