/**
 * One interface for every firewall dialect: a generator compiles a PolicyNode to the files its
 * firewall loads, or throws UnrenderableTermError for the first thing it cannot express exactly.
 * Every generator passes the same conformance suite (test/shield/generator-conformance.test.ts),
 * the way hono runs one router suite against every router.
 */
import type { PolicyNode, TermNode } from "../model/policy.js";
import { UnrenderableTermError } from "../errors.js";

export const TARGETS = [
  "nftables",
  "iptables",
  "pf",
  "cisco-ios",
  "junos",
  "windows-ps",
  "windows-netsh",
] as const;
export type TargetId = (typeof TARGETS)[number];

export const WINDOWS_PROFILES = ["domain", "private", "public"] as const;
export type WindowsProfile = (typeof WINDOWS_PROFILES)[number];

export interface RenderOptions {
  /**
   * Windows Firewall profiles the rules apply to. Default: all three, so a roaming laptop stays
   * shielded on a hotel network (Public) as well as in the office (Domain).
   */
  readonly windowsProfiles?: readonly WindowsProfile[];
}

export interface RenderedFile {
  /** A file name that says what it is for (`ip6tables.rules`); the CLI writes it as is. */
  readonly name: string;
  readonly content: string;
}

export interface FirewallGenerator {
  readonly target: TargetId;
  /** One line for --help and the README's matrix. */
  readonly title: string;
  render(policy: PolicyNode, options?: RenderOptions): readonly RenderedFile[];
}

/** Shorthand for generators: the error for `node` (a term, or a policy-wide setting). */
export function unrenderable(
  target: TargetId,
  node: TermNode | string,
  reason: string,
  hint?: string,
): UnrenderableTermError {
  return new UnrenderableTermError(
    target,
    typeof node === "string" ? node : node.name,
    reason,
    hint,
  );
}

// --- text that ends up inside a rule ------------------------------------------------------------

const HEX = (byte: number, prefix: string) => `${prefix}${byte.toString(16).padStart(2, "0")}`;

/**
 * Free text (a comment, a description) made safe for one target: printable ASCII characters the
 * target's quoting keeps literally stay as they are; everything else, the backslash included,
 * becomes `\xHH` per UTF-8 byte. The result decodes unambiguously, and no quote, newline,
 * semicolon or shell metacharacter can end the string it is placed in.
 */
export function encodeText(text: string, unsafe: string, prefix = "\\x"): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const ch = String.fromCharCode(byte);
    if (byte >= 0x20 && byte < 0x7f && ch !== "\\" && !unsafe.includes(ch)) out += ch;
    else out += HEX(byte, prefix);
  }
  return out;
}

/**
 * The escape prefix for targets whose quoted strings treat a backslash as an escape
 * (iptables-restore drops a lone one, Junos reads `\"`): doubled, so `\x22` loads as `\x22`.
 */
export const DOUBLED_ESCAPE = "\\\\x";

/** Cuts encoded text to `max` characters without splitting an `\xHH` escape, marking the cut. */
export function clip(encoded: string, max: number): string {
  if (encoded.length <= max) return encoded;
  let cut = max - 3;
  // Do not end inside an escape (`\xHH` or `\\xHH`): back up to its first backslash.
  const escape = encoded.lastIndexOf("\\x", cut);
  if (escape >= 0 && escape + 4 > cut) cut = escape;
  while (cut > 0 && encoded[cut - 1] === "\\") cut--;
  return encoded.slice(0, cut) + "...";
}

/** `name` or `name: comment`, the label a rule carries back to its term. */
export function termLabel(node: { readonly name: string; readonly comment?: string }): string {
  return node.comment === undefined ? node.name : `${node.name}: ${node.comment}`;
}

/** Identifier spelling of a model name for targets that dislike hyphens (pf, nftables). */
export function underscored(name: string): string {
  return name.replace(/-/g, "_");
}
