import {
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_56,
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
  NTLMSSP_NEGOTIATE_NTLM,
  NTLMSSP_NEGOTIATE_SIGN,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_REQUEST_TARGET,
  NTLMSSP_TARGET_TYPE_DOMAIN,
  buildTargetInfo,
  encodeChallenge,
} from "../../src/protocols/ntlmssp/index.js";

/**
 * CHALLENGE messages shaped like each Windows generation's (research Appendix D): 2000 and XP
 * without VERSION, 2003 with VERSION but no timestamp, Vista+ with VERSION and MsvAvTimestamp.
 * The lab builds its personas' challenges the same way.
 */

const BASE_FLAGS =
  NTLMSSP_NEGOTIATE_UNICODE |
  NTLMSSP_REQUEST_TARGET |
  NTLMSSP_NEGOTIATE_SIGN |
  NTLMSSP_NEGOTIATE_NTLM |
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
  NTLMSSP_TARGET_TYPE_DOMAIN;
const MODERN_FLAGS =
  BASE_FLAGS |
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
  NTLMSSP_NEGOTIATE_128 |
  NTLMSSP_NEGOTIATE_KEY_EXCH |
  NTLMSSP_NEGOTIATE_56;
const CHALLENGE = Buffer.from("0123456789abcdef", "hex");

export function windows2000Challenge(): Buffer {
  return encodeChallenge({
    flags: BASE_FLAGS,
    targetName: "LAB",
    serverChallenge: CHALLENGE,
    targetInfo: buildTargetInfo({
      nbDomainName: "LAB",
      nbComputerName: "WIN2K-0001",
      dnsDomainName: "lab.example",
      dnsComputerName: "win2k-0001.lab.example",
    }),
  });
}

export function windows2003Challenge(): Buffer {
  return encodeChallenge({
    flags: MODERN_FLAGS,
    targetName: "LAB",
    serverChallenge: CHALLENGE,
    targetInfo: buildTargetInfo({
      nbDomainName: "LAB",
      nbComputerName: "W2K3-0001",
      dnsDomainName: "lab.example",
      dnsComputerName: "w2k3-0001.lab.example",
      dnsTreeName: "lab.example",
    }),
    version: { major: 5, minor: 2, build: 3790, ntlmRevision: 15 },
  });
}

export function windows7Challenge(): Buffer {
  return encodeChallenge({
    flags: MODERN_FLAGS,
    targetName: "LAB",
    serverChallenge: CHALLENGE,
    targetInfo: buildTargetInfo({
      nbDomainName: "LAB",
      nbComputerName: "WIN7-0001",
      dnsDomainName: "lab.example",
      dnsComputerName: "win7-0001.lab.example",
      dnsTreeName: "lab.example",
      timestamp: "2011-02-22T12:00:00.000Z",
    }),
    version: { major: 6, minor: 1, build: 7601, ntlmRevision: 15 },
  });
}
