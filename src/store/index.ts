import { join } from "node:path";
import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/**
 * Picks the store from configuration: Postgres for a `postgres://` or `postgresql://` URL,
 * otherwise SQLite at `${dataDir}/omoi.db`. Does no I/O; call `migrate()` next.
 */
export function createStore(options: { databaseUrl?: string; dataDir: string }): Store {
  const url = options.databaseUrl?.trim();
  if (!url) return new SqliteStore(join(options.dataDir, "omoi.db"));
  if (/^postgres(ql)?:\/\//i.test(url)) return new PostgresStore(url);
  const scheme = url.split(":")[0];
  throw new Error(
    `unsupported DATABASE_URL scheme '${scheme}': use postgres://user@host:5432/db, or leave DATABASE_URL unset for the embedded SQLite store`,
  );
}
