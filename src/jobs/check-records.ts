import type { HostCheckReport } from "../checks/index.js";
import type { CheckRunInput, FingerprintInput } from "../store/index.js";

/** Store rows for one host's results (one run per check; findings per advisory). */
export function checkRunInputs(scanId: string | null, report: HostCheckReport): CheckRunInput[] {
  return report.results.map((result) => ({
    scanId,
    address: report.address,
    protocol: result.protocol,
    port: result.port,
    checkId: result.checkId,
    advisories: result.advisories,
    verdict: result.verdict,
    classification: result.classification,
    reasonCode: result.reason.code,
    reason: result.reason.message,
    evidence: result.evidence,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  }));
}

/**
 * The asset row for one host's SMB fingerprint (none when it did not run): the OS label and
 * confidence, and the fingerprint itself without its exchange log (the check runs keep those as
 * evidence; the asset keeps what was learnt).
 */
export function fingerprintInputs(report: HostCheckReport): FingerprintInput[] {
  const fp = report.smb;
  if (fp === null) return [];
  const { exchanges: _exchanges, ...detail } = fp;
  return [
    {
      address: report.address,
      os: fp.os.label,
      osConfidence: fp.os.label === null ? null : fp.os.confidence,
      detail,
    },
  ];
}
