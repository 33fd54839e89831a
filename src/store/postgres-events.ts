import type pg from "pg";
import type { StoredEvent } from "../protocol/event.ts";
import { type Row, rowToEvent, toStoredEvent } from "./rows.ts";
import { storablePayload } from "./storable.ts";
import type { AppendResult, EventToStore } from "./store.ts";

/**
 * A bound on one append: a connection that hangs (a half-open socket) fails its group, which
 * is then retried alone, instead of holding every later append.
 */
export const APPEND_TIMEOUT_MS = 30_000;

/** The call of `omoi_append`, its nine arguments (appendArguments()) numbered from `first`. */
export const appendCall = (first = 1) =>
  `omoi_append(${Array.from({ length: 9 }, (_, index) => `$${first + index}`).join(", ")})`;

const APPEND_SQL = `SELECT id, seq FROM ${appendCall()}`;

/** The arguments of appendCall(), and each event's payload as it will be stored. */
export function appendArguments(events: EventToStore[], storedAt: number) {
  const payloads = events.map((event) => storablePayload(event.payload));
  const column = <T>(pick: (event: EventToStore) => T) => events.map(pick);
  const values: unknown[] = [
    column((event) => event.id),
    column((event) => event.stream_id),
    column((event) => event.sandbox_id),
    column((event) => event.task_id),
    column((event) => event.event_type),
    column((event) => event.source),
    payloads.map((payload) => payload.json),
    column((event) => event.emitted_at),
    storedAt,
  ];
  return { values, payloads };
}

/**
 * Stores a batch with one call of `omoi_append` (migration 2): one round trip and one
 * implicit transaction. Seqs come from the `streams` counter row, bumped once per stream by
 * the number of new events; its row lock serializes appends to one stream across every
 * connection and replica, and a failed call gives the seqs back, so numbering has no gaps.
 *
 * Ids the function did not insert were stored before (or earlier in this batch) and are
 * returned as duplicates of the stored event. A race with a concurrent append of the same
 * id surfaces as serialization_failure, which the caller retries.
 */
export async function appendOnce(
  pool: pg.Pool,
  events: EventToStore[],
  storedAt: number,
): Promise<AppendResult[]> {
  const { values, payloads } = appendArguments(events, storedAt);
  // pg honours a per-query `query_timeout`; its types do not list it.
  const result = await pool.query<{ id: string; seq: number }>({
    text: APPEND_SQL,
    values,
    query_timeout: APPEND_TIMEOUT_MS,
  } as pg.QueryConfig);
  const seqs = new Map<string, number>();
  for (const row of result.rows) seqs.set(row.id, row.seq);

  const before = new Map<string, StoredEvent>();
  const missing = events.filter((event) => !seqs.has(event.id)).map((event) => event.id);
  if (missing.length > 0) {
    const existing = await pool.query<Row>("SELECT * FROM events WHERE id = ANY($1::text[])", [
      [...new Set(missing)],
    ]);
    for (const row of existing.rows) before.set(String(row.id), rowToEvent(row));
  }

  // A repeat of an id within this batch (group commit mixes callers) is a duplicate of the
  // first copy, which is what was stored.
  const firstCopies = new Map<string, StoredEvent>();
  return events.map((event, index) => {
    const stored = before.get(event.id) ?? firstCopies.get(event.id);
    if (stored) return { event: stored, duplicate: true };
    const seq = seqs.get(event.id);
    if (seq === undefined) throw new Error(`event ${event.id} was neither stored nor found`);
    const first = toStoredEvent(event, seq, payloads[index].payload, storedAt);
    firstCopies.set(event.id, first);
    return { event: first, duplicate: false };
  });
}
