import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newSandboxId, newTaskId } from "../../src/protocol/ids.ts";
import type { NewSandbox } from "../../src/store/store.ts";
import { type MakeStore, storeOpener } from "./fixtures.ts";

const sandbox = (overrides: Partial<NewSandbox> = {}): NewSandbox => ({
  id: newSandboxId(),
  task_id: null,
  kind: "agent",
  provider: "local",
  ...overrides,
});

export function sandboxConformance(makeStore: MakeStore) {
  describe("sandboxes", () => {
    const stores = storeOpener(makeStore);

    it("creates a sandbox with defaults and reads it back", async () => {
      const store = await stores.open(stores.freshDatabase());
      const input = sandbox({ prompt: "hello", max_turns: 5, owner: "replica-a" });
      const created = await store.createSandbox(input);
      assert.deepEqual(created, {
        ...input,
        status: "pending",
        model: null,
        max_budget_usd: null,
        permission_mode: "bypassPermissions",
        deny_unanswered_after_minutes: null,
        limits: null,
        workspace: null,
        session_id: null,
        worker_pid: null,
        error: null,
        created_at: created.created_at,
        updated_at: created.created_at,
        started_at: null,
        ended_at: null,
        last_heartbeat_at: null,
      });
      assert.equal(typeof created.created_at, "number");
      assert.deepEqual(await store.getSandbox(input.id), created);
      assert.equal(await store.getSandbox(newSandboxId()), undefined);
      await assert.rejects(store.createSandbox(input), { name: "Conflict" });
      const external = await store.createSandbox(sandbox({ kind: "external", status: "running" }));
      assert.equal(external.status, "running");
      assert.equal(external.kind, "external");
    });

    it("lists sandboxes newest first, filtered by status, task and owner", async () => {
      const store = await stores.open(stores.freshDatabase());
      const taskId = newTaskId();
      const a = await store.createSandbox(sandbox({ task_id: taskId, owner: "one" }));
      const b = await store.createSandbox(sandbox({ status: "running", owner: "two" }));
      const c = await store.createSandbox(sandbox({ task_id: taskId, status: "running" }));
      const idsOf = async (options: Parameters<typeof store.listSandboxes>[0]) => {
        const listed = await store.listSandboxes(options);
        return {
          ids: listed.sandboxes.map((listedSandbox) => listedSandbox.id),
          total: listed.total,
        };
      };
      assert.deepEqual(await idsOf({ limit: 10, offset: 0 }), {
        ids: [c.id, b.id, a.id],
        total: 3,
      });
      assert.deepEqual(await idsOf({ limit: 1, offset: 1 }), { ids: [b.id], total: 3 });
      assert.deepEqual(await idsOf({ status: ["running"], limit: 10, offset: 0 }), {
        ids: [c.id, b.id],
        total: 2,
      });
      assert.deepEqual(await idsOf({ taskId, limit: 10, offset: 0 }), {
        ids: [c.id, a.id],
        total: 2,
      });
      assert.deepEqual(await idsOf({ taskId, status: ["running"], limit: 10, offset: 0 }), {
        ids: [c.id],
        total: 1,
      });
      assert.deepEqual(await idsOf({ owner: "two", limit: 10, offset: 0 }), {
        ids: [b.id],
        total: 1,
      });
    });

    it("updateSandbox patches fields and compares-and-sets on status", async () => {
      const store = await stores.open(stores.freshDatabase());
      const created = await store.createSandbox(sandbox());
      const started = await store.updateSandbox(
        created.id,
        { status: "running", worker_pid: 4242, started_at: 1_700_000_000_000 },
        ["pending", "starting"],
      );
      assert.equal(started?.status, "running");
      assert.equal(started?.worker_pid, 4242);
      assert.equal(started?.started_at, 1_700_000_000_000);
      assert.deepEqual(await store.getSandbox(created.id), started);
      const refused = await store.updateSandbox(created.id, { status: "starting" }, ["pending"]);
      assert.equal(refused, undefined);
      const ended = await store.updateSandbox(created.id, {
        status: "terminated",
        ended_at: 1_700_000_000_500,
        error: null,
      });
      assert.equal(ended?.status, "terminated");
      assert.equal(ended?.ended_at, 1_700_000_000_500);
      assert.equal(await store.updateSandbox(newSandboxId(), { status: "failed" }), undefined);
    });
  });
}
