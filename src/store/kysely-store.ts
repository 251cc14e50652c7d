import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import { sql, type Expression, type Kysely, type Selectable, type SqlBool } from "kysely";
import { RingfenceError } from "../errors.js";
import type { Control } from "../risk/types.js";
import type { PortState, ProbeObservation, Protocol } from "../scan/observation.js";
import { addressFamily, addressSortKey } from "./address-key.js";
import {
  appendAuditEntriesIn,
  findingStatesIn,
  listAuditEntriesIn,
  listTransitionsIn,
  recordTransitionIn,
} from "./audit-records.js";
import { BatchStatement } from "./batch-statement.js";
import { canonicalJson, sha256Hex } from "./canonical-json.js";
import type {
  ApiTokensTable,
  AssessmentsTable,
  AssetsTable,
  CheckRunsTable,
  FindingsTable,
  ObservationsTable,
  ScansTable,
  ServicesTable,
  StoreDatabase,
} from "./schema.js";
import {
  API_ROLES,
  type ApiRole,
  type ApiTokenInput,
  type ApiTokenRecord,
  ASSESSMENT_RATINGS,
  CHECK_VERDICTS,
  type AssessmentFilter,
  type AssessmentInput,
  type AssessmentRating,
  type AssessmentRecord,
  type AuditEntry,
  type AuditEntryInput,
  type AuditFilter,
  type Checkpoint,
  type CheckRunFilter,
  type CheckRunInput,
  type CheckRunRow,
  type CheckVerdict,
  type FindingFilter,
  type FindingRecord,
  type FindingStateFilter,
  type FindingStateRow,
  type FingerprintInput,
  type FindingVerdict,
  type HostFilter,
  type HostRow,
  type ObservationRow,
  type ScanRecord,
  type ServiceFilter,
  type ServiceRow,
  type Store,
  type TransitionInput,
  type TransitionRecord,
} from "./store.js";
import { writeTransaction, type StoreBackend } from "./store-backend.js";

/**
 * Bound parameters per statement. SQLite allows 32766 and PostgreSQL 65535; staying far below
 * keeps each statement's parse and plan small while still writing hundreds of rows at once.
 */
const MAX_PARAMETERS = 8000;

/** The Store on any kysely backend: only portable SQL here, dialect quirks live in the backend. */
export function createKyselyStore(backend: StoreBackend): Store {
  return new KyselyStore(backend);
}

type Db = Kysely<StoreDatabase>;

/** What one batch says about one address. */
interface AddressInBatch {
  key: string;
  /** As the batch's first probe of it spelled it. */
  address: string;
  /** One per protocol and port: a repeated probe replaces the earlier one in place. */
  probes: ProbeObservation[];
  /** probeId to index in probes, made once the address has a second probe in the batch. */
  probeIndex: Map<number, number> | undefined;
  hostnames: Set<string> | undefined;
  /** Open or closed on some port: the host is up, so it becomes (or stays) an asset. */
  answered: boolean;
}

class KyselyStore implements Store {
  readonly #backend: StoreBackend;
  readonly #statements = batchStatements();
  #closed = false;

  constructor(backend: StoreBackend) {
    this.#backend = backend;
  }

  get location(): string {
    return this.#backend.location;
  }

  async createScan(input: {
    command: string;
    params: unknown;
    totalProbes: number;
  }): Promise<ScanRecord> {
    const paramsJson = canonicalJson(input.params);
    const row: Omit<ScansTable, "seq"> = {
      id: newScanId(),
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      status: "running",
      command: input.command,
      params_json: paramsJson,
      params_hash: sha256Hex(paramsJson),
      total_probes: input.totalProbes,
      checkpoint_step: 0,
      probes_done: 0,
      counts_json: "{}",
      error: null,
    };
    await this.#run((db) => db.insertInto("scans").values(row).execute());
    return toScanRecord(row);
  }

  async getScan(id: string): Promise<ScanRecord | undefined> {
    const row = await this.#run((db) =>
      db.selectFrom("scans").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row === undefined ? undefined : toScanRecord(row);
  }

  async requireScan(id: string): Promise<ScanRecord> {
    const scan = await this.getScan(id);
    if (scan === undefined) throw scanNotFound(id, this.location);
    return scan;
  }

