/**
 * Target and exclusion files (-iL, --exclude-file): nmap's format, one or more expressions per
 * line separated by whitespace or commas, "#" to the end of the line is a comment.
 * "-" (stdin) is deliberately not supported: scans are resumable, and stdin cannot be re-read.
 */
import { readFile } from "node:fs/promises";
import { RingfenceError } from "../errors.js";
import { splitExpressions } from "./target-expression.js";

export interface SourcedToken {
  readonly token: string;
  /** "path:line" for tokens read from a file, undefined for command-line tokens. */
  readonly origin: string | undefined;
}

export function parseTargetFileText(text: string, path: string): SourcedToken[] {
  const tokens: SourcedToken[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const hash = line.indexOf("#");
    const content = hash >= 0 ? line.slice(0, hash) : line;
    for (const token of splitExpressions(content))
      tokens.push({ token, origin: `${path}:${i + 1}` });
  }
  return tokens;
}

export async function readTargetFile(path: string): Promise<SourcedToken[]> {
  if (path === "-") {
    throw new RingfenceError(
      "RINGFENCE_TARGET_FILE",
      'reading targets from stdin ("-") is not supported',
      {
        hint: "write the targets to a file and pass its path",
      },
    );
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_TARGET_FILE",
      `cannot read target file ${path}: ${describeFsError(error)}`,
      { cause: error },
    );
  }
  return parseTargetFileText(text, path);
}

/** "ENOENT (no such file or directory)" rather than Node's multi-part message. */
export function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EISDIR: "it is a directory",
    ENOTDIR: "a parent is not a directory",
    ELOOP: "too many symbolic links",
  };
  if (typeof code === "string") return reasons[code] ? `${reasons[code]} (${code})` : code;
  return error instanceof Error ? (error.message.split("\n")[0] ?? "unknown error") : String(error);
}
