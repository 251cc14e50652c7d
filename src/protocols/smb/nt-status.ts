/**
 * NTSTATUS values (MS-ERREF §2.3.1) that SMB1 (with SMB_FLAGS2_NT_STATUS) and SMB2 put in the
 * header Status field, limited to the ones our checks, clients and lab servers meet. The names are
 * the MS-ERREF names; research doc Appendix A gives the MS17-010 verdicts these drive.
 */
export const NT_STATUS = Object.freeze({
  SUCCESS: 0x00000000,
  /** MS-SMB2 §3.3.4.2 interim response of an async operation; §2.2.1.2 async header. */
  PENDING: 0x00000103,
  NOTIFY_ENUM_DIR: 0x0000010c,
  /** More data than fits: pipe reads and FSCTL_PIPE_TRANSCEIVE return data with this warning. */
  BUFFER_OVERFLOW: 0x80000005,
  NO_MORE_FILES: 0x80000006,
  UNSUCCESSFUL: 0xc0000001,
  NOT_IMPLEMENTED: 0xc0000002,
  INVALID_INFO_CLASS: 0xc0000003,
  /** MS17-010: "patched (others)", research Appendix A. */
  INVALID_HANDLE: 0xc0000008,
  INVALID_PARAMETER: 0xc000000d,
  NO_SUCH_FILE: 0xc000000f,
  INVALID_DEVICE_REQUEST: 0xc0000010,
  END_OF_FILE: 0xc0000011,
  /** Session setup continues (NTLMSSP CHALLENGE inside), research Appendix D. */
  MORE_PROCESSING_REQUIRED: 0xc0000016,
  /** MS17-010: "patched (Windows 10)". */
  ACCESS_DENIED: 0xc0000022,
  BUFFER_TOO_SMALL: 0xc0000023,
  OBJECT_NAME_INVALID: 0xc0000033,
  OBJECT_NAME_NOT_FOUND: 0xc0000034,
  OBJECT_NAME_COLLISION: 0xc0000035,
  OBJECT_PATH_NOT_FOUND: 0xc000003a,
  SHARING_VIOLATION: 0xc0000043,
  NO_SUCH_USER: 0xc0000064,
  WRONG_PASSWORD: 0xc000006a,
  LOGON_FAILURE: 0xc000006d,
  ACCOUNT_RESTRICTION: 0xc000006e,
  PASSWORD_EXPIRED: 0xc0000071,
  ACCOUNT_DISABLED: 0xc0000072,
  INSUFFICIENT_RESOURCES: 0xc000009a,
  PIPE_NOT_AVAILABLE: 0xc00000ac,
  INVALID_PIPE_STATE: 0xc00000ad,
  PIPE_BUSY: 0xc00000ae,
  PIPE_DISCONNECTED: 0xc00000b0,
  PIPE_CLOSING: 0xc00000b1,
  IO_TIMEOUT: 0xc00000b5,
  /** SMB1 servers answer an unknown command or an unsupported request form with this. */
  NOT_SUPPORTED: 0xc00000bb,
  BAD_NETWORK_PATH: 0xc00000be,
  NETWORK_ACCESS_DENIED: 0xc00000ca,
  BAD_NETWORK_NAME: 0xc00000cc,
  REQUEST_NOT_ACCEPTED: 0xc00000d0,
  PIPE_EMPTY: 0xc00000d9,
  CANCELLED: 0xc0000120,
  FILE_CLOSED: 0xc0000128,
  PIPE_BROKEN: 0xc000014b,
  INVALID_DEVICE_STATE: 0xc0000184,
  USER_SESSION_DELETED: 0xc0000203,
  /** MS17-010: PeekNamedPipe on FID 0 answered with this ⇒ vulnerable (research Appendix A). */
  INSUFF_SERVER_RESOURCES: 0xc0000205,
  NOT_FOUND: 0xc0000225,
  NETWORK_SESSION_EXPIRED: 0xc000035c,
  SMB_TOO_MANY_UIDS: 0xc000205a,
} as const);

export type NtStatusName = `STATUS_${keyof typeof NT_STATUS}`;

const NAMES = new Map<number, NtStatusName>(
  Object.entries(NT_STATUS).map(([name, value]) => [value, `STATUS_${name}` as NtStatusName]),
);

/** "STATUS_ACCESS_DENIED" for 0xC0000022; undefined for codes not in the table. */
export function ntStatusName(status: number): NtStatusName | undefined {
  return NAMES.get(status >>> 0);
}

/** The name if known, else the code as 0x-prefixed 8-digit hex: for messages and evidence. */
export function formatNtStatus(status: number): string {
  return ntStatusName(status) ?? `0x${(status >>> 0).toString(16).padStart(8, "0")}`;
}

export type NtStatusSeverity = "success" | "informational" | "warning" | "error";

/** MS-ERREF §2.3: the top two bits of an NTSTATUS are its severity. */
export function ntStatusSeverity(status: number): NtStatusSeverity {
  switch ((status >>> 30) & 0x3) {
    case 0:
      return "success";
    case 1:
      return "informational";
    case 2:
      return "warning";
    default:
      return "error";
  }
}