  async listScans(limit?: number): Promise<ScanRecord[]> {
    const rows = await this.#run((db) => {
      // Ids sort by creation time too, and break ties between scans created in one millisecond.
      let query = db
        .selectFrom("scans")
        .selectAll()
        .orderBy("created_at", "desc")
        .orderBy("id", "desc");
      if (limit !== undefined) query = query.limit(limit);
      return query.execute();
    });
    return rows.map(toScanRecord);
  }

  async recordBatch(
    scanId: string,
    observations: readonly ProbeObservation[],
    checkpoint: Checkpoint,
  ): Promise<void> {
    const now = new Date().toISOString();
    // In address order, and each table's rows sorted by its key below: consecutive rows then
    // land on the same index pages, which SQLite finds in the CPU caches (the scanner's own
    // order is a random permutation).
    const entries = [...collectBatch(observations).values()].sort((a, b) =>
      a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
    );
    const statements = this.#statements;

    await this.#write(async (trx) => {
      const scanSeq = await requireScanSeq(trx, scanId, this.location);
      const assets = await writeAssets(trx, statements, entries, now);
      if (assets.created.length > 0) {
        await adoptEarlierObservations(trx, statements, scanSeq, scanId, assets.created);
      }

      // Flat rows in the statements' column order (see OBSERVATION_COLUMNS, SERVICE_COLUMNS).
      const observationValues: unknown[] = [];
      const withAsset: { entry: AddressInBatch; assetId: number }[] = [];
      for (const entry of entries) {
        const assetId = assets.ids.get(entry.key) ?? null;
        if (assetId !== null) withAsset.push({ entry, assetId });
        for (const o of entry.probes) {
          observationValues.push(
            scanSeq,
            scanId,
            assetId,
            o.address,
            entry.key,
            o.protocol,
            o.port,
            o.state,
            o.reason,
            o.rttMs,
            now,
            detailJson(o),
          );
        }
      }
      withAsset.sort((a, b) => a.assetId - b.assetId);
      const serviceValues: unknown[] = [];
      for (const { entry, assetId } of withAsset) {
        for (const o of entry.probes) {
          serviceValues.push(
            assetId,
            o.protocol,
            o.port,
            o.state,
            o.reason,
            now,
            now,
            o.state === "open" || o.state === "closed" ? now : null,
            scanId,
            detailJson(o),
          );
        }
      }
      await statements.upsertObservations.execute(trx, observationValues, {});
      await statements.upsertServices.execute(trx, serviceValues, {});

      await trx
        .updateTable("scans")
        .set({
          checkpoint_step: checkpoint.step,
          probes_done: checkpoint.probesDone,
          counts_json: JSON.stringify(checkpoint.counts),
        })
        .where("id", "=", scanId)
        .execute();
    });
  }

  async markRunning(scanId: string): Promise<void> {
    const now = new Date().toISOString();
    const result = await this.#run((db) =>
      db
        .updateTable("scans")
        .set((eb) => ({
          status: "running",
          started_at: eb.fn.coalesce("started_at", eb.val(now)),
          finished_at: null,
          error: null,
        }))
        .where("id", "=", scanId)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw scanNotFound(scanId, this.location);
  }

  async finishScan(
    scanId: string,
    status: "completed" | "interrupted" | "failed",
    extra: { error?: string; counts?: Record<string, number>; probesDone?: number } = {},
  ): Promise<void> {
    const finishedAt = new Date().toISOString();
    const result = await this.#run((db) =>
      db
        .updateTable("scans")
        .set({
          status,
          finished_at: finishedAt,
          error: extra.error ?? null,
          ...(extra.counts === undefined ? {} : { counts_json: JSON.stringify(extra.counts) }),
          ...(extra.probesDone === undefined ? {} : { probes_done: extra.probesDone }),
        })
        .where("id", "=", scanId)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw scanNotFound(scanId, this.location);
  }

  async listHosts(filter: HostFilter = {}): Promise<HostRow[]> {
    // "Hosts with 445" means 445 open; any other state has to be asked for.
    const state =
      filter.state ??
      (filter.port !== undefined || filter.protocol !== undefined ? "open" : undefined);
    const portFilter = { port: filter.port, protocol: filter.protocol, state };
    const hasPortFilter = Object.values(portFilter).some((value) => value !== undefined);

    return this.#run((db) =>
      readTransaction(db).execute(async (trx) => {
        let query = trx
          .selectFrom("assets")
          .selectAll("assets")
          // The asset's last sighting: its latest answer on any port (see ServicesTable).
          .select((eb) =>
            eb
              .selectFrom("services")
              .select((inner) => inner.fn.max("services.last_answered").as("last_answered"))
              .whereRef("services.asset_id", "=", "assets.id")
              .as("last_seen"),
          );
        if (filter.scanId !== undefined) {
          const scanId = filter.scanId;
          query = query.where("assets.id", "in", (eb) =>
            eb
              .selectFrom("observations")
              .select("observations.asset_id")
              .where("observations.scan_seq", "=", scanSeqOf(trx, scanId))
              .where("observations.asset_id", "is not", null)
              .where((inner) => portConditions(inner, "observations", portFilter)),
          );
        } else if (hasPortFilter) {
          query = query.where("assets.id", "in", (eb) =>
            eb
              .selectFrom("services")
              .select("services.asset_id")
              .where((inner) => portConditions(inner, "services", portFilter)),
          );
        }
        if (filter.os !== undefined) query = query.where(osMatches(filter.os));
        if (filter.address !== undefined) query = query.where(assetKeyIs(filter.address));
        query = query.orderBy("assets.address_key");
        if (filter.limit !== undefined) query = query.limit(filter.limit);
        const assets = await query.execute();

        const openPorts = new Map<number, string[]>();
        for (const ids of chunks(
          assets.map((asset) => asset.id),
          1,
        )) {
          const ports =
            filter.scanId === undefined
              ? await trx
                  .selectFrom("services")
                  .select(["asset_id", "protocol", "port"])
                  .where("state", "=", "open")
                  .where("asset_id", "in", ids)
                  .orderBy("protocol")
                  .orderBy("port")
                  .execute()
              : await trx
                  .selectFrom("observations")
                  .select(["asset_id", "protocol", "port"])
                  .where("scan_seq", "=", scanSeqOf(trx, filter.scanId))
                  .where("state", "=", "open")
                  .where("asset_id", "in", ids)
                  .orderBy("protocol")
                  .orderBy("port")
                  .execute();
          for (const row of ports) {
            if (row.asset_id === null) continue;
            const list = openPorts.get(row.asset_id) ?? [];
            list.push(`${row.protocol}/${row.port}`);
            openPorts.set(row.asset_id, list);
          }
        }

        return assets.map((asset): HostRow => ({
          address: asset.address,
          family: asset.family as HostRow["family"],
          hostnames: parseJson<string[]>(asset.hostnames_json) ?? [],
          os: asset.os,
          osConfidence: asset.os_confidence,
          openPorts: openPorts.get(asset.id) ?? [],
          firstSeen: asset.first_seen,
          lastSeen: asset.last_seen ?? asset.first_seen,
          detail: parseJson<Record<string, unknown>>(asset.detail_json),
        }));
      }),
    );
  }

  async listServices(filter: ServiceFilter = {}): Promise<ServiceRow[]> {
    const portFilter = { port: filter.port, protocol: filter.protocol, state: filter.state };
    const rows = await this.#run((db) => {
      if (filter.scanId === undefined) {
        let query = db
          .selectFrom("services")
          .innerJoin("assets", "assets.id", "services.asset_id")
          .select([
            "assets.address",
            "assets.hostnames_json",
            "assets.os",
            "services.protocol",
            "services.port",
            "services.state",
            "services.reason",
            "services.detail_json",
            "services.first_seen",
            "services.last_seen",
            "services.last_scan_id",
          ])
          .where((eb) => portConditions(eb, "services", portFilter));
        if (filter.os !== undefined) query = query.where(osMatches(filter.os));
        if (filter.address !== undefined) query = query.where(assetAddressIs(filter.address));
        query = query
          .orderBy("assets.address_key")
          .orderBy("services.protocol")
          .orderBy("services.port");
        if (filter.limit !== undefined) query = query.limit(filter.limit);
        return query.execute();
      }
      // What that scan saw (state, reason, detail), placed in the inventory (first/last seen).
      let query = db
        .selectFrom("observations")
        .innerJoin("assets", "assets.id", "observations.asset_id")
        .innerJoin("services", (join) =>
          join
            .onRef("services.asset_id", "=", "observations.asset_id")
            .onRef("services.protocol", "=", "observations.protocol")
            .onRef("services.port", "=", "observations.port"),
        )
        .select([
          "assets.address",
          "assets.hostnames_json",
          "assets.os",
          "observations.protocol",
          "observations.port",
          "observations.state",
          "observations.reason",
          "observations.detail_json",
          "services.first_seen",
          "services.last_seen",
          "services.last_scan_id",
        ])
        .where("observations.scan_seq", "=", scanSeqOf(db, filter.scanId))
        .where((eb) => portConditions(eb, "observations", portFilter));
      if (filter.os !== undefined) query = query.where(osMatches(filter.os));
      if (filter.address !== undefined) query = query.where(assetAddressIs(filter.address));
      query = query
        .orderBy("assets.address_key")
        .orderBy("observations.protocol")
        .orderBy("observations.port");
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map((row): ServiceRow => ({
      address: row.address,
      hostnames: parseJson<string[]>(row.hostnames_json) ?? [],
      os: row.os,
      protocol: row.protocol,
      port: row.port,
      state: row.state,
      reason: row.reason,
      detail: parseJson<Record<string, unknown>>(row.detail_json),
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      lastScanId: row.last_scan_id,
    }));
  }

  async scanObservations(scanId: string): Promise<ObservationRow[]> {
    await this.requireScan(scanId);
    const rows = await this.#run((db) =>
      db
        .selectFrom("observations")
        .selectAll()
        .where("scan_seq", "=", scanSeqOf(db, scanId))
        .orderBy("address_key")
        .orderBy("protocol")
        .orderBy("port")
        .execute(),
    );
    return rows.map((row): ObservationRow => ({
      scanId: row.scan_id,
      address: row.address,
      protocol: row.protocol,
      port: row.port,
      state: row.state,
      reason: row.reason,
      rttMs: row.rtt_ms,
      observedAt: row.observed_at,
      detail: parseJson<Record<string, unknown>>(row.detail_json),
    }));
  }

  async observationCounts(scanId: string): Promise<Record<PortState, number>> {
    await this.requireScan(scanId);
    const rows = await this.#run((db) =>
      db
        .selectFrom("observations")
        .select(["state", (eb) => eb.fn.countAll<number>().as("count")])
        .where("scan_seq", "=", scanSeqOf(db, scanId))
        .groupBy("state")
        .execute(),
    );
    const counts: Record<PortState, number> = {
      open: 0,
      closed: 0,
      filtered: 0,
      "open|filtered": 0,
    };
    for (const row of rows) counts[row.state] = Number(row.count);
    return counts;
  }

  async recordCheckRuns(runs: readonly CheckRunInput[]): Promise<void> {
    // Everything that can be checked without the database is checked before the transaction.
    const prepared = runs.map(prepareCheckRun);
    if (prepared.length === 0) return;
    const now = new Date().toISOString();
    const byKey = new Map<string, AddressInBatch>();
    for (const run of prepared) {
      if (byKey.has(run.key)) continue;
      byKey.set(run.key, {
        key: run.key,
        address: run.row.address,
        probes: [],
        probeIndex: undefined,
        hostnames: undefined,
        answered: true,
      });
    }
    const entries = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : 1));

    const findings = findingsInBatch(prepared);

    await this.#write(async (trx) => {
      const scanIds = new Set(prepared.map((run) => run.row.scan_id));
      for (const scanId of scanIds) {
        if (scanId !== null) await requireScanSeq(trx, scanId, this.location);
      }
      const assets = await writeAssets(trx, this.#statements, entries, now);
      const assetIds = prepared.map((run) => assets.ids.get(run.key) as number);
      // Each finding names the id of its run, so the runs' ids must be known before the findings
      // are written. A multi-row INSERT ... RETURNING id does not say which id went to which row
      // (PostgreSQL does not document the order of RETURNING rows, nor that ids follow VALUES
      // order), and a check run has no column of its own that would tell them apart. So the ids
      // are reserved first, ascending in input order (listCheckRuns' recording order), and the
      // runs inserted with them: under the write lock nobody else takes them in between.
      const runIds = await this.#backend.reserveIds(trx, "check_runs", prepared.length);
      const runValues: unknown[] = [];
      prepared.forEach((run, index) => {
        const row = run.row;
        // CHECK_RUN_COLUMNS order.
        runValues.push(
          runIds[index],
          row.scan_id,
          assetIds[index],
          row.address,
          row.protocol,
          row.port,
          row.check_id,
          row.verdict,
          row.classification,
          row.reason_code,
          row.reason,
          row.evidence_json,
          row.started_at,
          row.finished_at,
        );
      });
      await this.#statements.insertCheckRuns.execute(trx, runValues, {});

      const findingValues: unknown[] = [];
      for (const finding of findings) {
        const run = prepared[finding.run] as PreparedCheckRun;
        // FINDING_COLUMNS order.
        findingValues.push(
          assetIds[finding.run],
          run.row.protocol,
          run.row.port,
          finding.advisory,
          run.row.check_id,
          run.findingVerdict,
          run.findingEvidenceJson,
          run.row.reason,
          finding.firstSeen,
          run.row.finished_at,
          run.status,
          runIds[finding.run],
        );
      }
      await this.#statements.upsertFindings.execute(trx, findingValues, {});
    });
  }

  async recordFingerprints(rows: readonly FingerprintInput[]): Promise<void> {
    const prepared = rows.map(prepareFingerprint);
    if (prepared.length === 0) return;
    const now = new Date().toISOString();
    const byKey = new Map<string, AddressInBatch>();
    for (const row of prepared) {
      if (byKey.has(row.key)) continue;
      byKey.set(row.key, {
        key: row.key,
        address: row.address,
        probes: [],
        probeIndex: undefined,
        hostnames: undefined,
        answered: true,
      });
    }
    const entries = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    await this.#write(async (trx) => {
      const assets = await writeAssets(trx, this.#statements, entries, now);
      for (const row of prepared) {
        const assetId = assets.ids.get(row.key) as number;
        const current = await trx
          .selectFrom("assets")
          .select("detail_json")
          .where("id", "=", assetId)
          .executeTakeFirstOrThrow();
        const detail = parseJson<Record<string, unknown>>(current.detail_json) ?? {};
        const merged = { ...detail, smb: row.detail };
        await trx
          .updateTable("assets")
          .set({ os: row.os, os_confidence: row.osConfidence, detail_json: JSON.stringify(merged) })
          .where("id", "=", assetId)
          .execute();
      }
    });
  }

  async listCheckRuns(filter: CheckRunFilter = {}): Promise<CheckRunRow[]> {
    const rows = await this.#run((db) => {
      let query = db.selectFrom("check_runs").selectAll();
      if (filter.scanId !== undefined) query = query.where("scan_id", "=", filter.scanId);
      if (filter.checkId !== undefined) query = query.where("check_id", "=", filter.checkId);
      if (filter.address !== undefined) {
        const address = filter.address;
        query = query.where("asset_id", "in", (eb) =>
          eb.selectFrom("assets").select("assets.id").where(assetKeyIs(address)),
        );
      }
      query = query.orderBy("id");
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map((row): CheckRunRow => ({
      id: row.id,
      scanId: row.scan_id,
      address: row.address,
      protocol: row.protocol,
      port: row.port,
      checkId: row.check_id,
      verdict: row.verdict as CheckVerdict,
      classification: row.classification,
      reasonCode: row.reason_code,
      reason: row.reason,
      evidence: JSON.parse(row.evidence_json) as unknown,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    }));
  }

  async listFindings(filter: FindingFilter = {}): Promise<FindingRecord[]> {
    const rows = await this.#run((db) => {
      let query = db
        .selectFrom("findings")
        .innerJoin("assets", "assets.id", "findings.asset_id")
        .selectAll("findings")
        .select("assets.address");
      if (filter.id !== undefined) query = query.where("findings.id", "=", filter.id);
      if (filter.address !== undefined) query = query.where(assetKeyIs(filter.address));
      if (filter.advisory !== undefined) {
        query = query.where("findings.advisory", "=", filter.advisory);
      }
      if (filter.verdict !== undefined) {
        query = query.where("findings.verdict", "=", findingVerdictOf(filter.verdict));
      }
      if (filter.status !== undefined) query = query.where("findings.status", "=", filter.status);
      query = query
        .orderBy("assets.address_key")
        .orderBy("findings.protocol")
        .orderBy("findings.port")
        .orderBy("findings.advisory")
        .orderBy("findings.check_id");
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map((row): FindingRecord => ({
      id: row.id,
      assetId: row.asset_id,
      address: row.address,
      protocol: row.protocol,
      port: row.port,
      advisory: row.advisory,
      checkId: row.check_id,
      verdict: row.verdict,
      ...findingEvidence(row.evidence_json),
      reason: row.reason,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      status: row.status === "open" ? "open" : "closed",
      lastRunId: row.last_run_id,
    }));
  }

  async recordAssessments(
    rows: readonly AssessmentInput[],
    options: { actor?: string } = {},
  ): Promise<void> {
    // Everything that can be checked without the database is checked before the transaction.
    const prepared = rows.map(prepareAssessment);
    if (prepared.length === 0) return;
    const createdAt = new Date().toISOString();
    await this.#write(async (trx) => {
      const wanted = [...new Set(prepared.map((row) => row.finding_id))];
      const found = new Set<number>();
      for (const part of chunks(wanted, 1)) {
        const existing = await trx
          .selectFrom("findings")
          .select("id")
          .where("id", "in", part)
          .execute();
        for (const row of existing) found.add(row.id);
      }
      const missing = wanted.filter((id) => !found.has(id));
      if (missing.length > 0) {
        throw new RingfenceError(
          "RINGFENCE_USAGE",
          `cannot record assessments: no finding ${missing.join(", ")} in ${this.location}`,
        );
      }
      const values = prepared.map((row) => ({ ...row, created_at: createdAt }));
      const ids: number[] = [];
      for (const part of chunks(values, ASSESSMENT_COLUMN_COUNT)) {
        const inserted = await trx.insertInto("assessments").values(part).returning("id").execute();
        ids.push(...inserted.map((row) => Number(row.id)));
      }
      // The audit trail (schema 5) records each assessment in the same transaction.
      await appendAuditEntriesIn(
        trx,
        values.map((row, i) => ({
          actor: options.actor ?? "ringfence",
          kind: "assessment",
          subject: `finding:${row.finding_id}`,
          evidenceRef: `assessment:${ids[i] ?? "?"}`,
          at: createdAt,
          payload: {
            asOf: row.as_of,
            advisory: row.advisory,
            zone: row.zone,
            rating: row.rating,
            outcome: row.outcome,
            protectBy: row.protect_by,
            fixBy: row.fix_by,
            verifyBy: row.verify_by,
            policy: { id: row.policy_id, version: row.policy_version, sha256: row.policy_sha256 },
            assessmentSha256: sha256Hex(row.assessment_json),
          },
        })),
      );
    });
  }

  async recordControls(
    controls: readonly Control[],
    options: { actor?: string } = {},
  ): Promise<void> {
    if (controls.length === 0) return;
    for (const control of controls) {
      if (control.id.length === 0)
        throw new RingfenceError("RINGFENCE_USAGE", "cannot record a control without an id");
    }
    const createdAt = new Date().toISOString();
    const values = controls.map((control) => ({
      control_id: control.id,
      created_at: createdAt,
      kind: control.kind,
      method: control.method,
      verified_at: control.verifiedAt ?? null,
      expires_at: control.expiresAt ?? null,
      control_json: canonicalJson(control),
    }));
    await this.#write(async (trx) => {
      for (const part of chunks(values, 7)) await trx.insertInto("controls").values(part).execute();
      // The audit trail (schema 5) records each control in the same transaction.
      await appendAuditEntriesIn(
        trx,
        controls.map((control) => ({
          actor: options.actor ?? "ringfence",
          kind: "control",
          subject: `control:${control.id}`,
          evidenceRef: `control:${control.id}`,
          at: createdAt,
          payload: control,
        })),
      );
    });
  }

  async listControls(filter: { validAt?: string } = {}): Promise<Control[]> {
    const rows = await this.#run((db) =>
      db
        .selectFrom("controls")
        .select(["control_json", "verified_at", "expires_at"])
        .where(
          "controls.id",
          "=",
          sql<number>`(select max(latest.id) from controls as latest where latest.control_id = controls.control_id)`,
        )
        .orderBy("control_id")
        .execute(),
    );
    const at = filter.validAt === undefined ? undefined : Date.parse(filter.validAt);
    return rows
      .filter(
        (row) =>
          at === undefined ||
          (row.verified_at !== null &&
            Date.parse(row.verified_at) <= at &&
            (row.expires_at === null || at < Date.parse(row.expires_at))),
      )
      .map((row) => JSON.parse(row.control_json) as Control);
  }

  async latestAssessments(filter: AssessmentFilter = {}): Promise<AssessmentRecord[]> {
    const rows = await this.#run((db) => {
      let query = assessmentQuery(db).where(
        "assessments.id",
        "=",
        sql<number>`(select max(latest.id) from assessments as latest where latest.finding_id = assessments.finding_id)`,
      );
      if (filter.address !== undefined) query = query.where(assetKeyIs(filter.address));
      if (filter.advisory !== undefined) {
        const advisory = filter.advisory.toLowerCase();
        query = query.where(
          sql<SqlBool>`(lower(${sql.ref("assessments.advisory")}) = ${advisory} or lower(${sql.ref("findings.advisory")}) = ${advisory})`,
        );
      }
      if (filter.rating !== undefined)
        query = query.where("assessments.rating", "=", filter.rating);
      if (filter.zone !== undefined) query = query.where("assessments.zone", "=", filter.zone);
      if (filter.status !== undefined) query = query.where("findings.status", "=", filter.status);
      if (filter.overdueAt !== undefined) {
        const t = filter.overdueAt;
        query = query.where((eb) =>
          eb.or([
            eb("assessments.protect_by", "<", t),
            eb("assessments.fix_by", "<", t),
            eb("assessments.verify_by", "<", t),
          ]),
        );
      }
      query = query
        .orderBy(
          sql`case ${sql.ref("assessments.rating")} when 'very-high' then 0 when 'high' then 1 when 'moderate' then 2 else 3 end`,
        )
        .orderBy(sql`${sql.ref("assessments.protect_by")} is null`)
        .orderBy("assessments.protect_by")
        .orderBy("assets.address_key")
        .orderBy("findings.protocol")
        .orderBy("findings.port")
        .orderBy("assessments.advisory")
        .orderBy("assessments.finding_id");
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map(toAssessmentRecord);
  }

  async assessmentOf(findingId: number): Promise<AssessmentRecord | undefined> {
    const row = await this.#run((db) =>
      assessmentQuery(db)
        .where("assessments.finding_id", "=", findingId)
        .orderBy("assessments.id", "desc")
        .limit(1)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : toAssessmentRecord(row);
  }

  async createApiToken(input: ApiTokenInput): Promise<ApiTokenRecord> {
    if (!API_ROLES.includes(input.role))
      throw new RingfenceError("RINGFENCE_USAGE", `unknown API role "${String(input.role)}"`);
    if (!/^[0-9a-f]{64}$/.test(input.tokenHash))
      throw new RingfenceError("RINGFENCE_USAGE", "an API token hash is 64 lower-case hex digits");
    const row = {
      name: input.name,
      role: input.role,
      token_hash: input.tokenHash,
      created_at: new Date().toISOString(),
      expires_at: input.expiresAt,
      revoked_at: null,
    };
    // Read and insert under the write lock: the name check and the insert are one decision.
    const id = await this.#write(async (trx) => {
      const taken = await trx
        .selectFrom("api_tokens")
        .select("id")
        .where("name", "=", input.name)
        .executeTakeFirst();
      if (taken !== undefined)
        throw new RingfenceError(
          "RINGFENCE_USAGE",
          `an API token named "${input.name}" already exists`,
          { hint: "token names are never reused (the audit trail names actors by them)" },
        );
      const inserted = await trx
        .insertInto("api_tokens")
        .values(row)
        .returning("id")
        .executeTakeFirstOrThrow();
      return Number(inserted.id);
    });
    return toApiTokenRecord({ ...row, id });
  }

  async listApiTokens(): Promise<ApiTokenRecord[]> {
    const rows = await this.#run((db) =>
      db.selectFrom("api_tokens").selectAll().orderBy("id").execute(),
    );
    return rows.map(toApiTokenRecord);
  }

  async apiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    const row = await this.#run((db) =>
      db
        .selectFrom("api_tokens")
        .selectAll()
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : toApiTokenRecord(row);
  }

  async revokeApiToken(name: string, at: string): Promise<ApiTokenRecord | undefined> {
    await this.#write((trx) =>
      trx
        .updateTable("api_tokens")
        .set({ revoked_at: at })
        .where("name", "=", name)
        .where("revoked_at", "is", null)
        .execute(),
    );
    const row = await this.#run((db) =>
      db.selectFrom("api_tokens").selectAll().where("name", "=", name).executeTakeFirst(),
    );
    return row === undefined ? undefined : toApiTokenRecord(row);
  }

  async appendAuditEntries(entries: readonly AuditEntryInput[]): Promise<AuditEntry[]> {
    return this.#write((trx) => appendAuditEntriesIn(trx, entries));
  }

  async listAuditEntries(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    return this.#run((db) => listAuditEntriesIn(db, filter));
  }

  async recordTransition(input: TransitionInput): Promise<TransitionRecord> {
    return this.#write((trx) => recordTransitionIn(trx, input, this.location));
  }

  async listTransitions(
    filter: { findingId?: number; since?: string } = {},
  ): Promise<TransitionRecord[]> {
    return this.#run((db) => listTransitionsIn(db, filter));
  }

  async findingStates(filter: FindingStateFilter = {}): Promise<FindingStateRow[]> {
    return this.#run((db) => findingStatesIn(db, filter, assetKeyIs));
  }

  async pinConnections(): Promise<void> {
    this.#assertOpen();
    try {
      await this.#backend.pinConnections?.();
    } catch (error) {
      throw this.#backend.translateError(error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#backend.close();
  }

  /** Single statements (each commits on its own) and read transactions. */
  async #run<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await fn(this.#backend.db);
    } catch (error) {
      throw this.#backend.translateError(error);
    }
  }

  async #write<T>(fn: (trx: Db) => Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await writeTransaction(this.#backend, fn);
    } catch (error) {
      throw this.#backend.translateError(error);
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new RingfenceError("RINGFENCE_DB_UNAVAILABLE", `${this.location} is closed`);
    }
  }
}

