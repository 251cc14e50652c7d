/**
 * Status codes the RPCSS activation checks read (research ms03-026-detection.md §2.8). HRESULTs
 * from winerror.h via MS-ERREF §2.1; `nca_s_*` fault statuses from C706 Appendix E / MS-RPCE
 * §2.2.2.8 (impacket rpcrt.py rpc_status_codes).
 */
export const HRESULT = Object.freeze({
  S_OK: 0x00000000,
  /** Activation path rejected: MS03-026 (KB 823980) or later present. */
  CO_E_BAD_PATH: 0x80080004,
  /** Remote activation denied: DCOM disabled or restricted. */
  E_ACCESSDENIED: 0x80070005,
  /** The (deliberately bogus) class is not registered: the path was accepted. */
  REGDB_E_CLASSNOTREG: 0x80040154,
  /** The junk OBJREF was rejected: MS03-039 (KB 824146) present (Check B). */
  RPC_E_INVALID_OBJREF: 0x8001011d,
  E_INVALIDARG: 0x80070057,
  E_FAIL: 0x80004005,
  E_OUTOFMEMORY: 0x8007000e,
});

export const NCA_STATUS = Object.freeze({
  /** rpc_s_access_denied as a fault status (XP SP2 / 2003 SP1 refusing anonymous activation). */
  accessDenied: 0x00000005,
  invalidPresContextId: 0x1c00001c,
  opRangeError: 0x1c010002,
  unknownInterface: 0x1c010003,
  protocolError: 0x1c01000b,
  badStubData: 0x000006f7,
});

const NAMES: ReadonlyMap<number, string> = new Map([
  ...Object.entries(HRESULT).map(([name, code]) => [code, name] as const),
  [NCA_STATUS.accessDenied, "rpc_s_access_denied"],
  [NCA_STATUS.invalidPresContextId, "nca_s_invalid_pres_context_id"],
  [NCA_STATUS.opRangeError, "nca_s_op_rng_error"],
  [NCA_STATUS.unknownInterface, "nca_s_unk_if"],
  [NCA_STATUS.protocolError, "nca_s_proto_error"],
  [NCA_STATUS.badStubData, "rpc_x_bad_stub_data"],
]);

/** "0x80080004" */
export function hex32(code: number): string {
  return `0x${(code >>> 0).toString(16).padStart(8, "0")}`;
}

/** "CO_E_BAD_PATH (0x80080004)", or the hex alone for a code we have no name for. */
export function describeStatus(code: number): string {
  const name = NAMES.get(code >>> 0);
  return name === undefined ? hex32(code) : `${name} (${hex32(code)})`;
}
