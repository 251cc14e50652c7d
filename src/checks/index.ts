/**
 * Vulnerability checks: the RPCSS sequence for MS03-026 / MS03-039 (research §2.10), the
 * Blaster backdoor indicator, and the SMB checks (SMBv1, MS17-010, SMBGhost, signing) read off
 * one SMB fingerprint per host. Checks consume the scan's open ports and emit verdicts with reasons
 * and evidence; the protocol bytes live in ../protocols, the transports in ../rpc.
 */
export type {
  CheckMetadata,
  CheckReason,
  CheckResult,
  EvidenceStep,
  SafetyCategory,
  Verdict,
} from "./types.js";
export {
  BLASTER_BACKDOOR,
  CHECKS,
  CHECK_PROFILES,
  MS03_026_REMOTE_ACTIVATION,
  MS03_039_GET_CLASS_OBJECT,
  MS03_039_KB824146SCAN,
  MS17_010_PEEKNAMEDPIPE,
  SMBGHOST_COMPRESSION,
  SMBV1_ENABLED,
  SMB_CHECKS,
  SMB_FINGERPRINT,
  SMB_SIGNING_NOT_REQUIRED,
  checkById,
  parseCheckSelection,
  portsOfSelection,
  type CheckSelection,
} from "./registry.js";
export {
  checkHost,
  checkHosts,
  ms03026Verdict,
  ms03039Verdict,
  type CheckRunOptions,
  type HostCheckReport,
  type HostTarget,
  type PlacedResult,
} from "./run-checks.js";
export type { RpcssClassification } from "./rpcss/procedure.js";
export type { RpcssTimeouts } from "./rpcss/prober.js";
export { classifyBanner } from "./blaster/backdoor-banner.js";
export { SMB_CHECK_ORDER, runSmbChecks, type SmbCheckRun } from "./smb/smb-checks.js";
export {
  ms17010Verdict,
  signingVerdict,
  smbghostVerdict,
  smbv1Verdict,
  type PeekResult,
  type SmbVerdict,
} from "./smb/smb-verdicts.js";
