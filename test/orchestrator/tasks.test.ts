import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import {
  assertNoProcesses,
  createTask,
  getTask,
  Lifecycle,
  listSandboxes,
  TERMINAL_TASK_EVENTS,
} from "./helpers.ts";

const QUICK = "[scenario:quick] say hello";

/** The most intervals [start, end) that overlap at any instant. */
function maxOverlap(intervals: { start: number; end: number }[]): number {
  const points = intervals.flatMap((interval) => [
    { at: interval.start, delta: 1 },
    { at: interval.end, delta: -1 },
  ]);
  // At equal instants an end comes before a start: [a, b) then [b, c) do not overlap.
  points.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let most = 0;
  for (const point of points) {
    open += point.delta;
    most = Math.max(most, open);
  }
  return most;
}

describe("order: one slot", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "1" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("runnable tasks start by priority, then age, once their dependencies completed", async () => {
    const gate = await createTask(omoi.url, { prompt: QUICK, title: "gate" });
    // All wait on the gate, so none can start before every one is queued.
    const queued: Task[] = [];
    for (const [title, priority] of [
      ["low", "LOW"],
      ["medium-old", "MEDIUM"],
      ["critical", "CRITICAL"],
      ["medium-new", "MEDIUM"],
      ["high", "HIGH"],
    ] as const) {
      queued.push(
        await createTask(omoi.url, { prompt: QUICK, title, priority, depends_on: [gate.id] }),
      );
    }
    await events.all(
      queued.map((task) => task.id),
      ["task.completed"],
    );
    const assigned = events.viewer.events
      .filter((event) => event.event_type === "task.assigned")
      .map((event) => queued.find((task) => task.id === event.task_id)?.title ?? "gate");
    assert.deepEqual(assigned, ["gate", "critical", "high", "medium-old", "medium-new", "low"]);
    const gateDone = events.of(gate.id, "task.completed")[0];
    for (const task of queued) {
      assert.ok(events.of(task.id, "task.assigned")[0].stored_at >= gateDone.stored_at);
    }
  });

  test("a failed dependency fails its dependents, with the reason, down the chain", async () => {
    const failing = await createTask(omoi.url, { prompt: "[scenario:fail-server-error] go" });
    const child = await createTask(omoi.url, { prompt: QUICK, depends_on: [failing.id] });
    const grandchild = await createTask(omoi.url, { prompt: QUICK, depends_on: [child.id] });
    await events.next(grandchild.id, "task.failed");
    const failed = await getTask(omoi.url, failing.id);
    assert.equal(failed.status, "failed");
    assert.ok(failed.error, "the failed task says why");
    const childRow = await getTask(omoi.url, child.id);
    assert.equal(childRow.status, "failed");
    assert.equal(childRow.error, `dependency ${failing.id} failed`);
    assert.equal(childRow.sandbox, null, "a dependent that never ran has no sandbox");
    assert.equal((await getTask(omoi.url, grandchild.id)).error, `dependency ${child.id} failed`);
    assert.equal(events.of(child.id, "task.assigned").length, 0);

    const late = await createTask(omoi.url, { prompt: QUICK, depends_on: [failing.id] });
    assert.equal(late.status, "failed", "a task whose dependency already failed fails at once");
    assert.equal(late.error, `dependency ${failing.id} failed`);
    await events.next(late.id, "task.failed");
  });

  test("failed runs are retried up to max_retries, then fail for good", async () => {
    const task = await createTask(omoi.url, {
      prompt: "[scenario:fail-server-error] go",
      max_retries: 1,
    });
    await events.count(task.id, "task.failed", 2);
    const [first, second] = events.of(task.id, "task.failed");
    assert.equal(first.payload.will_retry, true);
    assert.equal(second.payload.will_retry, false);
    const row = await getTask(omoi.url, task.id);
    assert.equal(row.status, "failed");
    assert.equal(row.attempts, 2);
    assert.equal(events.of(task.id, "task.assigned").length, 2);
    const sandboxes = await listSandboxes(omoi.url, `task_id=${task.id}`);
    assert.equal(sandboxes.length, 2, "each attempt ran in a sandbox of its own");
  });

  test("cancel while pending: never runs; its dependents fail; retry runs it", async () => {
    const blocker = await createTask(omoi.url, { prompt: "[scenario:slow-tool] go" });
    await events.next(blocker.id, "task.started");
    const pending = await createTask(omoi.url, { prompt: QUICK });
    const dependent = await createTask(omoi.url, { prompt: QUICK, depends_on: [pending.id] });
    const cancelled = await api<{ status: string }>(
      omoi.url,
      "POST",
      `/api/v1/tasks/${pending.id}/cancel`,
    );
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, "cancelled");
    await events.next(dependent.id, "task.failed");
    assert.equal(
      (await getTask(omoi.url, dependent.id)).error,
      `dependency ${pending.id} cancelled`,
    );

    const retried = await api<{ status: string }>(
      omoi.url,
      "POST",
      `/api/v1/tasks/${pending.id}/retry`,
    );
    assert.equal(retried.status, 200);
    assert.equal(retried.body.status, "pending");
    await events.next(pending.id, "task.completed");
    const row = await getTask(omoi.url, pending.id);
    assert.equal(row.status, "completed");
    assert.equal(row.result, "Hello from Omoi's scripted model.");
    assert.ok(row.num_turns >= 1 && row.output_tokens > 0, "turns and tokens are counted");
    assert.equal(events.of(pending.id, "task.assigned").length, 1, "ran once, after the retry");
    assert.equal(events.of(blocker.id, "task.completed").length, 1);
  });

  test("cancel while running: the task is cancelled and every process of its sandbox is gone", async () => {
    const task = await createTask(omoi.url, { prompt: "[scenario:slow-tool] go" });
    await events.next(task.id, "task.started");
    const running = await getTask(omoi.url, task.id);
    assert.equal(running.status, "running");
    assert.ok(running.sandbox?.worker_pid, "the sandbox row names its worker");
    const cancelled = await api<{ status: string }>(
      omoi.url,
      "POST",
      `/api/v1/tasks/${task.id}/cancel`,
    );
    assert.equal(cancelled.body.status, "cancelled");
    const row = await getTask(omoi.url, task.id);
    assert.equal(row.status, "cancelled");
    assert.equal(row.sandbox?.status, "terminated");
    assertNoProcesses(running.sandbox);
    await events.next(task.id, "sandbox.terminated");
    assert.equal(events.of(task.id, "task.completed").length, 0);
  });
});

