import type pg from "pg";
import { conflict } from "../protocol/error.ts";
import {
  ACTIVE_TASK_STATUSES,
  defaultConflict,
  type EnvironmentChange,
  type EnvironmentRecord,
  type EnvironmentStore,
  rowToEnvironment,
} from "./environment-store.ts";
import { constraintOf, errorCode, UNIQUE_VIOLATION } from "./postgres-sql.ts";

export class PostgresEnvironments implements EnvironmentStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(record: EnvironmentRecord): Promise<EnvironmentRecord> {
    const result = await this.unique(record.name, () =>
      this.pool.query(
        "INSERT INTO environments (id, name, spec, sealed, created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6) RETURNING *",
        [
          record.id,
          record.name,
          JSON.stringify(record.spec),
          record.sealed,
          record.created_at,
          record.updated_at,
        ],
      ),
    );
    return rowToEnvironment(result.rows[0]);
  }

  async get(idOrName: string): Promise<EnvironmentRecord | undefined> {
    const result = await this.pool.query(
      "SELECT * FROM environments WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1",
      [idOrName],
    );
    return result.rows[0] ? rowToEnvironment(result.rows[0]) : undefined;
  }

  async list(): Promise<EnvironmentRecord[]> {
    const result = await this.pool.query("SELECT * FROM environments ORDER BY name");
    return result.rows.map(rowToEnvironment);
  }

  async update(
    id: string,
    change: EnvironmentChange,
    expectedUpdatedAt: number,
  ): Promise<EnvironmentRecord | undefined> {
    const now = Math.max(Date.now(), expectedUpdatedAt + 1);
    const result = await this.unique(change.name, () =>
      this.pool.query(
        "UPDATE environments SET name = $1, spec = $2::jsonb, sealed = $3, updated_at = $4 WHERE id = $5 AND updated_at = $6 RETURNING *",
        [change.name, JSON.stringify(change.spec), change.sealed, now, id, expectedUpdatedAt],
      ),
    );
    return result.rows[0] ? rowToEnvironment(result.rows[0]) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    // One statement: the environment goes only if no unended task names it at that moment.
    const result = await this.pool.query<{
      deleted: boolean;
      busy: string | null;
      default_of: string | null;
    }>(
      `WITH busy AS (
         SELECT id FROM tasks WHERE environment_id = $1 AND status = ANY($2::text[]) LIMIT 1
       ), default_of AS (
         SELECT name FROM repositories WHERE environment_id = $1 LIMIT 1
       ), gone AS (
         DELETE FROM environments WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM busy)
           AND NOT EXISTS (SELECT 1 FROM default_of) RETURNING id
       )
       SELECT EXISTS (SELECT 1 FROM gone) AS deleted, (SELECT id FROM busy) AS busy,
         (SELECT name FROM default_of) AS default_of`,
      [id, ACTIVE_TASK_STATUSES],
    );
    const row = result.rows[0];
    if (row?.busy) {
      throw conflict(`environment '${id}' is used by task '${row.busy}', which has not ended`, {
        id,
        task_id: row.busy,
      });
    }
    if (row?.default_of) throw defaultConflict(id, row.default_of);
    return row?.deleted === true;
  }

  private async unique<T>(name: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (
        errorCode(error) === UNIQUE_VIOLATION &&
        constraintOf(error) === "environments_name_key"
      ) {
        throw conflict(`an environment named '${name}' already exists`, { name });
      }
      throw error;
    }
  }
}
