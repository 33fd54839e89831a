import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { ApiClient } from "../../src/client/api.ts";
import { viewerUrl } from "../../src/client/viewer-frame.ts";
import type { CreateTaskInput, Task } from "../../src/protocol/task.ts";
import { TestViewer } from "./viewer.ts";

/** The typed client every Omoi client uses, on a test server. */
export const clientOf = (base: string) => new ApiClient({ baseUrl: base, clientName: "test" });

/** A viewer of one task's events from its first. */
const taskViewer = (base: string, taskId: string) =>
  new TestViewer(viewerUrl(base, { entityTypes: ["task"], entityIds: [taskId], since: 0 }));

/** Creates a task, waits until it completes (its first run ended), and returns it as stored. */
export async function runTaskToCompletion(base: string, body: CreateTaskInput): Promise<Task> {
  const client = clientOf(base);
  const created = await client.createTask(body);
  const viewer = taskViewer(base, created.id);
  try {
    await viewer.waitForEvent("task.completed", undefined, 120_000);
  } finally {
    viewer.close();
  }
  return client.getTask(created.id);
}

/** Runs a task until it completes or fails; returns it as stored and every event its viewer saw. */
export async function runTaskWithEvents(base: string, body: CreateTaskInput) {
  const client = clientOf(base);
  const created = await client.createTask(body);
  const viewer = taskViewer(base, created.id);
  try {
    await viewer.waitForEvent("task.completed", undefined, 120_000).catch(async () => {
      await viewer.waitForEvent("task.failed", undefined, 1_000);
    });
    const task = await client.getTask(created.id);
    return { task, events: [...viewer.events] };
  } finally {
    viewer.close();
  }
}

/** Every worker log under a data dir, concatenated (to check what was never logged). */
export async function workerLogs(dataDir: string): Promise<string> {
  const files = (await readdir(dataDir, { recursive: true })).filter(
    (file) => path.basename(file) === "worker.log",
  );
  assert.ok(files.length > 0, `no worker.log under ${dataDir}`);
  const texts = await Promise.all(files.map((file) => readFile(path.join(dataDir, file), "utf8")));
  return texts.join("\n");
}
