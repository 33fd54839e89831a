import { z } from "zod";
import { EntityId } from "./ids.ts";
import { AgentSettings } from "./task.ts";

/**
 * `agent`: Omoi runs a Claude agent in it. `external`: registered only; a worker that
 * Omoi did not start (the seed's model) posts its events and polls its messages.
 */
export const SandboxKind = z.enum(["agent", "external"]);
export type SandboxKind = z.infer<typeof SandboxKind>;

export const SandboxStatus = z.enum([
  "pending",
  "starting",
  "running",
  "idle",
  "completed",
  "failed",
  "terminated",
]);
export type SandboxStatus = z.infer<typeof SandboxStatus>;
export const TERMINAL_SANDBOX_STATUSES: readonly SandboxStatus[] = [
  "completed",
  "failed",
  "terminated",
];

export const CreateSandboxBody = AgentSettings.extend({
  id: EntityId.optional(),
  prompt: z.string().trim().min(1, "prompt must not be empty").max(100_000).optional(),
});
export type CreateSandboxBody = z.infer<typeof CreateSandboxBody>;

export interface Sandbox {
  id: string;
  task_id: string | null;
  kind: SandboxKind;
  status: SandboxStatus;
  provider: string;
  prompt: string | null;
  model: string | null;
  max_turns: number | null;
  max_budget_usd: number | null;
  workspace: string | null;
  session_id: string | null;
  /** Which server replica supervises it (runs its worker process). */
  owner: string | null;
  worker_pid: number | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  last_heartbeat_at: number | null;
}

export const ListSandboxesQuery = z.object({
  status: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(",").filter(Boolean) : undefined))
    .pipe(z.array(SandboxStatus).optional()),
  task_id: EntityId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
