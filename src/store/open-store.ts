import { createKyselyStore } from "./kysely-store.js";
import { openSqliteBackend } from "./sqlite/sqlite-backend.js";
import type { Store } from "./store.js";
import { DEFAULT_STORE_LOCATION, parseStoreLocation } from "./store-location.js";

/**
 * Opens the inventory, creating and migrating it if needed: a SQLite file, or a PostgreSQL
 * database for a postgres:// URL. Refuses, without writing to it, a database that is damaged
 * (RINGFENCE_DB_CORRUPT), belongs to another program (RINGFENCE_DB_FOREIGN) or was written by
 * a newer ringfence (RINGFENCE_DB_VERSION); a path that cannot be written or a server that
 * cannot be reached gives RINGFENCE_DB_UNAVAILABLE.
 */
export async function openStore(location: string = DEFAULT_STORE_LOCATION): Promise<Store> {
  const parsed = parseStoreLocation(location);
  // The PostgreSQL driver loads only when a postgres:// URL asks for it (CLI start-up time).
  const backend =
    parsed.kind === "postgres"
      ? await (
          await import("./postgres/postgres-backend.js")
        ).openPostgresBackend(parsed.url, parsed.display)
      : await openSqliteBackend(parsed.path);
  return createKyselyStore(backend);
}

/** Opens the store for one piece of work and closes it afterwards, whatever happens. */
export async function withStore<T>(
  location: string,
  use: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openStore(location);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