/**
 * The batch by address (keyed by the address's sort key, so that two spellings of one IPv6
 * address are one address), with one probe per (protocol, port): the last one wins, as it
 * would in a later batch (PostgreSQL also refuses an upsert that touches one row twice).
 */
function collectBatch(observations: readonly ProbeObservation[]): Map<string, AddressInBatch> {
  const byText = new Map<string, AddressInBatch>();
  const addresses = new Map<string, AddressInBatch>();
  for (const observation of observations) {
    let entry = byText.get(observation.address);
    if (entry === undefined) {
      const key = addressSortKey(observation.address);
      entry = addresses.get(key);
      if (entry === undefined) {
        entry = {
          key,
          address: observation.address,
          probes: [],
          probeIndex: undefined,
          hostnames: undefined,
          answered: false,
        };
        addresses.set(key, entry);
      }
      byText.set(observation.address, entry);
    }
    addProbe(entry, observation);
    if (observation.hostnames !== undefined && observation.hostnames.length > 0) {
      entry.hostnames ??= new Set();
      for (const name of observation.hostnames) entry.hostnames.add(name);
    }
  }
  for (const entry of addresses.values()) {
    for (const { state } of entry.probes) {
      if (state === "open" || state === "closed") entry.answered = true;
    }
  }
  return addresses;
}

