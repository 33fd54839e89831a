import type { EventSource, StoredEvent } from "../protocol/event.ts";
import type { MessageDelivery, MessageType, StoredMessage } from "../protocol/message.ts";
import type { RepositoryRecord } from "../protocol/repo.ts";
import type { Sandbox, SandboxStatus } from "../protocol/sandbox.ts";
import type { Task, TaskStatus } from "../protocol/task.ts";
import type { ApprovalQueries } from "./approval-queries.ts";
import type { EnvironmentStore } from "./environment-store.ts";

/** What an edit of a registered repository may change (a null environment clears it). */
export type RepositoryPatch = Partial<
  Pick<
    RepositoryRecord,
    | "name"
    | "url"
    | "credential_kind"
    | "credential_hint"
    | "credential_ciphertext"
    | "api_base_url"
    | "environment_id"
  >
>;

/** An event ready to store: validated, id minted, stream resolved. */
export interface EventToStore {
  id: string;
  stream_id: string;
  sandbox_id: string | null;
  task_id: string | null;
  event_type: string;
  source: EventSource;
  payload: Record<string, unknown>;
  emitted_at: number;
}

export interface AppendResult {
  event: StoredEvent;
  /** True when an event with this id was already stored; `event` is the stored one. */
  duplicate: boolean;
}

export interface ListEventsOptions {
  afterSeq?: number;
  /**
   * Pages backwards: the last `limit` events below this seq (still returned in ascending
   * order). Combines with `afterSeq` as a window.
   */
  beforeSeq?: number;
  limit?: number;
  /** Exact types or `prefix.*` patterns. */
  eventTypes?: string[];
}

export interface NewMessage {
  id: string;
  sandbox_id: string;
  message_type: MessageType;
  delivery: MessageDelivery;
  content: string;
}

export type NewTask = Omit<
  Task,
  | "environment_id"
  | "repo"
  | "limits"
  | "status"
  | "attempts"
  | "sandbox_id"
  | "session_id"
  | "workspace"
  | "result"
  | "error"
  | "num_turns"
  | "input_tokens"
  | "output_tokens"
  | "cost_usd"
  | "created_at"
  | "updated_at"
  | "started_at"
  | "completed_at"
  | "permission_mode"
  | "deny_unanswered_after_minutes"
> & { environment_id?: string | null; repo?: Task["repo"] } & Partial<
    Pick<Task, "permission_mode" | "deny_unanswered_after_minutes" | "limits">
  >;

export type TaskPatch = Partial<Omit<Task, "id" | "created_at">>;
export type NewSandbox = Pick<Sandbox, "id" | "task_id" | "kind" | "provider"> &
  Partial<
    Pick<
      Sandbox,
      | "prompt"
      | "model"
      | "max_turns"
      | "max_budget_usd"
      | "permission_mode"
      | "deny_unanswered_after_minutes"
      | "limits"
      | "workspace"
      | "session_id"
      | "status"
      | "owner"
    >
  >;
export type SandboxPatch = Partial<Omit<Sandbox, "id" | "created_at">>;

/**
 * Durable state of Omoi. Implemented by SQLite (embedded) and Postgres (scaled out);
 * both pass `test/store/conformance.ts`. Constructors do no I/O; `migrate()` does.
 */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  readonly environments: EnvironmentStore;
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Approval requests and their one answer each (see approval-queries.ts). */
  readonly approvals: ApprovalQueries;

  // events — seq assigned per stream in the same transaction as the insert
  appendEvents(events: EventToStore[]): Promise<AppendResult[]>;
  listEvents(streamId: string, options?: ListEventsOptions): Promise<StoredEvent[]>;
  /** Events of a task across all its streams (task stream and each sandbox), by stream then seq. */
  listTaskStreams(taskId: string): Promise<string[]>;
  lastSeq(streamId: string): Promise<number>;

  // messages — never lost, never delivered twice
  /**
   * Stores a pending message. With `announce` (its `message.queued` event), message and
   * event are stored in one transaction: both or neither.
   */
  insertMessage(
    message: NewMessage,
    announce?: EventToStore,
  ): Promise<{ message: StoredMessage; event: StoredEvent | undefined }>;
  getMessage(id: string): Promise<StoredMessage | undefined>;
  /** Pending messages of a sandbox, oldest first. */
  pendingMessages(sandboxId: string): Promise<StoredMessage[]>;
  /** Atomically returns the pending messages and marks them delivered (the prototype's poll). */
  takePendingMessages(sandboxId: string): Promise<StoredMessage[]>;
  /** Marks messages delivered; returns the ids that were pending until now. */
  markDelivered(sandboxId: string, ids: string[]): Promise<string[]>;
  listMessages(sandboxId: string): Promise<StoredMessage[]>;

  // tasks
  createTask(task: NewTask): Promise<Task>;
  getTask(id: string): Promise<Task | undefined>;
  listTasks(options: {
    status?: TaskStatus[];
    limit: number;
    offset: number;
  }): Promise<{ tasks: Task[]; total: number }>;
  /**
   * Applies the patch if the task's status is one of `expected` (compare-and-set).
   * Returns the updated task, or undefined when the status did not match.
   */
  updateTask(id: string, patch: TaskPatch, expected?: TaskStatus[]): Promise<Task | undefined>;
  /**
   * Claims the next runnable pending task (priority, then age; every dependency completed)
   * by moving it to `assigned`. Safe across replicas: each task is claimed once.
   */
  claimNextTask(): Promise<Task | undefined>;

  // registered repositories — names unique; a taken name or id is a conflict
  createRepository(repository: RepositoryRecord): Promise<RepositoryRecord>;
  /** By id, or by name when no id matches. */
  getRepository(idOrName: string): Promise<RepositoryRecord | undefined>;
  listRepositories(): Promise<RepositoryRecord[]>;
  /**
   * Changes a repository's fields in one statement (all or nothing) and stamps `updated_at`;
   * undefined when the repository, or the environment named, is not there (never a dangling
   * id). A name another repository has is a conflict and changes nothing.
   */
  updateRepository(id: string, patch: RepositoryPatch): Promise<RepositoryRecord | undefined>;
  /** True when it existed. */
  deleteRepository(id: string): Promise<boolean>;

  // sandboxes
  createSandbox(sandbox: NewSandbox): Promise<Sandbox>;
  getSandbox(id: string): Promise<Sandbox | undefined>;
  listSandboxes(options: {
    status?: SandboxStatus[];
    taskId?: string;
    owner?: string;
    limit: number;
    offset: number;
  }): Promise<{ sandboxes: Sandbox[]; total: number }>;
  updateSandbox(
    id: string,
    patch: SandboxPatch,
    expected?: SandboxStatus[],
  ): Promise<Sandbox | undefined>;
}
