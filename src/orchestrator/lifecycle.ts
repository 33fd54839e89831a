import { type EventTarget, type Ingest, sandboxTarget, taskTarget } from "../ingest/ingest.ts";
import type { Sandbox } from "../protocol/sandbox.ts";
import type { Task, TaskStatus } from "../protocol/task.ts";
import type { SandboxHandle } from "../sandbox/provider.ts";
import type { NewSandbox, NewTask, SandboxPatch, Store, TaskPatch } from "../store/store.ts";
import {
  SANDBOX_TRANSITIONS,
  type SandboxPayload,
  type SandboxTransitionName,
  TASK_TRANSITIONS,
  type TaskPayload,
  type TaskTransitionName,
  type Transition,
} from "./state-table.ts";

/** What this replica knows of a sandbox it supervises (holds a slot for). */
export interface ActiveSandbox {
  sandboxId: string;
  taskId: string | null;
  handle: SandboxHandle;
  idleTimer?: NodeJS.Timeout;
  /** Ends the current run when it passes its wall-clock limit (see time-limits.ts). */
  runTimer?: NodeJS.Timeout;
  /** When the agent went idle; the longest-idle sandbox is closed first to free a slot. */
  idleSince?: number;
  stopping?: boolean;
  /** Liveness counts heartbeats from here on (start, or re-attach after a restart). */
  watchedSince: number;
  /** The last turn's outcome, turned into the task's result when the agent goes idle. */
  lastTurn?: { result?: string; isError: boolean; subtype?: string };
  /** Cost of the task's earlier sandboxes, so resumed runs keep adding up. */
  baseCost: number;
  /** The current turn was interrupted by a person. */
  interrupted?: boolean;
  /** Highest seq of its stream heard on the bus; stored lifecycle events past it were missed. */
  seenSeq?: number;
  lastMissedCheck?: number;
  /** Seqs of the lifecycle events already acted on. */
  handled?: Set<number>;
}

/** What the lifecycle core tells the modules above it, without importing them. */
export interface LifecycleHooks {
  /** The queue or a slot may have changed: scheduling should run. */
  changed(): void;
  /** A sandbox's idle window ran out: it should be closed. */
  idleWindowEnded(active: ActiveSandbox): void;
}

interface TaskChange<Payload> {
  fields?: TaskPatch;
  /** The event's payload; the transition's marks (`will_retry`, `follow_up`, …) are added. */
  payload?: Payload;
  /** The stream the event goes to; by default the task's sandbox after the write, if any. */
  sandboxId?: string | null;
  /** Narrows the transition's `from` (never widens it). */
  only?: readonly TaskStatus[];
}

function allowed<Status extends string>(
  transition: Transition<Status>,
  only: readonly Status[] | undefined,
): Status[] {
  const from = [...transition.from];
  return only ? from.filter((status) => only.includes(status)) : from;
}

/**
 * The bottom of the orchestrator: every status change of a task or sandbox goes through the
 * state tables here, as one guarded write and one event; and the record of the sandboxes this
 * replica supervises, with their idle windows.
 */
export class Lifecycle {
  private readonly records = new Map<string, ActiveSandbox>();
  hooks: LifecycleHooks = { changed: () => {}, idleWindowEnded: () => {} };

  constructor(
    private readonly store: Store,
    private readonly ingest: Ingest,
    private readonly idleWindowMs: number,
  ) {}

  // ── guarded writes ─────────────────────────────────────────────────────────

  async createTask(row: NewTask, payload: TaskPayload<"create">): Promise<Task> {
    const task = await this.store.createTask(row);
    await this.tell(taskTarget(task.id), TASK_TRANSITIONS.create, payload);
    return task;
  }

  /**
   * Applies a task transition: the write happens only if the task's status is one the
   * transition starts from. Returns the updated task, or undefined when it was refused.
   */
  async task<N extends TaskTransitionName>(
    name: N,
    taskId: string,
    change: TaskChange<TaskPayload<N>> = {},
  ): Promise<Task | undefined> {
    const transition: Transition<TaskStatus> = TASK_TRANSITIONS[name];
    const from = allowed(transition, change.only);
    if (from.length === 0) return undefined;
    const updated = await this.store.updateTask(
      taskId,
      { ...change.fields, status: transition.to },
      from,
    );
    if (!updated || transition.announce) return updated;
    const sandboxId = change.sandboxId === undefined ? updated.sandbox_id : change.sandboxId;
    await this.tell(
      sandboxId ? sandboxTarget(sandboxId, taskId) : taskTarget(taskId),
      transition,
      change.payload,
    );
    return updated;
  }

  /** The event of a claim or resume, told once the run's sandbox is recorded. */
  async announce(
    name: "claim" | "resume",
    sandboxId: string,
    taskId: string,
    payload: TaskPayload<"claim">,
  ) {
    await this.tell(sandboxTarget(sandboxId, taskId), TASK_TRANSITIONS[name], payload);
  }

  async createSandbox<N extends "create" | "register">(
    name: N,
    row: Omit<NewSandbox, "status">,
    payload: SandboxPayload<N>,
  ): Promise<Sandbox> {
    const transition: Transition<Sandbox["status"]> = SANDBOX_TRANSITIONS[name];
    const sandbox = await this.store.createSandbox({ ...row, status: transition.to });
    await this.tell(sandboxTarget(sandbox.id, sandbox.task_id), transition, payload);
    return sandbox;
  }

