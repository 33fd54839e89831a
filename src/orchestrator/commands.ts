import { type Ingest, sandboxTarget } from "../ingest/ingest.ts";
import { badRequest, conflict, notFound, OmoiError } from "../protocol/error.ts";
import { MessageQueued } from "../protocol/events.ts";
import { newMessageId, newSandboxId, newTaskId } from "../protocol/ids.ts";
import { type MessageFrame, type PostMessageBody, toMessageFrame } from "../protocol/message.ts";
import {
  type CreateSandboxBody,
  type Sandbox,
  TERMINAL_SANDBOX_STATUSES,
} from "../protocol/sandbox.ts";
import {
  type CreateTaskBody,
  sandboxLimitsOf,
  type Task,
  TERMINAL_TASK_STATUSES,
  taskTitle,
} from "../protocol/task.ts";
import type { Store } from "../store/store.ts";
import type { Control, PreparedTask } from "./control.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Scheduling } from "./scheduling.ts";
import type { Stopping } from "./stopping.ts";
import type { RunClock } from "./time-limits.ts";

export interface CommandOptions {
  replicaId: string;
  maxSandboxes: number;
  maxQueuedTasks: number;
  runAgents: boolean;
  providerName: string;
}

/** The command surface: what a person (REST, CLI, web) asks of tasks, sandboxes and messages. */
export class Commands implements Control {
  constructor(
    private readonly store: Store,
    private readonly ingest: Ingest,
    private readonly lifecycle: Lifecycle,
    private readonly scheduling: Scheduling,
    private readonly stopping: Stopping,
    private readonly clock: RunClock,
    private readonly options: CommandOptions,
  ) {}

  // ── tasks ──────────────────────────────────────────────────────────────────

  async createTask(body: CreateTaskBody, prepared?: PreparedTask): Promise<Task> {
    await this.checkQueue();
    for (const dependency of body.depends_on) {
      if (!(await this.store.getTask(dependency))) {
        throw badRequest(`depends_on: task '${dependency}' does not exist`);
      }
    }
    const environment = body.environment
      ? await this.store.environments.get(body.environment)
      : undefined;
    if (body.environment && !environment) {
      throw badRequest(`environment: '${body.environment}' does not exist`);
    }
    const title = taskTitle(body);
    const task = await this.lifecycle.createTask(
      {
        id: prepared?.id ?? newTaskId(),
        title,
        repo: prepared?.repo ?? null,
        prompt: body.prompt,
        phase_id: body.phase_id,
        priority: body.priority,
        runtime: body.runtime,
        model: body.model ?? null,
        max_turns: body.max_turns ?? null,
        max_budget_usd: body.max_budget_usd ?? null,
        permission_mode: body.permission_mode,
        deny_unanswered_after_minutes: body.deny_unanswered_after_minutes ?? null,
        limits: body.limits ?? null,
        depends_on: body.depends_on,
        max_retries: body.max_retries,
        environment_id: environment?.id ?? null,
      },
      { title, priority: body.priority, depends_on: body.depends_on },
    );
    for (const dependency of body.depends_on) {
      const status = (await this.store.getTask(dependency))?.status;
      if (status !== "failed" && status !== "cancelled") continue;
      // It can never run: fail it now, saying why, rather than leave it pending forever.
      const error = `dependency ${dependency} ${status}`;
      const failed = await this.lifecycle.task("block", task.id, {
        fields: { error, completed_at: Date.now() },
        payload: { error },
      });
      if (failed) return failed;
    }
    this.scheduling.schedule();
    return task;
  }

  async cancelTask(id: string): Promise<Task> {
    const task = await this.store.getTask(id);
    if (!task) throw notFound("task", id);
    if (TERMINAL_TASK_STATUSES.includes(task.status)) {
      throw conflict(`task '${id}' is already ${task.status}; nothing to cancel`, {
        status: task.status,
      });
    }
    const cancelled = await this.lifecycle.task("cancel", id, {
      fields: { completed_at: Date.now(), error: "cancelled by request" },
      payload: { reason: "cancelled by request" },
    });
    if (!cancelled) return this.cancelTask(id);
    const sandboxId = cancelled.sandbox_id;
    if (sandboxId) await this.stopping.terminate(sandboxId, "task cancelled", "terminated");
    await this.lifecycle.failDependents(id, "cancelled");
    this.scheduling.schedule();
    return (await this.store.getTask(id)) ?? cancelled;
  }

