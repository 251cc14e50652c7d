/**
 * The four-byte ProtocolId every SMB message starts with, used to tell what a server answered
 * before decoding (research Appendix B: an SMB1 NEGOTIATE may come back as SMB1 `ff 53 4d 42` or
 * as SMB2 `fe 53 4d 42`).
 *
 *  - MS-CIFS §2.2.3.1     0xFF 'S' 'M' 'B'  SMB1 header
 *  - MS-SMB2 §2.2.1       0xFE 'S' 'M' 'B'  SMB2 header (sync or async)
 *  - MS-SMB2 §2.2.41      0xFD 'S' 'M' 'B'  SMB2 TRANSFORM_HEADER (encrypted message)
 *  - MS-SMB2 §2.2.42      0xFC 'S' 'M' 'B'  SMB2 COMPRESSION_TRANSFORM_HEADER
 */
export const SMB1_PROTOCOL_ID = Object.freeze([0xff, 0x53, 0x4d, 0x42] as const);
export const SMB2_PROTOCOL_ID = Object.freeze([0xfe, 0x53, 0x4d, 0x42] as const);
export const SMB2_TRANSFORM_PROTOCOL_ID = Object.freeze([0xfd, 0x53, 0x4d, 0x42] as const);
export const SMB2_COMPRESSION_PROTOCOL_ID = Object.freeze([0xfc, 0x53, 0x4d, 0x42] as const);

export type SmbProtocol = "smb1" | "smb2" | "smb2-transform" | "smb2-compression" | "unknown";

/** Which SMB framing `message` starts with (only the first four bytes are looked at). */
export function sniffSmbProtocol(message: Uint8Array): SmbProtocol {
  if (message.length < 4 || message[1] !== 0x53 || message[2] !== 0x4d || message[3] !== 0x42) {
    return "unknown";
  }
  switch (message[0]) {
    case 0xff:
      return "smb1";
    case 0xfe:
      return "smb2";
    case 0xfd:
      return "smb2-transform";
    case 0xfc:
      return "smb2-compression";
    default:
      return "unknown";
  }
}
