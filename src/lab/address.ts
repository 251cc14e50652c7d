/**
 * Lab addressing. Host i lives at 127.20.0.0 + i, with no skipped addresses: on loopback there is
 * no network or broadcast address inside 127.20.0.0/14 (only 127.255.255.255 is a broadcast route),
 * so 127.20.x.0 and 127.20.x.255 accept connections like any other, and a lab of 2^k hosts is
 * exactly one CIDR block (4,096 hosts = 127.20.0.0/20), which is what users type into scanners.
 */

/** The first lab address (host 0). */
export const LAB_BASE = "127.20.0.0";
/** 127.20.0.0/14: the largest lab, and the only addresses the lab's firewall rules touch. */
export const MAX_LAB_HOSTS = 262_144;

const BASE_INT = ipv4ToInt(LAB_BASE);

/** The address of lab host `index` (0-based). */
export function labAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_LAB_HOSTS) {
    throw new RangeError(`lab host index must be 0..${MAX_LAB_HOSTS - 1}, got ${index}`);
  }
  return intToIpv4(BASE_INT + index);
}

/** The host index of a lab address, or null if the address is outside 127.20.0.0/14. */
export function labIndex(address: string): number | null {
  const value = parseIpv4(address);
  if (value === null) return null;
  const index = value - BASE_INT;
  return index >= 0 && index < MAX_LAB_HOSTS ? index : null;
}

/**
 * The lab's address range as scanners accept it: a CIDR block when `hosts` is a power of two
 * (the base is aligned for every size up to /14), else "first-last".
 */
export function labRange(hosts: number): string {
  if (hosts >= 1 && (hosts & (hosts - 1)) === 0) return `${LAB_BASE}/${32 - Math.log2(hosts)}`;
  return `${LAB_BASE}-${labAddress(hosts - 1)}`;
}

export function ipv4ToInt(address: string): number {
  const value = parseIpv4(address);
  if (value === null) throw new RangeError(`not an IPv4 address: ${address}`);
  return value;
}

export function intToIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

function parseIpv4(address: string): number | null {
  // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
  const text = address.startsWith("::ffff:") ? address.slice(7) : address;
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}