  async retryTask(id: string): Promise<Task> {
    const task = await this.store.getTask(id);
    if (!task) throw notFound("task", id);
    await this.checkQueue();
    const retried = await this.lifecycle.task("retry", id, {
      fields: { error: null, result: null, completed_at: null, sandbox_id: null },
      payload: { title: task.title, priority: task.priority },
    });
    if (!retried) {
      throw conflict(
        `task '${id}' is ${task.status}; only failed or cancelled tasks can be retried`,
        { status: task.status },
      );
    }
    this.scheduling.schedule();
    return retried;
  }

  /** The queue is bounded: a full one refuses new work until tasks start or end. */
  private async checkQueue() {
    const { total } = await this.store.listTasks({ status: ["pending"], limit: 1, offset: 0 });
    if (total < this.options.maxQueuedTasks) return;
    throw new OmoiError(
      "QueueFull",
      `${total} tasks are already waiting (OMOI_MAX_QUEUED_TASKS is ${this.options.maxQueuedTasks}); try again once some have started`,
      429,
      { max_queued_tasks: this.options.maxQueuedTasks, retry_after_s: 10 },
    );
  }

  // ── sandboxes ──────────────────────────────────────────────────────────────

  async createSandbox(body: CreateSandboxBody): Promise<Sandbox> {
    const id = body.id ?? newSandboxId();
    if (await this.store.getSandbox(id)) throw conflict(`sandbox '${id}' already exists`, { id });
    const provider = this.options.providerName;
    if (!body.prompt) {
      return this.lifecycle.createSandbox(
        "register",
        {
          id,
          task_id: null,
          kind: "external",
          provider: "external",
          owner: this.options.replicaId,
        },
        { provider: "external" },
      );
    }
    if (!this.options.runAgents)
      throw conflict("this server does not run agents (OMOI_RUN_AGENTS=0)");
    if (body.limits?.max_run_ms !== undefined || body.limits?.max_task_ms !== undefined) {
      throw badRequest(
        "limits.max_run_ms and limits.max_task_ms bound a task's runs; an ad-hoc sandbox has no task — create a task to bound its time",
      );
    }
    if (this.scheduling.full) await this.scheduling.evictIdle();
    if (this.scheduling.full) {
      throw new OmoiError(
        "TooManySandboxes",
        `all ${this.options.maxSandboxes} sandboxes are busy; try again later, or create a task (tasks wait for a free slot)`,
        429,
        { max_sandboxes: this.options.maxSandboxes },
      );
    }
    const sandbox = await this.lifecycle.createUntasked(
      {
        id,
        provider,
        prompt: body.prompt,
        model: body.model ?? null,
        max_turns: body.max_turns ?? null,
        max_budget_usd: body.max_budget_usd ?? null,
        permission_mode: body.permission_mode,
        deny_unanswered_after_minutes: body.deny_unanswered_after_minutes ?? null,
        limits: sandboxLimitsOf(body.limits ?? null),
        owner: this.options.replicaId,
      },
      { provider },
    );
    await this.scheduling.startSandbox(sandbox, {
      prompt: body.prompt,
      resumeSessionId: null,
      workspace: null,
      baseCost: 0,
    });
    return (await this.store.getSandbox(id)) ?? sandbox;
  }

  async terminateSandbox(id: string, reason: string): Promise<Sandbox> {
    const sandbox = await this.store.getSandbox(id);
    if (!sandbox) throw notFound("sandbox", id);
    if (TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) return sandbox;
    if (sandbox.task_id) {
      const task = await this.store.getTask(sandbox.task_id);
      if (task && task.sandbox_id === id)
        await this.lifecycle.task("cancel", task.id, {
          fields: { completed_at: Date.now(), error: reason },
          payload: { reason },
          sandboxId: id,
          only: ["assigned", "running"],
        });
    }
    await this.stopping.terminate(id, reason, "terminated");
    return (await this.store.getSandbox(id)) ?? sandbox;
  }

  // ── messages ───────────────────────────────────────────────────────────────

