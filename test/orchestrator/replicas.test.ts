import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, type OmoiProcess, spawnOmoi, TEST_REDIS_URL, tempDir } from "../helpers/omoi.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { TestViewer } from "../helpers/viewer.ts";
import {
  createTask,
  getTask,
  Lifecycle,
  listSandboxes,
  listTasks,
  processesOf,
  settled,
} from "./helpers.ts";

describe("two replicas on Postgres + Redis", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const dirs = [tempDir("omoi-replica-a-"), tempDir("omoi-replica-b-")];
  const replicas: OmoiProcess[] = [];

  before(async () => {
    database = await createTestDatabase();
    const secret = randomBytes(24).toString("hex");
    for (const [index, name] of ["replica-a", "replica-b"].entries()) {
      replicas.push(
        await spawnOmoi({
          DATABASE_URL: database.url,
          REDIS_URL: TEST_REDIS_URL,
          OMOI_SECRET: secret,
          OMOI_REPLICA_ID: name,
          OMOI_PORT: "0",
          OMOI_DATA_DIR: dirs[index].dir,
          OMOI_MAX_SANDBOXES: "2",
        }),
      );
    }
  });
  after(async () => {
    // A graceful stop ends each replica's sandboxes.
    await Promise.all(replicas.map((replica) => replica.stop()));
    await database?.drop();
    for (const dir of dirs) dir.remove();
  });

  test("20 tasks posted to both: each runs exactly once, all complete", async () => {
    const [a, b] = replicas;
    const watchers = await Promise.all([new Lifecycle(a.url).open(), new Lifecycle(b.url).open()]);
    try {
      const tasks: Task[] = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          createTask(replicas[index % 2].url, { prompt: `[scenario:quick] hello #${index}` }),
        ),
      );
      const ids = tasks.map((task) => task.id);
      // Each replica's viewers see every task finish, wherever it ran (fan-out over Redis).
      for (const watcher of watchers) await watcher.all(ids, ["task.completed"], 300_000);

      const stored = await listTasks(a.url);
      assert.equal(stored.total, 20);
      assert.ok(stored.tasks.every((task) => task.status === "completed" && task.attempts === 1));
      const sandboxes = await listSandboxes(b.url);
      for (const id of ids) {
        const own = sandboxes.filter((sandbox) => sandbox.task_id === id);
        assert.equal(own.length, 1, `exactly one sandbox for ${id}`);
        for (const watcher of watchers) {
          assert.equal(watcher.of(id, "task.started").length, 1, `one task.started for ${id}`);
          assert.equal(watcher.of(id, "task.assigned").length, 1, `one task.assigned for ${id}`);
        }
      }
      const owners = new Set(sandboxes.map((sandbox) => sandbox.owner));
      assert.deepEqual([...owners].sort(), ["replica-a", "replica-b"], "both replicas ran tasks");
      for (const owner of owners) {
        const open = sandboxes.filter(
          (sandbox) => sandbox.owner === owner && !sandbox.ended_at,
        ).length;
        assert.ok(open <= 2, `${owner} keeps within its limit`);
      }
    } finally {
      for (const watcher of watchers) watcher.close();
    }
  });

  test("warm pools: each replica keeps its own; concurrent tasks never share a pooled sandbox; a deleted environment's pools end on both", async () => {
    const [a, b] = replicas;
    const viewer = new TestViewer(
      `${a.url.replace("http", "ws")}/ws/events?event_types=environment.pool_ready,task.assigned,sandbox.terminated`,
    );
    await viewer.opened;
    const watchers = await Promise.all([new Lifecycle(a.url).open(), new Lifecycle(b.url).open()]);
    try {
      // Earlier runs' sandboxes stay open (idle) and hold the slots a pool fills; close them.
      for (const sandbox of await listSandboxes(a.url, "status=idle,running,starting,pending")) {
        const closed = await api(a.url, "DELETE", `/api/v1/sandboxes/${sandbox.id}`);
        assert.equal(closed.status, 200, JSON.stringify(closed.body));
      }
      const created = await api(a.url, "POST", "/api/v1/environments", {
        name: "pooled",
        setup_script: "echo ok > ready.txt",
        warm_pool: 1,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const ready = () =>
        viewer.events.filter((event) => event.event_type === "environment.pool_ready");
      // Seen on replica A's viewer, wherever the sandbox runs (fan-out over Redis).
      await viewer.waitFor(() => ready().length >= 2, "a pool sandbox on each replica", 120_000);
      const pooled = ready().map((event) => event.entity_id);
      const owners = await Promise.all(
        pooled.map(
          async (id) => (await api<Sandbox>(a.url, "GET", `/api/v1/sandboxes/${id}`)).body,
        ),
      );
      assert.deepEqual(owners.map((sandbox) => sandbox.owner).sort(), ["replica-a", "replica-b"]);

      const tasks: Task[] = await Promise.all(
        Array.from({ length: 4 }, (_, index) =>
          createTask(replicas[index % 2].url, {
            prompt: `[scenario:quick] warm #${index}`,
            environment: "pooled",
          }),
        ),
      );
      const ids = tasks.map((task) => task.id);
      await watchers[0].all(ids, ["task.completed"], 300_000);
      const rows = await Promise.all(ids.map((id) => getTask(a.url, id)));
      const used = rows.map((row) => row.sandbox_id);
      assert.equal(new Set(used).size, 4, "every task ran in its own sandbox");
      const warm = viewer.events.filter(
        (event) => event.event_type === "task.assigned" && event.payload.warm === true,
      );
      assert.ok(warm.length >= 1, "a task started warm");
      // A claimed pool refills while the other tasks wait, so a later task may start in the
      // refill: every warm start is in a sandbox its pool announced as ready.
      const everPooled = ready().map((event) => event.entity_id);
      for (const event of warm)
        assert.ok(everPooled.includes(String(event.payload.sandbox_id)), "warm in a pool sandbox");
      assert.equal(
        new Set(warm.map((event) => event.payload.sandbox_id)).size,
        warm.length,
        "no pooled sandbox was claimed twice",
      );

      // The finished tasks' sandboxes stay open (idle) and hold the slots; closed, they free
      // them, and each pool refills. Deleted on A, the environment's pools end on both.
      for (const id of used) {
        const closed = await api(a.url, "DELETE", `/api/v1/sandboxes/${id}`);
        assert.equal(closed.status, 200, JSON.stringify(closed.body));
      }
      await viewer.waitFor(
        () => ready().filter((event) => !used.includes(event.entity_id)).length >= 2,
        "both pools refilled",
        120_000,
      );
      const waiting = ready()
        .map((event) => event.entity_id)
        .filter((id) => !used.includes(id));
      const deleted = await api(a.url, "DELETE", "/api/v1/environments/pooled");
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      await viewer.waitFor(
        () =>
          waiting.every((id) =>
            viewer.events.some(
              (event) => event.event_type === "sandbox.terminated" && event.entity_id === id,
            ),
          ),
        "every pool sandbox ended",
        30_000,
      );
      for (const id of waiting) assert.deepEqual(processesOf(id), []);
    } finally {
      viewer.close();
      for (const watcher of watchers) watcher.close();
    }
  });

  test("a replica that dies for good: the other closes out its run (never running forever)", async () => {
    const task = await createTask(replicas[0].url, { prompt: "[scenario:slow-tool] go" });
    const watchers = await Promise.all(
      replicas.map((replica) => new Lifecycle(replica.url).open()),
    );
    try {
      await watchers[0].next(task.id, "task.started");
      const sandbox = (await getTask(replicas[0].url, task.id)).sandbox!;
      const ownerIndex = sandbox.owner === "replica-a" ? 0 : 1;
      const survivor = replicas[1 - ownerIndex];
      await replicas[ownerIndex].kill9();
      // Its worker may live on, unable to reach its server; the survivor does not wait for it.
      const failed = await settled(watchers[1 - ownerIndex], task.id, "failed", 90_000);
      assert.match(failed.error ?? "", /stopped supervising/);
      assert.equal(failed.sandbox?.status, "failed");
      const stuck = await listTasks(survivor.url, "status=assigned,running");
      assert.equal(stuck.total, 0, "nothing claims to run");
    } finally {
      for (const watcher of watchers) watcher.close();
      // The dead replica's worker is this machine's to clean up (no server will come back for it).
      const alive = replicas.find(
        (replica) => replica.child.exitCode === null && !replica.child.signalCode,
      );
      for (const sandbox of alive ? await listSandboxes(alive.url) : [])
        for (const pid of processesOf(sandbox.id)) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
    }
  });
});
