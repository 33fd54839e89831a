import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import {
  assertNoProcesses,
  createTask,
  getTask,
  Lifecycle,
  listSandboxes,
  listTasks,
  settled,
} from "./helpers.ts";

const QUICK = "[scenario:quick] say hello";
const SLOW = "[scenario:slow-tool] run the slow step";

interface ErrorBody {
  error: { name: string; message: string };
}

let omoi: TestOmoi;
let events: Lifecycle;

before(async () => {
  omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "2" });
  events = await new Lifecycle(omoi.url).open();
});
after(async () => {
  events.close();
  await omoi.stop();
});

/** Sends a request that must be refused with `status` and a readable error body. */
async function refused(method: string, route: string, body: unknown, status: number) {
  const response = await api<ErrorBody>(omoi.url, method, route, body);
  assert.equal(response.status, status, `${method} ${route} ${JSON.stringify(body)}`);
  assert.ok(response.body.error?.name, "the error has a name");
  assert.ok(response.body.error.message.length > 5, "the error says what is wrong");
  return response.body.error;
}

async function counts() {
  return {
    tasks: (await listTasks(omoi.url)).total,
    sandboxes: (await listSandboxes(omoi.url)).length,
    events: events.viewer.events.length,
  };
}

describe("tasks and sandboxes API", () => {
  test("a task: create with every field, then read it with its sandbox, timings and usage", async () => {
    const created = await createTask(omoi.url, {
      title: "full task",
      prompt: QUICK,
      phase_id: "PHASE_TESTING",
      priority: "HIGH",
      runtime: "claude",
      model: "claude-sonnet-4-5",
      max_turns: 5,
      max_budget_usd: 2,
      depends_on: [],
    });
    assert.equal(created.status, "pending");
    assert.equal(created.phase_id, "PHASE_TESTING");
    assert.equal(created.priority, "HIGH");
    const defaults = await createTask(omoi.url, { prompt: QUICK });
    assert.equal(defaults.phase_id, "PHASE_IMPLEMENTATION");
    assert.equal(defaults.priority, "MEDIUM");
    assert.equal(defaults.runtime, "claude");

    const task = await settled(events, created.id, "completed");
    assert.equal(task.result, "Hello from Omoi's scripted model.");
    assert.equal(task.error, null);
    assert.ok(task.started_at && task.completed_at && task.completed_at >= task.started_at);
    assert.ok(task.num_turns >= 1);
    assert.ok(task.input_tokens > 0 && task.output_tokens > 0);
    assert.ok(task.cost_usd >= 0);
    assert.equal(task.sandbox?.id, task.sandbox_id);
    assert.equal(task.sandbox?.task_id, task.id);
    assert.equal(task.sandbox?.model, "claude-sonnet-4-5");
    assert.equal(task.sandbox?.max_turns, 5);
    assert.deepEqual(
      events
        .of(task.id)
        .map((event) => event.event_type)
        .filter((type) => type.startsWith("task.")),
      ["task.created", "task.assigned", "task.started", "task.completed"],
    );
    await settled(events, defaults.id, "completed");

    const completed = await api<{ tasks: { id: string; status: string }[]; total: number }>(
      omoi.url,
      "GET",
      "/api/v1/tasks?status=completed&limit=1&offset=0",
    );
    assert.equal(completed.status, 200);
    assert.equal(completed.body.tasks.length, 1, "paged");
    assert.ok(completed.body.total >= 2);
    assert.ok(completed.body.tasks.every((item) => item.status === "completed"));
    const second = await api<{ tasks: { id: string }[] }>(
      omoi.url,
      "GET",
      "/api/v1/tasks?status=completed&limit=1&offset=1",
    );
    assert.notEqual(second.body.tasks[0].id, completed.body.tasks[0].id);
  });

  test("an ad-hoc sandbox: runs its prompt, is listed and read, and DELETE ends its processes", async () => {
    const created = await api<Sandbox>(omoi.url, "POST", "/api/v1/sandboxes", { prompt: QUICK });
    assert.equal(created.status, 201);
    assert.equal(created.body.kind, "agent");
    assert.equal(created.body.task_id, null);
    const id = created.body.id;
    await events.viewer.waitForEvent("agent.waiting", (event) => event.sandbox_id === id);
    const one = await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.status, "idle");
    assert.ok(one.body.worker_pid && one.body.session_id && one.body.workspace);
    const idle = await listSandboxes(omoi.url, "status=idle");
    assert.ok(idle.some((sandbox) => sandbox.id === id));
    assert.ok(idle.every((sandbox) => sandbox.status === "idle"));

    const deleted = await api<Sandbox>(omoi.url, "DELETE", `/api/v1/sandboxes/${id}`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.status, "terminated");
    assert.ok(deleted.body.ended_at);
    assertNoProcesses(one.body);
    await events.viewer.waitForEvent("sandbox.terminated", (event) => event.sandbox_id === id);
    const again = await api<Sandbox>(omoi.url, "DELETE", `/api/v1/sandboxes/${id}`);
    assert.equal(again.status, 200, "deleting an ended sandbox changes nothing");
    assert.equal(again.body.status, "terminated");
  });

  test("bad input on every task route: a clear 4xx and nothing created", async () => {
    const before = await counts();
    const malformed = ["{", '{"prompt": "x",}', "[1,2", "nul"];
    for (const body of malformed) await refused("POST", "/api/v1/tasks", body, 400);
    for (const body of [
      [],
      "a string",
      42,
      {},
      { prompt: 5 },
      { prompt: "" },
      { prompt: "   \n " },
      { prompt: QUICK, title: "" },
      { prompt: QUICK, title: 7 },
      { prompt: QUICK, priority: "URGENT" },
      { prompt: QUICK, priority: "high" },
      { prompt: QUICK, priority: 1 },
      { prompt: QUICK, phase_id: "PHASE_NOPE" },
      { prompt: QUICK, runtime: "codex" },
      { prompt: QUICK, model: "" },
      { prompt: QUICK, max_turns: 0 },
      { prompt: QUICK, max_turns: 1.5 },
      { prompt: QUICK, max_turns: "3" },
      { prompt: QUICK, max_budget_usd: -1 },
      { prompt: QUICK, max_retries: 11 },
      { prompt: QUICK, depends_on: "task_x" },
      { prompt: QUICK, depends_on: [5] },
      { prompt: QUICK, depends_on: ["not a valid id!"] },
      { prompt: QUICK, depends_on: ["task_doesnotexist000000"] },
      { prompt: QUICK, bogus: true },
      { prompt: QUICK, status: "completed" },
      { prompt: QUICK, id: "task_mine" },
    ]) {
      await refused("POST", "/api/v1/tasks", body, 400);
    }
    const unknownDependency = await refused(
      "POST",
      "/api/v1/tasks",
      { prompt: QUICK, depends_on: ["task_doesnotexist000000"] },
      400,
    );
    assert.match(unknownDependency.message, /task_doesnotexist000000/);
    const unknownField = await refused("POST", "/api/v1/tasks", { prompt: QUICK, bogus: 1 }, 400);
    assert.match(unknownField.message, /bogus/);

    for (const query of ["status=bogus", "status=running,nope", "limit=0", "limit=x", "offset=-1"])
      await refused("GET", `/api/v1/tasks?${query}`, undefined, 400);
    await refused("GET", "/api/v1/tasks/task_doesnotexist000000", undefined, 404);
    await refused("GET", `/api/v1/tasks/${"x".repeat(65)}`, undefined, 400);
    await refused("GET", "/api/v1/tasks/bad%20id", undefined, 400);
    for (const action of ["cancel", "retry", "messages"]) {
      const body = action === "messages" ? { content: "hi" } : undefined;
      await refused("POST", `/api/v1/tasks/task_doesnotexist000000/${action}`, body, 404);
      await refused("POST", `/api/v1/tasks/bad%20id/${action}`, body, 400);
    }
    assert.deepEqual(await counts(), before, "nothing was created, no event was sent");
  });

  test("lifecycle conflicts: cancel of a completed task, retry of a running or completed one", async () => {
    const done = await createTask(omoi.url, { prompt: QUICK });
    await settled(events, done.id, "completed");
    const cancel = await refused("POST", `/api/v1/tasks/${done.id}/cancel`, undefined, 409);
    assert.match(cancel.message, /completed/);
    await refused("POST", `/api/v1/tasks/${done.id}/retry`, undefined, 409);
    assert.equal((await getTask(omoi.url, done.id)).status, "completed", "unchanged");

    const running = await createTask(omoi.url, { prompt: SLOW });
    await events.next(running.id, "task.started");
    const retry = await refused("POST", `/api/v1/tasks/${running.id}/retry`, undefined, 409);
    assert.match(retry.message, /running/);
    assert.equal((await getTask(omoi.url, running.id)).status, "running", "unchanged");
    for (const body of ['{"content":', { content: "" }, { content: 5 }, { content: "x", bogus: 1 }])
      await refused("POST", `/api/v1/tasks/${running.id}/messages`, body, 400);

    const cancelled = await api<{ status: string }>(
      omoi.url,
      "POST",
      `/api/v1/tasks/${running.id}/cancel`,
    );
    assert.equal(cancelled.body.status, "cancelled");
    await refused("POST", `/api/v1/tasks/${running.id}/cancel`, undefined, 409);
    assert.equal(events.of(running.id, "task.cancelled").length, 1);
  });

  test("bad input on every sandbox route: a clear 4xx and nothing created", async () => {
    const taken = await api<Sandbox>(omoi.url, "POST", "/api/v1/sandboxes", { id: "sbx-taken" });
    assert.equal(taken.status, 201);
    const before = await counts();
    for (const body of ["{", "[1", '{"prompt":}'])
      await refused("POST", "/api/v1/sandboxes", body, 400);
    for (const body of [
      [],
      "text",
      { prompt: 5 },
      { prompt: "" },
      { prompt: "  " },
      { prompt: QUICK, max_turns: -1 },
      { prompt: QUICK, model: 3 },
      { prompt: QUICK, bogus: 1 },
      { id: "bad id!" },
      { id: "x".repeat(65) },
      { task_id: "task_x" },
    ]) {
      await refused("POST", "/api/v1/sandboxes", body, 400);
    }
    await refused("POST", "/api/v1/sandboxes", { id: "sbx-taken" }, 409);
    await refused("POST", "/api/v1/sandboxes", { id: "sbx-taken", prompt: QUICK }, 409);
    for (const query of ["status=bogus", "limit=0", "limit=501", "task_id=bad%20id"])
      await refused("GET", `/api/v1/sandboxes?${query}`, undefined, 400);
    await refused("GET", "/api/v1/sandboxes/sbx_doesnotexist", undefined, 404);
    await refused("GET", "/api/v1/sandboxes/bad%20id", undefined, 400);
    await refused("DELETE", "/api/v1/sandboxes/sbx_doesnotexist", undefined, 404);
    await refused("DELETE", `/api/v1/sandboxes/${"x".repeat(65)}`, undefined, 400);
    assert.deepEqual(await counts(), before, "nothing was created, no event was sent");
  });
});
