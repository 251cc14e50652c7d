/**
 * The manager's report: one self-contained HTML file (inline CSS and SVG, no script, no external
 * request; the Content-Security-Policy meta tag forbids both, so a value that slipped past the
 * escaping still could not run or call out). Sections: the estate at a glance, exposure by rating
 * and zone (stacked bars), the remediation burndown (open findings per day), overdue items, and
 * every finding. Every value from the store goes through escapeHtml.
 */
import type { ReportFinding, ReportModel } from "./report-model.js";

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const RATINGS = ["very-high", "high", "moderate", "low", "unrated"] as const;
const RATING_COLOURS: Record<(typeof RATINGS)[number], string> = {
  "very-high": "#9b1c1c",
  high: "#d9480f",
  moderate: "#e8a317",
  low: "#4c8c4a",
  unrated: "#8a8f98",
};

const DAY_MS = 86_400_000;
/** The burndown shows at most this many days (the latest ones). */
const BURNDOWN_DAYS = 180;

/** Open findings at the end of each UTC day, from check runs and workflow transitions. */
export function burndown(model: ReportModel): { day: string; open: number }[] {
  // Events per finding: a vulnerable/unknown run opens it, a not-vulnerable/not-applicable run
  // closes it; when the workflow tracks a finding, its transitions to "closed" close it and
  // "reopened" opens it (a verified fix is closed only when the workflow says so).
  const events: { at: string; findingId: number; open: boolean }[] = [];
  const tracked = new Set(model.transitions.map((t) => t.findingId));
  const byIdentity = new Map<string, ReportFinding[]>();
  for (const f of model.findings) {
    const key = `${f.address}\u0000${f.protocol}/${f.port}\u0000${f.checkId}`;
    byIdentity.set(key, [...(byIdentity.get(key) ?? []), f]);
  }
  for (const run of model.checkRuns) {
    const key = `${run.address}\u0000${run.protocol}/${run.port}\u0000${run.checkId}`;
    const open = run.verdict === "VULNERABLE" || run.verdict === "UNKNOWN";
    for (const f of byIdentity.get(key) ?? []) {
      if (!open && tracked.has(f.id)) continue;
      events.push({ at: run.finishedAt, findingId: f.id, open });
    }
  }
  for (const t of model.transitions) {
    if (t.to === "closed") events.push({ at: t.at, findingId: t.findingId, open: false });
    if (t.to === "reopened") events.push({ at: t.at, findingId: t.findingId, open: true });
  }
  // Findings recorded without their runs in the model (a scan-limited report): first seen opens.
  const withEvents = new Set(events.map((e) => e.findingId));
  for (const f of model.findings)
    if (!withEvents.has(f.id) && f.status === "open")
      events.push({ at: f.firstSeen, findingId: f.id, open: true });
  if (events.length === 0) return [];
  events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const endDay = Math.floor(Date.parse(model.asOf) / DAY_MS);
  const firstDay = Math.max(
    Math.floor(Date.parse(events[0]!.at) / DAY_MS),
    endDay - BURNDOWN_DAYS + 1,
  );
  const state = new Map<number, boolean>();
  const points: { day: string; open: number }[] = [];
  let next = 0;
  let openCount = 0;
  for (let day = Math.min(firstDay, endDay); day <= endDay; day++) {
    const dayEnd = new Date((day + 1) * DAY_MS).toISOString();
    while (next < events.length && events[next]!.at < dayEnd) {
      const e = events[next++]!;
      const was = state.get(e.findingId) ?? false;
      if (was !== e.open) openCount += e.open ? 1 : -1;
      state.set(e.findingId, e.open);
    }
    points.push({ day: new Date(day * DAY_MS).toISOString().slice(0, 10), open: openCount });
  }
  return points;
}

function exposureChart(findings: readonly ReportFinding[]): string {
  const open = findings.filter((f) => f.status === "open");
  const zones = [...new Set(open.map((f) => f.zone ?? "unassessed"))].sort();
  if (zones.length === 0) return "<p>No open findings.</p>";
  const counts = zones.map((zone) =>
    RATINGS.map(
      (r) =>
        open.filter((f) => (f.zone ?? "unassessed") === zone && (f.rating ?? "unrated") === r)
          .length,
    ),
  );
  const max = Math.max(...counts.map((c) => c.reduce((a, b) => a + b, 0)), 1);
  const barW = 420;
  const rowH = 26;
  const labelW = 130;
  const height = zones.length * rowH + 40;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 60}" height="${height}" role="img" aria-label="Open findings by zone and rating">`;
  zones.forEach((zone, i) => {
    const y = i * rowH + 4;
    svg += `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(zone)}</text>`;
    let x = labelW;
    counts[i]!.forEach((n, r) => {
      if (n === 0) return;
      const w = (n / max) * barW;
      svg += `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${RATING_COLOURS[RATINGS[r]!]}"><title>${escapeHtml(`${zone}: ${n} ${RATINGS[r]}`)}</title></rect>`;
      x += w;
    });
    svg += `<text x="${(x + 6).toFixed(1)}" y="${y + 15}">${counts[i]!.reduce((a, b) => a + b, 0)}</text>`;
  });
  let lx = labelW;
  for (const r of RATINGS) {
    svg += `<rect x="${lx}" y="${height - 22}" width="12" height="12" fill="${RATING_COLOURS[r]}"/><text x="${lx + 16}" y="${height - 12}">${r}</text>`;
    lx += 90;
  }
  return svg + "</svg>";
}