/** Most addresses have one probe in a batch: the index map is only made for a second one. */
function addProbe(entry: AddressInBatch, observation: ProbeObservation): void {
  const { probes } = entry;
  if (probes.length === 0) {
    probes.push(observation);
    return;
  }
  if (entry.probeIndex === undefined) {
    entry.probeIndex = new Map();
    for (const [index, probe] of probes.entries()) {
      entry.probeIndex.set(probeId(probe.protocol, probe.port), index);
    }
  }
  const id = probeId(observation.protocol, observation.port);
  const index = entry.probeIndex.get(id);
  if (index === undefined) {
    entry.probeIndex.set(id, probes.length);
    probes.push(observation);
  } else {
    probes[index] = observation;
  }
}

function detailJson(observation: ProbeObservation): string | null {
  return observation.detail === undefined ? null : JSON.stringify(observation.detail);
}

function probeId(protocol: Protocol, port: number): number {
  return port * 2 + (protocol === "udp" ? 1 : 0);
}

/**
 * Creates assets for the addresses that answered for the first time, and merges new hostnames
 * into those that answered again (their last sighting is their services' latest answer, which
 * the batch's service rows record). Returns the asset id of every address in the batch that has
 * one, by address key, and the keys created now.
 */
async function writeAssets(
  trx: Db,
  statements: Statements,
  entries: readonly AddressInBatch[],
  now: string,
): Promise<{ ids: Map<string, number>; created: string[] }> {
  const ids = new Map<string, number>();
  const keys = entries.map((entry) => entry.key);
  for (const row of await statements.assetsByKey.execute(trx, keys, {})) {
    ids.set(row.address_key, row.id);
  }

  const named: AddressInBatch[] = [];
  const fresh: unknown[] = [];
  for (const entry of entries) {
    if (!entry.answered) continue;
    if (!ids.has(entry.key)) {
      // ASSET_COLUMNS order.
      fresh.push(
        entry.address,
        entry.key,
        addressFamily(entry.address),
        JSON.stringify(entry.hostnames === undefined ? [] : [...entry.hostnames].sort()),
        now,
      );
    } else if (entry.hostnames !== undefined) {
      named.push(entry);
    }
  }
  if (named.length > 0) await mergeHostnames(trx, named, ids);

  const created: string[] = [];
  for (const row of await statements.insertAssets.execute(trx, fresh, {})) {
    ids.set(row.address_key, row.id);
    created.push(row.address_key);
  }
  return { ids, created };
}

