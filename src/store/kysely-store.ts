import { randomInt } from "node:crypto";
import { sql, type Expression, type Kysely, type SqlBool } from "kysely";
import { RingfenceError } from "../errors.js";
import type { PortState, ProbeObservation, Protocol } from "../scan/observation.js";
import { addressFamily, addressSortKey } from "./address-key.js";
import { canonicalJson, sha256Hex } from "./canonical-json.js";
import type { ObservationsTable, ScansTable, StoreDatabase } from "./schema.js";
import type {
  Checkpoint,
  HostFilter,
  HostRow,
  ObservationRow,
  ScanRecord,
  ServiceFilter,
  ServiceRow,
  Store,
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

interface AddressInBatch {
  key: string;
  family: "ipv4" | "ipv6";
  hostnames: Set<string>;
  /** Open or closed on some port: the host is up, so it becomes (or stays) an asset. */
  answered: boolean;
}

class KyselyStore implements Store {
  readonly #backend: StoreBackend;
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
    const row: ScansTable = {
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
    // The last observation of a probe wins, as it would in a later batch; PostgreSQL also
    // refuses an upsert that touches the same row twice in one statement.
    const probes = new Map<string, ProbeObservation>();
    for (const observation of observations) {
      probes.set(`${observation.address} ${observation.protocol} ${observation.port}`, observation);
    }
    const addresses = new Map<string, AddressInBatch>();
    for (const observation of probes.values()) {
      let entry = addresses.get(observation.address);
      if (entry === undefined) {
        entry = {
          key: addressSortKey(observation.address),
          family: addressFamily(observation.address),
          hostnames: new Set(),
          answered: false,
        };
        addresses.set(observation.address, entry);
      }
      for (const name of observation.hostnames ?? []) entry.hostnames.add(name);
      if (observation.state === "open" || observation.state === "closed") entry.answered = true;
    }

    await this.#write(async (trx) => {
      await requireScanRow(trx, scanId, this.location);
      const assetIds = await upsertAssets(trx, addresses, now);

      const observationRows = [...probes.values()].map((o): Omit<ObservationsTable, "id"> => ({
        scan_id: scanId,
        asset_id: assetIds.ids.get(o.address) ?? null,
        address: o.address,
        address_key: (addresses.get(o.address) as AddressInBatch).key,
        protocol: o.protocol,
        port: o.port,
        state: o.state,
        reason: o.reason,
        rtt_ms: o.rttMs,
        observed_at: now,
        detail_json: o.detail === undefined ? null : JSON.stringify(o.detail),
      }));
      for (const rows of chunks(observationRows, 11)) {
        await trx
          .insertInto("observations")
          .values(rows)
          .onConflict((oc) =>
            oc.columns(["scan_id", "address", "protocol", "port"]).doUpdateSet((eb) => ({
              asset_id: eb.fn.coalesce("excluded.asset_id", "observations.asset_id"),
              state: eb.ref("excluded.state"),
              reason: eb.ref("excluded.reason"),
              rtt_ms: eb.ref("excluded.rtt_ms"),
              observed_at: eb.ref("excluded.observed_at"),
              detail_json: eb.ref("excluded.detail_json"),
            })),
          )
          .execute();
      }

      if (assetIds.created.length > 0) {
        await adoptEarlierObservations(trx, scanId, assetIds.created);
      }

      const serviceRows = observationRows.flatMap((row) =>
        row.asset_id === null
          ? []
          : [
              {
                asset_id: row.asset_id,
                protocol: row.protocol,
                port: row.port,
                state: row.state,
                reason: row.reason,
                first_seen: now,
                last_seen: now,
                last_scan_id: scanId,
                detail_json: row.detail_json,
              },
            ],
      );
      for (const rows of chunks(serviceRows, 9)) {
        await trx
          .insertInto("services")
          .values(rows)
          .onConflict((oc) =>
            oc.columns(["asset_id", "protocol", "port"]).doUpdateSet((eb) => ({
              state: eb.ref("excluded.state"),
              reason: eb.ref("excluded.reason"),
              last_seen: eb.ref("excluded.last_seen"),
              last_scan_id: eb.ref("excluded.last_scan_id"),
              // A later probe without detail (closed now) does not erase what an earlier one learnt.
              detail_json: eb.fn.coalesce("excluded.detail_json", "services.detail_json"),
            })),
          )
          .execute();
      }

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
      db.transaction().execute(async (trx) => {
        let query = trx.selectFrom("assets").selectAll("assets");
        if (filter.scanId !== undefined) {
          const scanId = filter.scanId;
          query = query.where("assets.id", "in", (eb) =>
            eb
              .selectFrom("observations")
              .select("observations.asset_id")
              .where("observations.scan_id", "=", scanId)
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
                  .where("scan_id", "=", filter.scanId)
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
          lastSeen: asset.last_seen,
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
        if (filter.address !== undefined)
          query = query.where("assets.address", "=", filter.address);
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
        .where("observations.scan_id", "=", filter.scanId)
        .where((eb) => portConditions(eb, "observations", portFilter));
      if (filter.os !== undefined) query = query.where(osMatches(filter.os));
      if (filter.address !== undefined) query = query.where("assets.address", "=", filter.address);
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
        .where("scan_id", "=", scanId)
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
 * Creates assets for the addresses that answered and refreshes their last_seen and hostnames;
 * returns the asset id of every address in the batch that has one, and the ids created now.
 */
async function upsertAssets(
  trx: Db,
  addresses: ReadonlyMap<string, AddressInBatch>,
  now: string,
): Promise<{ ids: Map<string, number>; created: { id: number; address: string }[] }> {
  const ids = new Map<string, number>();
  const knownHostnames = new Map<string, string[]>();
  for (const part of chunks([...addresses.keys()], 1)) {
    const rows = await trx
      .selectFrom("assets")
      .select(["id", "address", "hostnames_json"])
      .where("address", "in", part)
      .execute();
    for (const row of rows) {
      ids.set(row.address, row.id);
      knownHostnames.set(row.address, parseJson<string[]>(row.hostnames_json) ?? []);
    }
  }

  const rows = [];
  for (const [address, entry] of addresses) {
    if (!entry.answered) continue;
    const hostnames = new Set([...(knownHostnames.get(address) ?? []), ...entry.hostnames]);
    rows.push({
      address,
      address_key: entry.key,
      family: entry.family,
      hostnames_json: JSON.stringify([...hostnames].sort()),
      first_seen: now,
      last_seen: now,
      os: null,
      os_confidence: null,
      detail_json: null,
    });
  }
  const created: { id: number; address: string }[] = [];
  for (const part of chunks(rows, 9)) {
    const upserted = await trx
      .insertInto("assets")
      .values(part)
      .onConflict((oc) =>
        oc.column("address").doUpdateSet((eb) => ({
          last_seen: eb.ref("excluded.last_seen"),
          hostnames_json: eb.ref("excluded.hostnames_json"),
        })),
      )
      .returning(["id", "address"])
      .execute();
    for (const row of upserted) {
      if (!ids.has(row.address)) created.push(row);
      ids.set(row.address, row.id);
    }
  }
  return { ids, created };
}

/**
 * A host's first answer can come after this scan already recorded it as filtered on other
 * ports (port-major probe order). Attach those observations to the new asset and give them
 * service rows, so the inventory does not depend on the order the probes ran in. The current
 * batch's services are upserted afterwards and win.
 */
async function adoptEarlierObservations(
  trx: Db,
  scanId: string,
  assets: readonly { id: number; address: string }[],
): Promise<void> {
  for (const part of chunks(assets, 1)) {
    await trx
      .updateTable("observations")
      .set((eb) => ({
        asset_id: eb
          .selectFrom("assets")
          .select("assets.id")
          .whereRef("assets.address", "=", "observations.address"),
      }))
      .where("observations.scan_id", "=", scanId)
      .where("observations.asset_id", "is", null)
      .where(
        "observations.address",
        "in",
        part.map((asset) => asset.address),
      )
      .execute();
    await trx
      .insertInto("services")
      .columns([
        "asset_id",
        "protocol",
        "port",
        "state",
        "reason",
        "first_seen",
        "last_seen",
        "last_scan_id",
        "detail_json",
      ])
      .expression((eb) =>
        eb
          .selectFrom("observations")
          .select([
            sql<number>`observations.asset_id`.as("asset_id"),
            "observations.protocol",
            "observations.port",
            "observations.state",
            "observations.reason",
            "observations.observed_at",
            sql<string>`observations.observed_at`.as("last_seen"),
            "observations.scan_id",
            "observations.detail_json",
          ])
          // The WHERE also disambiguates INSERT ... SELECT ... ON CONFLICT for SQLite's parser.
          .where("observations.scan_id", "=", scanId)
          // By address, not asset_id: (scan_id, address) is the probe key's index prefix.
          .where(
            "observations.address",
            "in",
            part.map((asset) => asset.address),
          )
          .where("observations.asset_id", "is not", null),
      )
      .onConflict((oc) => oc.columns(["asset_id", "protocol", "port"]).doNothing())
      .execute();
  }
}

async function requireScanRow(trx: Db, scanId: string, location: string): Promise<void> {
  const row = await trx
    .selectFrom("scans")
    .select("id")
    .where("id", "=", scanId)
    .executeTakeFirst();
  if (row === undefined) throw scanNotFound(scanId, location);
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

/** Case-insensitive substring, with LIKE's wildcards in the user's text taken literally. */
function osMatches(os: string) {
  const pattern = `%${os.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<SqlBool>`lower(${sql.ref("assets.os")}) like ${pattern} escape '\\'`;
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

function toScanRecord(row: ScansTable): ScanRecord {
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
