import { describe, expect, it } from "vitest";
import { PERSONAS, type Persona } from "../../src/lab/index.js";
import {
  activationOutcome,
  classifyRequest,
  findServedInterface,
  fixOf,
  servedInterfaces,
  unboundContextFault,
  type ActivationOp,
  type ActivationOutcome,
  type ActivationRequest,
  type EmulatedRpcss,
  type RpcssFix,
} from "../../src/lab/rpcss-model.js";
import {
  EPMAPPER,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  MGMT,
  isDecodeIssue,
  type SyntaxId,
} from "../../src/protocols/dcerpc/index.js";
import {
  HRESULT,
  NCA_STATUS,
  RINGFENCE_CID,
  checkARemoteActivationStub,
  decodeRemoteActivationRequest,
  decodeRemoteCreateInstanceRequest,
  decodeRemoteGetClassObjectRequest,
  encodeActivationReply,
  encodeRemoteActivationReply,
  encodeRemoteGetClassObjectStub,
  kb824146ScanCreateInstanceStub,
  kb824146ScanEeyeStub,
} from "../../src/protocols/dcom/index.js";
import { referenceVerdict, type Observed, type RpcssOracle } from "./rpcss-reference.js";

/** The model's view of a stub, decoded with the codec as the lab's handler does. */
function decode(op: ActivationOp, stub: Uint8Array): ActivationRequest | null {
  switch (op) {
    case "RemoteActivation": {
      const r = decodeRemoteActivationRequest(stub);
      return isDecodeIssue(r) ? null : { op, objectName: r.objectName };
    }
    case "RemoteCreateInstance": {
      const r = decodeRemoteCreateInstanceRequest(stub);
      return isDecodeIssue(r) ? null : { op, propertyClsids: r.propertyClsids };
    }
    case "RemoteGetClassObject": {
      const r = decodeRemoteGetClassObjectRequest(stub);
      return isDecodeIssue(r) ? null : { op, objrefSignature: r.objrefSignature };
    }
  }
}

const CHECK_A = decode("RemoteActivation", checkARemoteActivationStub());
const REQ1 = decode("RemoteCreateInstance", kb824146ScanCreateInstanceStub("req1"));
const REQ2 = decode("RemoteCreateInstance", kb824146ScanCreateInstanceStub("req2"));
const REQ6 = decode("RemoteActivation", kb824146ScanEeyeStub("req6"));
const REQ7 = decode("RemoteActivation", kb824146ScanEeyeStub("req7"));
const CHECK_B = decode("RemoteGetClassObject", encodeRemoteGetClassObjectStub(RINGFENCE_CID));

const W2K: EmulatedRpcss = { kind: "windows", generation: "w2k", hardened: false, dcom: "enabled" };
const NT4: EmulatedRpcss = { ...W2K, generation: "nt4" };
const XP_SP2: EmulatedRpcss = {
  kind: "windows",
  generation: "xp",
  hardened: true,
  dcom: "enabled",
};
const DCOM_OFF: EmulatedRpcss = { ...W2K, dcom: "disabled" };
const WIN9X: EmulatedRpcss = { kind: "win9x" };
const DCE: EmulatedRpcss = { kind: "dce" };

const reply = (phr: number): ActivationOutcome => ({ kind: "remote-activation-reply", phr });
const hr = (hresult: number): ActivationOutcome => ({ kind: "activation-reply", hresult });
const fault = (status: number): ActivationOutcome => ({ kind: "fault", status });

