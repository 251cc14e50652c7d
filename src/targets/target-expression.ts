/**
 * One target token -> an address range or a hostname to resolve. The syntax follows nmap's target
 * specification (https://nmap.org/book/man-target-specification.html) where it is unambiguous:
 * addresses, CIDR blocks with host bits allowed ("127.20.0.5/20" means 127.20.0.0/20), dash
 * ranges between two addresses, and nmap's short last-octet range ("127.20.0.1-50"). nmap's octet
 * lists and wildcards ("10.0.0,1.*") are refused rather than half-supported.
 */
import { familyBits, parseAddress, type ParsedAddress } from "./address.js";
import { cidrRange, type AddressRange } from "./address-range.js";

export type TargetExpression =
  | { readonly kind: "range"; readonly range: AddressRange }
  | { readonly kind: "hostname"; readonly name: string }
  | { readonly kind: "invalid"; readonly reason: string };

const HOSTNAME_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
const LOOKS_NUMERIC = /^[0-9.]+$/;

function invalid(reason: string): TargetExpression {
  return { kind: "invalid", reason };
}

export function parseTargetExpression(token: string): TargetExpression {
  if (token === "") return invalid("empty target");
  if (token.includes("*")) {
    return invalid("nmap octet wildcards are not supported; use a CIDR block or a dash range");
  }
  if (token.includes(",")) return invalid("one expression per entry; commas separate entries");
  if (token.includes("/")) return parseCidr(token);
  const dash = token.indexOf("-");
  if (dash >= 0) {
    const left = token.slice(0, dash);
    // Hostnames contain dashes too; only tokens starting with an address are ranges.
    if (LOOKS_NUMERIC.test(left) || left.includes(":")) {
      return parseDashRange(left, token.slice(dash + 1));
    }
  }
  if (token.includes(":") || token.includes("[") || token.includes("%"))
    return parseSingleV6(token);
  if (LOOKS_NUMERIC.test(token)) {
    const address = parseAddress(token);
    if (address === undefined) return invalid(ipv4Problem(token));
    return single(address);
  }
  return parseHostname(token);
}

function single(address: ParsedAddress): TargetExpression {
  return {
    kind: "range",
    range: { family: address.family, first: address.value, last: address.value },
  };
}

function ipv4Problem(text: string): string {
  if (/(^|\.)0\d/.test(text)) {
    return "leading zeros are ambiguous (octal to some tools, decimal to others); drop them";
  }
  return "not a valid IPv4 address (four decimal octets 0-255)";
}

function addressProblem(text: string): string {
  if (text.includes("%")) return "IPv6 zone ids (%iface) are not supported";
  if (text.includes("[")) return "write IPv6 addresses without brackets";
  if (text.includes(":")) return "not a valid IPv6 address";
  return ipv4Problem(text);
}

function parseSingleV6(token: string): TargetExpression {
  const address = parseAddress(token);
  if (address === undefined) return invalid(addressProblem(token));
  return single(address);
}

function parseCidr(token: string): TargetExpression {
  const slash = token.lastIndexOf("/");
  const base = token.slice(0, slash);
  const lengthText = token.slice(slash + 1);
  const address = parseAddress(base);
  if (address === undefined) return invalid(addressProblem(base));
  const max = familyBits(address.family);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
    return invalid(
      `invalid prefix length /${lengthText} (IPv${address.family} allows /0 to /${max})`,
    );
  }
  return { kind: "range", range: cidrRange(address.family, address.value, Number(lengthText)) };
}

function parseDashRange(left: string, right: string): TargetExpression {
  const start = parseAddress(left);
  if (start === undefined) return invalid(addressProblem(left));
  if (start.family === 4 && /^\d{1,3}$/.test(right)) {
    // nmap's short form: "127.20.0.1-50" is 127.20.0.1 to 127.20.0.50.
    const lastOctet = Number(right);
    if (right.length > 1 && right.startsWith("0")) return invalid(ipv4Problem(right));
    if (lastOctet > 255) return invalid(`last octet ${right} is above 255`);
    const first = start.value;
    const last = (first & ~0xffn) | BigInt(lastOctet);
    if (last < first) return invalid("range end is below its start");
    return { kind: "range", range: { family: 4, first, last } };
  }
  const end = parseAddress(right);
  if (end === undefined) return invalid(addressProblem(right));
  if (end.family !== start.family) return invalid("a range cannot mix IPv4 and IPv6");
  if (end.value < start.value) return invalid("range end is below its start");
  return { kind: "range", range: { family: start.family, first: start.value, last: end.value } };
}

/** RFC 1123 host names (underscores tolerated, as resolvers do); a trailing dot is allowed. */
function parseHostname(token: string): TargetExpression {
  const name = token.endsWith(".") ? token.slice(0, -1) : token;
  const labels = name.split(".");
  const valid =
    name.length > 0 &&
    name.length <= 253 &&
    labels.every((label) => HOSTNAME_LABEL.test(label)) &&
    // An all-numeric last label is a mistyped address, never a top-level domain.
    !/^\d+$/.test(labels[labels.length - 1] ?? "");
  if (!valid) return invalid("not an address, CIDR block, range or hostname");
  return { kind: "hostname", name: name.toLowerCase() };
}

/** Like parseTargetExpression, for places where only literal ranges make sense (scope files). */
export function parseRangeExpression(token: string): AddressRange | { readonly reason: string } {
  const parsed = parseTargetExpression(token);
  if (parsed.kind === "range") return parsed.range;
  if (parsed.kind === "hostname") {
    return { reason: "hostnames are not allowed here; use an address, CIDR block or range" };
  }
  return { reason: parsed.reason };
}

/** Splits on whitespace and commas, the separators nmap accepts in -iL files and --exclude. */
export function splitExpressions(text: string): string[] {
  return text.split(/[\s,]+/).filter((token) => token !== "");
}
