import { z } from "zod";
import { EntityId } from "./ids.ts";

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
export const Priority = z.enum(["CRITICAL", "HIGH", "MEDIUM", "LOW"]);
export type Priority = z.infer<typeof Priority>;
export const PRIORITY_RANK: Record<Priority, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };

export const TaskStatus = z.enum([
  "pending",
  "assigned",
  "running",
  "completed",
  "failed",
  "cancelled",
]);
export type TaskStatus = z.infer<typeof TaskStatus>;
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ["completed", "failed", "cancelled"];

/** Settings shared by a task and an ad-hoc sandbox: what the agent runs with. */
export const AgentSettings = z.object({
  model: z.string().min(1).max(200).optional(),
  max_turns: z.number().int().min(1).max(10_000).optional(),
  max_budget_usd: z.number().positive().max(100_000).optional(),
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
});
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

export interface Task {
  id: string;
  title: string;
  prompt: string;
  phase_id: string;
  priority: Priority;
  runtime: "claude";
  model: string | null;
  max_turns: number | null;
  max_budget_usd: number | null;
  depends_on: string[];
  status: TaskStatus;
  attempts: number;
  max_retries: number;
  sandbox_id: string | null;
  session_id: string | null;
  workspace: string | null;
  result: string | null;
  error: string | null;
  num_turns: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  completed_at: number | null;
}

export const ListTasksQuery = z.object({
  status: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(",").filter(Boolean) : undefined))
    .pipe(z.array(TaskStatus).optional()),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
