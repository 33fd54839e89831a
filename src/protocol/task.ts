import { z } from "zod";
import { PermissionMode } from "./approval.ts";
import { APPROVAL_KINDS, PRIORITIES, TASK_STATUSES } from "./enums.ts";
import { EntityId } from "./ids.ts";
import { commaList } from "./query.ts";
import { TaskRepo, TaskRepoFields } from "./repo.ts";

export const Phase = z.enum([
  "PHASE_BACKLOG",
  "PHASE_REQUIREMENTS",
  "PHASE_DESIGN",
  "PHASE_IMPLEMENTATION",
  "PHASE_TESTING",
  "PHASE_DEPLOYMENT",
  "PHASE_DONE",
  "PHASE_BLOCKED",
]);
export const Priority = z.enum(PRIORITIES);
export type Priority = z.infer<typeof Priority>;
export const PRIORITY_RANK: Record<Priority, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };

export const TaskStatus = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatus>;
export { TERMINAL_TASK_STATUSES } from "./status.ts";

/**
 * Resource bounds of one sandbox; each field overrides the server's default for it.
 * `processes` counts processes and threads (the kernel's pids controller counts both).
 * `keep_background_processes`: processes the agent started in the background survive the
 * turn that started them (default: they are ended when the turn ends).
 */
export const SandboxLimits = z.strictObject({
  processes: z.number().int().min(16).max(100_000).optional(),
  memory_mb: z.number().int().min(64).max(1_048_576).optional(),
  disk_mb: z.number().int().min(1).max(10_485_760).optional(),
  keep_background_processes: z.boolean().optional(),
});
export type SandboxLimits = z.infer<typeof SandboxLimits>;

/**
 * A task's `limits`: its sandbox's resource bounds, plus wall-clock bounds the orchestrator
 * keeps — of one run (`max_run_ms`) and of all the task's runs together (`max_task_ms`).
 */
export const TaskLimits = SandboxLimits.extend({
  max_run_ms: z
    .number()
    .int()
    .min(1000)
    .max(30 * 86_400_000)
    .optional(),
  max_task_ms: z
    .number()
    .int()
    .min(1000)
    .max(365 * 86_400_000)
    .optional(),
});
export type TaskLimits = z.infer<typeof TaskLimits>;

/** The part of a task's limits its sandbox enforces. */
export function sandboxLimitsOf(limits: TaskLimits | null): SandboxLimits | null {
  if (!limits) return null;
  const { max_run_ms: _run, max_task_ms: _task, ...sandbox } = limits;
  return sandbox;
}

/** Settings shared by a task and an ad-hoc sandbox: what the agent runs with. */
export const AgentSettings = z.object({
  model: z.string().min(1).max(200).optional(),
  max_turns: z.number().int().min(1).max(10_000).optional(),
  max_budget_usd: z.number().positive().max(100_000).optional(),
  /** How much the agent may do without asking; default `bypassPermissions`. */
  permission_mode: PermissionMode.optional(),
  /** Deny a request nobody answered after this many minutes; absent = wait for an answer. */
  deny_unanswered_after_minutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .optional(),
  limits: TaskLimits.optional(),
});

export const CreateTaskBody = AgentSettings.extend({
  title: z.string().min(1).max(500).optional(),
  prompt: z.string().trim().min(1, "prompt must not be empty").max(100_000),
  phase_id: z
    .string()
    .transform((value) => (value.startsWith("PHASE_") ? value : `PHASE_${value}`))
    .pipe(Phase)
    .default("PHASE_IMPLEMENTATION"),
  priority: Priority.default("MEDIUM"),
  runtime: z.literal("claude").default("claude"),
  depends_on: z.array(EntityId).max(100).default([]),
  max_retries: z.number().int().min(0).max(10).default(0),
  /** An environment's name or id: setup, network, variables, secrets and model. */
  environment: z.string().min(1).max(64).optional(),
  ...TaskRepoFields,
});
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;
/** What a client sends to create a task (fields with defaults may be left out). */
export type CreateTaskInput = z.input<typeof CreateTaskBody>;

/** A task's title: the one given, or the prompt's first line. */
export const taskTitle = (body: CreateTaskBody) =>
  body.title ?? body.prompt.split("\n")[0].slice(0, 80);

/** What a task waits for, when it waits for a person (shown as "needs you"). */
export const NeedsYou = z.object({
  request_id: z.string(),
  sandbox_id: z.string(),
  kind: z.enum(APPROVAL_KINDS),
  tool: z.string(),
  /** One line naming what it waits for ("Allow Bash: npm test"). */
  summary: z.string(),
  since: z.number(),
});
export type NeedsYou = z.infer<typeof NeedsYou>;

export const Task = z.object({
  id: z.string(),
  title: z.string(),
  prompt: z.string(),
  phase_id: z.string(),
  priority: Priority,
  runtime: z.literal("claude"),
  model: z.string().nullable(),
  max_turns: z.number().nullable(),
  max_budget_usd: z.number().nullable(),
  permission_mode: PermissionMode,
  deny_unanswered_after_minutes: z.number().nullable(),
  /** What the task asked for; the server's defaults fill the rest. */
  limits: TaskLimits.nullable(),
  /** Set in task lists and reads: the open request the task waits on, or null. */
  needs_you: NeedsYou.nullable().optional(),
  depends_on: z.array(z.string()),
  status: TaskStatus,
  attempts: z.number(),
  max_retries: z.number(),
  /** The environment the task runs in, if any. */
  environment_id: z.string().nullable(),
  sandbox_id: z.string().nullable(),
  session_id: z.string().nullable(),
  workspace: z.string().nullable(),
  result: z.string().nullable(),
  error: z.string().nullable(),
  num_turns: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cost_usd: z.number(),
  created_at: z.number(),
  updated_at: z.number(),
  started_at: z.number().nullable(),
  completed_at: z.number().nullable(),
  /** Set for a task on a repository. */
  repo: TaskRepo.nullable(),
});
export type Task = z.infer<typeof Task>;

export const TaskList = z.object({ tasks: z.array(Task), total: z.number().int() });
export type TaskList = z.infer<typeof TaskList>;

export const ListTasksQuery = z.object({
  status: commaList(TaskStatus).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