/** Known assets that answered under names: merge the names in (rare, so row by row). */
async function mergeHostnames(
  trx: Db,
  entries: readonly AddressInBatch[],
  ids: ReadonlyMap<string, number>,
): Promise<void> {
  const knownNames = new Map<number, string>();
  for (const part of chunks(
    entries.map((entry) => ids.get(entry.key) as number),
    1,
  )) {
    const rows = await trx
      .selectFrom("assets")
      .select(["id", "hostnames_json"])
      .where("id", "in", part)
      .execute();
    for (const row of rows) knownNames.set(row.id, row.hostnames_json);
  }
  for (const entry of entries) {
    const id = ids.get(entry.key) as number;
    const before = knownNames.get(id) ?? "[]";
    const names = new Set([...(parseJson<string[]>(before) ?? []), ...(entry.hostnames ?? [])]);
    const after = JSON.stringify([...names].sort());
    if (after === before) continue;
    await trx.updateTable("assets").set({ hostnames_json: after }).where("id", "=", id).execute();
  }
}

/**
 * A host's first answer can come after this scan already recorded it as filtered on other
 * ports (port-major probe order). Attach those observations to the new asset and give them
 * service rows, so the inventory does not depend on the order the probes ran in. Runs before
 * the batch's own rows are written, so it only finds earlier ones; the batch's services are
 * upserted afterwards and win.
 */
async function adoptEarlierObservations(
  trx: Db,
  statements: Statements,
  scanSeq: number,
  scanId: string,
  keys: readonly string[],
): Promise<void> {
  const adopted = await statements.adoptObservations.execute(trx, keys, { scan_seq: scanSeq });
  const services: unknown[] = [];
  for (const row of adopted) {
    if (row.asset_id === null) continue;
    services.push(
      row.asset_id,
      row.protocol,
      row.port,
      row.state,
      row.reason,
      row.observed_at,
      row.observed_at,
      // Only unanswered probes wait for adoption; this is for form's sake.
      row.state === "open" || row.state === "closed" ? row.observed_at : null,
      scanId,
      row.detail_json,
    );
  }
  await statements.insertAdoptedServices.execute(trx, services, {});
}

/** Rows per multi-row statement: see BatchStatement. */
const CHUNK = 256;

/** An observation row as the batch writer sends it; every column is a parameter. */
type ObservationValues = Omit<ObservationsTable, "id">;
type ServiceValues = Omit<ServicesTable, "id">;
type AssetValues = Pick<
  AssetsTable,
  "address" | "address_key" | "family" | "hostnames_json" | "first_seen"
>;

const OBSERVATION_COLUMNS = [
  "scan_seq",
  "scan_id",
  "asset_id",
  "address",
  "address_key",
  "protocol",
  "port",
  "state",
  "reason",
  "rtt_ms",
  "observed_at",
  "detail_json",
] as const satisfies readonly (keyof ObservationValues)[];
const SERVICE_COLUMNS = [
  "asset_id",
  "protocol",
  "port",
  "state",
  "reason",
  "first_seen",
  "last_seen",
  "last_answered",
  "last_scan_id",
  "detail_json",
] as const satisfies readonly (keyof ServiceValues)[];
const ASSET_COLUMNS = [
  "address",
  "address_key",
  "family",
  "hostnames_json",
  "first_seen",
] as const satisfies readonly (keyof AssetValues)[];

/**
 * A check run as recordCheckRuns inserts it: with the id it reserved (see reserveIds). A CHUNK of
 * check runs or findings binds 256 x 14 or 256 x 12 parameters, well under MAX_PARAMETERS.
 */
