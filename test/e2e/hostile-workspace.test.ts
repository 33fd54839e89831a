import assert from "node:assert/strict";
import { lstatSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * What the agent plants in its workspace is hostile data to the trusted worker: the real
 * agent, with its real tools, makes named pipes where the worker will look.
 */

let omoi: TestOmoi;
before(async () => {
  omoi = await startTestOmoi();
});
after(async () => omoi.stop());

async function startTask(prompt: string) {
  const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", { prompt });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0`,
  );
  await viewer.opened;
  return { task: created.body, viewer };
}

test("an edit of a named pipe the agent planted does not stall the worker: the task completes", async () => {
  const { task, viewer } = await startTask("[scenario:fifo-edit] plant a pipe and edit it");
  await viewer.waitForEvent(
    "agent.tool_result",
    (event) => String(event.payload.output).includes("fifo-planted"),
    90_000,
  );
  await viewer.waitForEvent("task.completed", undefined, 90_000);
  const done = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${task.id}`)).body;
  assert.equal(done.status, "completed");
  const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${done.sandbox_id}`))
    .body;
  assert.ok(sandbox.workspace);
  const planted = lstatSync(path.join(sandbox.workspace, "README.md"));
  assert.ok(planted.isFIFO() || planted.isFile(), "the path the agent planted is still there");
  assert.equal(
    viewer.events.some(
      (event) => event.event_type === "agent.file_edited" && event.payload.path === "README.md",
    ),
    planted.isFile(),
    "a diff only when the agent really replaced the pipe with a file",
  );
  viewer.close();
});

test("a turn stuck reading a named pipe is interruptible, and the session goes on", async () => {
  const { task, viewer } = await startTask("[scenario:shell] mkfifo stuck.pipe && cat stuck.pipe");
  await viewer.waitForEvent("agent.tool_use", (event) => event.payload.tool === "Bash", 90_000);
  const sandboxId = viewer.events.find((event) => event.event_type === "agent.tool_use")!
    .sandbox_id!;
  const interrupt = await api(omoi.url, "POST", `/api/v1/sandboxes/${sandboxId}/messages`, {
    content: "",
    message_type: "interrupt",
  });
  assert.equal(interrupt.status, 201, JSON.stringify(interrupt.body));
  await viewer.waitForEvent("agent.interrupted", undefined, 30_000);
  await api(omoi.url, "POST", `/api/v1/sandboxes/${sandboxId}/messages`, {
    content: "still with me?",
  });
  await viewer.waitForEvent(
    "agent.message",
    (event) => String(event.payload.content).includes("still with me?"),
    60_000,
  );
  await api(omoi.url, "DELETE", `/api/v1/sandboxes/${sandboxId}`);
  const ended = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${task.id}`)).body;
  assert.notEqual(ended.status, "running");
  viewer.close();
});
