/**
 * Scope files:
 *
 *   name: branch-office          # optional, defaults to the file name
 *   allow: [10.1.0.0/16, 10.2.0.1-10.2.0.50, fd00::/120]
 *   deny: [10.1.99.0/24]         # optional
 *
 * Only literal addresses: a hostname's addresses change without the file changing, and the
 * scope is the one place that must mean the same thing every time it is read.
 */
import { readFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { RingfenceError } from "../errors.js";
import { parseRangeExpression, type AddressRange } from "../targets/index.js";
import { createScope, defaultScope, type Scope, type ScopeOptions } from "./scope.js";

const ScopeFileSchema = z.strictObject({
  name: z.string().trim().min(1, { error: "name must not be empty" }).optional(),
  allow: z.array(z.string()).min(1, { error: "must list at least one range" }),
  deny: z.array(z.string()).optional(),
});

/** The scope file at `path`, or the built-in lab scope when no path is given. */
export async function loadScope(path?: string, options: ScopeOptions = {}): Promise<Scope> {
  if (path === undefined) return defaultScope(options);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_SCOPE_FILE",
      `cannot read scope file ${path}: ${fsReason(error)}`,
      { cause: error },
    );
  }
  return parseScopeFile(text, path, options);
}

/** Parses scope file text; `path` names the file in errors and becomes the scope's source. */
export function parseScopeFile(text: string, path: string, options: ScopeOptions = {}): Scope {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    // prettyErrors appends " at line L, column C:" and a code excerpt; keep the first sentence.
    const message = syntax.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "");
    const line = syntax.linePos?.[0]?.line;
    throw fileError(path, line, `YAML syntax error: ${message}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) {
    throw fileError(path, undefined, "the file is empty; it needs at least an allow: list");
  }
  const parsed = ScopeFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue === undefined) throw fileError(path, undefined, "invalid scope file");
    const where = pathText(issue.path);
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0] ?? "";
      throw fileError(
        path,
        keyLine(doc, lineCounter, issue.path, key),
        `unknown key "${key}"${where === "" ? "" : ` in ${where}`} (expected name, allow, deny)`,
      );
    }
    const problem =
      value === null || typeof value !== "object" || Array.isArray(value)
        ? "expected a mapping with an allow: list"
        : issue.message;
    throw fileError(
      path,
      nodeLine(doc, lineCounter, issue.path),
      where === "" ? problem : `${where}: ${problem}`,
    );
  }
  const ranges = (key: "allow" | "deny", entries: readonly string[]): AddressRange[] =>
    entries.map((entry, index) => {
      const range = parseRangeExpression(entry.trim());
      if ("reason" in range) {
        throw fileError(
          path,
          nodeLine(doc, lineCounter, [key, index]),
          `${key}[${index}]: bad range "${entry}": ${range.reason}`,
        );
      }
      return range;
    });
  const allow = ranges("allow", parsed.data.allow);
  const deny = ranges("deny", parsed.data.deny ?? []);
  const name = parsed.data.name ?? basename(path, extname(path));
  return createScope({ name, source: path, allow, deny }, options);
}

function fileError(path: string, line: number | undefined, problem: string): RingfenceError {
  const where = line === undefined ? path : `${path}, line ${line}`;
  return new RingfenceError("RINGFENCE_SCOPE_FILE", `scope file ${where}: ${problem}`, {
    hint: "a scope file is YAML with allow: [ranges] and optional name: and deny: [ranges]",
  });
}

/** zod's issue path as YAML readers write it: allow[2]. */
function pathText(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `${text === "" ? "" : "."}${String(part)}`;
  }
  return text;
}

function nodeLine(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): number | undefined {
  const node = doc.getIn(path as unknown[], true) as
    { range?: [number, number, number] } | undefined;
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

function keyLine(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  key: string,
): number | undefined {
  const map = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
      return lineCounter.linePos(pair.key.range[0]).line;
    }
  }
  return undefined;
}

function fsReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EISDIR: "it is a directory",
  };
  if (typeof code === "string") return reasons[code] ? `${reasons[code]} (${code})` : code;
  return error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
}
