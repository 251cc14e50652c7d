import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every depth, so that two equal parameter sets give the same
 * text (and hash) whatever order the CLI or API built them in. Arrays keep their order: order is
 * meaningful there (port lists, target lists).
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== "object" || Array.isArray(inner)) return inner;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(inner).sort()) {
      sorted[key] = (inner as Record<string, unknown>)[key];
    }
    return sorted;
  }) as string | undefined;
  // JSON.stringify(undefined) is undefined, not text; store it as null like a missing field.
  return text ?? "null";
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
