import { isIP } from "node:net";

export type AddressFamily = "ipv4" | "ipv6";

/**
 * A text key whose byte order is the numeric order of addresses: "4" + 8 hex digits for IPv4,
 * "6" + 32 hex digits for IPv6 (so every IPv4 address sorts before every IPv6 one). Text rather
 * than an integer because IPv6 does not fit in any SQL integer type, and one column serves both.
 */
export function addressSortKey(address: string): string {
  // The batch writer keys every address of every batch: dotted quads skip the general path.
  const fast = dottedQuadKey(address);
  if (fast !== undefined) return fast;
  const family = addressFamily(address);
  if (family === "ipv4") return "4" + ipv4Hex(address);
  // A zone (fe80::1%eth0) does not change the numeric order; keep it after the digits so that
  // the same address on two interfaces still gets two keys.
  const zoneAt = address.indexOf("%");
  const bare = zoneAt === -1 ? address : address.slice(0, zoneAt);
  const zone = zoneAt === -1 ? "" : address.slice(zoneAt);
  return "6" + ipv6Hex(bare) + zone;
}

/** Throws a TypeError for anything but an IP literal: the engines only ever record addresses. */
export function addressFamily(address: string): AddressFamily {
  switch (isIP(address)) {
    case 4:
      return "ipv4";
    case 6:
      return "ipv6";
    default:
      throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  }
}

function ipv4Hex(address: string): string {
  return address
    .split(".")
    .map((octet) => Number(octet).toString(16).padStart(2, "0"))
    .join("");
}

function ipv6Hex(address: string): string {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const hex = ipv4Hex(tail);
    text = `${text.slice(0, lastColon + 1)}${hex.slice(0, 4)}:${hex.slice(4)}`;
  }
  const [head = "", rest] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const missing = 8 - headGroups.length - restGroups.length;
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...Array.from({ length: missing }, () => "0"), ...restGroups];
  return groups.map((group) => group.padStart(4, "0")).join("");
}

const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * The key of a dotted quad that net.isIPv4 accepts (four decimal octets up to 255, no leading
 * zeros), without allocating; undefined for anything else, which takes the general path.
 */
function dottedQuadKey(address: string): string | undefined {
  let key = "4";
  let octets = 0;
  let at = 0;
  while (at <= address.length) {
    let value = 0;
    let digits = 0;
    while (at < address.length) {
      const code = address.charCodeAt(at) - 48;
      if (code < 0 || code > 9) break;
      if (digits === 1 && value === 0) return undefined;
      value = value * 10 + code;
      digits++;
      at++;
    }
    if (digits === 0 || digits > 3 || value > 255) return undefined;
    key += HEX_BYTES[value] as string;
    octets++;
    if (at === address.length) break;
    if (address.charCodeAt(at) !== 46 || octets === 4) return undefined;
    at++;
  }
  return octets === 4 ? key : undefined;
}
