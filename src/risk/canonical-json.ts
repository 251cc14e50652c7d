/**
 * Canonical JSON for assessments: object keys sorted at every depth (code-point order), arrays
 * kept in their (already canonical) order, undefined fields dropped. Same value ⇒ same bytes,
 * whatever order the objects were built in. Mirrors src/store/canonical-json.ts, kept here so
 * that the risk core does not import the store.
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(canonicalize(value)) as string | undefined;
  return text ?? "null";
}

/** A deep copy with object keys in sorted order (so JSON.stringify of it is canonical too). */
export function canonicalize<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item: unknown) => canonicalize(item)) as T;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner !== undefined) sorted[key] = canonicalize(inner);
  }
  return sorted as T;
}
