import { createKyselyStore } from "./kysely-store.js";
import { openSqliteBackend } from "./sqlite/sqlite-backend.js";
import type { Store } from "./store.js";
import { DEFAULT_STORE_LOCATION, parseStoreLocation } from "./store-location.js";

/**
 * Opens the inventory, creating and migrating it if needed. Refuses, without writing to it,
 * a file that is damaged (RINGFENCE_DB_CORRUPT), belongs to another program
 * (RINGFENCE_DB_FOREIGN) or was written by a newer ringfence (RINGFENCE_DB_VERSION); a path
 * that cannot be written gives RINGFENCE_DB_UNAVAILABLE.
 */
export async function openStore(location: string = DEFAULT_STORE_LOCATION): Promise<Store> {
  const parsed = parseStoreLocation(location);
  return createKyselyStore(await openSqliteBackend(parsed.path));
}
