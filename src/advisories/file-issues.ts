/**
 * Validation of the files users write or import (advisories, site, policy, KEV, EPSS): a bad file
 * fails with the file, the path inside it (`vulnerabilities[0].cvss[1].vector`), the line where we
 * can find it, and the reason. The shape follows zod's issue list (code, path, message), as
 * STYLE.md asks for configuration errors; the first issue becomes the one-line message.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { RingfenceError, type ErrorCode } from "../errors.js";

export interface FileIssue {
  /** The file as the user named it. */
  readonly file: string;
  /** Where inside it, as YAML and JSON readers write it: `checks[2].id`; "" for the whole file. */
  readonly path: string;
  /** 1-based line, when the file has one for that path. */
  readonly line?: number;
  readonly reason: string;
}

/** A RingfenceError that also carries every problem found, not only the first. */
export class RingfenceFileError extends RingfenceError {
  readonly issues: readonly FileIssue[];

  constructor(code: ErrorCode, kind: string, issues: readonly FileIssue[], hint?: string) {
    const first = issues[0] ?? { file: "?", path: "", reason: "invalid file" };
    const where = first.line === undefined ? first.file : `${first.file}, line ${first.line}`;
    const inner = first.path === "" ? first.reason : `${first.path}: ${first.reason}`;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    super(code, `${kind} ${where}: ${inner}${more}`, hint === undefined ? {} : { hint });
    this.name = "RingfenceFileError";
    this.issues = issues;
  }
}

/** What a file kind says about itself in errors. */
export interface FileKind {
  readonly code: ErrorCode;
  /** "advisory file", "site file", ... */
  readonly kind: string;
  readonly hint?: string;
}

/** zod's issue path as YAML readers write it: `allow[2].port`. */
export function pathText(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `${text === "" ? "" : "."}${String(part)}`;
  }
  return text;
}

/** A parsed YAML (or JSON) document that can say on which line a path starts. */
export class LocatedDocument {
  private readonly lineCounter = new LineCounter();
  readonly doc: Document;

  constructor(text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: true });
  }

  /** The line of the node at `path`, or of its nearest existing ancestor. */
  lineOf(path: readonly PropertyKey[]): number | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      const prefix = path.slice(0, depth);
      const node =
        prefix.length === 0
          ? this.doc.contents
          : (this.doc.getIn(prefix as unknown[], true) as unknown);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range !== undefined) return this.lineCounter.linePos(range[0]).line;
    }
    return undefined;
  }

  /** The line of key `key` in the mapping at `path` (for "unknown key" errors). */
  keyLine(path: readonly PropertyKey[], key: string): number | undefined {
    const map = path.length === 0 ? this.doc.contents : this.doc.getIn(path as unknown[], true);
    if (!isMap(map)) return this.lineOf(path);
    for (const pair of map.items) {
      if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) {
        return this.lineCounter.linePos(pair.key.range[0]).line;
      }
    }
    return this.lineOf(path);
  }

  /** The first syntax error, if any, as an issue. */
  syntaxIssue(file: string): FileIssue | undefined {
    const error = this.doc.errors[0];
    if (error === undefined) return undefined;
    // prettyErrors appends " at line L, column C:" and an excerpt; keep the first sentence.
    const message = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    const line = error.linePos?.[0]?.line;
    return { file, path: "", ...(line === undefined ? {} : { line }), reason: message };
  }
}

/** The value at `path` inside plain data, or undefined. */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const part of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

/**
 * zod's issues as file issues, in zod's order (which is the order of the keys in the schema),
 * with the reasons reworded where zod's own words would puzzle a user.
 */
export function zodIssues(
  file: string,
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  locate: (path: readonly PropertyKey[], key?: string) => number | undefined,
): FileIssue[] {
  const out: FileIssue[] = [];
  for (const issue of issues) {
    const path = issue.path;
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const line = locate(path, key);
        out.push({
          file,
          path: pathText([...path, key]),
          ...(line === undefined ? {} : { line }),
          reason: `unknown key "${key}"`,
        });
      }
      continue;
    }
    let reason = issue.message;
    if (issue.code === "invalid_type" && valueAt(input, path) === undefined) {
      reason = "missing (required)";
    }
    const line = locate(path);
    out.push({ file, path: pathText(path), ...(line === undefined ? {} : { line }), reason });
  }
  return out;
}

/**
 * Parses YAML text and validates it with `schema`. Throws a RingfenceFileError naming the file,
 * the path and the line of every problem. `located` is returned so that callers can place
 * errors they find later (for example a range that does not parse).
 */
export function parseYamlFile<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
  kind: FileKind,
): { value: T; located: LocatedDocument } {
  const located = new LocatedDocument(text);
  const syntax = located.syntaxIssue(file);
  if (syntax !== undefined) {
    throw fileError(kind, [{ ...syntax, reason: `YAML syntax error: ${syntax.reason}` }]);
  }
  const raw: unknown = located.doc.toJS();
  if (raw === null || raw === undefined) {
    throw fileError(kind, [{ file, path: "", reason: "the file is empty" }]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = zodIssues(file, parsed.error.issues, raw, (path, key) =>
      key === undefined ? located.lineOf(path) : located.keyLine(path, key),
    );
    throw fileError(kind, issues);
  }
  return { value: parsed.data, located };
}

export function fileError(kind: FileKind, issues: readonly FileIssue[]): RingfenceFileError {
  return new RingfenceFileError(kind.code, kind.kind, issues, kind.hint);
}

/** A readable reason for a failed read (ENOENT and friends). */
export function fsReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EISDIR: "it is a directory",
    ENOTDIR: "not a directory",
  };
  if (typeof code === "string") return reasons[code] ? `${reasons[code]} (${code})` : code;
  return error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
}
