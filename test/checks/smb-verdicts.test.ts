import { describe, expect, it } from "vitest";
import {
  ms17010Verdict,
  signingVerdict,
  smbghostVerdict,
  smbv1Verdict,
  type PeekResult,
} from "../../src/checks/index.js";
import { NT_STATUS } from "../../src/protocols/smb/index.js";
import type { DialectProbe, SmbFingerprint } from "../../src/smb/fingerprint.js";

/**
 * The SMB checks' decision tables (research Appendices A-C) on synthetic fingerprints: the rows
 * the lab does not reach (a closed SMB1 connection with and without SMB2, every PeekNamedPipe
 * status, SMB 3.1.1 compression on a build that is not 1903/1909).
 */

type Answer = boolean | null | "closed" | "status";

function probe(dialect: DialectProbe["dialect"], answer: Answer, connection: number): DialectProbe {
  if (answer === "closed" || answer === "status") {
    return {
      dialect,
      accepted: false,
      reason:
        answer === "closed" ? "connection-closed: closed" : "STATUS_NOT_SUPPORTED (0xc00000bb)",
      connection,
      failure: answer === "closed" ? "connection-closed" : "status",
    };
  }
  return {
    dialect,
    accepted: answer,
    reason: answer === null ? "read-timeout: slow" : answer ? "selected" : "DialectIndex 0xFFFF",
    connection,
    failure: answer === null ? "read-timeout" : null,
  };
}

function fingerprint(
  answers: Partial<Record<DialectProbe["dialect"], Answer>>,
  extra: Partial<SmbFingerprint> = {},
): SmbFingerprint {
  const names = ["NT LM 0.12", "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"] as const;
  const dialects = names.map((d, i) =>
    probe(d, d in answers ? (answers[d] as Answer) : false, i + 1),
  );
  return {
    address: "10.0.0.1",
    port: 445,
    netbiosCalledName: null,
    dialects,
    acceptedDialects: dialects.filter((d) => d.accepted === true).map((d) => d.dialect),
    smb1: null,
    smb2: null,
    signing: { at: null, enabled: null, required: null, state: null },
    serverGuid: null,
    systemTime: null,
    bootTime: null,
    compression: { offered: null, algorithms: [] },
    ntlm: null,
    nbstat: null,
    os: {} as SmbFingerprint["os"],
    failures: [],
    exchanges: [],
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    ...extra,
  };
}

const session = {
  established: true,
  status: "STATUS_SUCCESS (0x00000000)",
  flags: "0x0000",
  problem: null,
};
const smb1 = {
  extendedSecurity: true,
  securityMode: "0x03",
  signingEnabled: false,
  signingRequired: false,
  userSecurity: true,
  encryptPasswords: true,
  capabilities: "0x8000f3fd",
  capabilityNames: [],
  maxBufferSize: 16644,
  maxMpxCount: 50,
  systemTime: null,
  timeZoneMinutes: 0,
  serverGuid: null,
  domainName: null,
  serverName: null,
  nativeOs: "Windows 7 Professional 7601 Service Pack 1",
  nativeLanMan: "Windows 7 Professional 6.1",
  primaryDomain: "WORKGROUP",
  nullSession: session,
  ipc: "connected",
} as const;

describe("smbv1-enabled", () => {
  it("accepted ⇒ VULNERABLE; DialectIndex 0xFFFF or an error ⇒ NOT_VULNERABLE", () => {
    expect(smbv1Verdict(fingerprint({ "NT LM 0.12": true })).verdict).toBe("VULNERABLE");
    expect(smbv1Verdict(fingerprint({ "NT LM 0.12": false })).verdict).toBe("NOT_VULNERABLE");
    expect(smbv1Verdict(fingerprint({ "NT LM 0.12": "status" })).verdict).toBe("NOT_VULNERABLE");
  });

  it("a closed connection says no only when the host speaks SMB2 (research Appendix B)", () => {
    expect(smbv1Verdict(fingerprint({ "NT LM 0.12": "closed", "3.1.1": true })).verdict).toBe(
      "NOT_VULNERABLE",
    );
    expect(smbv1Verdict(fingerprint({ "NT LM 0.12": "closed" })).verdict).toBe("UNKNOWN");
    expect(smbv1Verdict(fingerprint({ "NT LM 0.12": null })).verdict).toBe("UNKNOWN");
  });
});