describe("RPCSS activation model (pure)", () => {
  it("decodes every published probe stub the model is asked about", () => {
    for (const request of [CHECK_A, REQ1, REQ2, REQ6, REQ7, CHECK_B]) {
      expect(request).not.toBeNull();
    }
    expect(REQ1?.op === "RemoteCreateInstance" && REQ1.propertyClsids).toHaveLength(7);
  });

  // The decision table the brief and research §2.4.3 / §2.5 / §2.6.4 / §2.10a ask for, row by row.
  const E = HRESULT;
  const rows: [
    string,
    EmulatedRpcss,
    RpcssFix,
    ActivationOp,
    ActivationRequest | null,
    ActivationOutcome,
  ][] = [
    // Check A: embedded NUL after a one-character server component.
    ["A unpatched", W2K, "none", "RemoteActivation", CHECK_A, reply(E.REGDB_E_CLASSNOTREG)],
    ["A KB823980", W2K, "kb823980", "RemoteActivation", CHECK_A, reply(E.CO_E_BAD_PATH)],
    ["A KB824146", W2K, "kb824146", "RemoteActivation", CHECK_A, reply(E.REGDB_E_CLASSNOTREG)],
    ["A NT4 unpatched", NT4, "none", "RemoteActivation", CHECK_A, reply(E.REGDB_E_CLASSNOTREG)],
    // eEye pair req6 (`\\A` NUL …) / req7 (`\\172.42.142.142` NUL …).
    ["req6 unpatched", W2K, "none", "RemoteActivation", REQ6, reply(E.REGDB_E_CLASSNOTREG)],
    ["req7 unpatched", W2K, "none", "RemoteActivation", REQ7, reply(E.REGDB_E_CLASSNOTREG)],
    ["req6 KB823980", W2K, "kb823980", "RemoteActivation", REQ6, reply(E.CO_E_BAD_PATH)],
    ["req7 KB823980", W2K, "kb823980", "RemoteActivation", REQ7, reply(E.CO_E_BAD_PATH)],
    ["req6 KB824146", W2K, "kb824146", "RemoteActivation", REQ6, reply(E.REGDB_E_CLASSNOTREG)],
    ["req7 KB824146", W2K, "kb824146", "RemoteActivation", REQ7, reply(E.CO_E_BAD_PATH)],
    // A well-formed name, or none: the bogus CLSID is what fails.
    [
      "plain UNC",
      W2K,
      "kb823980",
      "RemoteActivation",
      { op: "RemoteActivation", objectName: "\\\\HOST\\C$\\x.txt" },
      reply(E.REGDB_E_CLASSNOTREG),
    ],
    [
      "no name",
      W2K,
      "kb824146",
      "RemoteActivation",
      { op: "RemoteActivation", objectName: null },
      reply(E.REGDB_E_CLASSNOTREG),
    ],
    // KB824146Scan req1 (known property CLSIDs) / req2 (two unknown ones).
    ["req1 unpatched", W2K, "none", "RemoteCreateInstance", REQ1, hr(E.REGDB_E_CLASSNOTREG)],
    ["req2 unpatched", W2K, "none", "RemoteCreateInstance", REQ2, hr(E.REGDB_E_CLASSNOTREG)],
    ["req1 KB823980", W2K, "kb823980", "RemoteCreateInstance", REQ1, hr(E.CO_E_BAD_PATH)],
    ["req2 KB823980", W2K, "kb823980", "RemoteCreateInstance", REQ2, hr(E.CO_E_BAD_PATH)],
    ["req1 KB824146", W2K, "kb824146", "RemoteCreateInstance", REQ1, hr(E.CO_E_BAD_PATH)],
    ["req2 KB824146", W2K, "kb824146", "RemoteCreateInstance", REQ2, hr(E.E_INVALIDARG)],
    // Check B: a junk OBJREF.
    ["B unpatched", W2K, "none", "RemoteGetClassObject", CHECK_B, hr(E.E_FAIL)],
    ["B KB823980", W2K, "kb823980", "RemoteGetClassObject", CHECK_B, hr(E.E_FAIL)],
    ["B KB824146", W2K, "kb824146", "RemoteGetClassObject", CHECK_B, hr(E.RPC_E_INVALID_OBJREF)],
    [
      "B KB824146, a real OBJREF",
      W2K,
      "kb824146",
      "RemoteGetClassObject",
      { op: "RemoteGetClassObject", objrefSignature: 0x574f454d },
      hr(E.E_FAIL),
    ],
    // Hardened: the runtime refuses before anything is unmarshalled.
    ["A hardened", XP_SP2, "kb824146", "RemoteActivation", CHECK_A, fault(NCA_STATUS.accessDenied)],
    ["req1 hardened", XP_SP2, "kb824146", "RemoteCreateInstance", REQ1, fault(5)],
    ["B hardened", XP_SP2, "kb824146", "RemoteGetClassObject", null, fault(5)],
    // DCOM disabled: E_ACCESSDENIED in the call's own reply shape.
    ["A DCOM off", DCOM_OFF, "none", "RemoteActivation", CHECK_A, reply(E.E_ACCESSDENIED)],
    ["req1 DCOM off", DCOM_OFF, "none", "RemoteCreateInstance", REQ1, hr(E.E_ACCESSDENIED)],
    ["B DCOM off", DCOM_OFF, "none", "RemoteGetClassObject", CHECK_B, hr(E.E_ACCESSDENIED)],
    // Undecodable stubs never reach the activation code.
    ["bad stub", W2K, "none", "RemoteActivation", null, fault(NCA_STATUS.badStubData)],
    ["bad stub, DCOM off", DCOM_OFF, "none", "RemoteCreateInstance", null, fault(0x6f7)],
    // Windows 9x activates nothing for a remote client.
    ["A win9x", WIN9X, "none", "RemoteActivation", CHECK_A, reply(E.E_ACCESSDENIED)],
  ];
  it.each(rows)("%s", (_name, profile, fix, op, request, outcome) => {
    expect(activationOutcome(profile, fix, op, request)).toEqual(outcome);
  });

  it("answers a request on a context never bound like the runtime of its generation", () => {
    expect(unboundContextFault(W2K)).toBe(0x1c00001c);
    expect(unboundContextFault(NT4)).toBe(0x1c00001c);
    expect(unboundContextFault(DCE)).toBe(0x1c00001c);
    expect(unboundContextFault(XP_SP2)).toBe(0x1c010003);
  });

  it("offers the interfaces of each runtime (research §2.4.4, §2.10a)", () => {
    const names = (p: EmulatedRpcss): string[] =>
      servedInterfaces(p).map((s) => `${s.uuid} v${s.major}.${s.minor}`);
    const line = (s: SyntaxId): string => `${s.uuid} v${s.major}.${s.minor}`;
    const dcom = [IREMOTE_ACTIVATION, ILOCAL_OBJECT_EXPORTER, IOXID_RESOLVER].map(line);
    expect(names(W2K)).toEqual(
      expect.arrayContaining([line(EPMAPPER), ...dcom, line(ISYSTEM_ACTIVATOR)]),
    );
    expect(names(XP_SP2)).toEqual(names(W2K));
    expect(names(NT4)).toEqual(expect.arrayContaining([line(EPMAPPER), ...dcom]));
    expect(names(NT4)).not.toContain(line(ISYSTEM_ACTIVATOR));
    expect(names(WIN9X)).toEqual(
      expect.arrayContaining([line(EPMAPPER), line(IREMOTE_ACTIVATION)]),
    );
    expect(names(WIN9X)).not.toContain(line(ILOCAL_OBJECT_EXPORTER));
    expect(names(WIN9X)).not.toContain(line(ISYSTEM_ACTIVATOR));
    expect(names(DCE)).toEqual([line(EPMAPPER), line(MGMT)]);
    // Version matching: a higher minor than ours, or another major, is not the interface.
    expect(findServedInterface(W2K, { ...ILOCAL_OBJECT_EXPORTER, minor: 1 })).toBeNull();
    expect(findServedInterface(W2K, { ...EPMAPPER, major: 4 })).toBeNull();
    expect(findServedInterface(W2K, { ...EPMAPPER, uuid: EPMAPPER.uuid.toUpperCase() })).toBe(
      EPMAPPER,
    );
  });

  it("routes opnums: ept_lookup, the three activation calls, nothing else", () => {
    expect(classifyRequest(EPMAPPER, 2)).toBe("ept_lookup");
    expect(classifyRequest(IREMOTE_ACTIVATION, 0)).toBe("RemoteActivation");
    expect(classifyRequest(ISYSTEM_ACTIVATOR, 3)).toBe("RemoteGetClassObject");
    expect(classifyRequest(ISYSTEM_ACTIVATOR, 4)).toBe("RemoteCreateInstance");
    expect(classifyRequest(ISYSTEM_ACTIVATOR, 0)).toBeNull();
    expect(classifyRequest(IOXID_RESOLVER, 5)).toBeNull();
    expect(classifyRequest(MGMT, 0)).toBeNull();
  });

  it("reads the fix from the patch levels (824146 supersedes 823980)", () => {
    expect(fixOf({ ms03_026: "vulnerable", ms03_039: "vulnerable" })).toBe("none");
    expect(fixOf({ ms03_026: "patched", ms03_039: "vulnerable" })).toBe("kb823980");
    expect(fixOf({ ms03_026: "patched", ms03_039: "patched" })).toBe("kb824146");
    expect(fixOf({ ms03_026: "n/a", ms03_039: "n/a" })).toBe("none");
  });
});

