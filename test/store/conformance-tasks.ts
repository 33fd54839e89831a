import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newTaskId } from "../../src/protocol/ids.ts";
import type { Task } from "../../src/protocol/task.ts";
import type { Store } from "../../src/store/store.ts";
import { type MakeStore, range, storeOpener, task } from "./fixtures.ts";

async function claimAll(store: Store): Promise<Task[]> {
  const claimed: Task[] = [];
  for (let next = await store.claimNextTask(); next; next = await store.claimNextTask()) {
    claimed.push(next);
  }
  return claimed;
}

export function taskConformance(makeStore: MakeStore) {
  describe("tasks", () => {
    const stores = storeOpener(makeStore);

    it("creates a pending task with defaults and reads it back", async () => {
      const store = await stores.open(stores.freshDatabase());
      const input = task({
        depends_on: ["task_a", "task_b"],
        model: "m",
        max_budget_usd: 1.5,
        limits: { processes: 64, memory_mb: 512, keep_background_processes: true },
      });
      const created = await store.createTask(input);
      assert.deepEqual(created, {
        ...input,
        permission_mode: "bypassPermissions",
        deny_unanswered_after_minutes: null,
        status: "pending",
        attempts: 0,
        environment_id: null,
        sandbox_id: null,
        session_id: null,
        workspace: null,
        result: null,
        error: null,
        num_turns: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0,
        created_at: created.created_at,
        updated_at: created.created_at,
        started_at: null,
        completed_at: null,
        repo: null,
      });
      assert.equal(typeof created.created_at, "number");
      assert.deepEqual(await store.getTask(input.id), created);
      assert.equal(await store.getTask(newTaskId()), undefined);
      await assert.rejects(store.createTask(input), { name: "Conflict" });
    });

    it("lists tasks newest first, filtered by status, with a total", async () => {
      const store = await stores.open(stores.freshDatabase());
      const ids: string[] = [];
      for (const _ of range(5)) ids.push((await store.createTask(task())).id);
      await store.updateTask(ids[1], { status: "running" });
      const all = await store.listTasks({ limit: 10, offset: 0 });
      assert.equal(all.total, 5);
      assert.deepEqual(
        all.tasks.map((listed) => listed.id),
        [...ids].reverse(),
      );
      const page = await store.listTasks({ limit: 2, offset: 1 });
      assert.deepEqual(
        page.tasks.map((listed) => listed.id),
        [ids[3], ids[2]],
      );
      assert.equal(page.total, 5);
      const running = await store.listTasks({ status: ["running"], limit: 10, offset: 0 });
      assert.deepEqual(
        running.tasks.map((listed) => listed.id),
        [ids[1]],
      );
      assert.equal(running.total, 1);
      const pendingOrRunning = await store.listTasks({
        status: ["pending", "running"],
        limit: 10,
        offset: 0,
      });
      assert.equal(pendingOrRunning.total, 5);
    });

    it("updateTask patches fields and compares-and-sets on status", async () => {
      const store = await stores.open(stores.freshDatabase());
      const created = await store.createTask(task());
      const patched = await store.updateTask(created.id, {
        status: "running",
        sandbox_id: "sbx_1",
        num_turns: 3,
        input_tokens: 10_000_000_000,
        cost_usd: 0.25,
        started_at: 1_700_000_000_000,
        depends_on: ["x"],
        priority: "HIGH",
      });
      assert.ok(patched);
      assert.equal(patched.status, "running");
      assert.equal(patched.sandbox_id, "sbx_1");
      assert.equal(patched.input_tokens, 10_000_000_000);
      assert.equal(patched.cost_usd, 0.25);
      assert.equal(patched.started_at, 1_700_000_000_000);
      assert.deepEqual(patched.depends_on, ["x"]);
      assert.equal(patched.priority, "HIGH");
      assert.equal(patched.title, created.title);
      assert.ok(patched.updated_at >= created.updated_at);
      assert.deepEqual(await store.getTask(created.id), patched);

      const refused = await store.updateTask(created.id, { status: "completed" }, ["pending"]);
      assert.equal(refused, undefined);
      assert.equal((await store.getTask(created.id))?.status, "running");
      const accepted = await store.updateTask(created.id, { status: "completed", result: "done" }, [
        "assigned",
        "running",
      ]);
      assert.equal(accepted?.status, "completed");
      assert.equal(accepted?.result, "done");
      assert.equal(await store.updateTask(newTaskId(), { status: "failed" }), undefined);
    });

    it("exactly one of several concurrent compare-and-sets wins", async () => {
      const replicas = await stores.openReplicas(3);
      const created = await replicas[0].createTask(task());
      const attempts = await Promise.all(
        range(9).map((index) =>
          replicas[index % 3].updateTask(
            created.id,
            { status: "cancelled", error: `by ${index}` },
            ["pending"],
          ),
        ),
      );
      assert.equal(attempts.filter(Boolean).length, 1);
    });

    it("claims by priority, then age, and moves the task to assigned", async () => {
      const store = await stores.open(stores.freshDatabase());
      const low = await store.createTask(task({ priority: "LOW" }));
      const mediumOld = await store.createTask(task({ priority: "MEDIUM" }));
      const critical = await store.createTask(task({ priority: "CRITICAL" }));
      const mediumNew = await store.createTask(task({ priority: "MEDIUM" }));
      const high = await store.createTask(task({ priority: "HIGH" }));
      const claimed = await claimAll(store);
      assert.deepEqual(
        claimed.map((claimedTask) => claimedTask.id),
        [critical.id, high.id, mediumOld.id, mediumNew.id, low.id],
      );
      for (const claimedTask of claimed) {
        assert.equal(claimedTask.status, "assigned");
        assert.equal(claimedTask.attempts, 1);
        assert.deepEqual(await store.getTask(claimedTask.id), claimedTask);
      }
      assert.equal(await store.claimNextTask(), undefined);
    });

    it("claims a task only once every dependency is completed", async () => {
      const store = await stores.open(stores.freshDatabase());
      const first = await store.createTask(task({ priority: "LOW" }));
      const second = await store.createTask(task({ priority: "CRITICAL", depends_on: [first.id] }));
      const both = await store.createTask(
        task({ priority: "CRITICAL", depends_on: [first.id, second.id] }),
      );
      await store.createTask(task({ priority: "CRITICAL", depends_on: ["task_missing"] }));
      assert.equal((await store.claimNextTask())?.id, first.id);
      assert.equal(await store.claimNextTask(), undefined);
      await store.updateTask(first.id, { status: "failed" });
      assert.equal(await store.claimNextTask(), undefined);
      await store.updateTask(first.id, { status: "completed" });
      assert.equal((await store.claimNextTask())?.id, second.id);
      assert.equal(await store.claimNextTask(), undefined);
      await store.updateTask(second.id, { status: "completed" });
      assert.equal((await store.claimNextTask())?.id, both.id);
      assert.equal(await store.claimNextTask(), undefined);
    });

    it("a claimed task can go back to pending and is claimed again (attempts counts)", async () => {
      const store = await stores.open(stores.freshDatabase());
      const created = await store.createTask(task());
      await store.claimNextTask();
      await store.updateTask(created.id, { status: "pending" }, ["assigned"]);
      const again = await store.claimNextTask();
      assert.equal(again?.id, created.id);
      assert.equal(again?.attempts, 2);
    });

    it("concurrent claimers on several replicas claim each task exactly once", async () => {
      const replicas = await stores.openReplicas(3);
      const ids = new Set<string>();
      for (const _ of range(20)) ids.add((await replicas[0].createTask(task())).id);
      const claimers = range(12).map((index) => claimAll(replicas[index % replicas.length]));
      const claimed = (await Promise.all(claimers)).flat().map((claimedTask) => claimedTask.id);
      assert.equal(claimed.length, 20);
      assert.deepEqual(new Set(claimed), ids);
    });
  });
}
