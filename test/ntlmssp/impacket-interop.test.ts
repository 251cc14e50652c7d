import { describe, expect, it } from "vitest";
import {
  NTLMSSP_NEGOTIATE_TARGET_INFO,
  NTLMSSP_NEGOTIATE_VERSION,
  decodeChallenge,
  decodeNegotiate,
  encodeNegotiate,
  type ChallengeMessage,
} from "../../src/protocols/ntlmssp/index.js";
import {
  MECH_OID,
  decodeSecurityBlob,
  encodeNegTokenInit,
  encodeNegTokenResp,
  ntlmsspTokenOf,
  type NegTokenInit,
  type NegTokenResp,
} from "../../src/protocols/spnego/index.js";
import { IMPACKET_MISSING, hex, impacket } from "./fixtures.js";
import { windows2000Challenge, windows7Challenge } from "./personas.js";

/**
 * Interop with impacket (a second, independent implementation): tokens impacket builds are
 * decoded by us, and tokens we build are parsed by impacket's own classes to the same fields.
 */

if (IMPACKET_MISSING !== null) console.warn(`skipping impacket interop: ${IMPACKET_MISSING}`);

/** impacket builds: its client NEGOTIATE, a full NEGOTIATE, SPNEGO init and its server's reply. */
const IMPACKET_BUILDS = `
import json, struct
from impacket import ntlm, spnego
out = {}
t1 = ntlm.getNTLMSSPType1('', '', signingRequired=True)
out['type1'] = t1.getData().hex()
out['type1_flags'] = t1['flags']
n = ntlm.NTLMAuthNegotiate()
n['flags'] = ntlm.NTLMSSP_NEGOTIATE_UNICODE | ntlm.NTLMSSP_REQUEST_TARGET | ntlm.NTLMSSP_NEGOTIATE_NTLM
n['host_name'] = b'WS01'
n['domain_name'] = b'LABGROUP'
v = ntlm.VERSION()
v['ProductMajorVersion'] = 6
v['ProductMinorVersion'] = 1
v['ProductBuild'] = 7601
n['os_version'] = v.getData()
out['type1_full'] = n.getData().hex()
init = spnego.SPNEGO_NegTokenInit()
init['MechTypes'] = [spnego.TypesMech['NTLMSSP - Microsoft NTLM Security Support Provider']]
init['MechToken'] = t1.getData()
out['init'] = init.getData().hex()
# The CHALLENGE impacket's smbserver.py sends (SMB2 path), with its fixed all-0xff VERSION.
av = ntlm.AV_PAIRS()
av[ntlm.NTLMSSP_AV_HOSTNAME] = av[ntlm.NTLMSSP_AV_DNS_HOSTNAME] = 'IMPACKET'.encode('utf-16le')
av[ntlm.NTLMSSP_AV_DOMAINNAME] = av[ntlm.NTLMSSP_AV_DNS_DOMAINNAME] = 'WORKGROUP'.encode('utf-16le')
av[ntlm.NTLMSSP_AV_TIME] = struct.pack('<q', 116444736000000000 + 1583798400 * 10000000)
c = ntlm.NTLMAuthChallenge()
c['flags'] = t1['flags'] | ntlm.NTLMSSP_NEGOTIATE_VERSION | ntlm.NTLMSSP_TARGET_TYPE_DOMAIN
c['domain_len'] = len('WORKGROUP'.encode('utf-16le'))
c['domain_max_len'] = c['domain_len']
c['domain_offset'] = 40 + 16
c['challenge'] = bytes(range(8))
c['domain_name'] = 'WORKGROUP'.encode('utf-16le')
c['TargetInfoFields_len'] = len(av)
c['TargetInfoFields_max_len'] = len(av)
c['TargetInfoFields'] = av
c['TargetInfoFields_offset'] = 40 + 16 + len(c['domain_name'])
c['Version'] = b'\\xff' * 8
c['VersionLen'] = 8
resp = spnego.SPNEGO_NegTokenResp()
resp['NegState'] = b'\\x01'
resp['SupportedMech'] = spnego.TypesMech['NTLMSSP - Microsoft NTLM Security Support Provider']
resp['ResponseToken'] = c.getData()
out['resp'] = resp.getData().hex()
print(json.dumps(out))
`;

/** impacket parses what we built. */
const IMPACKET_PARSES = `
import json, sys
from impacket import ntlm, spnego
data = json.load(sys.stdin)
out = {}
neg = ntlm.NTLMAuthNegotiate()
neg.fromString(bytes.fromhex(data['negotiate']))
version = neg['os_version']
out['negotiate'] = {
  'flags': neg['flags'],
  'host': neg['host_name'].decode('latin1'),
  'domain': neg['domain_name'].decode('latin1'),
  'version': [version['ProductMajorVersion'], version['ProductMinorVersion'], version['ProductBuild'], version['NTLMRevisionCurrent']] if version != '' else None,
}
out['challenges'] = []
for token in data['challenges']:
  c = ntlm.NTLMAuthChallenge(bytes.fromhex(token))
  av = ntlm.AV_PAIRS(c['TargetInfoFields'])
  out['challenges'].append({
    'flags': c['flags'],
    'target': c['domain_name'].decode('utf-16le'),
    'challenge': c['challenge'].hex(),
    'version': c['Version'].hex(),
    'av': {str(k): v[1].hex() for k, v in av.fields.items()},
  })
init = spnego.SPNEGO_NegTokenInit(bytes.fromhex(data['init']))
out['init'] = {'mechTypes': [m.hex() for m in init['MechTypes']], 'mechToken': init['MechToken'].hex()}
resp = spnego.SPNEGO_NegTokenResp(bytes.fromhex(data['resp']))
out['resp'] = {
  'negState': resp['NegState'].hex(),
  'supportedMech': resp['SupportedMech'].hex(),
  'responseToken': resp['ResponseToken'].hex(),
}
print(json.dumps(out))
`;

