import { describe, expect, it } from "vitest";
import {
  EPMAPPER,
  ILOCAL_OBJECT_EXPORTER,
  IOXID_RESOLVER,
  IREMOTE_ACTIVATION,
  ISYSTEM_ACTIVATOR,
  LSARPC,
  NDR64_TRANSFER_SYNTAX,
  NDR_TRANSFER_SYNTAX,
  SPOOLSS,
  WELL_KNOWN_INTERFACES,
  findInterface,
  isBindTimeFeatureNegotiation,
  isUuid,
  parseUuid,
  sameSyntax,
} from "../../src/protocols/dcerpc/index.js";
import { hex } from "./arbitraries.js";

describe("well-known interfaces", () => {
  it("match the abstract-syntax wire bytes in research §2.2", () => {
    const wire: [typeof EPMAPPER, string][] = [
      [IREMOTE_ACTIVATION, "b84a9f4d1c7dcf11861e0020af6e7c57"],
      [ISYSTEM_ACTIVATOR, "a001000000000000c000000000000046"],
      [ILOCAL_OBJECT_EXPORTER, "e6730ce6f988cf119af10020af6e72f4"],
      [EPMAPPER, "0883afe11f5dc91191a408002b14a0fa"],
    ];
    for (const [iface, bytes] of wire) expect(hex(parseUuid(iface.uuid))).toBe(bytes);
    expect(hex(parseUuid(NDR_TRANSFER_SYNTAX.uuid))).toBe("045d888aeb1cc9119fe808002b104860");
  });

  it("carry the versions the checks bind", () => {
    expect([EPMAPPER.major, EPMAPPER.minor]).toEqual([3, 0]);
    expect([ILOCAL_OBJECT_EXPORTER.major, ILOCAL_OBJECT_EXPORTER.minor]).toEqual([2, 0]);
    expect([IOXID_RESOLVER.major, IREMOTE_ACTIVATION.major, ISYSTEM_ACTIVATOR.major]).toEqual([
      0, 0, 0,
    ]);
    expect([NDR_TRANSFER_SYNTAX.major, NDR64_TRANSFER_SYNTAX.major]).toEqual([2, 1]);
  });

  it("are canonical, unique, and each says where it was verified", () => {
    const keys = new Set<string>();
    for (const iface of WELL_KNOWN_INTERFACES) {
      expect(isUuid(iface.uuid) && iface.uuid === iface.uuid.toLowerCase()).toBe(true);
      expect(iface.verifiedIn.length).toBeGreaterThan(0);
      keys.add(`${iface.uuid} ${iface.major}`);
    }
    expect(keys.size).toBe(WELL_KNOWN_INTERFACES.length);
  });

  it("are found by UUID in any case, optionally by major version", () => {
    expect(findInterface("E1AF8308-5D1F-11C9-91A4-08002B14A0FA")?.name).toBe("epmapper");
    expect(findInterface(LSARPC.uuid, 0)?.name).toBe("lsarpc");
    expect(findInterface(LSARPC.uuid, 1)).toBeUndefined();
    // lsarpc and spoolss differ only in one digit of the first field.
    expect(findInterface(SPOOLSS.uuid)?.name).toBe("spoolss");
    expect(sameSyntax(EPMAPPER, { uuid: EPMAPPER.uuid.toUpperCase(), major: 3, minor: 0 })).toBe(
      true,
    );
  });

  it("recognise MS-RPCE bind time feature negotiation syntaxes", () => {
    const btfn = { uuid: "6cb71c2c-9812-4540-0300-000000000000", major: 1, minor: 0 };
    expect(isBindTimeFeatureNegotiation(btfn)).toBe(true);
    expect(isBindTimeFeatureNegotiation(NDR_TRANSFER_SYNTAX)).toBe(false);
  });
});
