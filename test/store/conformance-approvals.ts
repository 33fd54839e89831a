import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newEventId } from "../../src/protocol/ids.ts";
import type { NewApproval } from "../../src/store/approval-queries.ts";
import { type MakeStore, storeOpener, streamId } from "./fixtures.ts";

const request = (sandboxId: string, overrides: Partial<NewApproval> = {}): NewApproval => ({
  id: newEventId(),
  sandbox_id: sandboxId,
  task_id: null,
  kind: "permission",
  tool: "Bash",
  request: { tool: "Bash", input: { command: "npm test" } },
  deadline_at: null,
  ...overrides,
});

export function approvalConformance(makeStore: MakeStore) {
  describe("approvals", () => {
    const stores = storeOpener(makeStore);

    it("records a request once, keeps it open, and lists it", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const asked = request(sandbox, { task_id: "task_1" });
      const first = await store.approvals.record(asked);
      assert.equal(first.status, "open");
      assert.deepEqual(first.request, asked.request);
      // A resent event records nothing new.
      const again = await store.approvals.record({ ...asked, tool: "Other" });
      assert.deepEqual(again, first);
      assert.deepEqual(
        (await store.approvals.list({ sandboxId: sandbox })).map((approval) => approval.id),
        [asked.id],
      );
      assert.equal(
        (await store.approvals.list({ taskIds: ["task_1"], status: ["open"] })).length,
        1,
      );
      assert.equal((await store.approvals.list({ taskIds: [] })).length, 0);
    });

    it("takes exactly one answer when many replicas answer at once", async () => {
      const replicas = await stores.openReplicas(3);
      const asked = request(streamId());
      await replicas[0].approvals.record(asked);
      const attempts = replicas.flatMap((store, index) =>
        [0, 1, 2].map((attempt) =>
          store.approvals.resolve(asked.id, {
            status: "resolved",
            answer: { decision: "allow", reason: `replica ${index} try ${attempt}` },
            answered_by: { kind: "person", client: "api" },
          }),
        ),
      );
      const results = await Promise.all(attempts);
      const winners = results.filter((result) => result.won);
      assert.equal(winners.length, 1);
      const stored = await replicas[1].approvals.get(asked.id);
      assert.equal(stored?.status, "resolved");
      assert.deepEqual(stored?.answer, winners[0].approval?.answer);
      for (const loser of results.filter((result) => !result.won)) {
        assert.deepEqual(
          loser.approval?.answer,
          winners[0].approval?.answer,
          "a loser sees the winner",
        );
      }
    });

    it("keeps a task's always-allowed rules for the sandboxes that resume it", async () => {
      const store = await stores.open(stores.freshDatabase());
      const task = `task_${streamId()}`;
      const rules = (...list: unknown[]) => ({ tool: "Bash", rules: list });
      const answer = async (asked: NewApproval, remember: boolean, decision = "allow") => {
        await store.approvals.record(asked);
        await store.approvals.resolve(asked.id, {
          status: "resolved",
          answer: { decision: decision as "allow", ...(remember ? { remember } : {}) },
          answered_by: { kind: "person", client: "api" },
        });
      };
      const npm = { toolName: "Bash", ruleContent: "npm test:*" };
      await answer(request(streamId(), { task_id: task, request: rules(npm) }), true);
      // The same rule again (a later sandbox), a whole tool, and answers that remember nothing.
      await answer(
        request(streamId(), { task_id: task, request: rules(npm, { toolName: "Edit" }) }),
        true,
      );
      await answer(
        request(streamId(), { task_id: task, request: rules({ toolName: "Write" }) }),
        false,
      );
      await answer(
        request(streamId(), { task_id: task, request: rules({ toolName: "Read" }) }),
        false,
        "deny",
      );
      await store.approvals.record(
        request(streamId(), { task_id: task, request: rules({ toolName: "Open" }) }),
      );
      // Another task's rules, and a malformed stored rule, are not this task's.
      await answer(
        request(streamId(), { task_id: "task_other", request: rules({ toolName: "Glob" }) }),
        true,
      );
      await answer(
        request(streamId(), { task_id: task, request: rules({ toolName: 7 }, null) }),
        true,
      );
      assert.deepEqual(await store.approvals.remembered(task), [npm, { toolName: "Edit" }]);
      assert.deepEqual(await store.approvals.remembered("task_none"), []);
    });

    it("hands undelivered answers out until the worker confirms them", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const asked = request(sandbox);
      await store.approvals.record(asked);
      assert.deepEqual(
        await store.approvals.undelivered(sandbox),
        [],
        "an open request has no answer",
      );
      await store.approvals.resolve(asked.id, {
        status: "expired",
        answer: { decision: "expired" },
        answered_by: { kind: "system" },
      });
      assert.deepEqual(
        (await store.approvals.undelivered(sandbox)).map((approval) => approval.id),
        [asked.id],
      );
      await store.approvals.markDelivered(sandbox, [asked.id]);
      assert.deepEqual(await store.approvals.undelivered(sandbox), []);
    });

    it("finds open requests past their deadline", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const late = request(sandbox, { deadline_at: Date.now() - 1 });
      const later = request(sandbox, { deadline_at: Date.now() + 60_000 });
      const never = request(sandbox);
      for (const asked of [late, later, never]) await store.approvals.record(asked);
      assert.deepEqual(
        (await store.approvals.due(Date.now())).map((approval) => approval.id),
        [late.id],
      );
    });
  });
}
