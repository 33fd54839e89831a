import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Task } from "../../src/protocol/task.ts";
import { type OmoiProcess, spawnOmoi, TEST_REDIS_URL, tempDir } from "../helpers/omoi.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
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
