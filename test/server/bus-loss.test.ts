import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, TEST_REDIS_URL, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * Redis pub/sub delivers at most once: what is published while a subscriber reconnects is
 * gone. Here the server's subscriber connection is killed again and again while events flow;
 * viewers and task state must still end whole, from the store.
 */

const replica = `bus-loss-${randomUUID().slice(0, 8)}`;
let omoi: TestOmoi;
let redis: Redis;

before(async () => {
  redis = new Redis(TEST_REDIS_URL);
  omoi = await startTestOmoi({
    REDIS_URL: TEST_REDIS_URL,
    OMOI_REDIS_CHANNEL: `omoi:test:${replica}`,
    OMOI_REPLICA_ID: replica,
  });
});
after(async () => {
  await omoi.stop();
  redis.disconnect();
});

/** Kills this server's Redis subscriber connection; returns how many were killed. */
async function killSubscriber(): Promise<number> {
  const clients = String(await redis.call("CLIENT", "LIST")).split("\n");
  const ids = clients
    .filter((line) => line.includes(`name=omoi-${replica}:sub`))
    .map((line) => line.match(/id=(\d+)/)?.[1])
    .filter((id): id is string => Boolean(id));
  for (const id of ids) await redis.call("CLIENT", "KILL", "ID", id);
  return ids.length;
}

test("events published while the bus reconnects still reach viewers", async () => {
  const sandbox = `lossy-${randomUUID().slice(0, 8)}`;
  await api(omoi.url, "POST", "/api/v1/sandboxes", { id: sandbox });
  const viewer = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?entity_ids=${sandbox}&since=0`,
  );
  await viewer.waitFor(() => viewer.frames.some((frame) => frame.type === "replayed"), "replayed");
  let killed = 0;
  for (let round = 0; round < 10; round++) {
    killed += await killSubscriber();
    await api(
      omoi.url,
      "POST",
      `/api/v1/sandboxes/${sandbox}/events`,
      Array.from({ length: 5 }, () => ({
        event_type: "agent.message",
        payload: { content: `${round}` },
      })),
    );
  }
  assert.ok(killed > 0, "the subscriber connection was found and killed");
  await viewer.waitFor(() => viewer.events.at(-1)?.seq === 51, "all 51 events", 60_000);
  assert.deepEqual(
    viewer.events.map((event) => event.seq),
    Array.from({ length: 51 }, (_, index) => index + 1),
  );
  viewer.close();
});

test("a task finishes, with its whole history, while its lifecycle events may be lost", async () => {
  const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
    prompt: "[scenario:quick] hello",
  });
  const viewer = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0`,
  );
  let status = created.body.status;
  while (!["completed", "failed", "cancelled"].includes(status)) {
    await killSubscriber();
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${created.body.id}`)).body.status;
  }
  assert.equal(status, "completed");
  const sandboxId = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${created.body.id}`)).body
    .sandbox_id!;
  const stored = await api<{ events: { seq: number }[] }>(
    omoi.url,
    "GET",
    `/api/v1/sandboxes/${sandboxId}/events?limit=1000`,
  );
  const last = stored.body.events.at(-1)!.seq;
  await viewer.waitFor(
    () => viewer.events.some((event) => event.stream_id === sandboxId && event.seq === last),
    "the last stored event",
    60_000,
  );
  const seqs = viewer.events
    .filter((event) => event.stream_id === sandboxId)
    .map((event) => event.seq);
  assert.deepEqual(
    seqs.slice(0, last),
    Array.from({ length: last }, (_, index) => index + 1),
  );
  viewer.close();
});
