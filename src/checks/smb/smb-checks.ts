import type { Scope } from "../../scope/index.js";
import {
  fingerprintSmb,
  type DialectProbe,
  type SmbFingerprint,
  type SmbTimeouts,
} from "../../smb/fingerprint.js";
import type { NbstatInfo } from "../../smb/nbstat-query.js";
import type { Smb1Client } from "../../smb/smb1-client.js";
import { describeStatus } from "../../smb/smb2-client.js";
import { isSmbFailure } from "../../smb/smb-failure.js";
import type { ExchangeLog, SmbExchange } from "../../smb/smb-session.js";
import {
  MS17_010_PEEKNAMEDPIPE,
  SMBGHOST_COMPRESSION,
  SMBV1_ENABLED,
  SMB_SIGNING_NOT_REQUIRED,
  checkById,
} from "../registry.js";
import type { CheckResult, EvidenceStep } from "../types.js";
import {
  ms17010Verdict,
  signingVerdict,
  smbghostVerdict,
  smbv1Verdict,
  type PeekResult,
  type SmbVerdict,
} from "./smb-verdicts.js";

/**
 * One host's SMB checks: the fingerprint (src/smb/fingerprint.ts) runs once, sequentially, with
 * the MS17-010 PeekNamedPipe riding on its SMB1 null session when that check is selected; every
 * selected check then reads its verdict off the fingerprint, with the exchanges it rests on as
 * evidence.
 */

export const SMB_CHECK_ORDER = [
  SMBV1_ENABLED,
  MS17_010_PEEKNAMEDPIPE,
  SMBGHOST_COMPRESSION,
  SMB_SIGNING_NOT_REQUIRED,
] as const;

export interface SmbCheckRun {
  readonly fingerprint: SmbFingerprint;
  /** In SMB_CHECK_ORDER, only the selected ones. */
  readonly results: readonly (CheckResult & {
    readonly classification: string | null;
    readonly startedAt: string;
    readonly finishedAt: string;
  })[];
}

export interface SmbCheckOptions {
  readonly scope: Scope;
  readonly portOffset?: number;
  readonly timeouts: SmbTimeouts;
  readonly signal?: AbortSignal;
  readonly nbstat?: NbstatInfo | "query" | null;
}

const PEEK_STEP = "SMB1 TRANSACTION PeekNamedPipe FID 0 (MS17-010)";

export async function runSmbChecks(
  host: { readonly address: string; readonly openTcpPorts: readonly number[] },
  selected: readonly string[],
  options: SmbCheckOptions,
): Promise<SmbCheckRun> {
  let peek: PeekResult | null = null;
  const wantsPeek = selected.includes(MS17_010_PEEKNAMEDPIPE);
  const onSmb1Ipc = async (client: Smb1Client, log: ExchangeLog, connection: number) => {
    const reply = await client.peekNamedPipe(0);
    if (isSmbFailure(reply)) {
      log.failed(PEEK_STEP, connection, reply);
      peek = { kind: "failure", code: reply.code, message: reply.message };
      return;
    }
    const status = reply.header.status >>> 0;
    const statusText = describeStatus(status);
    log.record(PEEK_STEP, connection, "answered", { status: statusText });
    peek = { kind: "status", status, statusText };
  };
  const fingerprint = await fingerprintSmb(
    { address: host.address, openPorts: host.openTcpPorts },
    {
      scope: options.scope,
      timeouts: options.timeouts,
      ...(options.portOffset !== undefined ? { portOffset: options.portOffset } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.nbstat !== undefined ? { nbstat: options.nbstat } : {}),
      ...(wantsPeek ? { onSmb1Ipc } : {}),
    },
  );
  const results: SmbCheckRun["results"][number][] = [];
  for (const checkId of SMB_CHECK_ORDER) {
    if (!selected.includes(checkId)) continue;
    const { verdict, reason, classification } = decide(checkId, fingerprint, peek);
    results.push({
      checkId,
      advisories: checkById(checkId)?.advisories ?? [],
      verdict,
      reason,
      classification,
      evidence: evidenceFor(checkId, fingerprint),
      startedAt: fingerprint.startedAt,
      finishedAt: fingerprint.finishedAt,
    });
  }
  return { fingerprint, results };
}

function decide(checkId: string, fp: SmbFingerprint, peek: PeekResult | null): SmbVerdict {
  switch (checkId) {
    case SMBV1_ENABLED:
      return smbv1Verdict(fp);
    case MS17_010_PEEKNAMEDPIPE:
      return ms17010Verdict(fp, peek);
    case SMBGHOST_COMPRESSION:
      return smbghostVerdict(fp);
    default:
      return signingVerdict(fp);
  }
}

function connectionOf(fp: SmbFingerprint, dialect: DialectProbe["dialect"]): number {
  return fp.dialects.find((d) => d.dialect === dialect)?.connection ?? 0;
}

/** The exchanges a check's verdict rests on: the connections it read. */
function evidenceFor(checkId: string, fp: SmbFingerprint): EvidenceStep[] {
  const highest = [...fp.dialects]
    .reverse()
    .find((d) => d.accepted === true && d.dialect !== "NT LM 0.12");
  const smb1 = connectionOf(fp, "NT LM 0.12");
  let connections: number[];
  switch (checkId) {
    case SMBV1_ENABLED:
    case MS17_010_PEEKNAMEDPIPE:
      connections = [smb1];
      break;
    case SMBGHOST_COMPRESSION:
      // The 3.1.1 probe, and the highest dialect's session whose CHALLENGE gives the build.
      connections = [connectionOf(fp, "3.1.1"), highest?.connection ?? 0];
      break;
    default:
      connections = [highest?.connection ?? smb1];
  }
  const steps = fp.exchanges.filter(
    (s: SmbExchange) =>
      s.connection !== undefined && s.connection !== 0 && connections.includes(s.connection),
  );
  // Nothing on those connections (never opened): every exchange, so the reason can be traced.
  return (steps.length > 0 ? steps : fp.exchanges).map((s) => ({ ...s }));
}
