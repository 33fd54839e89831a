import Database from "better-sqlite3";
import { conflict } from "../protocol/error.ts";
import {
  ACTIVE_TASK_STATUSES,
  defaultConflict,
  type EnvironmentChange,
  type EnvironmentRecord,
  type EnvironmentStore,
  rowToEnvironment,
} from "./environment-store.ts";

type Row = Record<string, unknown>;

export class SqliteEnvironments implements EnvironmentStore {
  constructor(private readonly db: () => Database.Database) {}

  async create(record: EnvironmentRecord): Promise<EnvironmentRecord> {
    const row = this.unique(record.name, () =>
      this.db()
        .prepare<unknown[], Row>(
          "INSERT INTO environments (id, name, spec, sealed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .get(
          record.id,
          record.name,
          JSON.stringify(record.spec),
          record.sealed,
          record.created_at,
          record.updated_at,
        ),
    );
    if (!row) throw new Error("insert returned no row");
    return rowToEnvironment(row);
  }

  async get(idOrName: string): Promise<EnvironmentRecord | undefined> {
    const row = this.db()
      .prepare<[{ key: string }], Row>(
        "SELECT * FROM environments WHERE id = @key OR name = @key ORDER BY (id = @key) DESC LIMIT 1",
      )
      .get({ key: idOrName });
    return row ? rowToEnvironment(row) : undefined;
  }

  async list(): Promise<EnvironmentRecord[]> {
    return this.db()
      .prepare<[], Row>("SELECT * FROM environments ORDER BY name")
      .all()
      .map(rowToEnvironment);
  }

  async update(
    id: string,
    change: EnvironmentChange,
    expectedUpdatedAt: number,
  ): Promise<EnvironmentRecord | undefined> {
    const now = Math.max(Date.now(), expectedUpdatedAt + 1);
    const row = this.unique(change.name, () =>
      this.db()
        .prepare<unknown[], Row>(
          "UPDATE environments SET name = ?, spec = ?, sealed = ?, updated_at = ? WHERE id = ? AND updated_at = ? RETURNING *",
        )
        .get(change.name, JSON.stringify(change.spec), change.sealed, now, id, expectedUpdatedAt),
    );
    return row ? rowToEnvironment(row) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const database = this.db();
    return database
      .transaction(() => {
        const busy = database
          .prepare<[string, string], Row>(
            "SELECT id FROM tasks WHERE environment_id = ? AND status IN (SELECT value FROM json_each(?)) LIMIT 1",
          )
          .get(id, JSON.stringify(ACTIVE_TASK_STATUSES));
        if (busy) {
          throw conflict(`environment '${id}' is used by task '${busy.id}', which has not ended`, {
            id,
            task_id: busy.id,
          });
        }
        const defaultOf = database
          .prepare<[string], Row>("SELECT name FROM repositories WHERE environment_id = ? LIMIT 1")
          .get(id);
        if (defaultOf) throw defaultConflict(id, String(defaultOf.name));
        return database.prepare("DELETE FROM environments WHERE id = ?").run(id).changes > 0;
      })
      .immediate();
  }

  private unique<T>(name: string, write: () => T): T {
    try {
      return write();
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw conflict(`an environment named '${name}' already exists`, { name });
      }
      throw error;
    }
  }
}
