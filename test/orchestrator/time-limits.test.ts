import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { assertNoProcesses, createTask, getTask, Lifecycle, settled } from "./helpers.ts";

const SLOW = "[scenario:slow-tool] run the slow step";

/** The agent.limit_exceeded events of a task, read from its sandboxes' stored streams. */
async function limitEvents(url: string, taskId: string) {
  const { body } = await api<{ sandboxes: { id: string }[] }>(
    url,
    "GET",
    `/api/v1/sandboxes?task_id=${taskId}&limit=500`,
  );
  const found = [];
  for (const sandbox of body.sandboxes) {
    const page = await api<{ events: { payload: Record<string, unknown> }[] }>(
      url,
      "GET",
      `/api/v1/sandboxes/${sandbox.id}/events?event_type=agent.limit_exceeded`,
    );
    found.push(...page.body.events.map((event) => event.payload));
  }
  return found;
}

describe("wall-clock limits per run and per task", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    // The server's default run limit is short; the slow scenario's tool alone takes 3 s.
    omoi = await startTestOmoi({ OMOI_MAX_RUN_MS: "1000", OMOI_IDLE_WINDOW_MS: "600000" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("a run past OMOI_MAX_RUN_MS ends with agent.limit_exceeded naming the limit; the task fails and its processes are gone", async () => {
    const task = await createTask(omoi.url, { prompt: SLOW, max_retries: 2 });
    await settled(events, task.id, "failed");
    await events.next(task.id, "sandbox.failed");
    const failed = await getTask(omoi.url, task.id);
    assert.equal(failed.status, "failed");
    assert.match(failed.error ?? "", /max_run_ms 1000/);
    assert.equal(events.of(task.id, "task.assigned").length, 1, "not retried: it would pass again");
    assert.equal(failed.sandbox?.status, "failed");
    assertNoProcesses(failed.sandbox!);
    const [limit] = await limitEvents(omoi.url, task.id);
    assert.equal(limit.limit, "run_time");
    assert.equal(limit.max, 1000);
    assert.equal(limit.unit, "ms");
    assert.ok(Number(limit.value) >= 1000);
  });

  test("a task's own limits override the server's, and max_task_ms counts the run time of all its runs", async () => {
    const task = await createTask(omoi.url, {
      prompt: SLOW,
      limits: { max_run_ms: 600_000, max_task_ms: 1500 },
    });
    const failed = await settled(events, task.id, "failed");
    assert.match(failed.error ?? "", /max_task_ms 1500/);
    assert.ok(failed.session_id, "the agent had started");
    await events.next(task.id, "sandbox.failed");

    // The task has used up its time: a follow-up's new run ends at once, for the same limit.
    const followUp = await api(omoi.url, "POST", `/api/v1/tasks/${task.id}/messages`, {
      content: "try once more",
    });
    assert.equal(followUp.status, 201);
    await events.count(task.id, "task.failed", 2);
    await events.count(task.id, "sandbox.failed", 2);
    const again = await getTask(omoi.url, task.id);
    assert.equal(again.status, "failed");
    assert.match(again.error ?? "", /max_task_ms 1500/);
    const limits = await limitEvents(omoi.url, task.id);
    assert.deepEqual(
      limits.map((limit) => limit.limit),
      ["task_time", "task_time"],
    );
  });
});
