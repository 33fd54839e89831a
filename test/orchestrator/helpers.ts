import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import type { EventFrame } from "../../src/protocol/event.ts";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { isAlive } from "../../src/sandbox/process-tree.ts";
import { api } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

export type TaskWithSandbox = Task & { sandbox: Sandbox | null };

/** A viewer of every lifecycle event (task.* and sandbox.*) of one server. */
export class Lifecycle {
  readonly viewer: TestViewer;

  constructor(
    readonly url: string,
    readonly token?: string,
  ) {
    this.viewer = new TestViewer(
      `${url.replace("http", "ws")}/ws/events?entity_types=sandbox,task&event_types=task.*,sandbox.*,agent.started,agent.waiting,agent.message${token ? `&token=${token}` : ""}`,
    );
  }

  async open() {
    await this.viewer.opened;
    await this.viewer.waitFor(
      () => this.viewer.frames.some((frame) => frame.type === "subscribed"),
      "subscribed",
    );
    return this;
  }

  of(taskId: string, type?: string): EventFrame[] {
    return this.viewer.events.filter(
      (event) => event.task_id === taskId && (type === undefined || event.event_type === type),
    );
  }

  /** Resolves with the first `type` event of the task; rejects after the safety timeout. */
  async next(taskId: string, type: string, timeoutMs = 60_000): Promise<EventFrame> {
    await this.viewer.waitFor(
      () => this.of(taskId, type).length > 0,
      `${type} of ${taskId}`,
      timeoutMs,
    );
    return this.of(taskId, type)[0];
  }

  /** Waits until the task has `count` events of `type`. */
  async count(taskId: string, type: string, count: number, timeoutMs = 60_000) {
    await this.viewer.waitFor(
      () => this.of(taskId, type).length >= count,
      `${count}× ${type} of ${taskId}`,
      timeoutMs,
    );
  }

  /** Waits until every task given has an event of one of `types`. */
  async all(taskIds: string[], types: string[], timeoutMs = 180_000) {
    await this.viewer.waitFor(
      () =>
        taskIds.every((id) =>
          this.viewer.events.some((e) => e.task_id === id && types.includes(e.event_type)),
        ),
      `${types.join("|")} of ${taskIds.length} tasks`,
      timeoutMs,
    );
  }

  close() {
    this.viewer.close();
  }
}

/**
 * The task once it has had a `type` event (task.failed…). Reads the stored row first, so an
 * event sent before this viewer subscribed is not waited for in vain.
 */
export async function settled(
  events: Lifecycle,
  taskId: string,
  status: Task["status"],
  timeoutMs = 60_000,
): Promise<TaskWithSandbox> {
  const row = await getTask(events.url, taskId, events.token);
  if (row.status === status) return row;
  await events.next(taskId, `task.${status}`, timeoutMs);
  return getTask(events.url, taskId, events.token);
}

export async function createTask(
  url: string,
  body: Record<string, unknown>,
  token?: string,
): Promise<Task> {
  const response = await api<Task>(url, "POST", "/api/v1/tasks", body, token);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body;
}

export async function getTask(url: string, id: string, token?: string): Promise<TaskWithSandbox> {
  const response = await api<TaskWithSandbox>(url, "GET", `/api/v1/tasks/${id}`, undefined, token);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

export async function listSandboxes(url: string, query = ""): Promise<Sandbox[]> {
  const sandboxes: Sandbox[] = [];
  for (let offset = 0; ; offset += 500) {
    const response = await api<{ sandboxes: Sandbox[]; total: number }>(
      url,
      "GET",
      `/api/v1/sandboxes?limit=500&offset=${offset}${query ? `&${query}` : ""}`,
    );
    assert.equal(response.status, 200);
    sandboxes.push(...response.body.sandboxes);
    if (sandboxes.length >= response.body.total) return sandboxes;
  }
}

export async function listTasks(
  url: string,
  query = "",
): Promise<{ tasks: Task[]; total: number }> {
  const response = await api<{ tasks: Task[]; total: number }>(
    url,
    "GET",
    `/api/v1/tasks?limit=500${query ? `&${query}` : ""}`,
  );
  assert.equal(response.status, 200);
  return response.body;
}

/**
 * Live processes that belong to a sandbox: every one of them (worker, srt wrapper, CLI, tools)
 * carries the sandbox's state dir in its environment.
 */
export function processesOf(sandboxId: string): number[] {
  const marker = `sandbox-state/${sandboxId}`;
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").includes(marker) && isAlive(Number(name)))
        found.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Asserts the sandbox's worker and every process of it are gone. */
export function assertNoProcesses(sandbox: Pick<Sandbox, "id" | "worker_pid">) {
  if (sandbox.worker_pid !== null)
    assert.equal(isAlive(sandbox.worker_pid), false, `worker ${sandbox.worker_pid} still alive`);
  assert.deepEqual(processesOf(sandbox.id), [], `processes of ${sandbox.id} still alive`);
}

export const TERMINAL_TASK_EVENTS = ["task.completed", "task.failed", "task.cancelled"];
