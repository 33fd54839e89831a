import assert from "node:assert/strict";
import type { Task } from "../../src/protocol/task.ts";
import { api } from "./omoi.ts";
import { TestViewer } from "./viewer.ts";

/** Creates a task, waits until it completes (its first run ended), and returns it as stored. */
export async function runTaskToCompletion(base: string, body: object): Promise<Task> {
  const created = await api<Task>(base, "POST", "/api/v1/tasks", body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = new TestViewer(
    `${base.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0`,
  );
  try {
    await viewer.waitForEvent("task.completed", undefined, 120_000);
  } finally {
    viewer.close();
  }
  return (await api<Task>(base, "GET", `/api/v1/tasks/${created.body.id}`)).body;
}

/** Runs a task until it completes or fails; returns it as stored and every event its viewer saw. */
export async function runTaskWithEvents(base: string, body: object) {
  const created = await api<Task>(base, "POST", "/api/v1/tasks", body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = new TestViewer(
    `${base.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0`,
  );
  try {
    await viewer.waitForEvent("task.completed", undefined, 120_000).catch(async () => {
      await viewer.waitForEvent("task.failed", undefined, 1_000);
    });
    const task = (await api<Task>(base, "GET", `/api/v1/tasks/${created.body.id}`)).body;
    return { task, events: [...viewer.events] };
  } finally {
    viewer.close();
  }
}
