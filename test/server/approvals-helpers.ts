import assert from "node:assert/strict";
import type { Approval } from "../../src/protocol/approval.ts";
import type { EventFrame } from "../../src/protocol/event.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

/** A task started through the API, watched by a viewer from its first event. */
export interface WatchedTask {
  base: string;
  task: Task;
  viewer: TestViewer;
  /** The task's sandbox, once it has one. */
  sandboxId(): Promise<string>;
  /** The next request event of a type, by order of arrival (0 = the first). */
  request(type: string, index?: number): Promise<EventFrame>;
  answer(
    requestId: string,
    body: Record<string, unknown>,
  ): Promise<{ status: number; body: Approval & { error?: { name: string; message: string } } }>;
  messages(): string[];
  count(type: string): number;
}

export async function startTask(
  base: string,
  body: Record<string, unknown>,
  token?: string,
): Promise<WatchedTask> {
  const created = await api<Task>(base, "POST", "/api/v1/tasks", body, token);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const task = created.body;
  const query = `entity_types=task&entity_ids=${task.id}&since=0${token ? `&token=${token}` : ""}`;
  const viewer = new TestViewer(`${base.replace("http", "ws")}/ws/events?${query}`);
  await viewer.opened;
  const sandboxId = async () => {
    await viewer.waitForEvent("agent.started", undefined, 60_000);
    return viewer.events.find((event) => event.event_type === "agent.started")!.sandbox_id!;
  };
  const ofType = (type: string) => viewer.events.filter((event) => event.event_type === type);
  return {
    base,
    task,
    viewer,
    sandboxId,
    request: async (type, index = 0) => {
      await viewer.waitFor(() => ofType(type).length > index, `${type} #${index + 1}`, 60_000);
      return ofType(type)[index];
    },
    answer: async (requestId, answer) =>
      api(
        base,
        "POST",
        `/api/v1/sandboxes/${await sandboxId()}/permissions/${requestId}`,
        answer,
        token,
      ),
    messages: () => ofType("agent.message").map((event) => String(event.payload.content)),
    count: (type) => ofType(type).length,
  };
}

/** Waits for an agent message containing `text`. */
export function waitForMessage(watched: WatchedTask, text: string) {
  return watched.viewer.waitForEvent(
    "agent.message",
    (event) => String(event.payload.content).includes(text),
    60_000,
  );
}

/** Cancels the tasks a test started, so their sandboxes free their slots for the next test. */
export async function cancelAll(base: string, started: WatchedTask[]) {
  for (const watched of started.splice(0)) {
    watched.viewer.close();
    await api(base, "POST", `/api/v1/tasks/${watched.task.id}/cancel`);
  }
}
