/**
 * Canonical port sets: inclusive ranges, sorted, merged when they overlap or touch. `[0, 65535]`
 * is "every port" and renders as no port match at all.
 */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

export const ALL_PORTS: readonly PortRange[] = Object.freeze([
  Object.freeze({ first: 0, last: 65535 }),
]);

export function normalizePorts(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
  const out: PortRange[] = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && range.first <= last.last + 1) {
      if (range.last > last.last) out[out.length - 1] = { first: last.first, last: range.last };
    } else {
      out.push({ first: range.first, last: range.last });
    }
  }
  return out.map((r) => Object.freeze(r));
}

export function isAllPorts(ranges: readonly PortRange[]): boolean {
  return ranges.length === 1 && ranges[0]!.first === 0 && ranges[0]!.last === 65535;
}

/** `135`, `137-139`: the plan file's spelling. */
export function formatPortRange(range: PortRange, separator = "-"): string {
  return range.first === range.last
    ? String(range.first)
    : `${range.first}${separator}${range.last}`;
}

/** Parses `135`, `137-139` (or a number); undefined when it is not a port or a range of ports. */
export function parsePortRange(text: string | number): PortRange | undefined {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(text).trim());
  if (match === null) return undefined;
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  if (first > 65535 || last > 65535 || first > last) return undefined;
  return { first, last };
}

export function portsContain(ranges: readonly PortRange[], port: number): boolean {
  return ranges.some((r) => r.first <= port && port <= r.last);
}

export function subtractPorts(
  from: readonly PortRange[],
  remove: readonly PortRange[],
): PortRange[] {
  let out = normalizePorts(from);
  for (const cut of normalizePorts(remove)) {
    const next: PortRange[] = [];
    for (const r of out) {
      if (cut.last < r.first || cut.first > r.last) {
        next.push(r);
        continue;
      }
      if (cut.first > r.first) next.push({ first: r.first, last: cut.first - 1 });
      if (cut.last < r.last) next.push({ first: cut.last + 1, last: r.last });
    }
    out = next;
  }
  return normalizePorts(out);
}

export function intersectPorts(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  for (const x of a) {
    for (const y of b) {
      const first = Math.max(x.first, y.first);
      const last = Math.min(x.last, y.last);
      if (first <= last) out.push({ first, last });
    }
  }
  return normalizePorts(out);
}

/** How many single ports the ranges hold. */
export function portCount(ranges: readonly PortRange[]): number {
  return ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
}
