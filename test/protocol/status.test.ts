import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventRegistry } from "../../src/protocol/events.ts";
import { SandboxStatus } from "../../src/protocol/sandbox.ts";
import {
  SANDBOX_STATUS_BY_EVENT,
  sandboxStatusAfter,
  TASK_STATUS_BY_EVENT,
  taskStatusAfter,
} from "../../src/protocol/status.ts";
import { TaskStatus } from "../../src/protocol/task.ts";

describe("the event → status map", () => {
  it("names only registered events and known statuses, each status once", () => {
    for (const [type, status] of Object.entries(TASK_STATUS_BY_EVENT)) {
      assert.ok(type in EventRegistry, type);
      assert.ok(TaskStatus.options.includes(status), status);
    }
    for (const [type, status] of Object.entries(SANDBOX_STATUS_BY_EVENT)) {
      assert.ok(type in EventRegistry, type);
      assert.ok(SandboxStatus.options.includes(status), status);
    }
    const taskStatuses = Object.values(TASK_STATUS_BY_EVENT);
    assert.equal(new Set(taskStatuses).size, taskStatuses.length);
  });

  it("folds events into status: a retried failure queues the task again", () => {
    assert.equal(taskStatusAfter({ event_type: "task.started", payload: {} }), "running");
    assert.equal(taskStatusAfter({ event_type: "task.failed", payload: {} }), "failed");
    assert.equal(
      taskStatusAfter({ event_type: "task.failed", payload: { will_retry: true } }),
      "pending",
    );
    assert.equal(taskStatusAfter({ event_type: "agent.message", payload: {} }), undefined);
    assert.equal(taskStatusAfter({ event_type: "toString" }), undefined);
    assert.equal(sandboxStatusAfter({ event_type: "sandbox.ready" }), "running");
    assert.equal(sandboxStatusAfter({ event_type: "task.started" }), undefined);
  });
});