/** The pure model as the reference procedure's oracle: no sockets, same decisions. */
function modelOracle(persona: Persona): RpcssOracle {
  const rpcss = persona.rpcss as EmulatedRpcss;
  const fix = fixOf(persona.patches);
  return {
    bind: (iface) =>
      Promise.resolve(findServedInterface(rpcss, iface) === null ? "rejected" : "accepted"),
    call: (iface, opnum, stub, contextId = 0): Promise<Observed> => {
      if (findServedInterface(rpcss, iface) === null) return Promise.resolve({ kind: "invalid" });
      if (contextId !== 0) {
        return Promise.resolve({ kind: "fault", status: unboundContextFault(rpcss) });
      }
      const op = classifyRequest(iface, opnum);
      if (op === null || op === "ept_lookup") {
        return Promise.resolve({ kind: "fault", status: NCA_STATUS.opRangeError });
      }
      const outcome = activationOutcome(rpcss, fix, op, decode(op, stub));
      switch (outcome.kind) {
        case "fault":
          return Promise.resolve({ kind: "fault", status: outcome.status });
        case "remote-activation-reply":
          return Promise.resolve({
            kind: "response",
            stub: encodeRemoteActivationReply({ phr: outcome.phr }),
          });
        case "activation-reply":
          return Promise.resolve({
            kind: "response",
            stub: encodeActivationReply(outcome.hresult),
          });
      }
    },
  };
}