function burndownChart(points: readonly { day: string; open: number }[]): string {
  if (points.length === 0) return "<p>No findings recorded yet.</p>";
  const w = 640;
  const h = 200;
  const pad = 36;
  const max = Math.max(...points.map((p) => p.open), 1);
  const x = (i: number) =>
    pad + (points.length === 1 ? (w - 2 * pad) / 2 : (i / (points.length - 1)) * (w - 2 * pad));
  const y = (n: number) => h - pad - (n / max) * (h - 2 * pad);
  const path = points
    .map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(p.open).toFixed(1)}`)
    .join(" ");
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="Open findings per day">`;
  svg += `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#555"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#555"/>`;
  svg += `<text x="${pad - 4}" y="${y(max) + 4}" text-anchor="end">${max}</text><text x="${pad - 4}" y="${h - pad + 4}" text-anchor="end">0</text>`;
  svg += `<text x="${pad}" y="${h - pad + 18}">${escapeHtml(points[0]!.day)}</text><text x="${w - pad}" y="${h - pad + 18}" text-anchor="end">${escapeHtml(points.at(-1)!.day)}</text>`;
  svg += `<path d="${path}" fill="none" stroke="#9b1c1c" stroke-width="2"/>`;
  points.forEach((p, i) => {
    svg += `<circle cx="${x(i).toFixed(1)}" cy="${y(p.open).toFixed(1)}" r="2.5" fill="#9b1c1c"><title>${escapeHtml(`${p.day}: ${p.open} open`)}</title></circle>`;
  });
  return svg + "</svg>";
}

function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  if (rows.length === 0) return "<p>None.</p>";
  return (
    `<table><thead><tr>${head.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("") +
    "</tbody></table>"
  );
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.meta{color:#666}.tiles{display:flex;gap:1em;flex-wrap:wrap}.tile{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}
.tile b{display:block;font-size:1.6em}table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}svg text{font:12px system-ui,sans-serif;fill:#333}.overdue{color:#9b1c1c;font-weight:bold}`;

export function renderHtmlReport(model: ReportModel, options: { version: string }): string {
  const open = model.findings.filter((f) => f.status === "open");
  const overdue = open.filter((f) => f.overdue.length > 0);
  const vulnerableHosts = new Set(
    open.filter((f) => f.verdict === "vulnerable").map((f) => f.address),
  );
  const title =
    model.scan === null
      ? "ringfence exposure report"
      : `ringfence exposure report: scan ${model.scan.id}`;
  const tiles = [
    ["hosts", model.hosts.length],
    ["open findings", open.length],
    ["hosts with a vulnerable finding", vulnerableHosts.size],
    ["overdue", overdue.length],
    [
      "very high / high",
      open.filter((f) => f.rating === "very-high" || f.rating === "high").length,
    ],
  ];
  const byRating = (a: ReportFinding, b: ReportFinding) =>
    RATINGS.indexOf(a.rating ?? "unrated") - RATINGS.indexOf(b.rating ?? "unrated");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">As of ${escapeHtml(model.asOf)} · ringfence ${escapeHtml(options.version)}${model.scan !== null ? ` · ${escapeHtml(model.scan.command)}` : ""}</p>
<div class="tiles">${tiles.map(([k, v]) => `<div class="tile"><b>${escapeHtml(v)}</b>${escapeHtml(k)}</div>`).join("")}</div>
<h2>Exposure by rating and zone</h2>
${exposureChart(model.findings)}
<h2>Remediation burndown (open findings per day)</h2>
${burndownChart(burndown(model))}
<h2>Overdue</h2>
${table(
  ["host", "service", "advisory", "rating", "zone", "state", "overdue", "protect by", "fix by"],
  [...overdue]
    .sort(byRating)
    .map((f) => [
      f.address,
      `${f.protocol}/${f.port}`,
      f.advisory,
      f.rating ?? "unrated",
      f.zone ?? "",
      f.state ?? "",
      f.overdue.join(", "),
      f.protectBy ?? "",
      f.fixBy ?? "",
    ]),
)}
<h2>Findings</h2>
${table(
  [
    "host",
    "names",
    "service",
    "advisory",
    "check",
    "verdict",
    "status",
    "state",
    "rating",
    "zone",
    "protect by",
    "fix by",
    "first seen",
    "reason",
  ],
  [...model.findings]
    .sort(byRating)
    .map((f) => [
      f.address,
      f.hostnames.join(" "),
      `${f.protocol}/${f.port}`,
      f.advisory,
      f.checkId,
      f.classification !== null ? `${f.verdict} (${f.classification})` : f.verdict,
      f.status,
      f.state ?? "",
      f.rating ?? "unrated",
      f.zone ?? "",
      f.protectBy ?? "",
      f.fixBy ?? "",
      f.firstSeen,
      f.reason ?? "",
    ]),
)}
<h2>Hosts</h2>
${table(
  ["host", "names", "os", "open"],
  model.hosts.map((h) => [h.address, h.hostnames.join(" "), h.os ?? "", h.openPorts.join(" ")]),
)}
</body></html>
`;
}
