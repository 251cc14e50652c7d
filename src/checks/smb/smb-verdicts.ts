import { NT_STATUS } from "../../protocols/smb/index.js";
import type { DialectProbe, SmbFingerprint } from "../../smb/fingerprint.js";
import type { CheckReason, Verdict } from "../types.js";

/**
 * The SMB checks' verdicts, read off one host's fingerprint (research Appendices A-C), with the
 * same model as the RPC checks: a verdict, a reason code and sentence. UNKNOWN whenever the host
 * did not really answer the question (a timeout, garbage, a hostile peer), never a guess.
 */

export interface SmbVerdict {
  readonly verdict: Verdict;
  readonly reason: CheckReason;
  /** e.g. "POTENTIALLY_VULNERABLE_SMBGHOST"; null when the check has none. */
  readonly classification: string | null;
}

const verdict = (
  v: Verdict,
  code: string,
  message: string,
  classification: string | null = null,
): SmbVerdict => ({ verdict: v, reason: { code, message }, classification });

function probe(fp: SmbFingerprint, dialect: DialectProbe["dialect"]): DialectProbe | undefined {
  return fp.dialects.find((d) => d.dialect === dialect);
}

const SMB2_NAMES = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"] as const;

function anySmb2(fp: SmbFingerprint): boolean {
  return SMB2_NAMES.some((d) => probe(fp, d)?.accepted === true);
}

/** Every SMB2 dialect said no (refused or closed), none was left unknown. */
function noSmb2(fp: SmbFingerprint): boolean {
  return SMB2_NAMES.every((d) => probe(fp, d)?.accepted === false);
}

/**
 * An SMB1 refusal that stands on its own: DialectIndex 0xFFFF or an error status. A closed
 * connection counts only when the host proved it speaks SMB (an SMB2 dialect was accepted):
 * research Appendix B, "Windows hosts with SMB1 removed generally close the connection".
 */
function smb1Refused(fp: SmbFingerprint): boolean {
  const smb1 = probe(fp, "NT LM 0.12");
  if (smb1?.accepted !== false) return false;
  return smb1.failure === null || smb1.failure === "status" || anySmb2(fp);
}

function unknownReason(fp: SmbFingerprint, what: string): SmbVerdict {
  const smb1 = probe(fp, "NT LM 0.12");
  const why =
    smb1?.failure !== null && smb1?.failure !== undefined
      ? `${smb1.reason}`
      : (fp.failures[0]?.message ?? "no SMB answer");
  return verdict("UNKNOWN", smb1?.failure ?? "no-answer", `${what}: ${why}`);
}

/** smbv1-enabled (research Appendix B): NT LM 0.12 accepted ⇒ the weakness is present. */
export function smbv1Verdict(fp: SmbFingerprint): SmbVerdict {
  const smb1 = probe(fp, "NT LM 0.12");
  if (smb1?.accepted === true) {
    return verdict(
      "VULNERABLE",
      "smb1-accepted",
      "the server accepted the SMB1 dialect NT LM 0.12 (SMBv1 enabled)",
    );
  }
  if (smb1Refused(fp)) {
    return verdict(
      "NOT_VULNERABLE",
      "smb1-refused",
      `the server refused SMB1 (${smb1?.reason ?? "no answer"})${anySmb2(fp) ? " and speaks SMB2/3" : ""}`,
    );
  }
  return unknownReason(fp, "SMB1 support could not be determined");
}

/**
 * ms17-010-peeknamedpipe (research Appendix A): over SMB1 only, after a null session and an
 * IPC$ tree connect, TRANS_PEEK_NMPIPE on FID 0: STATUS_INSUFF_SERVER_RESOURCES ⇒ VULNERABLE,
 * STATUS_ACCESS_DENIED / STATUS_INVALID_HANDLE ⇒ NOT_VULNERABLE, anything else UNKNOWN.
 */