  async postMessage(sandboxId: string, body: PostMessageBody): Promise<MessageFrame> {
    const sandbox = await this.store.getSandbox(sandboxId);
    if (!sandbox) throw notFound("sandbox", sandboxId);
    if (TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) {
      const hint = sandbox.task_id
        ? ` — send it to the task (POST /api/v1/tasks/${sandbox.task_id}/messages) to resume`
        : "";
      throw conflict(`sandbox '${sandboxId}' is ${sandbox.status}${hint}`, {
        status: sandbox.status,
      });
    }
    return this.deliver(sandbox, body);
  }

  async postTaskMessage(taskId: string, body: PostMessageBody): Promise<MessageFrame> {
    const task = await this.store.getTask(taskId);
    if (!task) throw notFound("task", taskId);
    const sandbox = task.sandbox_id ? await this.store.getSandbox(task.sandbox_id) : undefined;
    if (sandbox && !TERMINAL_SANDBOX_STATUSES.includes(sandbox.status))
      return this.deliver(sandbox, body);
    if (body.message_type === "interrupt")
      throw conflict(`task '${taskId}' has no running agent to interrupt`);
    if (!task.session_id) {
      throw conflict(`task '${taskId}' is ${task.status} and has no agent session to resume yet`, {
        status: task.status,
      });
    }
    if (!this.options.runAgents)
      throw conflict("this server does not run agents (OMOI_RUN_AGENTS=0)");
    // Resume the session in a new sandbox on the same workspace.
    const resumed = await this.lifecycle.task("resume", taskId, {
      fields: { error: null, completed_at: null },
    });
    if (!resumed) throw conflict(`task '${taskId}' changed state; try again`);
    // A follow-up takes the slot of an idle sandbox when every slot is taken; when none is
    // idle, its new sandbox waits for a slot like a task (ahead of queued tasks).
    if (this.scheduling.full) await this.scheduling.evictIdle();
    const waits = this.scheduling.full;
    const next = await this.scheduling.createTaskSandbox(resumed, "resume", !waits);
    if (!next) throw conflict(`task '${taskId}' changed state; try again`);
    const frame = await this.deliver(next, body);
    const run = {
      prompt: null,
      resumeSessionId: task.session_id,
      workspace: task.workspace,
      baseCost: task.cost_usd,
    };
    if (waits) this.scheduling.waitForSlot(next, run);
    else await this.scheduling.startSandbox(next, run);
    return frame;
  }

  private async deliver(sandbox: Sandbox, body: PostMessageBody): Promise<MessageFrame> {
    if (this.lifecycle.get(sandbox.id)?.stopping) {
      throw conflict(
        `sandbox '${sandbox.id}' is closing; send the message again in a moment${sandbox.task_id ? " (to the task, which then resumes in a new sandbox)" : ""}`,
        { status: "closing" },
      );
    }
    const id = newMessageId();
    const { message_type, delivery, content } = body;
    const [announce] = this.ingest.prepare(
      sandboxTarget(sandbox.id, sandbox.task_id),
      [
        {
          event_type: MessageQueued.type,
          payload: { message_id: id, message_type, content, delivery },
        },
      ],
      "system",
    );
    // Message and event are stored together: a crash never leaves one without the other.
    const { message, event } = await this.store.insertMessage(
      { id, sandbox_id: sandbox.id, message_type, delivery, content },
      announce,
    );
    if (event) await this.ingest.publish([event]);
    if (sandbox.status === "idle" && body.message_type !== "interrupt") await this.wake(sandbox);
    return toMessageFrame(message);
  }

  /** A follow-up reached an idle sandbox: its task runs again. */
  private async wake(sandbox: Sandbox) {
    const active = this.lifecycle.get(sandbox.id);
    if (active) this.lifecycle.clearIdleWindow(active);
    const woken = await this.lifecycle.sandbox("wake", sandbox.id);
    if (!woken || !sandbox.task_id) return;
    const woke = await this.lifecycle.task("wake", sandbox.task_id, {
      fields: { completed_at: null, error: null },
      payload: { sandbox_id: sandbox.id },
      sandboxId: sandbox.id,
    });
    if (woke && active) await this.clock.arm(active);
  }
}
