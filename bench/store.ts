import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { PostgresStore } from "../src/store/postgres.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { EventToStore } from "../src/store/store.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { createDatabase, REDIS_URL } from "./lib/server.ts";
import { type Summary, summarize } from "./lib/stats.ts";

export interface StoreAppendResult {
  where: string;
  appends: number;
  /** Time of one `appendEvents` call holding one event (a transaction each), in ms. */
  append: Summary;
  p999: number;
  over2ms: number;
}

/**
 * A diagnostic, not a bar: the embedded store's one-event append, timed in this process.
 * better-sqlite3 is synchronous, so each slow call stalls the server's whole event loop.
 */
export async function storeAppendRun(options: {
  appends: number;
  root: string;
  where: string;
}): Promise<StoreAppendResult> {
  const dir = mkdtempSync(path.join(options.root || os.tmpdir(), "omoi-bench-store-"));
  const remove = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(path.join(dir, "omoi.db"));
  await store.migrate();
  const times: number[] = [];
  try {
    for (let index = 0; index < options.appends; index++) {
      const stream = `sbx_bench${index % 10}`;
      const start = performance.now();
      await store.appendEvents([benchRecord(stream, index)]);
      times.push(performance.now() - start);
    }
  } finally {
    await store.close();
    await remove();
  }
  return result(options.where, options.appends, times);
}

function benchRecord(stream: string, index: number): EventToStore {
  return {
    id: randomUUID(),
    stream_id: stream,
    sandbox_id: stream,
    task_id: null,
    event_type: "agent.message",
    source: "agent",
    payload: { content: `benchmark event ${index}` },
    emitted_at: Date.now(),
  };
}

function result(where: string, appends: number, times: number[]): StoreAppendResult {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    where,
    appends,
    append: summarize(times),
    p999: sorted[Math.min(sorted.length - 1, Math.ceil(0.999 * sorted.length) - 1)],
    over2ms: times.filter((time) => time > 2).length,
  };
}

/** The same one-event append on the Postgres store, in a throwaway database. */
export async function postgresAppendRun(options: { appends: number }): Promise<StoreAppendResult> {
  const database = await createDatabase();
  const store = new PostgresStore(database.url);
  const times: number[] = [];
  try {
    await store.migrate();
    for (let index = 0; index < options.appends; index++) {
      const stream = `sbx_bench${index % 10}`;
      const start = performance.now();
      await store.appendEvents([benchRecord(stream, index)]);
      times.push(performance.now() - start);
    }
  } finally {
    await store.close();
    await database.drop();
  }
  return result("Postgres", options.appends, times);
}

/** One Redis PUBLISH of an event-sized message, awaited (what Ingest.append does per event). */
export async function redisPublishRun(options: { publishes: number }): Promise<StoreAppendResult> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const times: number[] = [];
  const text = JSON.stringify(benchRecord("sbx_bench0", 0));
  try {
    for (let index = 0; index < options.publishes; index++) {
      const start = performance.now();
      await redis.publish(`omoi-bench:${process.pid}`, text);
      times.push(performance.now() - start);
    }
  } finally {
    await redis.quit();
  }
  return result("Redis PUBLISH", options.publishes, times);
}
