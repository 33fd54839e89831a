import type { PayloadInputOf } from "../protocol/event.ts";
import {
  type RegisteredDefinition,
  SandboxCompleted,
  SandboxCreated,
  SandboxFailed,
  SandboxReady,
  SandboxStarting,
  SandboxTerminated,
  TaskAssigned,
  TaskCancelled,
  TaskCompleted,
  TaskCreated,
  TaskFailed,
  TaskStarted,
} from "../protocol/events.ts";
import type { SandboxStatus } from "../protocol/sandbox.ts";
import type { TaskStatus } from "../protocol/task.ts";

/**
 * One row of a lifecycle: a named change from any of `from` to `to`, stored as one guarded
 * write (compare-and-set on the status) and told as one event. `event: null` marks the few
 * changes another event already tells (a sandbox going idle is `agent.waiting`).
 */
export interface Transition<Status extends string> {
  from: readonly Status[];
  to: Status;
  /** The event's definition, so its payload is typed where the transition is made. */
  event: RegisteredDefinition | null;
  /** Payload fields that tell this transition's event apart from another's with the same type. */
  marks?: Record<string, unknown>;
  /** What makes it happen, and what must hold. */
  when: string;
  /**
   * "with-sandbox": the write happens first and the event once the run's sandbox is
   * recorded, because the event names it (`task.assigned`).
   */
  announce?: "with-sandbox";
}

const LIVE_SANDBOX: readonly SandboxStatus[] = ["pending", "starting", "running", "idle"];

/** Every way a task's status changes. Creation has no `from`. */
export const TASK_TRANSITIONS = {
  create: {
    from: [],
    to: "pending",
    event: TaskCreated,
    when: "POST /api/v1/tasks",
  },
  claim: {
    from: ["pending"],
    to: "assigned",
    event: TaskAssigned,
    when: "a slot is free and every dependency is completed (the store's atomic claim)",
    announce: "with-sandbox",
  },
  requeue: {
    from: ["assigned"],
    to: "pending",
    event: null,
    when: "the claim is handed back: the slot was taken meanwhile, or the launch failed",
  },
  start: {
    from: ["assigned"],
    to: "running",
    event: TaskStarted,
    when: "its worker reports agent.started",
  },
  complete: {
    from: ["assigned", "running"],
    to: "completed",
    event: TaskCompleted,
    when: "its worker reports agent.waiting after a turn that was not an error",
  },
  fail: {
    from: ["assigned", "running"],
    to: "failed",
    event: TaskFailed,
    marks: { will_retry: false },
    when: "an error turn, agent.failed, a dead worker or an ended sandbox; no retry left",
  },
  retry_run: {
    from: ["assigned", "running"],
    to: "pending",
    event: TaskFailed,
    marks: { will_retry: true },
    when: "the run failed and attempts <= max_retries",
  },
  block: {
    from: ["pending"],
    to: "failed",
    event: TaskFailed,
    marks: { will_retry: false },
    when: "a dependency failed or was cancelled",
  },
  cancel: {
    from: ["pending", "assigned", "running"],
    to: "cancelled",
    event: TaskCancelled,
    when: "POST /api/v1/tasks/{id}/cancel, or DELETE of its sandbox",
  },
  retry: {
    from: ["failed", "cancelled"],
    to: "pending",
    event: TaskCreated,
    marks: { retry: true },
    when: "POST /api/v1/tasks/{id}/retry",
  },
  wake: {
    from: ["completed", "failed"],
    to: "running",
    event: TaskStarted,
    marks: { follow_up: true },
    when: "a follow-up reaches its idle sandbox",
  },
  resume: {
    from: ["completed", "failed", "cancelled"],
    to: "assigned",
    event: TaskAssigned,
    when: "a follow-up after its sandbox closed: a new sandbox resumes the session",
    announce: "with-sandbox",
  },
} as const satisfies Record<string, Transition<TaskStatus>>;