export function ms17010Verdict(fp: SmbFingerprint, peek: PeekResult | null): SmbVerdict {
  if (smb1Refused(fp)) {
    return verdict(
      "NOT_APPLICABLE",
      "smb1-disabled",
      "SMB1 is disabled: MS17-010 is a flaw of the SMBv1 server",
    );
  }
  const smb1 = fp.smb1;
  if (smb1 === null) return unknownReason(fp, "no SMB1 session for the PeekNamedPipe probe");
  if (!smb1.nullSession.established) {
    return verdict(
      "UNKNOWN",
      "null-session-refused",
      `the null session was refused (${smb1.nullSession.status ?? smb1.nullSession.problem ?? "no answer"}), so FID 0 could not be probed`,
    );
  }
  if (smb1.ipc !== "connected") {
    return verdict(
      "UNKNOWN",
      "ipc-refused",
      `TREE_CONNECT to IPC$ failed (${smb1.ipc ?? "not tried"}), so FID 0 could not be probed`,
    );
  }
  if (peek === null) return verdict("UNKNOWN", "not-probed", "the PeekNamedPipe probe did not run");
  if (peek.kind === "failure") {
    return verdict("UNKNOWN", peek.code, `PeekNamedPipe on FID 0 got no answer: ${peek.message}`);
  }
  switch (peek.status) {
    case NT_STATUS.INSUFF_SERVER_RESOURCES:
      return verdict(
        "VULNERABLE",
        "insuff-server-resources",
        "PeekNamedPipe on FID 0 answered STATUS_INSUFF_SERVER_RESOURCES: MS17-010 (KB4013389) is missing",
      );
    case NT_STATUS.ACCESS_DENIED:
    case NT_STATUS.INVALID_HANDLE:
      return verdict(
        "NOT_VULNERABLE",
        peek.status === NT_STATUS.ACCESS_DENIED ? "access-denied" : "invalid-handle",
        `PeekNamedPipe on FID 0 answered ${peek.statusText}: the MS17-010 fix is present`,
      );
    default:
      return verdict(
        "UNKNOWN",
        "unexpected-status",
        `PeekNamedPipe on FID 0 answered ${peek.statusText}, which the method does not interpret`,
      );
  }
}

/** The MS17-010 probe's answer (or why there was none). */
export type PeekResult =
  | { readonly kind: "status"; readonly status: number; readonly statusText: string }
  | { readonly kind: "failure"; readonly code: string; readonly message: string };

/** NT 10.0 builds of Windows 10 / Server 1903 and 1909 (research Appendix C). */
const SMBGHOST_BUILDS = new Set([18362, 18363]);

/**
 * smbghost-compression-capability (research Appendix C): SMB 3.1.1 with a compression context
 * is the capability of CVE-2020-0796, reported as POTENTIALLY_VULNERABLE_SMBGHOST with the build
 * (the patch level, UBR, is not visible); a build that is not 1903/1909 is not affected. No
 * compressed message is ever sent.
 */
export function smbghostVerdict(fp: SmbFingerprint): SmbVerdict {
  const p311 = probe(fp, "3.1.1");
  if (p311?.accepted === true) {
    if (fp.compression.offered !== true) {
      return verdict(
        "NOT_VULNERABLE",
        "no-compression",
        "SMB 3.1.1 is spoken without compression (none offered, or the ADV200005 workaround)",
      );
    }
    const build = fp.ntlm?.versionFields?.build ?? null;
    const version = fp.ntlm?.versionFields ?? null;
    const algorithms = fp.compression.algorithms.join(", ");
    if (
      version !== null &&
      !(version.major === 10 && version.minor === 0 && SMBGHOST_BUILDS.has(version.build))
    ) {
      return verdict(
        "NOT_VULNERABLE",
        "build-not-affected",
        `SMB 3.1.1 with compression (${algorithms}), but build ${version.major}.${version.minor}.${version.build} is not Windows 10 / Server 1903 or 1909`,
      );
    }
    return verdict(
      "VULNERABLE",
      "compression-capability",
      `capability: potentially vulnerable, build ${build ?? "unknown"} (SMB 3.1.1 with compression ${algorithms}; the patch level is not visible remotely)`,
      "POTENTIALLY_VULNERABLE_SMBGHOST",
    );
  }
  if (p311?.accepted === false && anySmb2(fp)) {
    return verdict("NOT_VULNERABLE", "no-smb-3.1.1", `SMB 3.1.1 is not spoken (${p311.reason})`);
  }
  if (noSmb2(fp) && probe(fp, "NT LM 0.12")?.accepted === true) {
    return verdict(
      "NOT_APPLICABLE",
      "no-smb2",
      "the server speaks SMB1 only: SMBGhost is a flaw of SMB 3.1.1",
    );
  }
  return verdict(
    "UNKNOWN",
    p311?.failure ?? "no-answer",
    `SMB 3.1.1 support could not be determined: ${p311?.reason ?? "not probed"}`,
  );
}

/**
 * smb-signing-not-required (informational): at the highest protocol the server speaks (SMB2
 * when it has it, as nmap's smb2-security-mode reports), signing not required ⇒ VULNERABLE.
 */
export function signingVerdict(fp: SmbFingerprint): SmbVerdict {
  const at =
    fp.smb2 !== null
      ? { name: `SMB ${fp.smb2.dialect}`, ...fp.smb2 }
      : fp.smb1 !== null
        ? { name: "SMB1", ...fp.smb1 }
        : null;
  if (at === null) return unknownReason(fp, "message signing could not be determined");
  if (at.signingRequired) {
    return verdict("NOT_VULNERABLE", "signing-required", `${at.name}: message signing is required`);
  }
  return verdict(
    "VULNERABLE",
    at.signingEnabled ? "signing-enabled-not-required" : "signing-disabled",
    `${at.name}: message signing is ${at.signingEnabled ? "enabled but not required" : "disabled"}`,
  );
}