type CheckRunValues = Omit<CheckRunsTable, "id"> & { id: number };
type FindingValues = Omit<FindingsTable, "id">;

const CHECK_RUN_COLUMNS = [
  "id",
  "scan_id",
  "asset_id",
  "address",
  "protocol",
  "port",
  "check_id",
  "verdict",
  "classification",
  "reason_code",
  "reason",
  "evidence_json",
  "started_at",
  "finished_at",
] as const satisfies readonly (keyof CheckRunValues)[];
const FINDING_COLUMNS = [
  "asset_id",
  "protocol",
  "port",
  "advisory",
  "check_id",
  "verdict",
  "evidence_json",
  "reason",
  "first_seen",
  "last_seen",
  "status",
  "last_run_id",
] as const satisfies readonly (keyof FindingValues)[];

/** Rows as the columns list orders them, so that kysely's parameters are the flat values in order. */
function inColumnOrder<Row extends object>(columns: readonly (keyof Row)[], rows: Row[]): Row[] {
  return rows.map(
    (row) => Object.fromEntries(columns.map((column) => [column, row[column]])) as Row,
  );
}

type Statements = ReturnType<typeof batchStatements>;

/** The batch writer's statements, compiled once per store (see BatchStatement). */
function batchStatements() {
  return {
    assetsByKey: new BatchStatement({
      chunk: CHUNK,
      columns: ["key"],
      args: [],
      build: (db, rows: { key: string }[]) =>
        db
          .selectFrom("assets")
          .select(["id", "address_key"])
          .where(
            "address_key",
            "in",
            rows.map((row) => row.key),
          ),
    }),
    insertAssets: new BatchStatement({
      chunk: CHUNK,
      columns: ASSET_COLUMNS,
      args: [],
      build: (db, rows: AssetValues[]) =>
        db
          .insertInto("assets")
          .values(inColumnOrder(ASSET_COLUMNS, rows))
          .returning(["id", "address_key"]),
    }),
    adoptObservations: new BatchStatement({
      chunk: CHUNK,
      columns: ["key"],
      args: ["scan_seq"],
      build: (db, rows: { key: string }[], args: { scan_seq: number }) =>
        db
          .updateTable("observations")
          .set((eb) => ({
            asset_id: eb
              .selectFrom("assets")
              .select("assets.id")
              .whereRef("assets.address_key", "=", "observations.address_key"),
          }))
          .where("observations.scan_seq", "=", args.scan_seq)
          .where(
            "observations.address_key",
            "in",
            rows.map((row) => row.key),
          )
          .where("observations.asset_id", "is", null)
          .returning([
            "asset_id",
            "protocol",
            "port",
            "state",
            "reason",
            "observed_at",
            "detail_json",
          ]),
    }),
    insertAdoptedServices: new BatchStatement({
      chunk: CHUNK,
      columns: SERVICE_COLUMNS,
      args: [],
      build: (db, rows: ServiceValues[]) =>
        db
          .insertInto("services")
          .values(inColumnOrder(SERVICE_COLUMNS, rows))
          .onConflict((oc) => oc.columns(["asset_id", "protocol", "port"]).doNothing()),
    }),
    upsertObservations: new BatchStatement({
      chunk: CHUNK,
      columns: OBSERVATION_COLUMNS,
      args: [],
      build: (db, rows: ObservationValues[]) =>
        db
          .insertInto("observations")
          .values(inColumnOrder(OBSERVATION_COLUMNS, rows))
          .onConflict((oc) =>
            oc.columns(["scan_seq", "address_key", "protocol", "port"]).doUpdateSet((eb) => ({
              asset_id: eb.fn.coalesce("excluded.asset_id", "observations.asset_id"),
              address: eb.ref("excluded.address"),
              state: eb.ref("excluded.state"),
              reason: eb.ref("excluded.reason"),
              rtt_ms: eb.ref("excluded.rtt_ms"),
              observed_at: eb.ref("excluded.observed_at"),
              detail_json: eb.ref("excluded.detail_json"),
            })),
          ),
    }),
    insertCheckRuns: new BatchStatement({
      chunk: CHUNK,
      columns: CHECK_RUN_COLUMNS,
      args: [],
      build: (db, rows: CheckRunValues[]) =>
        db.insertInto("check_runs").values(inColumnOrder(CHECK_RUN_COLUMNS, rows)),
    }),
    // One row per finding: a multi-row upsert must not touch a row twice (PostgreSQL refuses
    // it), so findingsInBatch leaves one row per key.
    upsertFindings: new BatchStatement({
      chunk: CHUNK,
      columns: FINDING_COLUMNS,
      args: [],
      build: (db, rows: FindingValues[]) =>
        db
          .insertInto("findings")
          .values(inColumnOrder(FINDING_COLUMNS, rows))
          .onConflict((oc) =>
            oc
              .columns(["asset_id", "protocol", "port", "advisory", "check_id"])
              .doUpdateSet((eb) => ({
                verdict: eb.ref("excluded.verdict"),
                evidence_json: eb.ref("excluded.evidence_json"),
                reason: eb.ref("excluded.reason"),
                last_seen: eb.ref("excluded.last_seen"),
                status: eb.ref("excluded.status"),
                last_run_id: eb.ref("excluded.last_run_id"),
              }))
              // A run recorded late (it finished before the finding's latest run) is kept in
              // check_runs but does not roll the finding back to its older verdict.
              .whereRef("findings.last_seen", "<=", "excluded.last_seen"),
          ),
    }),
    upsertServices: new BatchStatement({
      chunk: CHUNK,
      columns: SERVICE_COLUMNS,
      args: [],
      build: (db, rows: ServiceValues[]) =>
        db
          .insertInto("services")
          .values(inColumnOrder(SERVICE_COLUMNS, rows))
          .onConflict((oc) =>
            oc.columns(["asset_id", "protocol", "port"]).doUpdateSet((eb) => ({
              state: eb.ref("excluded.state"),
              reason: eb.ref("excluded.reason"),
              last_seen: eb.ref("excluded.last_seen"),
              last_answered: eb.fn.coalesce("excluded.last_answered", "services.last_answered"),
              last_scan_id: eb.ref("excluded.last_scan_id"),
              // A later probe without detail (closed now) does not erase what an earlier one learnt.
              detail_json: eb.fn.coalesce("excluded.detail_json", "services.detail_json"),
            })),
          ),
    }),
  };
}

async function requireScanSeq(trx: Db, scanId: string, location: string): Promise<number> {
  const row = await trx
    .selectFrom("scans")
    .select("seq")
    .where("id", "=", scanId)
    .executeTakeFirst();
  if (row === undefined) throw scanNotFound(scanId, location);
  return row.seq;
}

/** The scan's seq, for the observations' index (evaluated once, before the scan). */
function scanSeqOf(db: Db, scanId: string) {
  return db.selectFrom("scans").select("scans.seq").where("scans.id", "=", scanId);
}

function portConditions(
  // Only eb.and is needed; the columns are referenced by name so that one helper serves both tables.
  eb: { and(conditions: Expression<SqlBool>[]): Expression<SqlBool> },
  table: "services" | "observations",
  filter: {
    port: number | undefined;
    protocol: Protocol | undefined;
    state: PortState | undefined;
  },
): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  const column = (name: string) => sql.ref(`${table}.${name}`);
  if (filter.port !== undefined) conditions.push(sql<SqlBool>`${column("port")} = ${filter.port}`);
  if (filter.protocol !== undefined) {
    conditions.push(sql<SqlBool>`${column("protocol")} = ${filter.protocol}`);
  }
  if (filter.state !== undefined) {
    conditions.push(sql<SqlBool>`${column("state")} = ${filter.state}`);
  }
  return eb.and(conditions);
}

