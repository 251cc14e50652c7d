/**
 * Escaping for the XML we write. XML 1.0 §2.2 forbids most C0 controls even as character
 * references, so they are written as the visible text "\xNN" instead of being dropped; tab, LF
 * and CR are written as references in attributes, which attribute-value normalisation (§3.3.3)
 * would otherwise turn into spaces.
 */
// The control characters in these classes are the point: XML 1.0 §2.2 excludes them.
/* eslint-disable no-control-regex */
export function escapeXmlAttribute(value: string): string {
  return value.replace(
    /[&<>"'\t\n\r]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udfff]/gu,
    (ch) => {
      switch (ch) {
        case "&":
          return "&amp;";
        case "<":
          return "&lt;";
        case ">":
          return "&gt;";
        case '"':
          return "&quot;";
        case "'":
          return "&apos;";
        case "\t":
          return "&#x9;";
        case "\n":
          return "&#xa;";
        case "\r":
          return "&#xd;";
        default:
          return lone(ch);
      }
    },
  );
}

export function escapeXmlText(value: string): string {
  return value.replace(
    /[&<>]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udfff]/gu,
    (ch) => (ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : lone(ch)),
  );
}

/* eslint-enable no-control-regex */

/** A character XML cannot carry (a C0 control, U+FFFE/U+FFFF, a lone surrogate). */
function lone(ch: string): string {
  const code = ch.charCodeAt(0);
  return `\\x${code.toString(16).padStart(code > 0xff ? 4 : 2, "0")}`;
}

/** Builds `<name a="v" ...>` with escaped, present attributes in the given order. */
export function xmlAttributes(
  attributes: Readonly<Record<string, string | number | undefined | null>>,
): string {
  let out = "";
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    out += ` ${key}="${escapeXmlAttribute(String(value))}"`;
  }
  return out;
}
