/**
 * Parsing untrusted XML (nmap -oX, masscan -oX) without the classic XML attacks. fast-xml-parser
 * does the parsing; this module decides what it may see:
 *
 * - no DTD internal subset at all: nmap writes `<!DOCTYPE nmaprun>` and masscan none, so an
 *   `<!ENTITY` can only be an attack (billion laughs, external entities, XXE);
 * - entity processing off in the parser; the five predefined entities and character references
 *   (XML 1.0 §4.6 and §4.1), the only ones a file without a DTD can use, are decoded here;
 * - a size cap on the file, a cap on each attribute and text value, and a nesting cap, so memory
 *   stays proportional to the file and the parser never recurses without bound.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { RingfenceError } from "../errors.js";

export interface XmlLimits {
  /** Bytes (UTF-8) of the whole document. */
  readonly maxBytes: number;
  /** Characters of one attribute or text value (nmap's script output is the longest). */
  readonly maxValueLength: number;
  /** Element nesting (nmap's deepest is nmaprun/host/ports/port/script/table/... ). */
  readonly maxDepth: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxValueLength: 1024 * 1024,
  maxDepth: 64,
};

export function importError(file: string, reason: string): RingfenceError {
  return new RingfenceError("RINGFENCE_IMPORT_FILE", `${file}: ${reason}; nothing was imported`, {
    hint: "give an nmap -oX or masscan -oJ/-oX/-oL output file",
  });
}

const PREDEFINED: Readonly<Record<string, string>> = {
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
};

/** XML 1.0 §4.6 predefined entities and §4.1 character references; anything else is an error. */
export function decodeXmlText(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&([^;&\s]{0,16});/g, (whole, name: string) => {
    if (name.startsWith("#")) {
      const code = /^#x[0-9a-f]{1,6}$/i.test(name)
        ? Number.parseInt(name.slice(2), 16)
        : /^#[0-9]{1,7}$/.test(name)
          ? Number.parseInt(name.slice(1), 10)
          : NaN;
      // XML 1.0 §2.2 Char: no NUL, no surrogates, nothing above U+10FFFF.
      if (Number.isNaN(code) || code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
        throw new Error(`invalid character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const value = PREDEFINED[name];
    if (value === undefined) throw new Error(`undeclared entity ${whole}`);
    return value;
  });
}

/** Elements that may repeat; the parser then always gives arrays for them. */
const REPEATED = new Set([
  "host",
  "address",
  "hostname",
  "port",
  "extraports",
  "script",
  "table",
  "elem",
  "osmatch",
  "osclass",
  "cpe",
  "scaninfo",
  "hostscript",
  "hostnames",
  "ports",
  "os",
]);

/**
 * Parses `text` into fast-xml-parser's object form (attributes as `@name`, text as `#text`,
 * values decoded). Throws RINGFENCE_IMPORT_FILE on a document that is not well-formed, uses a
 * DTD subset, or exceeds a limit.
 */
export function parseUntrustedXml(
  text: string,
  file: string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): Record<string, unknown> {
  if (Buffer.byteLength(text, "utf8") > limits.maxBytes)
    throw importError(file, `larger than the ${limits.maxBytes}-byte limit`);
  // A DOCTYPE with an internal subset ("[...]") is the only place entities can be declared.
  const doctype = /<!DOCTYPE[^>[]*\[/i.exec(text);
  if (doctype !== null || /<!ENTITY/i.test(text))
    throw importError(
      file,
      "declares a DTD internal subset or entities (refused: entity expansion is off)",
    );
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true)
    throw importError(
      file,
      `not well-formed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`,
    );
  const tooLong = (what: string, value: string): never => {
    throw new Error(`${what} longer than ${limits.maxValueLength} characters (${value.length})`);
  };
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    maxNestedTags: limits.maxDepth,
    isArray: (name, _path, _leaf, isAttribute) => !isAttribute && REPEATED.has(name),
    attributeValueProcessor: (name, value) =>
      value.length > limits.maxValueLength
        ? tooLong(`attribute ${name}`, value)
        : decodeXmlText(value),
    tagValueProcessor: (name, value) =>
      value.length > limits.maxValueLength
        ? tooLong(`text of <${name}>`, value)
        : decodeXmlText(value),
  });
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw importError(file, `refused: ${message.split("\n")[0]}`);
  }
}