describe("concurrency: a burst of 50 tasks on 3 slots", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "3" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("all 50 complete and never more than 3 sandboxes are open at once", async () => {
    const tasks = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        createTask(omoi.url, { prompt: `${QUICK} #${index}` }),
      ),
    );
    const ids = tasks.map((task) => task.id);
    await events.all(ids, TERMINAL_TASK_EVENTS, 400_000);
    for (const id of ids) {
      assert.equal(events.of(id, "task.completed").length, 1, `task ${id} completed once`);
      assert.equal(events.of(id, "task.started").length, 1, `task ${id} started once`);
    }

    // From stored timings: a sandbox holds a slot from its creation until it ended.
    const sandboxes: Sandbox[] = await listSandboxes(omoi.url);
    assert.equal(sandboxes.length, 50, "one sandbox per task");
    const open = sandboxes.map((sandbox) => ({
      start: sandbox.created_at,
      end: sandbox.ended_at ?? Number.POSITIVE_INFINITY,
    }));
    assert.ok(maxOverlap(open) <= 3, `at most 3 open at once, saw ${maxOverlap(open)}`);
    // The tasks' own running intervals agree.
    const rows = await Promise.all(ids.map((id) => getTask(omoi.url, id)));
    const running = rows.map((row) => ({ start: row.started_at!, end: row.completed_at! }));
    assert.ok(maxOverlap(running) <= 3);
    // And from the event stream, in the order the server emitted them.
    let live = 0;
    let most = 0;
    for (const event of events.viewer.events) {
      if (event.event_type === "sandbox.created") live++;
      if (["sandbox.completed", "sandbox.failed", "sandbox.terminated"].includes(event.event_type))
        live--;
      most = Math.max(most, live);
    }
    assert.ok(most <= 3, `events show at most 3 open, saw ${most}`);
    assert.equal(most, 3, "the slots were used");
  });
});
