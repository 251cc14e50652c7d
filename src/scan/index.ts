/** Discovery: probe engines, UDP probes, and the scan loop that streams observations. */
export type { PortState, ProbeObservation, Protocol } from "./observation.js";
export {
  createOrders,
  runScan,
  totalProbes,
  type ResumePoint,
  type ScanEvent,
  type ScanPlan,
  type ScanProgress,
} from "./scan-runner.js";
export {
  ENGINE_CHOICES,
  selectEngine,
  type EngineChoice,
  type EngineSelection,
} from "./engines/engine-selection.js";
export { loadNativeAddon, nativeAddonLoadError } from "./engines/native-addon.js";
export type { TcpProbeEngine } from "./engines/probe-engine.js";
export { udpPortsWithProbes } from "./udp/udp-probes.js";