/** A check run, validated and in the shapes the transaction writes. */
interface PreparedCheckRun {
  key: string;
  row: Omit<CheckRunsTable, "id" | "asset_id">;
  advisories: string[];
  findingVerdict: FindingVerdict;
  findingEvidenceJson: string;
  status: "open" | "closed";
}

/** A finding that one recordCheckRuns call writes. */
interface FindingInBatch {
  advisory: string;
  /** Index of the run whose verdict the finding ends with. */
  run: number;
  /** finished_at of the batch's first run of it: first_seen if the finding is new. */
  firstSeen: string;
}

/**
 * The findings of a batch of runs, one per (address, protocol, port, advisory, check id) in the
 * order they first appear, each as upserting the runs one by one in input order would leave it.
 * Each upsert applies when the finding's last_seen <= the run's finished_at, so the finding ends
 * with the run that finished last, on a tie the later one in input order (every other run is
 * either older than it, or applied before it and overwritten), unless the stored finding is newer
 * than all of them, which the upsert's condition still decides. A new finding is inserted by the
 * first run and keeps that run's finished_at as first_seen. Timestamps are compared as the text
 * they are stored as (ISO 8601 UTC), as the upsert compares them.
 */
function findingsInBatch(runs: readonly PreparedCheckRun[]): FindingInBatch[] {
  const byKey = new Map<string, FindingInBatch>();
  runs.forEach((run, index) => {
    const { protocol, port, check_id: checkId, finished_at: finishedAt } = run.row;
    for (const advisory of run.advisories) {
      const key = JSON.stringify([run.key, protocol, port, advisory, checkId]);
      const seen = byKey.get(key);
      if (seen === undefined) {
        byKey.set(key, { advisory, run: index, firstSeen: finishedAt });
      } else if (finishedAt >= (runs[seen.run] as PreparedCheckRun).row.finished_at) {
        seen.run = index;
      }
    }
  });
  return [...byKey.values()];
}

/** Validates one CheckRunInput (index for the message); RINGFENCE_USAGE says what is wrong. */
/** Validates one FingerprintInput before any write (RINGFENCE_USAGE says what is wrong). */
function prepareFingerprint(
  row: FingerprintInput,
  index: number,
): {
  key: string;
  address: string;
  os: string | null;
  osConfidence: number | null;
  detail: unknown;
} {
  const loose = row as unknown as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `cannot record fingerprint ${index + 1} (${String(loose.address)}): ${what}`,
    );
  };
  if (typeof loose.address !== "string" || isIP(loose.address) === 0) {
    bad("address is not an IP address");
  }
  if (loose.os !== null && (typeof loose.os !== "string" || loose.os === "")) {
    bad("os must be a non-empty string or null");
  }
  const confidence = loose.osConfidence;
  if (
    confidence !== null &&
    (typeof confidence !== "number" ||
      !Number.isFinite(confidence) ||
      confidence < 0 ||
      confidence > 100)
  ) {
    bad("osConfidence must be a number from 0 to 100, or null");
  }
  if (typeof loose.detail !== "object" || loose.detail === null || Array.isArray(loose.detail)) {
    bad("detail must be an object");
  }
  let detail: unknown;
  try {
    // Round-trips through JSON: what is stored is exactly what a reader will get back.
    detail = JSON.parse(JSON.stringify(loose.detail)) as unknown;
  } catch (error) {
    bad(`detail is not JSON-serialisable: ${(error as Error).message}`);
  }
  return {
    key: addressSortKey(row.address),
    address: row.address,
    os: row.os,
    osConfidence: confidence === null ? null : Math.round(confidence as number),
    detail,
  };
}

function prepareCheckRun(run: CheckRunInput, index: number): PreparedCheckRun {
  // Callers may be plain JavaScript or parsed JSON: nothing below trusts the static types.
  const loose = run as unknown as Record<string, unknown>;
  const label = `check run ${index + 1} (${String(loose.checkId)} on ${String(loose.address)})`;
  const bad = (what: string): never => {
    throw new RingfenceError("RINGFENCE_USAGE", `cannot record ${label}: ${what}`);
  };
  const text = (name: string, value: unknown): string =>
    typeof value === "string" && value !== "" ? value : bad(`${name} must be a non-empty string`);
  const instant = (name: string, value: unknown): string => {
    const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
    return Number.isFinite(ms)
      ? new Date(ms).toISOString()
      : bad(`${name} ${JSON.stringify(value)} is not an ISO 8601 instant`);
  };

  if (!(CHECK_VERDICTS as readonly unknown[]).includes(loose.verdict)) {
    bad(`verdict ${JSON.stringify(loose.verdict)} is not one of ${CHECK_VERDICTS.join(", ")}`);
  }
  const verdict = run.verdict;
  const scanId = loose.scanId === null ? null : text("scanId", loose.scanId);
  const address = text("address", loose.address);
  if (isIP(address) === 0) bad(`address ${JSON.stringify(address)} is not an IP address`);
  if (loose.protocol !== "tcp" && loose.protocol !== "udp") {
    bad(`protocol ${JSON.stringify(loose.protocol)} is not tcp or udp`);
  }
  if (!Number.isInteger(loose.port) || run.port < 0 || run.port > 65535) {
    bad(`port ${JSON.stringify(loose.port)} is not a port number`);
  }
  const checkId = text("checkId", loose.checkId);
  if (!Array.isArray(loose.advisories)) bad("advisories must be an array of advisory ids");
  const advisories = [
    ...new Set((loose.advisories as unknown[]).map((value) => text("each advisory", value))),
  ];
  if (loose.classification !== null && typeof loose.classification !== "string") {
    bad("classification must be a string or null");
  }
  const reasonCode = text("reasonCode", loose.reasonCode);
  if (typeof loose.reason !== "string") bad("reason must be a string");
  const startedAt = instant("startedAt", loose.startedAt);
  const finishedAt = instant("finishedAt", loose.finishedAt);
  if (finishedAt < startedAt) bad(`finishedAt ${finishedAt} is before startedAt ${startedAt}`);
  const evidence = run.evidence === undefined ? null : run.evidence;
  let evidenceJson: string;
  try {
    evidenceJson = JSON.stringify(evidence) ?? "null";
  } catch (error) {
    return bad(`evidence is not JSON-serialisable (${(error as Error).message})`);
  }

  return {
    key: addressSortKey(address),
    row: {
      scan_id: scanId,
      address,
      protocol: run.protocol,
      port: run.port,
      check_id: checkId,
      verdict,
      classification: run.classification,
      reason_code: reasonCode,
      reason: run.reason,
      evidence_json: evidenceJson,
      started_at: startedAt,
      finished_at: finishedAt,
    },
    advisories,
    findingVerdict: findingVerdictOf(verdict) as FindingVerdict,
    findingEvidenceJson: JSON.stringify({
      classification: run.classification,
      reasonCode,
      evidence,
    }),
    status: verdict === "VULNERABLE" || verdict === "UNKNOWN" ? "open" : "closed",
  };
}

/** "NOT_VULNERABLE" (a check's word) or "not-vulnerable" (the findings table's) as the latter. */
function findingVerdictOf(verdict: string): string {
  return verdict.toLowerCase().replaceAll("_", "-");
}

/** evidence_json as recordCheckRuns writes it, spread; anything else is the evidence itself. */
function findingEvidence(
  text: string | null,
): Pick<FindingRecord, "classification" | "reasonCode" | "evidence"> {
  const parsed = parseJson<unknown>(text);
  if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
    const fields = parsed as Record<string, unknown>;
    if (typeof fields.reasonCode === "string" && "evidence" in fields) {
      return {
        classification: typeof fields.classification === "string" ? fields.classification : null,
        reasonCode: fields.reasonCode,
        evidence: fields.evidence,
      };
    }
  }
  return { classification: null, reasonCode: null, evidence: parsed };
}

