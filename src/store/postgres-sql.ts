import type { Columns, SqlValue } from "./columns.ts";

/*
 * Small helpers every Postgres adapter module shares: SQL for an insert from a column list,
 * reading pg's error codes, and retrying a transaction that lost a race.
 */

export const UNIQUE_VIOLATION = "23505";
/** Postgres error codes worth retrying a transaction on: serialization failure, deadlock. */
const RETRYABLE_CODES = new Set(["40001", "40P01"]);
/** How often an append is retried after losing a race or a deadlock. */
const APPEND_ATTEMPTS = 20;

export const constraintOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "constraint" in error
    ? String(error.constraint)
    : undefined;

/** Runs `attempt` again after a lost race on an event id or a deadlock, a few times. */
export async function retryingRaces<T>(attempt: () => Promise<T>): Promise<T> {
  for (let count = 1; ; count++) {
    try {
      return await attempt();
    } catch (error) {
      if (!RETRYABLE_CODES.has(errorCode(error)) || count >= APPEND_ATTEMPTS) throw error;
    }
  }
}

export function insertSql(table: string, columns: Columns): [string, SqlValue[]] {
  const names = columns.map(([column]) => column).join(", ");
  const placeholders = columns.map((_, index) => `$${index + 1}`).join(", ");
  return [
    `INSERT INTO ${table} (${names}) VALUES (${placeholders}) RETURNING *`,
    columns.map(([, value]) => value),
  ];
}

export function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error) {
    return String(error.code);
  }
  return "";
}
