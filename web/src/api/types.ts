/*
 * The wire shapes the browser reads. They mirror src/protocol/ (task.ts, sandbox.ts,
 * event.ts, viewer.ts, message.ts) without importing it, so the web bundle carries
 * neither zod nor Node types.
 */

export type TaskStatus = "pending" | "assigned" | "running" | "completed" | "failed" | "cancelled";
export const TASK_STATUSES: readonly TaskStatus[] = [
  "pending",
  "assigned",
  "running",
  "completed",
  "failed",
  "cancelled",
];
export const TERMINAL_TASK_STATUSES: readonly string[] = ["completed", "failed", "cancelled"];

export type Priority = "CRITICAL" | "HIGH" | "MEDIUM" | "LOW";
export const PRIORITIES: readonly Priority[] = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];

export interface Task {
  id: string;
  title: string;
  prompt: string;
  priority: Priority;
  model: string | null;
  max_turns: number | null;
  max_budget_usd: number | null;
  status: TaskStatus;
  attempts: number;
  sandbox_id: string | null;
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

export type SandboxStatus =
  | "pending"
  | "starting"
  | "running"
  | "idle"
  | "completed"
  | "failed"
  | "terminated";
export const TERMINAL_SANDBOX_STATUSES: readonly string[] = ["completed", "failed", "terminated"];

export interface Sandbox {
  id: string;
  task_id: string | null;
  kind: "agent" | "external";
  status: SandboxStatus;
  provider: string;
  prompt: string | null;
  model: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
}

export type TaskWithSandbox = Task & { sandbox: Sandbox | null };

export interface CreateTaskBody {
  prompt: string;
  title?: string;
  model?: string;
  max_budget_usd?: number;
  max_turns?: number;
  priority?: Priority;
}

export type MessageType = "user_message" | "interrupt" | "guardian_nudge" | "system";
export const MESSAGE_TYPES: readonly MessageType[] = [
  "user_message",
  "interrupt",
  "guardian_nudge",
  "system",
];
export type MessageDelivery = "steer" | "queue";

export interface PostMessageBody {
  content: string;
  message_type?: MessageType;
  delivery?: MessageDelivery;
}

export interface PostMessageResponse {
  status: "queued";
  message_id: string;
  sandbox_id: string;
}

export interface Health {
  status: string;
  version?: string;
  protocol?: string | number;
  store?: string;
  bus?: string;
  provider?: string;
  model?: { scripted?: boolean; base_url?: string };
}

export type Cursors = Record<string, number>;

/** One event as the viewer socket delivers it. */
export interface EventFrame {
  type: "event";
  id: string;
  seq: number;
  stream_id: string;
  sandbox_id: string | null;
  task_id: string | null;
  entity_type: "sandbox" | "task";
  entity_id: string;
  event_type: string;
  source: string;
  payload: Record<string, unknown>;
  emitted_at: number;
  stored_at: number;
}

export type ServerFrame =
  | EventFrame
  | { type: "subscribed"; cursors?: Cursors }
  | { type: "replayed"; cursors?: Cursors }
  | { type: "pong"; id?: string; server_time?: number }
  | { type: "error"; error?: { name?: string; message?: string } }
  | { type: "lagged"; message?: string; cursors?: Cursors };