/** Columns per assessments row as recordAssessments inserts it (for the parameter limit). */
const ASSESSMENT_COLUMN_COUNT = 16;

type AssessmentValues = Omit<AssessmentsTable, "id" | "created_at">;

/** Validates one AssessmentInput (index for the message); RINGFENCE_USAGE says what is wrong. */
function prepareAssessment(input: AssessmentInput, index: number): AssessmentValues {
  // Callers may be plain JavaScript or parsed JSON: nothing below trusts the static types.
  const loose = input as unknown as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `cannot record assessment ${index + 1} (finding ${String(loose.findingId)}): ${what}`,
    );
  };
  const text = (name: string, value: unknown): string =>
    typeof value === "string" && value !== "" ? value : bad(`${name} must be a non-empty string`);
  const instant = (name: string, value: unknown): string =>
    typeof value === "string" && Number.isFinite(Date.parse(value))
      ? value
      : bad(`${name} ${JSON.stringify(value)} is not an ISO 8601 instant`);
  const optionalInstant = (name: string, value: unknown): string | null =>
    value === null || value === undefined ? null : instant(name, value);
  const json = (name: string, value: unknown): string => {
    const body = text(name, value);
    try {
      JSON.parse(body);
    } catch {
      bad(`${name} is not JSON`);
    }
    return body;
  };

  if (!Number.isInteger(loose.findingId) || (loose.findingId as number) < 1) {
    bad("findingId must be a finding's id (a positive integer)");
  }
  if (!(ASSESSMENT_RATINGS as readonly unknown[]).includes(loose.rating)) {
    bad(`rating ${JSON.stringify(loose.rating)} is not one of ${ASSESSMENT_RATINGS.join(", ")}`);
  }
  if (loose.outcome !== null && loose.outcome !== undefined) text("outcome", loose.outcome);
  if (!Array.isArray(loose.overdue) || !loose.overdue.every((v) => typeof v === "string")) {
    bad("overdue must be an array of clock names");
  }
  return {
    finding_id: input.findingId,
    as_of: instant("asOf", loose.asOf),
    policy_id: text("policyId", loose.policyId),
    policy_version: text("policyVersion", loose.policyVersion),
    policy_sha256: text("policySha256", loose.policySha256),
    advisory: text("advisory", loose.advisory),
    zone: text("zone", loose.zone),
    rating: input.rating,
    outcome: (loose.outcome as string | null | undefined) ?? null,
    protect_by: optionalInstant("protectBy", loose.protectBy),
    fix_by: optionalInstant("fixBy", loose.fixBy),
    verify_by: optionalInstant("verifyBy", loose.verifyBy),
    overdue_json: JSON.stringify(input.overdue),
    assessment_json: json("assessmentJson", loose.assessmentJson),
    inputs_json:
      loose.inputsJson === null || loose.inputsJson === undefined
        ? null
        : json("inputsJson", loose.inputsJson),
  };
}

/** Assessments with their finding and its asset's address: what both readers select. */
function assessmentQuery(db: Db) {
  return db
    .selectFrom("assessments")
    .innerJoin("findings", "findings.id", "assessments.finding_id")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .selectAll("assessments")
    .select([
      "assets.address",
      "findings.asset_id",
      "findings.protocol",
      "findings.port",
      "findings.advisory as finding_advisory",
      "findings.check_id",
      "findings.verdict",
      "findings.status",
      "findings.first_seen",
      "findings.last_seen",
    ]);
}

function toAssessmentRecord(
  row: Selectable<AssessmentsTable> & {
    address: string;
    asset_id: number;
    protocol: Protocol;
    port: number;
    finding_advisory: string;
    check_id: string;
    verdict: string;
    status: string;
    first_seen: string;
    last_seen: string;
  },
): AssessmentRecord {
  return {
    id: row.id,
    findingId: row.finding_id,
    asOf: row.as_of,
    createdAt: row.created_at,
    policyId: row.policy_id,
    policyVersion: row.policy_version,
    policySha256: row.policy_sha256,
    advisory: row.advisory,
    zone: row.zone,
    rating: row.rating as AssessmentRating,
    outcome: row.outcome,
    protectBy: row.protect_by,
    fixBy: row.fix_by,
    verifyBy: row.verify_by,
    overdue: parseJson<string[]>(row.overdue_json) ?? [],
    assessmentJson: row.assessment_json,
    inputsJson: row.inputs_json,
    assetId: row.asset_id,
    address: row.address,
    protocol: row.protocol,
    port: row.port,
    findingAdvisory: row.finding_advisory,
    checkId: row.check_id,
    verdict: row.verdict,
    status: row.status === "open" ? "open" : "closed",
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
  };
}

/** The asset of this address, however it is spelt (its key); a name that is no IP matches exactly. */
function assetKeyIs(address: string) {
  if (isIP(address) === 0) return sql<SqlBool>`${sql.ref("assets.address")} = ${address}`;
  return sql<SqlBool>`${sql.ref("assets.address_key")} = ${addressSortKey(address)}`;
}

/** Exactly this address, found through the address key's index when it is an IP address. */
function assetAddressIs(address: string) {
  const exact = sql<SqlBool>`${sql.ref("assets.address")} = ${address}`;
  if (isIP(address) === 0) return exact;
  return sql<SqlBool>`${sql.ref("assets.address_key")} = ${addressSortKey(address)} and ${exact}`;
}

/** Case-insensitive substring, with LIKE's wildcards in the user's text taken literally. */
function osMatches(os: string) {
  const pattern = `%${os.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<SqlBool>`lower(${sql.ref("assets.os")}) like ${pattern} escape '\\'`;
}

/**
 * A read transaction that sees one snapshot for all its statements while a scan writes. SQLite's
 * (WAL) does anyway and ignores the level; PostgreSQL's default READ COMMITTED would take a new
 * snapshot per statement (PostgreSQL 15 manual §13.2.2), e.g. ports of assets it did not list.
 */
function readTransaction(db: Db) {
  return db.transaction().setIsolationLevel("repeatable read");
}

/** Groups of rows whose parameters (columns per row) stay under MAX_PARAMETERS. */
function chunks<T>(items: readonly T[], columnsPerRow: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / columnsPerRow));
  const groups: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    groups.push(items.slice(start, start + size));
  }
  return groups;
}

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toScanRecord(row: Omit<Selectable<ScansTable>, "seq">): ScanRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    status: row.status,
    command: row.command,
    params: JSON.parse(row.params_json) as unknown,
    paramsHash: row.params_hash,
    totalProbes: row.total_probes,
    checkpointStep: row.checkpoint_step,
    probesDone: row.probes_done,
    counts: parseJson<Record<string, number>>(row.counts_json) ?? {},
    error: row.error,
  };
}

function toApiTokenRecord(row: Selectable<ApiTokensTable>): ApiTokenRecord {
  return {
    id: Number(row.id),
    name: row.name,
    role: row.role as ApiRole,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

function scanNotFound(id: string, location: string): RingfenceError {
  return new RingfenceError("RINGFENCE_SCAN_NOT_FOUND", `no scan ${id} in ${location}`, {
    hint: "Run `ringfence scans` to list the scans it holds.",
  });
}

let lastIdMs = 0;

/**
 * "s-" + 9 base-36 digits of milliseconds + 4 random ones: short enough to type, sorts by
 * creation time, and two scans started in the same millisecond by one process still sort in
 * creation order (the clock is nudged forward by one).
 */
function newScanId(): string {
  const now = Date.now();
  lastIdMs = now > lastIdMs ? now : lastIdMs + 1;
  const random = randomInt(36 ** 4)
    .toString(36)
    .padStart(4, "0");
  return `s-${lastIdMs.toString(36).padStart(9, "0")}${random}`;
}
