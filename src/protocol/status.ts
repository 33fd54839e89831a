import type { EventType } from "./events.ts";
import type { SandboxStatus } from "./sandbox.ts";
import type { TaskStatus } from "./task.ts";

/*
 * Which status an event announces: the one mapping from events to task and sandbox status
 * that the orchestrator, the CLI and the web app share. It imports only types, so the web
 * bundle takes it without zod.
 */

export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ["completed", "failed", "cancelled"];
export const TERMINAL_SANDBOX_STATUSES: readonly SandboxStatus[] = [
  "completed",
  "failed",
  "terminated",
];

/** The task status each task lifecycle event announces. */
export const TASK_STATUS_BY_EVENT = {
  "task.created": "pending",
  "task.assigned": "assigned",
  "task.started": "running",
  "task.completed": "completed",
  "task.failed": "failed",
  "task.cancelled": "cancelled",
} as const satisfies Partial<Record<EventType, TaskStatus>>;

/** The sandbox status each sandbox lifecycle event announces. */
export const SANDBOX_STATUS_BY_EVENT = {
  "sandbox.created": "pending",
  "sandbox.starting": "starting",
  "sandbox.ready": "running",
  "sandbox.completed": "completed",
  "sandbox.failed": "failed",
  "sandbox.terminated": "terminated",
} as const satisfies Partial<Record<EventType, SandboxStatus>>;

interface StatusEvent {
  event_type: string;
  payload?: Record<string, unknown> | null;
}

/**
 * The task status after this event, or undefined when the event does not change it.
 * A failure that will be retried puts the task back in the queue.
 */
export function taskStatusAfter(event: StatusEvent): TaskStatus | undefined {
  const status = lookup(TASK_STATUS_BY_EVENT, event.event_type);
  if (status === "failed" && event.payload?.will_retry === true) return "pending";
  return status;
}

/** The sandbox status after this event, or undefined when the event does not change it. */
export function sandboxStatusAfter(event: StatusEvent): SandboxStatus | undefined {
  // An external producer's sandbox is registered running: nothing of Omoi's starts it.
  if (event.event_type === "sandbox.created" && event.payload?.kind === "external")
    return "running";
  return lookup(SANDBOX_STATUS_BY_EVENT, event.event_type);
}

export const isTerminalTaskStatus = (status: string): boolean =>
  (TERMINAL_TASK_STATUSES as readonly string[]).includes(status);
export const isTerminalSandboxStatus = (status: string): boolean =>
  (TERMINAL_SANDBOX_STATUSES as readonly string[]).includes(status);

function lookup<S extends string>(map: Record<string, S>, type: string): S | undefined {
  return Object.hasOwn(map, type) ? map[type] : undefined;
}
