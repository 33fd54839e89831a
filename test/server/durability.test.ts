import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { api, spawnOmoi, TEST_REDIS_URL, tempDir } from "../helpers/omoi.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { TestViewer } from "../helpers/viewer.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Producers stream events; the server is killed with SIGKILL; a new one starts on its data. */
async function killNineKeepsAcknowledged(backendEnv: Record<string, string>) {
  const data = tempDir();
  cleanups.push(() => data.remove());
  const env = { OMOI_DATA_DIR: data.dir, OMOI_PORT: "0", OMOI_RUN_AGENTS: "0", ...backendEnv };
  const first = await spawnOmoi(env);
  cleanups.push(() => first.stop());
  await api(first.url, "POST", "/api/v1/sandboxes", { id: "durable" });
  const acknowledged: string[] = [];
  let stop = false;
  const producers = [0, 1, 2].map(async () => {
    while (!stop) {
      const batch = Array.from({ length: 5 }, () => ({
        id: randomUUID(),
        event_type: "agent.message",
        payload: { content: "x" },
      }));
      try {
        const response = await api(first.url, "POST", "/api/v1/sandboxes/durable/events", batch);
        if (response.status === 201) acknowledged.push(...batch.map((event) => event.id));
      } catch {
        return; // the server died mid-request: not acknowledged
      }
    }
  });
  while (acknowledged.length < 300) await new Promise((resolve) => setImmediate(resolve));
  await first.kill9();
  stop = true;
  await Promise.all(producers);

  const second = await spawnOmoi({ ...env });
  cleanups.push(() => second.stop());
  const stored = await api<{ events: { id: string; seq: number }[] }>(
    second.url,
    "GET",
    "/api/v1/sandboxes/durable/events?limit=1000",
  );
  const storedIds = new Set(stored.body.events.map((event) => event.id));
  const missing = acknowledged.filter((id) => !storedIds.has(id));
  assert.deepEqual(missing, [], "every acknowledged event survived");
  assert.deepEqual(
    stored.body.events.map((event) => event.seq),
    Array.from({ length: stored.body.events.length }, (_, index) => index + 1),
    "seqs stay gap-free",
  );
  await second.stop();
}

describe("durability", () => {
  test("kill -9 of the server while events stream: everything it acknowledged is there after restart", async () => {
    await killNineKeepsAcknowledged({});
  });

  test("the same on Postgres: everything acknowledged survives kill -9", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    await killNineKeepsAcknowledged({ DATABASE_URL: database.url });
  });

  test("two replicas on Postgres + Redis: a viewer on B sees what A stored, and resumes on A without gaps", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dataA = tempDir();
    const dataB = tempDir();
    cleanups.push(
      () => dataA.remove(),
      () => dataB.remove(),
    );
    const shared = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      OMOI_SECRET: "a-shared-secret-for-both-replicas",
      OMOI_RUN_AGENTS: "0",
      OMOI_PORT: "0",
    };
    const a = await spawnOmoi({
      ...shared,
      OMOI_DATA_DIR: dataA.dir,
      OMOI_REPLICA_ID: "replica-a",
    });
    cleanups.push(() => a.stop());
    const b = await spawnOmoi({
      ...shared,
      OMOI_DATA_DIR: dataB.dir,
      OMOI_REPLICA_ID: "replica-b",
    });
    cleanups.push(() => b.stop());
    const sandbox = `shared-${randomUUID().slice(0, 8)}`;
    assert.equal((await api(a.url, "POST", "/api/v1/sandboxes", { id: sandbox })).status, 201);

    const onB = new TestViewer(
      `${b.url.replace("http", "ws")}/ws/events?entity_ids=${sandbox}&since=0`,
    );
    await onB.opened;
    await onB.waitFor(() => onB.frames.some((frame) => frame.type === "replayed"), "replayed");
    const posting = (async () => {
      for (let round = 0; round < 20; round++) {
        const target = round % 2 ? b.url : a.url;
        await api(
          target,
          "POST",
          `/api/v1/sandboxes/${sandbox}/events`,
          Array.from({ length: 10 }, () => ({
            event_type: "agent.message",
            payload: { content: `${round}` },
          })),
        );
      }
    })();
    await onB.waitFor(() => onB.events.length >= 60, "60 events on B");
    onB.socket.terminate();
    const cursor = onB.events.at(-1)!.seq;
    const onA = new TestViewer(
      `${a.url.replace("http", "ws")}/ws/events?cursors=${sandbox}:${cursor}`,
    );
    await posting;
    await onA.waitFor(() => onA.events.at(-1)?.seq === 201, "the rest on A");
    assert.deepEqual(
      [...onB.events, ...onA.events].map((event) => event.seq),
      Array.from({ length: 201 }, (_, index) => index + 1),
    );
    onA.close();
  });
});
