import type pg from "pg";
import type { StoredEvent } from "../protocol/event.ts";
import { type Row, rowToEvent, toStoredEvent } from "./rows.ts";
import { storablePayload } from "./storable.ts";
import type { AppendResult, EventToStore } from "./store.ts";

/** Thrown inside the append transaction to roll it back and run it again. */
export class AppendRace extends Error {
  constructor() {
    super("an event id was stored concurrently; retrying the append");
  }
}

/**
 * Stores a batch inside an open transaction. Seqs come from the `streams` counter row, bumped
 * once per stream by the number of new events; the row lock that upsert takes serializes
 * appends to one stream across every connection and replica, and a rollback gives the seqs
 * back, so numbering has no gaps.
 *
 * Ids already stored are returned as duplicates. An id stored by a concurrent transaction
 * after our check makes the insert skip a row; the whole append is then rolled back
 * (`AppendRace`) and retried, and the retry sees the stored event.
 */
export async function appendInTransaction(
  client: pg.PoolClient,
  events: EventToStore[],
  storedAt: number,
): Promise<AppendResult[]> {
  const ids = [...new Set(events.map((event) => event.id))];
  const existing = await client.query<Row>("SELECT * FROM events WHERE id = ANY($1::text[])", [
    ids,
  ]);
  const known = new Map<string, StoredEvent>();
  for (const row of existing.rows) known.set(String(row.id), rowToEvent(row));

  const fresh: EventToStore[] = [];
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  for (const event of events) {
    if (known.has(event.id) || seen.has(event.id)) continue;
    seen.add(event.id);
    fresh.push(event);
    counts.set(event.stream_id, (counts.get(event.stream_id) ?? 0) + 1);
  }

  const stored = new Map<string, StoredEvent>();
  const payloadJson = new Map<string, string>();
  if (fresh.length > 0) {
    const nextSeq = await reserveSeqs(client, counts);
    for (const event of fresh) {
      const seq = nextSeq.get(event.stream_id)!;
      nextSeq.set(event.stream_id, seq + 1);
      const { json, payload } = storablePayload(event.payload);
      payloadJson.set(event.id, json);
      stored.set(event.id, toStoredEvent(event, seq, payload, storedAt));
    }
    await insertEvents(client, [...stored.values()], payloadJson);
  }

  const returned = new Set<string>();
  return events.map((event) => {
    const before = known.get(event.id);
    if (before) return { event: before, duplicate: true };
    const mine = stored.get(event.id)!;
    // A repeat of an id within this batch is a duplicate of its first copy.
    const duplicate = returned.has(event.id);
    returned.add(event.id);
    return { event: mine, duplicate };
  });
}

/** Bumps each stream's counter; returns the first seq reserved per stream. */
async function reserveSeqs(
  client: pg.PoolClient,
  counts: Map<string, number>,
): Promise<Map<string, number>> {
  // Sorted, so two batches touching the same streams lock them in the same order.
  const streams = [...counts.keys()].sort();
  const result = await client.query<{ stream_id: string; last_seq: number }>(
    `INSERT INTO streams (stream_id, last_seq)
     SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1
     ON CONFLICT (stream_id) DO UPDATE SET last_seq = streams.last_seq + EXCLUDED.last_seq
     RETURNING stream_id, last_seq`,
    [streams, streams.map((stream) => counts.get(stream)!)],
  );
  const first = new Map<string, number>();
  for (const row of result.rows) {
    first.set(row.stream_id, Number(row.last_seq) - counts.get(row.stream_id)! + 1);
  }
  return first;
}

async function insertEvents(
  client: pg.PoolClient,
  events: StoredEvent[],
  payloadJson: Map<string, string>,
): Promise<void> {
  // Inserted in id order, so concurrent batches sharing ids wait on each other in one order.
  const sorted = [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const column = <T>(pick: (event: StoredEvent) => T) => sorted.map(pick);
  const result = await client.query(
    `INSERT INTO events
       (id, stream_id, seq, sandbox_id, task_id, event_type, source, payload, emitted_at, stored_at)
     SELECT e.id, e.stream_id, e.seq, e.sandbox_id, e.task_id, e.event_type, e.source,
            e.payload::jsonb, e.emitted_at, $10
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                 $7::text[], $8::text[], $9::bigint[])
       AS e(id, stream_id, seq, sandbox_id, task_id, event_type, source, payload, emitted_at)
     ORDER BY e.id
     ON CONFLICT (id) DO NOTHING`,
    [
      column((event) => event.id),
      column((event) => event.stream_id),
      column((event) => event.seq),
      column((event) => event.sandbox_id),
      column((event) => event.task_id),
      column((event) => event.event_type),
      column((event) => event.source),
      column((event) => payloadJson.get(event.id)!),
      column((event) => event.emitted_at),
      sorted[0].stored_at,
    ],
  );
  if (result.rowCount !== sorted.length) throw new AppendRace();
}
