import type { Environment } from "../protocol/environment.ts";
import { conflict } from "../protocol/error.ts";

/** The non-secret part of an environment, stored as JSON and returned by the API as is. */
export type EnvironmentSpec = Omit<
  Environment,
  "id" | "name" | "created_at" | "updated_at" | "snapshots_reset_at" | "warm_pool"
> & {
  /** Absent in environments stored before snapshots could be rebuilt on request: never. */
  snapshots_reset_at?: number | null;
  /** Absent in environments stored before warm pools: 0. */
  warm_pool?: number;
};

/** An environment as stored: its spec in the clear, its secrets sealed (see src/vault). */
export interface EnvironmentRecord {
  id: string;
  name: string;
  spec: EnvironmentSpec;
  /** Sealed JSON of the secret values and model credentials; null when there are none. */
  sealed: string | null;
  created_at: number;
  updated_at: number;
}

export type EnvironmentChange = Pick<EnvironmentRecord, "name" | "spec" | "sealed">;

/** Environments in the store. Names are unique; a clash is a 409. */
export interface EnvironmentStore {
  create(record: EnvironmentRecord): Promise<EnvironmentRecord>;
  /** By id, or by name when no id matches. */
  get(idOrName: string): Promise<EnvironmentRecord | undefined>;
  list(): Promise<EnvironmentRecord[]>;
  /**
   * Replaces name, spec and sealed values if the record is still at `expectedUpdatedAt`
   * (optimistic concurrency: two editors cannot silently overwrite each other). Returns the
   * updated record, or undefined when it changed meanwhile or is gone.
   */
  update(
    id: string,
    change: EnvironmentChange,
    expectedUpdatedAt: number,
  ): Promise<EnvironmentRecord | undefined>;
  /** Deletes it unless a task that has not ended names it (409). False when it did not exist. */
  delete(id: string): Promise<boolean>;
}

export const ACTIVE_TASK_STATUSES = ["pending", "assigned", "running"] as const;

export function rowToEnvironment(row: Record<string, unknown>): EnvironmentRecord {
  const spec = row.spec;
  return {
    id: String(row.id),
    name: String(row.name),
    // SQLite hands JSON back as text, Postgres as parsed jsonb; the store wrote it, so it is trusted.
    spec: (typeof spec === "string" ? JSON.parse(spec) : spec) as EnvironmentSpec,
    sealed: row.sealed === null || row.sealed === undefined ? null : String(row.sealed),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

/** An environment that a registered repository names as its default cannot be deleted. */
export function defaultConflict(id: string, repository: string) {
  return conflict(
    `environment '${id}' is the default environment of repository '${repository}'; give the repository another one or none first (PATCH /api/v1/repositories/${repository} {"environment": null})`,
    { id, repository },
  );
}
