import { z } from "zod";
import { PermissionMode } from "./approval.ts";
import { SANDBOX_STATUSES } from "./enums.ts";
import { EntityId } from "./ids.ts";
import { commaList } from "./query.ts";
import { AgentSettings, SandboxLimits, Task } from "./task.ts";

/**
 * `agent`: Omoi runs a Claude agent in it. `external`: registered only; a worker that
 * Omoi did not start (the prototype's model) posts its events and polls its messages.
 */
export const SandboxKind = z.enum(["agent", "external"]);
export type SandboxKind = z.infer<typeof SandboxKind>;

export const SandboxStatus = z.enum(SANDBOX_STATUSES);
export type SandboxStatus = z.infer<typeof SandboxStatus>;
export { TERMINAL_SANDBOX_STATUSES } from "./status.ts";

export const CreateSandboxBody = AgentSettings.extend({
  id: EntityId.optional(),
  prompt: z.string().trim().min(1, "prompt must not be empty").max(100_000).optional(),
});
export type CreateSandboxBody = z.infer<typeof CreateSandboxBody>;

export const Sandbox = z.object({
  id: z.string(),
  task_id: z.string().nullable(),
  kind: SandboxKind,
  status: SandboxStatus,
  provider: z.string(),
  prompt: z.string().nullable(),
  model: z.string().nullable(),
  max_turns: z.number().nullable(),
  max_budget_usd: z.number().nullable(),
  /** The mode the agent runs in (or was last asked to switch to). */
  permission_mode: PermissionMode,
  deny_unanswered_after_minutes: z.number().nullable(),
  limits: SandboxLimits.nullable(),
  workspace: z.string().nullable(),
  session_id: z.string().nullable(),
  /** Which server replica supervises it (runs its worker process). */
  owner: z.string().nullable(),
  worker_pid: z.number().nullable(),
  error: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
  started_at: z.number().nullable(),
  ended_at: z.number().nullable(),
  last_heartbeat_at: z.number().nullable(),
});
export type Sandbox = z.infer<typeof Sandbox>;

export const SandboxList = z.object({ sandboxes: z.array(Sandbox), total: z.number().int() });
export type SandboxList = z.infer<typeof SandboxList>;

/** `GET /api/v1/tasks/{id}`: the task with its current sandbox. */
export const TaskWithSandbox = Task.extend({ sandbox: Sandbox.nullable() });
export type TaskWithSandbox = z.infer<typeof TaskWithSandbox>;

export const ListSandboxesQuery = z.object({
  status: commaList(SandboxStatus).optional(),
  task_id: EntityId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