/** Every way a sandbox's status changes. Creation has no `from`. */
export const SANDBOX_TRANSITIONS = {
  create: {
    from: [],
    to: "pending",
    event: SandboxCreated,
    marks: { kind: "agent" },
    when: "a task is claimed or resumed, or POST /api/v1/sandboxes with a prompt",
  },
  register: {
    from: [],
    to: "running",
    event: SandboxCreated,
    marks: { kind: "external" },
    when: "POST /api/v1/sandboxes without a prompt (an external producer)",
  },
  start: {
    from: ["pending"],
    to: "starting",
    event: SandboxStarting,
    when: "the provider is asked for its worker",
  },
  ready: {
    from: ["pending", "starting"],
    to: "running",
    event: SandboxReady,
    when: "its worker reports agent.started",
  },
  idle: {
    from: ["starting", "running"],
    to: "idle",
    event: null,
    when: "its worker reports agent.waiting (that event tells it); the idle window opens",
  },
  wake: {
    from: ["idle"],
    to: "running",
    event: null,
    when: "a follow-up arrives (task.started with follow_up tells it)",
  },
  complete: {
    from: LIVE_SANDBOX,
    to: "completed",
    event: SandboxCompleted,
    when: "the idle window ended, it was closed for a slot, or the agent finished",
  },
  fail: {
    from: LIVE_SANDBOX,
    to: "failed",
    event: SandboxFailed,
    when: "agent.failed, the start failed, a dead worker, or an orphan closed out",
  },
  terminate: {
    from: LIVE_SANDBOX,
    to: "terminated",
    event: SandboxTerminated,
    when: "DELETE, its task cancelled, or the server shut down",
  },
} as const satisfies Record<string, Transition<SandboxStatus>>;

export type TaskTransitionName = keyof typeof TASK_TRANSITIONS;
export type SandboxTransitionName = keyof typeof SANDBOX_TRANSITIONS;

/** The payload a transition's event takes (its marks are added by the lifecycle core). */
export type TransitionPayload<T extends { event: RegisteredDefinition | null }> =
  T["event"] extends RegisteredDefinition ? PayloadInputOf<T["event"]> : Record<string, never>;
export type TaskPayload<N extends TaskTransitionName> = TransitionPayload<
  (typeof TASK_TRANSITIONS)[N]
>;
export type SandboxPayload<N extends SandboxTransitionName> = TransitionPayload<
  (typeof SANDBOX_TRANSITIONS)[N]
>;

/** The sandbox statuses in which it still holds a slot. */
export const LIVE_SANDBOX_STATUSES = LIVE_SANDBOX;

function marks(transition: Transition<string>): string {
  const entries = Object.entries(transition.marks ?? {});
  return entries.map(([key, value]) => ` ${key}=${String(value)}`).join("");
}

function diagram(table: Record<string, Transition<string>>): string[] {
  const lines = ["stateDiagram-v2"];
  for (const [name, transition] of Object.entries(table)) {
    const label = transition.event
      ? `${name} (${transition.event.type}${marks(transition)})`
      : name;
    const sources = transition.from.length === 0 ? ["[*]"] : transition.from;
    for (const from of sources) lines.push(`  ${from} --> ${transition.to}: ${label}`);
  }
  return lines;
}

function rows(table: Record<string, Transition<string>>): string[] {
  const lines = ["| transition | from | to | event | when |", "| --- | --- | --- | --- | --- |"];
  for (const [name, transition] of Object.entries(table)) {
    const from = transition.from.length === 0 ? "(new)" : transition.from.join(", ");
    lines.push(
      `| \`${name}\` | ${from} | ${transition.to} | ${transition.event ? `\`${transition.event.type}\`${marks(transition)}` : "—"} | ${transition.when} |`,
    );
  }
  return lines;
}

/**
 * The state diagrams and tables of docs/orchestrator.md, generated from the tables above (a
 * test checks that the document carries exactly this text).
 */
export function renderLifecycleDocs(): string {
  return [
    "### Tasks",
    "",
    "```mermaid",
    ...diagram(TASK_TRANSITIONS),
    "```",
    "",
    ...rows(TASK_TRANSITIONS),
    "",
    "### Sandboxes",
    "",
    "```mermaid",
    ...diagram(SANDBOX_TRANSITIONS),
    "```",
    "",
    ...rows(SANDBOX_TRANSITIONS),
  ].join("\n");
}
