import { DEFAULT_PERMISSION_MODE, PermissionMode } from "../protocol/approval.ts";
import type { EventSource, StoredEvent } from "../protocol/event.ts";
import type { MessageDelivery, MessageType, StoredMessage } from "../protocol/message.ts";
import type { CredentialKind, RepositoryRecord } from "../protocol/repo.ts";
import type { Sandbox, SandboxKind, SandboxStatus } from "../protocol/sandbox.ts";
import type { Priority, SandboxLimits, Task, TaskLimits, TaskStatus } from "../protocol/task.ts";
import type { EventToStore } from "./store.ts";

/*
 * Turning database rows into protocol objects, shared by both adapters. SQLite hands back
 * JSON columns as text and Postgres as parsed values; both hand back numbers for integer
 * columns (the Postgres pool parses int8 as a JS number), so one set of converters fits.
 */

export type Row = Record<string, unknown>;

const text = (value: unknown): string => String(value);
const textOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);
const number = (value: unknown): number => Number(value);
const numberOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/** A JSON column: text in SQLite, already parsed (jsonb) in Postgres. */
function json<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  if (typeof value !== "string") return value as T;
  // The store wrote this text itself, so it is trusted JSON.
  return JSON.parse(value) as T;
}

/** Rows written before approvals existed ran in `bypassPermissions`. */
const permissionMode = (value: unknown): PermissionMode =>
  PermissionMode.safeParse(value).data ?? DEFAULT_PERMISSION_MODE;

export function rowToEvent(row: Row): StoredEvent {
  return {
    id: text(row.id),
    seq: number(row.seq),
    stream_id: text(row.stream_id),
    sandbox_id: textOrNull(row.sandbox_id),
    task_id: textOrNull(row.task_id),
    event_type: text(row.event_type),
    source: text(row.source) as EventSource,
    payload: json<Record<string, unknown>>(row.payload, {}),
    emitted_at: number(row.emitted_at),
    stored_at: number(row.stored_at),
  };
}

export function rowToMessage(row: Row): StoredMessage {
  return {
    id: text(row.id),
    sandbox_id: text(row.sandbox_id),
    message_type: text(row.message_type) as MessageType,
    delivery: text(row.delivery) as MessageDelivery,
    content: text(row.content),
    status: row.status === "delivered" ? "delivered" : "pending",
    created_at: number(row.created_at),
    delivered_at: numberOrNull(row.delivered_at),
  };
}

export function rowToTask(row: Row): Task {
  return {
    id: text(row.id),
    title: text(row.title),
    prompt: text(row.prompt),
    phase_id: text(row.phase_id),
    priority: text(row.priority) as Priority,
    runtime: "claude",
    model: textOrNull(row.model),
    max_turns: numberOrNull(row.max_turns),
    max_budget_usd: numberOrNull(row.max_budget_usd),
    permission_mode: permissionMode(row.permission_mode),
    deny_unanswered_after_minutes: numberOrNull(row.deny_unanswered_after_minutes),
    limits: json<TaskLimits | null>(row.limits, null),
    depends_on: json<string[]>(row.depends_on, []),
    repo: json<Task["repo"]>(row.repo, null),
    status: text(row.status) as TaskStatus,
    attempts: number(row.attempts),
    max_retries: number(row.max_retries),
    environment_id: textOrNull(row.environment_id),
    sandbox_id: textOrNull(row.sandbox_id),
    session_id: textOrNull(row.session_id),
    workspace: textOrNull(row.workspace),
    result: textOrNull(row.result),
    error: textOrNull(row.error),
    num_turns: number(row.num_turns),
    input_tokens: number(row.input_tokens),
    output_tokens: number(row.output_tokens),
    cost_usd: number(row.cost_usd),
    created_at: number(row.created_at),
    updated_at: number(row.updated_at),
    started_at: numberOrNull(row.started_at),
    completed_at: numberOrNull(row.completed_at),
  };
}

export function rowToSandbox(row: Row): Sandbox {
  return {
    id: text(row.id),
    task_id: textOrNull(row.task_id),
    kind: text(row.kind) as SandboxKind,
    status: text(row.status) as SandboxStatus,
    provider: text(row.provider),
    prompt: textOrNull(row.prompt),
    model: textOrNull(row.model),
    max_turns: numberOrNull(row.max_turns),
    max_budget_usd: numberOrNull(row.max_budget_usd),
    permission_mode: permissionMode(row.permission_mode),
    deny_unanswered_after_minutes: numberOrNull(row.deny_unanswered_after_minutes),
    limits: json<SandboxLimits | null>(row.limits, null),
    workspace: textOrNull(row.workspace),
    session_id: textOrNull(row.session_id),
    owner: textOrNull(row.owner),
    worker_pid: numberOrNull(row.worker_pid),
    error: textOrNull(row.error),
    created_at: number(row.created_at),
    updated_at: number(row.updated_at),
    started_at: numberOrNull(row.started_at),
    ended_at: numberOrNull(row.ended_at),
    last_heartbeat_at: numberOrNull(row.last_heartbeat_at),
  };
}

/** The stored form of an event about to be inserted with its seq. */
export function toStoredEvent(
  event: EventToStore,
  seq: number,
  payload: Record<string, unknown>,
  storedAt: number,
): StoredEvent {
  return {
    id: event.id,
    seq,
    stream_id: event.stream_id,
    sandbox_id: event.sandbox_id,
    task_id: event.task_id,
    event_type: event.event_type,
    source: event.source,
    payload,
    emitted_at: event.emitted_at,
    stored_at: storedAt,
  };
}

export function rowToRepository(row: Row): RepositoryRecord {
  return {
    id: text(row.id),
    name: text(row.name),
    url: text(row.url),
    credential_kind: text(row.credential_kind) as CredentialKind,
    credential_hint: textOrNull(row.credential_hint),
    credential_ciphertext: textOrNull(row.credential_ciphertext),
    api_base_url: textOrNull(row.api_base_url),
    environment_id: textOrNull(row.environment_id),
    created_at: number(row.created_at),
    updated_at: number(row.updated_at),
  };
}
