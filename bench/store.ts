import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SqliteStore } from "../src/store/sqlite.ts";
import { onCleanup } from "./lib/cleanup.ts";
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
      await store.appendEvents([
        {
          id: randomUUID(),
          stream_id: stream,
          sandbox_id: stream,
          task_id: null,
          event_type: "agent.message",
          source: "agent",
          payload: { content: `benchmark event ${index}` },
          emitted_at: Date.now(),
        },
      ]);
      times.push(performance.now() - start);
    }
  } finally {
    await store.close();
    await remove();
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    where: options.where,
    appends: options.appends,
    append: summarize(times),
    p999: sorted[Math.min(sorted.length - 1, Math.ceil(0.999 * sorted.length) - 1)],
    over2ms: times.filter((time) => time > 2).length,
  };
}
