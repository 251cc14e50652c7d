/** `rpcdump.py` output → "uuid vM.m binding" lines (its Protocol/Provider/UUID/Bindings blocks). */
export function parseRpcdump(output: string): string[] {
  const lines: string[] = [];
  let current: string | null = null;
  let inBindings = false;
  for (const raw of output.split("\n")) {
    const uuid = /^UUID\s*:\s*([0-9A-Fa-f-]{36})\s+v(\d+\.\d+)/.exec(raw);
    if (uuid !== null) {
      current = `${(uuid[1] ?? "").toLowerCase()} v${uuid[2] ?? ""}`;
      inBindings = false;
    } else if (/^Bindings:/.test(raw)) {
      inBindings = true;
    } else if (inBindings && current !== null && /^\s+\S/.test(raw)) {
      lines.push(`${current} ${raw.trim()}`);
    } else {
      inBindings = false;
    }
  }
  return lines;
}