  /**
   * Records a task-less agent sandbox (ad hoc, or a warm pool's) with its slot held from
   * before the first await, so concurrent requests cannot overshoot the limit; the slot is
   * given back if the write fails.
   */
  async createUntasked(
    row: Omit<NewSandbox, "status" | "task_id" | "kind">,
    payload: SandboxPayload<"create">,
  ): Promise<Sandbox> {
    this.hold(Lifecycle.record(row.id, null, null, 0));
    try {
      return await this.createSandbox("create", { ...row, task_id: null, kind: "agent" }, payload);
    } catch (error) {
      this.release(row.id);
      throw error;
    }
  }

  /** Applies a sandbox transition; undefined when its status does not allow it. */
  async sandbox<N extends SandboxTransitionName>(
    name: N,
    sandboxId: string,
    change: {
      fields?: SandboxPatch;
      /** The event's payload, or how to build it from the updated row. */
      payload?: SandboxPayload<N> | ((sandbox: Sandbox) => SandboxPayload<N>);
      /** Runs between the write and the event (what the end of a sandbox means for its task). */
      afterWrite?: (sandbox: Sandbox) => Promise<unknown>;
    } = {},
  ): Promise<Sandbox | undefined> {
    const transition: Transition<Sandbox["status"]> = SANDBOX_TRANSITIONS[name];
    if (transition.from.length === 0) return undefined;
    const updated = await this.store.updateSandbox(
      sandboxId,
      { ...change.fields, status: transition.to },
      [...transition.from],
    );
    if (!updated) return updated;
    await change.afterWrite?.(updated);
    await this.tell(
      sandboxTarget(sandboxId, updated.task_id),
      transition,
      typeof change.payload === "function" ? change.payload(updated) : change.payload,
    );
    return updated;
  }

  /** Stores and publishes a transition's one event (none for the few another event tells). */
  private async tell(
    target: EventTarget,
    transition: Transition<string>,
    payload: object | undefined,
  ) {
    if (!transition.event) return;
    await this.ingest.emit(target, transition.event, { ...payload, ...transition.marks });
  }

  // ── outcomes shared by every module ────────────────────────────────────────

  /**
   * A run failed: its task fails, or goes back to the queue while retries are left.
   * Only the run of the task's current sandbox can fail it.
   */
  async failTask(taskId: string | null, sandboxId: string, error: string, retry = true) {
    if (!taskId) return;
    const task = await this.store.getTask(taskId);
    if (!task || task.sandbox_id !== sandboxId) return;
    const willRetry = retry && task.attempts <= task.max_retries;
    const updated = willRetry
      ? await this.task("retry_run", taskId, {
          fields: { error, sandbox_id: null },
          payload: { error },
          sandboxId,
        })
      : await this.task("fail", taskId, {
          fields: { error, completed_at: Date.now() },
          payload: { error },
          sandboxId,
        });
    if (!updated) return;
    if (!willRetry) await this.failDependents(taskId, "failed");
    this.hooks.changed();
  }

  /** Pending tasks that depend on a task that can no longer complete fail, saying why. */
  async failDependents(taskId: string, how: string) {
    const { tasks } = await this.store.listTasks({ status: ["pending"], limit: 500, offset: 0 });
    for (const dependent of tasks) {
      if (!dependent.depends_on.includes(taskId)) continue;
      const error = `dependency ${taskId} ${how}`;
      const failed = await this.task("block", dependent.id, {
        fields: { error, completed_at: Date.now() },
        payload: { error },
      });
      if (failed) await this.failDependents(dependent.id, "failed");
    }
  }

  // ── the sandboxes this replica supervises ──────────────────────────────────

  get size(): number {
    return this.records.size;
  }

  get(sandboxId: string): ActiveSandbox | undefined {
    return this.records.get(sandboxId);
  }

  has(sandboxId: string): boolean {
    return this.records.has(sandboxId);
  }

  all(): ActiveSandbox[] {
    return [...this.records.values()];
  }

  /** Takes a slot. Called before any await, so a burst never overshoots the limit. */
  hold(record: ActiveSandbox): ActiveSandbox {
    this.records.set(record.sandboxId, record);
    return record;
  }

  /** Gives the slot back. */
  release(sandboxId: string) {
    const record = this.records.get(sandboxId);
    if (record) this.clearIdleWindow(record);
    if (record?.runTimer) clearTimeout(record.runTimer);
    this.records.delete(sandboxId);
  }

  /** A fresh record, with its slot not yet held. */
  static record(
    sandboxId: string,
    taskId: string | null,
    workspace: string | null,
    baseCost: number,
  ): ActiveSandbox {
    return {
      sandboxId,
      taskId,
      handle: { sandboxId, workspace: workspace ?? "", pid: null },
      watchedSince: Date.now(),
      baseCost,
    };
  }

  // ── the idle window ────────────────────────────────────────────────────────

  /**
   * Every open sandbox holds a slot, idle ones too (their agent process is still alive).
   * The longest-idle one is the one to close when a slot is needed.
   */
  idleCandidate(): ActiveSandbox | undefined {
    let oldest: ActiveSandbox | undefined;
    for (const active of this.records.values()) {
      if (active.stopping || active.idleSince === undefined) continue;
      if (!oldest || active.idleSince < (oldest.idleSince ?? 0)) oldest = active;
    }
    return oldest;
  }

  startIdleWindow(active: ActiveSandbox) {
    if (active.idleTimer) clearTimeout(active.idleTimer);
    active.idleSince = Date.now();
    active.idleTimer = setTimeout(() => this.hooks.idleWindowEnded(active), this.idleWindowMs);
    active.idleTimer.unref();
  }

  clearIdleWindow(active: ActiveSandbox) {
    if (active.idleTimer) clearTimeout(active.idleTimer);
    active.idleTimer = undefined;
    active.idleSince = undefined;
  }

  close() {
    for (const active of this.records.values())
      if (active.idleTimer) clearTimeout(active.idleTimer);
  }
}