describe("ms17-010-peeknamedpipe (research Appendix A)", () => {
  const withSmb1 = fingerprint({ "NT LM 0.12": true, "2.1": true }, { smb1 });
  const peek = (status: number): PeekResult => ({
    kind: "status",
    status,
    statusText: `0x${status.toString(16)}`,
  });
  it.each([
    [NT_STATUS.INSUFF_SERVER_RESOURCES, "VULNERABLE"],
    [NT_STATUS.ACCESS_DENIED, "NOT_VULNERABLE"],
    [NT_STATUS.INVALID_HANDLE, "NOT_VULNERABLE"],
    [NT_STATUS.NOT_SUPPORTED, "UNKNOWN"],
    [0x00020001, "UNKNOWN"],
  ])("status 0x%s ⇒ %s", (status, verdict) => {
    expect(ms17010Verdict(withSmb1, peek(status)).verdict).toBe(verdict);
  });

  it("SMB1 off ⇒ NOT_APPLICABLE; no answer, no null session or no IPC$ ⇒ UNKNOWN", () => {
    expect(
      ms17010Verdict(fingerprint({ "NT LM 0.12": "closed", "3.1.1": true }), null).verdict,
    ).toBe("NOT_APPLICABLE");
    expect(
      ms17010Verdict(withSmb1, { kind: "failure", code: "read-timeout", message: "slow" }).verdict,
    ).toBe("UNKNOWN");
    const refused = fingerprint(
      { "NT LM 0.12": true },
      {
        smb1: {
          ...smb1,
          nullSession: {
            ...session,
            established: false,
            status: "STATUS_ACCESS_DENIED (0xc0000022)",
          },
        },
      },
    );
    expect(ms17010Verdict(refused, null).reason.code).toBe("null-session-refused");
    const noIpc = fingerprint(
      { "NT LM 0.12": true },
      { smb1: { ...smb1, ipc: "STATUS_ACCESS_DENIED (0xc0000022)" } },
    );
    expect(ms17010Verdict(noIpc, null).reason.code).toBe("ipc-refused");
  });
});

describe("smbghost-compression-capability (research Appendix C)", () => {
  const ntlm = (build: number) =>
    ({
      version: `10.0.${build}`,
      versionFields: { major: 10, minor: 0, build, ntlmRevision: 15 },
      source: "smb2",
    }) as unknown as SmbFingerprint["ntlm"];
  const compressed = { offered: true, algorithms: ["LZNT1", "LZ77", "LZ77_HUFFMAN"] };

  it("3.1.1 + compression on 1903/1909 (or an unknown build) ⇒ POTENTIALLY_VULNERABLE_SMBGHOST", () => {
    for (const build of [18362, 18363]) {
      const v = smbghostVerdict(
        fingerprint({ "3.1.1": true }, { compression: compressed, ntlm: ntlm(build) }),
      );
      expect(v).toMatchObject({
        verdict: "VULNERABLE",
        classification: "POTENTIALLY_VULNERABLE_SMBGHOST",
      });
      expect(v.reason.message).toMatch(
        new RegExp(`^capability: potentially vulnerable, build ${build}`),
      );
    }
    const unknown = smbghostVerdict(fingerprint({ "3.1.1": true }, { compression: compressed }));
    expect(unknown.reason.message).toMatch(/^capability: potentially vulnerable, build unknown/);
  });

  it("compression on another build ⇒ NOT_VULNERABLE; no compression ⇒ NOT_VULNERABLE", () => {
    expect(
      smbghostVerdict(
        fingerprint({ "3.1.1": true }, { compression: compressed, ntlm: ntlm(19041) }),
      ).reason.code,
    ).toBe("build-not-affected");
    expect(
      smbghostVerdict(
        fingerprint({ "3.1.1": true }, { compression: { offered: false, algorithms: [] } }),
      ).verdict,
    ).toBe("NOT_VULNERABLE");
  });

  it("SMB2 without 3.1.1 ⇒ NOT_VULNERABLE; SMB1 only ⇒ NOT_APPLICABLE; nothing known ⇒ UNKNOWN", () => {
    expect(smbghostVerdict(fingerprint({ "2.1": true, "3.1.1": "status" })).verdict).toBe(
      "NOT_VULNERABLE",
    );
    expect(smbghostVerdict(fingerprint({ "NT LM 0.12": true })).verdict).toBe("NOT_APPLICABLE");
    expect(smbghostVerdict(fingerprint({ "3.1.1": null })).verdict).toBe("UNKNOWN");
  });
});

describe("smb-signing-not-required", () => {
  it("reads the highest protocol spoken", () => {
    expect(signingVerdict(fingerprint({ "NT LM 0.12": true }, { smb1 })).reason.code).toBe(
      "signing-disabled",
    );
    const smb2 = {
      dialect: "3.1.1",
      signingEnabled: true,
      signingRequired: true,
    } as unknown as SmbFingerprint["smb2"];
    expect(
      signingVerdict(fingerprint({ "NT LM 0.12": true, "3.1.1": true }, { smb1, smb2 })).verdict,
    ).toBe("NOT_VULNERABLE");
    expect(signingVerdict(fingerprint({ "NT LM 0.12": null })).verdict).toBe("UNKNOWN");
  });
});