describe("the personas' hand-written verdicts hold on the model (research §2.7, §2.10)", () => {
  const emulated = PERSONAS.filter(
    (p) =>
      (p.rpcss.kind === "windows" || p.rpcss.kind === "win9x" || p.rpcss.kind === "dce") &&
      p.expected.rpcss !== null,
  );

  it("covers every affected OS/SP of research §1.2 in all three patch states", () => {
    const cells = new Set(
      emulated
        .filter((p) => p.os.family === "windows" && p.rpcss.kind === "windows")
        .map(
          (p) => `${p.os.product}/${p.os.sp ?? "RTM"}/${p.patches.ms03_026}/${p.patches.ms03_039}`,
        ),
    );
    const states = ["vulnerable/vulnerable", "patched/vulnerable", "patched/patched"];
    for (const os of [
      "Windows NT 4.0/SP6a",
      "Windows 2000/SP2",
      "Windows 2000/SP3",
      "Windows 2000/SP4",
      "Windows XP/RTM",
      "Windows XP/SP1",
      "Windows Server 2003/RTM",
    ]) {
      for (const state of states) expect(cells, `${os} ${state}`).toContain(`${os}/${state}`);
    }
  });

  it.each(emulated.map((p) => [p.id, p] as const))("%s", async (_id, persona) => {
    expect(await referenceVerdict(modelOracle(persona))).toBe(persona.expected.rpcss);
  });
});
