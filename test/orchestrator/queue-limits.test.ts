import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { createTask, listTasks } from "./helpers.ts";

describe("a bounded task queue", () => {
  let omoi: TestOmoi;
  before(async () => {
    // No agents run, so every task stays queued.
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_MAX_QUEUED_TASKS: "3" });
  });
  after(async () => omoi.stop());

  test("a task beyond OMOI_MAX_QUEUED_TASKS is refused with 429 and Retry-After, and nothing is stored", async () => {
    const queued = [];
    for (let index = 0; index < 3; index++)
      queued.push(await createTask(omoi.url, { prompt: `queued ${index}` }));
    const response = await fetch(`${omoi.url}/api/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "one too many" }),
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get("retry-after")) > 0, "says when to come back");
    const body = (await response.json()) as { error: { name: string; message: string } };
    assert.equal(body.error.name, "QueueFull");
    assert.match(body.error.message, /OMOI_MAX_QUEUED_TASKS/);
    assert.equal((await listTasks(omoi.url)).total, 3, "the refused task was not stored");

    // A retry re-queues a task, so it is bounded too; a slot in the queue frees on cancel.
    const cancelled = await api(omoi.url, "POST", `/api/v1/tasks/${queued[0].id}/cancel`);
    assert.equal(cancelled.status, 200);
    await createTask(omoi.url, { prompt: "fits again" });
    const retried = await api(omoi.url, "POST", `/api/v1/tasks/${queued[0].id}/retry`);
    assert.equal(retried.status, 429);
    assert.equal((await listTasks(omoi.url, "status=pending")).total, 3);
  });
});
