/**
 * `ringfence import`: another scanner's results (nmap XML, masscan JSON/XML/list) recorded as the
 * observations of a scan of kind "import", through the same Store.recordBatch path as our own
 * scans, so that the inventory, `hosts`, `services`, `diff` and the reports treat them alike.
 *
 * Order of work, so that a bad file stores nothing: read and parse the whole file, check every
 * address against the scope, and only then create the scan and record it in one batch (one
 * transaction). Scope policy: by default a file with any out-of-scope address is refused whole
 * (exit 3), naming the count and the first one; with skipOutOfScope those hosts are left out and
 * counted. Identities are the store's (address; address, protocol, port), so importing a file
 * twice creates no second host or service; importing the very same bytes under the same scope
 * again is recognised (by its SHA-256) and records nothing.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { RingfenceError } from "../errors.js";
import { readImport, type ImportedScan, type ImportFormatChoice } from "../interchange/index.js";
import { importError } from "../interchange/xml-input.js";
import type { ProbeObservation } from "../scan/observation.js";
import { loadScope } from "../scope/index.js";
import type { ScanRecord, Store } from "../store/index.js";

/** Bigger files are refused before they are read (nmap's XML for a /16 is well below). */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;

export interface ImportRequest {
  readonly file: string;
  readonly format: ImportFormatChoice;
  readonly scopeFile?: string;
  readonly skipOutOfScope: boolean;
}

/** What the scan record's params hold for an import. */
export interface ImportParams {
  readonly version: 1;
  readonly kind: "import";
  readonly format: ImportedScan["format"];
  readonly file: string;
  readonly sha256: string;
  readonly scanner: string;
  readonly scannerVersion: string | null;
  readonly args: string | null;
  readonly startedAt: string | null;
  readonly scope: { readonly name: string; readonly digest: string };
  readonly skipOutOfScope: boolean;
}

export interface ImportResult {
  /** The import's scan; the earlier one when the file had been imported already. */
  readonly scan: ScanRecord;
  readonly alreadyImported: boolean;
  readonly format: ImportedScan["format"];
  readonly hosts: number;
  readonly observations: number;
  readonly counts: Readonly<Record<string, number>>;
  /** Hosts left out because they are outside the scope (skipOutOfScope). */
  readonly outOfScope: number;
  /** Hosts the file lists without a single port (a ping scan): the inventory has no row for them. */
  readonly hostsWithoutPorts: number;
  /** Ports in states or protocols we do not record (nmap's unfiltered, sctp). */
  readonly skippedPorts: number;
}

export function isImportParams(params: unknown): params is ImportParams {
  return (
    typeof params === "object" &&
    params !== null &&
    (params as { kind?: unknown }).kind === "import"
  );
}

async function readImportFile(file: string): Promise<string> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw importError(file, "is not a regular file");
    if (info.size > MAX_IMPORT_BYTES)
      throw importError(file, `is ${info.size} bytes, over the ${MAX_IMPORT_BYTES}-byte limit`);
    return await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof RingfenceError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw importError(file, `cannot be read (${code})`);
  }
}

export async function importScanFile(store: Store, request: ImportRequest): Promise<ImportResult> {
  const text = await readImportFile(request.file);
  const imported = readImport(text, request.file, request.format);
  const scope = await loadScope(request.scopeFile);

  const outside = imported.hosts.filter((host) => !scope.allows(host.address));
  if (outside.length > 0 && !request.skipOutOfScope)
    throw new RingfenceError(
      "RINGFENCE_SCOPE_VIOLATION",
      `${request.file}: ${outside.length} of ${imported.hosts.length} hosts are outside the authorized ${scope.describe()} (first: ${outside[0]!.address}); nothing was imported`,
      { hint: "widen the scope (--scope FILE), or import the rest with --skip-out-of-scope" },
    );
  const hosts = imported.hosts.filter((host) => scope.allows(host.address));

  const params: ImportParams = {
    version: 1,
    kind: "import",
    format: imported.format,
    file: request.file,
    sha256: createHash("sha256").update(text).digest("hex"),
    scanner: imported.scanner,
    scannerVersion: imported.scannerVersion,
    args: imported.args,
    startedAt: imported.startedAt,
    scope: { name: scope.name, digest: scope.digest },
    skipOutOfScope: request.skipOutOfScope,
  };

  const observations: ProbeObservation[] = [];
  const counts: Record<string, number> = { open: 0, closed: 0, filtered: 0, "open|filtered": 0 };
  for (const host of hosts) {
    for (const port of host.ports) {
      counts[port.state] = (counts[port.state] ?? 0) + 1;
      observations.push({
        address: host.address,
        protocol: port.protocol,
        port: port.port,
        state: port.state,
        reason: port.reason,
        rttMs: null,
        ...(host.hostnames.length > 0 ? { hostnames: host.hostnames } : {}),
        ...(port.service !== undefined ? { detail: { service: port.service } } : {}),
      });
    }
  }
  const summary = {
    format: imported.format,
    hosts: hosts.filter((h) => h.ports.length > 0).length,
    observations: observations.length,
    counts,
    outOfScope: outside.length,
    hostsWithoutPorts: hosts.filter((h) => h.ports.length === 0).length,
    skippedPorts: imported.skippedPorts,
  };

  // The same bytes under the same scope policy were imported already: nothing new to record.
  const earlier = (await store.listScans()).find(
    (scan) =>
      scan.status === "completed" &&
      isImportParams(scan.params) &&
      scan.params.sha256 === params.sha256 &&
      scan.params.scope.digest === params.scope.digest &&
      scan.params.skipOutOfScope === params.skipOutOfScope,
  );
  if (earlier !== undefined) return { scan: earlier, alreadyImported: true, ...summary };

  const scan = await store.createScan({
    command: `ringfence import ${request.file}`,
    params,
    totalProbes: observations.length,
  });
  try {
    await store.recordBatch(scan.id, observations, {
      step: observations.length,
      probesDone: observations.length,
      counts,
    });
    await store.finishScan(scan.id, "completed", { counts, probesDone: observations.length });
  } catch (error) {
    await store
      .finishScan(scan.id, "failed", {
        error: error instanceof Error ? error.message : String(error),
      })
      .catch(() => undefined);
    throw error;
  }
  return { scan: await store.requireScan(scan.id), alreadyImported: false, ...summary };
}
