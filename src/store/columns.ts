import { DEFAULT_PERMISSION_MODE } from "../protocol/approval.ts";
import type { RepositoryRecord } from "../protocol/repo.ts";
import type { Sandbox } from "../protocol/sandbox.ts";
import { PRIORITY_RANK, type Task } from "../protocol/task.ts";
import type { NewSandbox, NewTask, RepositoryPatch, SandboxPatch, TaskPatch } from "./store.ts";

/*
 * Column values for inserts and patches, shared by both adapters. Patches are turned into
 * `[column, value]` pairs from a fixed list of column names, so no caller-supplied key ever
 * reaches SQL text.
 */

export type SqlValue = string | number | null;
export type Columns = [column: string, value: SqlValue][];

const TASK_PATCH_COLUMNS = [
  "title",
  "prompt",
  "phase_id",
  "priority",
  "runtime",
  "model",
  "max_turns",
  "max_budget_usd",
  "permission_mode",
  "deny_unanswered_after_minutes",
  "limits",
  "depends_on",
  "status",
  "attempts",
  "max_retries",
  "environment_id",
  "sandbox_id",
  "session_id",
  "workspace",
  "result",
  "error",
  "num_turns",
  "input_tokens",
  "output_tokens",
  "cost_usd",
  "updated_at",
  "started_at",
  "completed_at",
  "repo",
] as const satisfies readonly (keyof TaskPatch)[];

const SANDBOX_PATCH_COLUMNS = [
  "task_id",
  "kind",
  "status",
  "provider",
  "prompt",
  "model",
  "max_turns",
  "max_budget_usd",
  "permission_mode",
  "deny_unanswered_after_minutes",
  "limits",
  "workspace",
  "session_id",
  "owner",
  "worker_pid",
  "error",
  "updated_at",
  "started_at",
  "ended_at",
  "last_heartbeat_at",
] as const satisfies readonly (keyof SandboxPatch)[];

function toSqlValue(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "string") return value;
  // Arrays and objects (depends_on, limits) go in as JSON text; Postgres casts text to jsonb.
  return JSON.stringify(value);
}

export function newTaskColumns(task: NewTask, now: number): Columns {
  const full: Task = {
    ...task,
    model: task.model ?? null,
    max_turns: task.max_turns ?? null,
    max_budget_usd: task.max_budget_usd ?? null,
    permission_mode: task.permission_mode ?? DEFAULT_PERMISSION_MODE,
    deny_unanswered_after_minutes: task.deny_unanswered_after_minutes ?? null,
    limits: task.limits ?? null,
    depends_on: task.depends_on ?? [],
    environment_id: task.environment_id ?? null,
    repo: task.repo ?? null,
    status: "pending",
    attempts: 0,
    sandbox_id: null,
    session_id: null,
    workspace: null,
    result: null,
    error: null,
    num_turns: 0,
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: 0,
    created_at: now,
    updated_at: now,
    started_at: null,
    completed_at: null,
  };
  return [
    ["id", full.id],
    ["created_at", now],
    ...TASK_PATCH_COLUMNS.map((column): [string, SqlValue] => [column, toSqlValue(full[column])]),
    ["priority_rank", PRIORITY_RANK[full.priority]],
  ];
}

/** The patch's columns plus `updated_at` (now, unless the patch sets it). */
export function taskPatchColumns(patch: TaskPatch, now: number): Columns {
  const columns: Columns = [];
  for (const column of TASK_PATCH_COLUMNS) {
    const value = patch[column];
    if (value === undefined) continue;
    columns.push([column, toSqlValue(value)]);
  }
  if (patch.priority !== undefined) columns.push(["priority_rank", PRIORITY_RANK[patch.priority]]);
  if (patch.updated_at === undefined) columns.push(["updated_at", now]);
  return columns;
}

export function newSandboxColumns(sandbox: NewSandbox, now: number): Columns {
  const full: Sandbox = {
    prompt: null,
    model: null,
    max_turns: null,
    max_budget_usd: null,
    deny_unanswered_after_minutes: null,
    limits: null,
    workspace: null,
    session_id: null,
    owner: null,
    ...sandbox,
    permission_mode: sandbox.permission_mode ?? DEFAULT_PERMISSION_MODE,
    status: sandbox.status ?? "pending",
    worker_pid: null,
    error: null,
    created_at: now,
    updated_at: now,
    started_at: null,
    ended_at: null,
    last_heartbeat_at: null,
  };
  return [
    ["id", full.id],
    ["created_at", now],
    ...SANDBOX_PATCH_COLUMNS.map((column): [string, SqlValue] => [
      column,
      toSqlValue(full[column]),
    ]),
  ];
}

export function sandboxPatchColumns(patch: SandboxPatch, now: number): Columns {
  const columns: Columns = [];
  for (const column of SANDBOX_PATCH_COLUMNS) {
    const value = patch[column];
    if (value === undefined) continue;
    columns.push([column, toSqlValue(value)]);
  }
  if (patch.updated_at === undefined) columns.push(["updated_at", now]);
  return columns;
}

export function repositoryColumns(repository: RepositoryRecord): Columns {
  return [
    ["id", repository.id],
    ["name", repository.name],
    ["url", repository.url],
    ["credential_kind", repository.credential_kind],
    ["credential_hint", repository.credential_hint],
    ["credential_ciphertext", repository.credential_ciphertext],
    ["api_base_url", repository.api_base_url],
    ["environment_id", repository.environment_id],
    ["created_at", repository.created_at],
    ["updated_at", repository.updated_at],
  ];
}

const REPOSITORY_PATCH_COLUMNS = [
  "name",
  "url",
  "credential_kind",
  "credential_hint",
  "credential_ciphertext",
  "api_base_url",
  "environment_id",
] as const satisfies readonly (keyof RepositoryPatch)[];

/** The patch's columns plus `updated_at` (now). */
export function repositoryPatchColumns(patch: RepositoryPatch, now: number): Columns {
  const columns: Columns = [];
  for (const column of REPOSITORY_PATCH_COLUMNS) {
    const value = patch[column];
    if (value !== undefined) columns.push([column, value]);
  }
  columns.push(["updated_at", now]);
  return columns;
}