interface Builds {
  type1: string;
  type1_flags: number;
  type1_full: string;
  init: string;
  resp: string;
}

interface Parsed {
  negotiate: { flags: number; host: string; domain: string; version: number[] | null };
  challenges: {
    flags: number;
    target: string;
    challenge: string;
    version: string;
    av: Record<string, string>;
  }[];
  init: { mechTypes: string[]; mechToken: string };
  resp: { negState: string; supportedMech: string; responseToken: string };
}

const utf16 = (s: string) => hex(Buffer.from(s, "utf16le"));

describe.skipIf(IMPACKET_MISSING !== null)("impacket builds, ringfence decodes", () => {
  const built = IMPACKET_MISSING === null ? impacket<Builds>(IMPACKET_BUILDS) : null;

  it("decodes impacket's client NEGOTIATE messages", () => {
    expect(decodeNegotiate(Buffer.from(built!.type1, "hex"))).toEqual({
      flags: built!.type1_flags,
      domain: null,
      workstation: null,
      version: null,
    });
    // impacket writes VERSION, then Workstation, then DomainName: any payload order decodes.
    expect(decodeNegotiate(Buffer.from(built!.type1_full, "hex"))).toMatchObject({
      domain: "LABGROUP",
      workstation: "WS01",
      version: { major: 6, minor: 1, build: 7601, ntlmRevision: 15 },
    });
  });

  it("decodes impacket's SPNEGO NegTokenInit", () => {
    const blob = decodeSecurityBlob(Buffer.from(built!.init, "hex")) as NegTokenInit;
    expect(blob.mechTypes).toEqual([MECH_OID.ntlmssp]);
    expect(hex(ntlmsspTokenOf(blob)!)).toBe(built!.type1);
  });

  it("decodes the CHALLENGE impacket's SMB server sends, all-0xff VERSION included", () => {
    const blob = decodeSecurityBlob(Buffer.from(built!.resp, "hex")) as NegTokenResp;
    expect(blob).toMatchObject({
      negStateName: "accept-incomplete",
      supportedMech: MECH_OID.ntlmssp,
    });
    const challenge = decodeChallenge(ntlmsspTokenOf(blob)!) as ChallengeMessage;
    expect(challenge).toMatchObject({
      targetName: "WORKGROUP",
      version: { major: 255, minor: 255, build: 65535, ntlmRevision: 255 },
      targetInfo: {
        nbComputerName: "IMPACKET",
        dnsComputerName: "IMPACKET",
        nbDomainName: "WORKGROUP",
        dnsDomainName: "WORKGROUP",
        timestamp: "2020-03-10T00:00:00.000Z",
      },
    });
    expect(hex(challenge.serverChallenge)).toBe("0001020304050607");
  });
});

describe.skipIf(IMPACKET_MISSING !== null)("ringfence builds, impacket parses", () => {
  const negotiate = encodeNegotiate({
    flags: NTLMSSP_NEGOTIATE_VERSION | 0x00088215,
    domain: "LABGROUP",
    workstation: "RINGFENCE",
    version: { major: 10, minor: 0, build: 19045, ntlmRevision: 15 },
  });
  const modern = windows7Challenge();
  const legacy = windows2000Challenge();
  const init = encodeNegTokenInit({
    mechTypes: [MECH_OID.ntlmssp, MECH_OID.kerberos],
    mechToken: negotiate,
  });
  const resp = encodeNegTokenResp({
    negState: 1,
    supportedMech: MECH_OID.ntlmssp,
    responseToken: modern,
  });
  const parsed =
    IMPACKET_MISSING === null
      ? impacket<Parsed>(IMPACKET_PARSES, {
          negotiate: hex(negotiate),
          challenges: [hex(modern), hex(legacy)],
          init: hex(init),
          resp: hex(resp),
        })
      : null;

  it("NEGOTIATE: same flags, names and VERSION", () => {
    expect(parsed!.negotiate).toEqual({
      flags: negotiate.readUInt32LE(12),
      host: "RINGFENCE",
      domain: "LABGROUP",
      version: [10, 0, 19045, 15],
    });
  });

  it("CHALLENGE: same flags, target name, challenge, VERSION and AV_PAIRs, with and without VERSION", () => {
    const [w7, w2k] = parsed!.challenges;
    expect(w7).toEqual({
      flags: modern.readUInt32LE(20),
      target: "LAB",
      challenge: "0123456789abcdef",
      version: "0601b11d0000000f",
      av: {
        "2": utf16("LAB"),
        "1": utf16("WIN7-0001"),
        "4": utf16("lab.example"),
        "3": utf16("win7-0001.lab.example"),
        "5": utf16("lab.example"),
        "7": expect.stringMatching(/^[0-9a-f]{16}$/),
        "0": "",
      },
    });
    expect(w2k!.flags & NTLMSSP_NEGOTIATE_VERSION).toBe(0);
    expect(w2k!.flags & NTLMSSP_NEGOTIATE_TARGET_INFO).not.toBe(0);
    expect(w2k).toMatchObject({ target: "LAB", version: "" });
    expect(w2k!.av["1"]).toBe(utf16("WIN2K-0001"));
  });

  it("SPNEGO: same mechTypes, mechToken, negState, supportedMech and responseToken", () => {
    expect(parsed!.init).toEqual({
      mechTypes: ["2b06010401823702020a", "2a864886f712010202"],
      mechToken: hex(negotiate),
    });
    expect(parsed!.resp).toEqual({
      negState: "01",
      supportedMech: "2b06010401823702020a",
      responseToken: hex(modern),
    });
  });
});
