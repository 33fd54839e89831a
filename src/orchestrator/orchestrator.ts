import type { Bus, Unsubscribe } from "../bus/bus.ts";
import { badRequest, conflict, notFound, OmoiError } from "../protocol/error.ts";
import type { StoredEvent } from "../protocol/event.ts";
import { newMessageId, newSandboxId, newTaskId } from "../protocol/ids.ts";
import { type MessageFrame, type PostMessageBody, toMessageFrame } from "../protocol/message.ts";
import {
  type CreateSandboxBody,
  type Sandbox,
  TERMINAL_SANDBOX_STATUSES,
} from "../protocol/sandbox.ts";
import { type CreateTaskBody, type Task, TERMINAL_TASK_STATUSES } from "../protocol/task.ts";
import type { SandboxHandle, SandboxProvider, WorkerLaunchSpec } from "../sandbox/provider.ts";
import type { Control } from "../server/context.ts";
import { type Ingest, sandboxTarget, taskTarget } from "../server/ingest.ts";
import type { Logger } from "../server/logger.ts";
import type { Store } from "../store/store.ts";

export interface OrchestratorOptions {
  replicaId: string;
  maxSandboxes: number;
  idleWindowMs: number;
  heartbeatTimeoutMs: number;
  /** How often process liveness and heartbeats are checked. */
  livenessIntervalMs: number;
  /** Grace a worker gets to end its session before its process tree is killed. */
  stopGraceMs: number;
  runAgents: boolean;
}

/** What a worker needs beyond the sandbox row: where to connect, which model to use. */
export interface LaunchEnvironment {
  serverUrl(): string;
  workerToken(sandboxId: string): string;
  modelBaseUrl: string;
  modelEnv: Record<string, string>;
  /** A worker that cannot reach any server for this long stops its agent and exits. */
  workerOrphanTimeoutMs: number;
}

export interface WorkerChannel {
  sendStop(sandboxId: string, reason: string): boolean;
  hooks: { onConnected?(sandboxId: string, resume: boolean): void };
}

interface ActiveSandbox {
  sandboxId: string;
  taskId: string | null;
  handle: SandboxHandle;
  idleTimer?: NodeJS.Timeout;
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

const ACTIVE_STATUSES: Sandbox["status"][] = ["pending", "starting", "running", "idle"];

/** Events after which a queued task may have become runnable (from this replica or another). */
const SCHEDULING_EVENTS = new Set([
  "task.created",
  "task.completed",
  "task.failed",
  "task.cancelled",
  "sandbox.completed",
  "sandbox.failed",
  "sandbox.terminated",
]);

/** Stored agent events that move a run's state; replayed after a restart to catch up. */
const LIFECYCLE_EVENTS = [
  "agent.started",
  "agent.turn_completed",
  "agent.waiting",
  "agent.failed",
  "agent.completed",
];

/**
 * Queues tasks, gives them sandboxes when a slot is free, follows each run's events to
 * keep stored state honest, and notices dead workers.
 */
export class Orchestrator implements Control {
  private readonly active = new Map<string, ActiveSandbox>();
  private unsubscribe: Unsubscribe | undefined;
  private liveness: NodeJS.Timeout | undefined;
  private scheduling = false;
  /** Set once start() has re-attached to or closed out what ran before a restart. */
  private recovered = false;
  private livenessTicks = 0;
  private scheduleAgain = false;
  private closed = false;
  /** Events handled one at a time per sandbox, in order. */
  private readonly eventChains = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly ingest: Ingest,
    private readonly provider: SandboxProvider,
    private readonly workers: WorkerChannel,
    private readonly launch: LaunchEnvironment,
    private readonly options: OrchestratorOptions,
    private readonly logger: Logger,
  ) {}

  async start() {
    this.unsubscribe = this.bus.subscribe((event) => this.onEvent(event));
    if (!this.options.runAgents) return;
    this.workers.hooks.onConnected = (sandboxId) =>
      void this.onWorkerConnected(sandboxId).catch((error) =>
        this.logger.error(
          { err: error, sandbox_id: sandboxId },
          "handling a worker's hello failed",
        ),
      );
    await this.recover();
    // Only now may queued tasks start: recovery first counts the sandboxes still running.
    this.recovered = true;
    this.liveness = setInterval(() => {
      void this.checkLiveness();
      // A safety net only: tasks start on events (created, slot freed), not on this tick.
      this.schedule();
    }, this.options.livenessIntervalMs);
    this.liveness.unref();
    this.schedule();
  }

  /**
   * Stops every sandbox this replica supervises, failing their running tasks with the reason.
   * (A crash leaves workers running instead; the next start re-attaches to them.)
   */
  async stopAll(reason: string) {
    // Shutting down: nothing new starts while the running sandboxes are stopped.
    this.closed = true;
    await Promise.allSettled(
      [...this.active.values()].map(async (active) => {
        await this.failTask(active.taskId, active.sandboxId, reason, false);
        await this.terminate(active.sandboxId, reason, "terminated");
      }),
    );
  }

  async close() {
    this.closed = true;
    this.unsubscribe?.();
    if (this.liveness) clearInterval(this.liveness);
    for (const active of this.active.values()) if (active.idleTimer) clearTimeout(active.idleTimer);
    await Promise.allSettled(this.eventChains.values());
  }

  // ── Control: tasks ────────────────────────────────────────────────────────

  async createTask(body: CreateTaskBody): Promise<Task> {
    for (const dependency of body.depends_on) {
      if (!(await this.store.getTask(dependency))) {
        throw badRequest(`depends_on: task '${dependency}' does not exist`);
      }
    }
    const task = await this.store.createTask({
      id: newTaskId(),
      title: body.title ?? body.prompt.split("\n")[0].slice(0, 80),
      prompt: body.prompt,
      phase_id: body.phase_id,
      priority: body.priority,
      runtime: body.runtime,
      model: body.model ?? null,
      max_turns: body.max_turns ?? null,
      max_budget_usd: body.max_budget_usd ?? null,
      depends_on: body.depends_on,
      max_retries: body.max_retries,
    });
    await this.ingest.emit(taskTarget(task.id), "task.created", {
      title: task.title,
      priority: task.priority,
      depends_on: task.depends_on,
    });
    for (const dependency of body.depends_on) {
      const status = (await this.store.getTask(dependency))?.status;
      if (status !== "failed" && status !== "cancelled") continue;
      // It can never run: fail it now, saying why, rather than leave it pending forever.
      const error = `dependency ${dependency} ${status}`;
      const failed = await this.store.updateTask(
        task.id,
        { status: "failed", error, completed_at: Date.now() },
        ["pending"],
      );
      if (failed) {
        await this.ingest.emit(taskTarget(task.id), "task.failed", { error, will_retry: false });
        return failed;
      }
    }
    this.schedule();
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
    const cancelled = await this.store.updateTask(
      id,
      { status: "cancelled", completed_at: Date.now(), error: "cancelled by request" },
      ["pending", "assigned", "running"],
    );
    if (!cancelled) return this.cancelTask(id);
    const sandboxId = cancelled.sandbox_id;
    const target = sandboxId ? sandboxTarget(sandboxId, id) : taskTarget(id);
    await this.ingest.emit(target, "task.cancelled", { reason: "cancelled by request" });
    if (sandboxId) await this.terminate(sandboxId, "task cancelled", "terminated");
    await this.failDependents(id, "cancelled");
    this.schedule();
    return (await this.store.getTask(id)) ?? cancelled;
  }

  async retryTask(id: string): Promise<Task> {
    const task = await this.store.getTask(id);
    if (!task) throw notFound("task", id);
    const retried = await this.store.updateTask(
      id,
      { status: "pending", error: null, result: null, completed_at: null, sandbox_id: null },
      ["failed", "cancelled"],
    );
    if (!retried) {
      throw conflict(
        `task '${id}' is ${task.status}; only failed or cancelled tasks can be retried`,
        {
          status: task.status,
        },
      );
    }
    await this.ingest.emit(taskTarget(id), "task.created", {
      title: task.title,
      priority: task.priority,
      retry: true,
    });
    this.schedule();
    return retried;
  }

  // ── Control: sandboxes and messages ───────────────────────────────────────

  async createSandbox(body: CreateSandboxBody): Promise<Sandbox> {
    const id = body.id ?? newSandboxId();
    if (await this.store.getSandbox(id)) throw conflict(`sandbox '${id}' already exists`, { id });
    if (!body.prompt) {
      const sandbox = await this.store.createSandbox({
        id,
        task_id: null,
        kind: "external",
        provider: "external",
        status: "running",
        owner: this.options.replicaId,
      });
      await this.ingest.emit(sandboxTarget(id, null), "sandbox.created", {
        kind: "external",
        provider: "external",
      });
      return sandbox;
    }
    if (!this.options.runAgents)
      throw conflict("this server does not run agents (OMOI_RUN_AGENTS=0)");
    if (this.active.size >= this.options.maxSandboxes) await this.evictIdle();
    if (this.active.size >= this.options.maxSandboxes) {
      throw new OmoiError(
        "TooManySandboxes",
        `all ${this.options.maxSandboxes} sandboxes are busy; try again later, or create a task (tasks wait for a free slot)`,
        429,
        { max_sandboxes: this.options.maxSandboxes },
      );
    }
    // Reserve the slot before any await, so concurrent requests cannot overshoot the limit.
    this.active.set(id, {
      sandboxId: id,
      taskId: null,
      handle: { sandboxId: id, workspace: "", pid: null },
      watchedSince: Date.now(),
      baseCost: 0,
    });
    let sandbox: Sandbox;
    try {
      sandbox = await this.store.createSandbox({
        id,
        task_id: null,
        kind: "agent",
        provider: this.provider.name,
        prompt: body.prompt,
        model: body.model ?? null,
        max_turns: body.max_turns ?? null,
        max_budget_usd: body.max_budget_usd ?? null,
        status: "pending",
        owner: this.options.replicaId,
      });
      await this.ingest.emit(sandboxTarget(id, null), "sandbox.created", {
        kind: "agent",
        provider: this.provider.name,
      });
    } catch (error) {
      this.active.delete(id);
      throw error;
    }
    await this.startSandbox(sandbox, {
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
      if (
        task &&
        (task.status === "running" || task.status === "assigned") &&
        task.sandbox_id === id
      ) {
        const cancelled = await this.store.updateTask(
          task.id,
          { status: "cancelled", completed_at: Date.now(), error: reason },
          ["assigned", "running"],
        );
        if (cancelled)
          await this.ingest.emit(sandboxTarget(id, task.id), "task.cancelled", { reason });
      }
    }
    await this.terminate(id, reason, "terminated");
    return (await this.store.getSandbox(id)) ?? sandbox;
  }

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
    const resumed = await this.store.updateTask(
      taskId,
      { status: "assigned", error: null, completed_at: null },
      ["completed", "failed", "cancelled"],
    );
    if (!resumed) throw conflict(`task '${taskId}' changed state; try again`);
    // A follow-up is a person waiting: it does not queue behind new tasks, but it takes the
    // slot of an idle sandbox when every slot is taken.
    if (this.active.size >= this.options.maxSandboxes) await this.evictIdle();
    const next = await this.createTaskSandbox(resumed);
    if (!next) throw conflict(`task '${taskId}' changed state; try again`);
    const frame = await this.deliver(next, body);
    await this.startSandbox(next, {
      prompt: null,
      resumeSessionId: task.session_id,
      workspace: task.workspace,
      baseCost: task.cost_usd,
    });
    return frame;
  }

  private async deliver(sandbox: Sandbox, body: PostMessageBody): Promise<MessageFrame> {
    if (this.active.get(sandbox.id)?.stopping) {
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
          event_type: "message.queued",
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
    const active = this.active.get(sandbox.id);
    if (active?.idleTimer) clearTimeout(active.idleTimer);
    if (active) {
      active.idleTimer = undefined;
      active.idleSince = undefined;
    }
    const woken = await this.store.updateSandbox(sandbox.id, { status: "running" }, ["idle"]);
    if (!woken || !sandbox.task_id) return;
    const task = await this.store.updateTask(
      sandbox.task_id,
      { status: "running", completed_at: null, error: null },
      ["completed", "failed"],
    );
    if (task)
      await this.ingest.emit(sandboxTarget(sandbox.id, task.id), "task.started", {
        sandbox_id: sandbox.id,
        follow_up: true,
      });
  }

  // ── scheduling ────────────────────────────────────────────────────────────

  /**
   * Every open sandbox holds a slot, idle ones too (their agent process is still alive).
   * When a task waits and only idle sandboxes hold the slots, the longest-idle one closes.
   */
  private idleCandidate(): ActiveSandbox | undefined {
    let oldest: ActiveSandbox | undefined;
    for (const active of this.active.values()) {
      if (active.stopping || active.idleSince === undefined) continue;
      if (!oldest || active.idleSince < (oldest.idleSince ?? 0)) oldest = active;
    }
    return oldest;
  }

  private async evictIdle(): Promise<boolean> {
    const idle = this.idleCandidate();
    if (!idle) return false;
    await this.terminate(idle.sandboxId, "closed to free a slot for a queued task", "completed");
    return true;
  }

  /** Starts queued tasks while slots are free. Safe to call often; runs one pass at a time. */
  schedule() {
    if (this.closed || !this.options.runAgents || !this.recovered) return;
    if (this.scheduling) {
      this.scheduleAgain = true;
      return;
    }
    this.scheduling = true;
    void (async () => {
      try {
        do {
          this.scheduleAgain = false;
          while (!this.closed) {
            const full = this.active.size >= this.options.maxSandboxes;
            if (full && !this.idleCandidate()) break;
            const task = await this.store.claimNextTask();
            if (!task) break;
            if (full) await this.evictIdle();
            if (this.active.size >= this.options.maxSandboxes) {
              // The idle sandbox woke up meanwhile: hand the task back to the queue.
              await this.store.updateTask(
                task.id,
                { status: "pending", attempts: task.attempts - 1 },
                ["assigned"],
              );
              break;
            }
            await this.launchClaimed(task);
          }
        } while (this.scheduleAgain && !this.closed);
      } catch (error) {
        this.logger.error({ err: error }, "scheduling failed");
      } finally {
        this.scheduling = false;
      }
    })();
  }

  /**
   * Gives a claimed task its sandbox and starts it. If the store fails midway, the slot is
   * released and the task goes back to the queue rather than staying "assigned" forever.
   */
  private async launchClaimed(task: Task) {
    let sandbox: Sandbox | undefined;
    try {
      sandbox = await this.createTaskSandbox(task);
      if (!sandbox) return;
      await this.startSandbox(sandbox, {
        prompt: task.prompt,
        resumeSessionId: null,
        workspace: null,
        baseCost: 0,
      });
    } catch (error) {
      this.logger.error(
        { err: error, task_id: task.id },
        "starting a task failed; it goes back to the queue",
      );
      if (sandbox) {
        const active = this.active.get(sandbox.id);
        if (active) await this.provider.stop(active.handle).catch(() => undefined);
        this.active.delete(sandbox.id);
        await this.store
          .updateSandbox(
            sandbox.id,
            { status: "failed", ended_at: Date.now(), error: String(error) },
            ACTIVE_STATUSES,
          )
          .catch(() => undefined);
      }
      await this.store
        .updateTask(
          task.id,
          { status: "pending", sandbox_id: null, attempts: Math.max(0, task.attempts - 1) },
          ["assigned"],
        )
        .catch(() => undefined);
    }
  }

  /** Creates the task's sandbox row and reserves its slot; undefined when the task was cancelled meanwhile. */
  private async createTaskSandbox(task: Task): Promise<Sandbox | undefined> {
    const id = newSandboxId();
    // Reserve the slot before any await, so a burst never overshoots the limit.
    const active: ActiveSandbox = {
      sandboxId: id,
      taskId: task.id,
      handle: { sandboxId: id, workspace: task.workspace ?? "", pid: null },
      watchedSince: Date.now(),
      baseCost: task.cost_usd,
    };
    this.active.set(id, active);
    try {
      return await this.recordTaskSandbox(task, id);
    } catch (error) {
      this.active.delete(id);
      throw error;
    }
  }

  private async recordTaskSandbox(task: Task, id: string): Promise<Sandbox | undefined> {
    // The task names its sandbox only while still assigned: a cancel that came first wins.
    const assigned = await this.store.updateTask(task.id, { sandbox_id: id }, ["assigned"]);
    if (!assigned) {
      this.active.delete(id);
      return undefined;
    }
    const sandbox = await this.store.createSandbox({
      id,
      task_id: task.id,
      kind: "agent",
      provider: this.provider.name,
      prompt: task.prompt,
      model: task.model,
      max_turns: task.max_turns,
      max_budget_usd: task.max_budget_usd,
      workspace: task.workspace,
      status: "pending",
      owner: this.options.replicaId,
    });
    const target = sandboxTarget(sandbox.id, task.id);
    await this.ingest.emit(target, "sandbox.created", {
      kind: "agent",
      provider: this.provider.name,
    });
    await this.ingest.emit(target, "task.assigned", {
      sandbox_id: sandbox.id,
      attempt: task.attempts,
    });
    return sandbox;
  }

  private async startSandbox(
    sandbox: Sandbox,
    run: {
      prompt: string | null;
      resumeSessionId: string | null;
      workspace: string | null;
      baseCost: number;
    },
  ) {
    const target = sandboxTarget(sandbox.id, sandbox.task_id);
    const active: ActiveSandbox = this.active.get(sandbox.id) ?? {
      sandboxId: sandbox.id,
      taskId: sandbox.task_id,
      handle: { sandboxId: sandbox.id, workspace: run.workspace ?? "", pid: null },
      watchedSince: Date.now(),
      baseCost: run.baseCost,
    };
    active.baseCost = run.baseCost;
    if (active.stopping || (sandbox.task_id && this.active.get(sandbox.id) !== active)) {
      // Cancelled between the claim and the start.
      await this.finishSandbox(
        sandbox.id,
        "terminated",
        "its task was cancelled before it started",
      );
      return;
    }
    this.active.set(sandbox.id, active);
    await this.store.updateSandbox(sandbox.id, { status: "starting", started_at: Date.now() });
    await this.ingest.emit(target, "sandbox.starting", { provider: this.provider.name });
    const spec: WorkerLaunchSpec = {
      sandboxId: sandbox.id,
      taskId: sandbox.task_id,
      serverUrl: this.launch.serverUrl(),
      workerToken: this.launch.workerToken(sandbox.id),
      prompt: run.prompt,
      model: sandbox.model,
      maxTurns: sandbox.max_turns,
      maxBudgetUsd: sandbox.max_budget_usd,
      resumeSessionId: run.resumeSessionId,
      workspace: run.workspace,
      modelBaseUrl: this.launch.modelBaseUrl,
      modelEnv: this.launch.modelEnv,
      orphanTimeoutMs: this.launch.workerOrphanTimeoutMs,
    };
    try {
      const handle = await this.provider.start(spec);
      active.handle = handle;
      active.watchedSince = Date.now();
      if (active.stopping || this.active.get(sandbox.id) !== active) {
        // Cancelled or terminated while the worker was being spawned: nothing may outlive that.
        await this.provider.stop(handle);
        return;
      }
      await this.store.updateSandbox(sandbox.id, {
        workspace: handle.workspace,
        worker_pid: handle.pid,
      });
      if (sandbox.task_id)
        await this.store.updateTask(sandbox.task_id, { workspace: handle.workspace });
    } catch (error) {
      const message = `could not start the sandbox: ${(error as Error).message}`;
      this.logger.error({ err: error, sandbox_id: sandbox.id }, "sandbox start failed");
      await this.finishSandbox(sandbox.id, "failed", message);
      await this.failTask(sandbox.task_id, sandbox.id, message);
    }
  }

  // ── following runs ────────────────────────────────────────────────────────

  private onEvent(event: StoredEvent) {
    if (SCHEDULING_EVENTS.has(event.event_type)) this.schedule();
    if (!event.sandbox_id) return;
    const active = this.active.get(event.sandbox_id);
    if (active && event.stream_id === event.sandbox_id) {
      if (LIFECYCLE_EVENTS.includes(event.event_type)) {
        // Heard twice (the bus, then the missed-event sweep): act once.
        active.handled ??= new Set();
        if (active.handled.has(event.seq)) return;
        active.handled.add(event.seq);
      }
      active.seenSeq = Math.max(active.seenSeq ?? 0, event.seq);
    }
    // Another replica ended a sandbox this one supervises (cancel, orphan close-out).
    const remoteStop =
      (event.event_type === "sandbox.terminated" || event.event_type === "sandbox.failed") &&
      !active?.stopping;
    if (!active && !remoteStop) return;
    const sandboxId = event.sandbox_id;
    const previous = this.eventChains.get(sandboxId) ?? Promise.resolve();
    const next = previous
      .then(() => this.handleEvent(event, active))
      .catch((error) =>
        this.logger.error({ err: error, sandbox_id: sandboxId }, "handling event failed"),
      );
    this.eventChains.set(sandboxId, next);
    void next.then(() => {
      if (this.eventChains.get(sandboxId) === next) this.eventChains.delete(sandboxId);
    });
  }

  private async handleEvent(event: StoredEvent, active: ActiveSandbox | undefined) {
    const sandboxId = event.sandbox_id!;
    const payload = event.payload;
    switch (event.event_type) {
      case "agent.started": {
        // The SDK reports `init` at the start of every turn; only the first moves state.
        const sessionId = typeof payload.session_id === "string" ? payload.session_id : null;
        const started = await this.store.updateSandbox(
          sandboxId,
          { status: "running", session_id: sessionId },
          ["pending", "starting"],
        );
        if (started)
          await this.ingest.emit(sandboxTarget(sandboxId, started.task_id), "sandbox.ready", {
            workspace: started.workspace ?? undefined,
          });
        const sandbox = started ?? (await this.store.getSandbox(sandboxId));
        if (!sandbox?.task_id) return;
        // A resumed run keeps the task's first start, so its duration covers the whole task.
        const previous = await this.store.getTask(sandbox.task_id);
        const task = await this.store.updateTask(
          sandbox.task_id,
          {
            status: "running",
            started_at: previous?.started_at ?? Date.now(),
            session_id: sessionId,
          },
          ["assigned"],
        );
        if (task) {
          await this.ingest.emit(sandboxTarget(sandboxId, task.id), "task.started", {
            sandbox_id: sandboxId,
          });
          return;
        }
        const current = await this.store.getTask(sandbox.task_id);
        const abandoned =
          !current || current.status === "cancelled" || current.sandbox_id !== sandboxId;
        if (abandoned && active && !active.stopping)
          await this.terminate(sandboxId, "its task is no longer running here", "terminated");
        return;
      }
      case "agent.turn_completed": {
        if (!active) return;
        active.lastTurn = {
          result: typeof payload.result === "string" ? payload.result : undefined,
          isError: payload.is_error === true && !active.interrupted,
          subtype: typeof payload.subtype === "string" ? payload.subtype : undefined,
        };
        if (!active.taskId) return;
        const task = await this.store.getTask(active.taskId);
        if (!task) return;
        const usage = (payload.usage ?? {}) as { input_tokens?: number; output_tokens?: number };
        await this.store.updateTask(task.id, {
          num_turns:
            task.num_turns + (typeof payload.num_turns === "number" ? payload.num_turns : 1),
          input_tokens: task.input_tokens + (usage.input_tokens ?? 0),
          output_tokens: task.output_tokens + (usage.output_tokens ?? 0),
          cost_usd:
            typeof payload.cost_usd === "number"
              ? active.baseCost + payload.cost_usd
              : task.cost_usd,
        });
        return;
      }
      case "message.queued":
        // A follow-up posted on another replica woke this idle sandbox: keep it open.
        if (active?.idleTimer && !active.stopping) {
          clearTimeout(active.idleTimer);
          active.idleTimer = undefined;
          active.idleSince = undefined;
        }
        return;
      case "agent.interrupted":
        // A person stopped the turn: its error result is not the task failing.
        if (active) active.interrupted = true;
        return;
      case "agent.waiting":
        if (active) await this.onIdle(active);
        return;
      case "agent.failed": {
        const error = typeof payload.error === "string" ? payload.error : "the agent failed";
        await this.failTask(active?.taskId ?? null, sandboxId, error);
        await this.terminate(sandboxId, error, "failed");
        return;
      }
      case "agent.completed":
        if (active && !active.stopping)
          await this.terminate(sandboxId, "the agent finished", "completed");
        return;
      case "sandbox.terminated":
      case "sandbox.failed":
        // Another replica asked for this sandbox to stop: kill what runs here.
        if (active && !active.stopping) await this.killLocal(active, "terminated elsewhere");
        return;
    }
  }

  /** The agent finished its turn with nothing queued: the run is done, the sandbox waits. */
  private async onIdle(active: ActiveSandbox) {
    const sandbox = await this.store.updateSandbox(active.sandboxId, { status: "idle" }, [
      "running",
      "starting",
    ]);
    if (!sandbox) return;
    const turn = active.lastTurn;
    active.interrupted = false;
    if (active.taskId) {
      const target = sandboxTarget(active.sandboxId, active.taskId);
      if (turn?.isError) {
        const error = `the agent stopped: ${turn.subtype ?? "error"}${turn.result ? ` — ${turn.result}` : ""}`;
        const failed = await this.store.updateTask(
          active.taskId,
          { status: "failed", error, completed_at: Date.now() },
          ["running", "assigned"],
        );
        if (failed) await this.ingest.emit(target, "task.failed", { error, will_retry: false });
        if (failed) await this.failDependents(active.taskId, "failed");
      } else {
        const completed = await this.store.updateTask(
          active.taskId,
          { status: "completed", result: turn?.result ?? null, completed_at: Date.now() },
          ["running", "assigned"],
        );
        if (completed) await this.ingest.emit(target, "task.completed", { result: turn?.result });
      }
    }
    this.startIdleWindow(active);
    this.schedule();
  }

  private startIdleWindow(active: ActiveSandbox) {
    if (active.idleTimer) clearTimeout(active.idleTimer);
    active.idleSince = Date.now();
    active.idleTimer = setTimeout(() => {
      void this.terminate(active.sandboxId, "idle window ended", "completed").catch((error) =>
        this.logger.error({ err: error }, "closing idle sandbox failed"),
      );
    }, this.options.idleWindowMs);
    active.idleTimer.unref();
  }

  private async failTask(taskId: string | null, sandboxId: string, error: string, retry = true) {
    if (!taskId) return;
    const task = await this.store.getTask(taskId);
    if (!task || TERMINAL_TASK_STATUSES.includes(task.status) || task.sandbox_id !== sandboxId)
      return;
    const willRetry = retry && task.attempts <= task.max_retries;
    const updated = await this.store.updateTask(
      taskId,
      willRetry
        ? { status: "pending", error, sandbox_id: null }
        : { status: "failed", error, completed_at: Date.now() },
      ["assigned", "running"],
    );
    if (!updated) return;
    await this.ingest.emit(sandboxTarget(sandboxId, taskId), "task.failed", {
      error,
      will_retry: willRetry,
    });
    if (!willRetry) await this.failDependents(taskId, "failed");
    this.schedule();
  }

  /** Pending tasks that depend on a task that can no longer complete fail, saying why. */
  private async failDependents(taskId: string, how: string) {
    const { tasks } = await this.store.listTasks({ status: ["pending"], limit: 500, offset: 0 });
    for (const dependent of tasks) {
      if (!dependent.depends_on.includes(taskId)) continue;
      const error = `dependency ${taskId} ${how}`;
      const failed = await this.store.updateTask(
        dependent.id,
        { status: "failed", error, completed_at: Date.now() },
        ["pending"],
      );
      if (!failed) continue;
      await this.ingest.emit(taskTarget(dependent.id), "task.failed", { error, will_retry: false });
      await this.failDependents(dependent.id, "failed");
    }
  }

  // ── stopping ──────────────────────────────────────────────────────────────

  /**
   * Ends a sandbox: asks its worker to finish, then kills the whole process tree, then
   * records the end. Runs on the replica that supervises it; elsewhere it records the
   * request, which reaches the owner as a `sandbox.terminated` event.
   */
  private async terminate(
    sandboxId: string,
    reason: string,
    status: "completed" | "failed" | "terminated",
  ) {
    const active = this.active.get(sandboxId);
    if (active && !active.stopping) {
      active.stopping = true;
      if (active.idleTimer) clearTimeout(active.idleTimer);
      const started = Date.now();
      const graceful = this.workers.sendStop(sandboxId, reason);
      if (graceful) await this.waitForExit(active, this.options.stopGraceMs);
      const exited = Date.now();
      await this.provider
        .stop(active.handle)
        .catch((error) =>
          this.logger.error({ err: error, sandbox_id: sandboxId }, "stopping sandbox failed"),
        );
      this.logger.info(
        {
          sandbox_id: sandboxId,
          reason,
          graceful_ms: exited - started,
          kill_ms: Date.now() - exited,
        },
        "sandbox stopped",
      );
    } else if (active?.stopping) {
      return;
    }
    await this.finishSandbox(sandboxId, status, reason);
  }

  private async killLocal(active: ActiveSandbox, reason: string) {
    active.stopping = true;
    if (active.idleTimer) clearTimeout(active.idleTimer);
    await this.provider.stop(active.handle).catch(() => undefined);
    this.active.delete(active.sandboxId);
    this.logger.info({ sandbox_id: active.sandboxId, reason }, "sandbox processes killed");
    this.schedule();
  }

  private async waitForExit(active: ActiveSandbox, graceMs: number) {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if ((await this.provider.status(active.handle)) !== "running") return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async finishSandbox(
    sandboxId: string,
    status: "completed" | "failed" | "terminated",
    reason: string,
  ) {
    const sandbox = await this.store.updateSandbox(
      sandboxId,
      { status, ended_at: Date.now(), error: status === "completed" ? null : reason },
      ACTIVE_STATUSES,
    );
    const task = sandbox?.task_id ? await this.store.getTask(sandbox.task_id) : undefined;
    if (
      task &&
      task.sandbox_id === sandboxId &&
      (task.status === "assigned" || task.status === "running")
    ) {
      // A task still running in a sandbox that just ended cannot go on there.
      const error = `its sandbox ${status === "completed" ? "closed" : status}: ${reason}`;
      const failed = await this.store.updateTask(
        task.id,
        { status: "failed", error, completed_at: Date.now() },
        [task.status],
      );
      if (failed)
        await this.ingest.emit(sandboxTarget(sandboxId, task.id), "task.failed", {
          error,
          will_retry: false,
        });
    }
    if (sandbox) {
      const type =
        status === "completed"
          ? "sandbox.completed"
          : status === "failed"
            ? "sandbox.failed"
            : "sandbox.terminated";
      await this.ingest.emit(
        sandboxTarget(sandboxId, sandbox.task_id),
        type,
        status === "failed" ? { error: reason } : { reason },
      );
    }
    // The slot frees only once the end is stored and told: a sandbox started in it begins later.
    this.active.delete(sandboxId);
    this.schedule();
  }

  // ── liveness and recovery ─────────────────────────────────────────────────

  private async checkLiveness() {
    const now = Date.now();
    if (this.store.kind === "postgres" && this.livenessTicks++ % 5 === 0)
      await this.closeOutOrphans(now).catch((error) =>
        this.logger.error({ err: error }, "closing out orphaned sandboxes failed"),
      );
    for (const active of [...this.active.values()]) {
      if (active.stopping || active.handle.pid === null) continue;
      try {
        await this.recoverMissed(active, now);
        const status = await this.provider.status(active.handle);
        if (status === "exited") {
          await this.declareDead(active, "the worker process exited unexpectedly");
          continue;
        }
        const sandbox = await this.store.getSandbox(active.sandboxId);
        if (!sandbox) continue;
        const lastSign = Math.max(sandbox.last_heartbeat_at ?? 0, active.watchedSince);
        if (now - lastSign > this.options.heartbeatTimeoutMs) {
          await this.declareDead(
            active,
            `no heartbeat for ${Math.round((now - lastSign) / 1000)} s`,
          );
        }
      } catch (error) {
        this.logger.error({ err: error, sandbox_id: active.sandboxId }, "liveness check failed");
      }
    }
  }

  private async declareDead(active: ActiveSandbox, reason: string) {
    this.logger.warn({ sandbox_id: active.sandboxId, reason }, "sandbox declared dead");
    active.stopping = true;
    if (active.idleTimer) clearTimeout(active.idleTimer);
    await this.provider.stop(active.handle).catch(() => undefined);
    await this.ingest.emit(sandboxTarget(active.sandboxId, active.taskId), "agent.error", {
      error: reason,
      code: "worker_lost",
    });
    await this.failTask(active.taskId, active.sandboxId, reason);
    await this.finishSandbox(active.sandboxId, "failed", reason);
  }

  /** The bus reconnected: sweep every supervised sandbox for missed events on the next tick. */
  lookForMissedEvents() {
    for (const active of this.active.values()) active.lastMissedCheck = 0;
  }

  /**
   * The bus delivers at most once: a lifecycle event stored but never heard (a Redis blip)
   * would leave its task "running" forever. Every few seconds, stored lifecycle events past
   * what was heard, and older than any publish in flight, are handled as if heard.
   */
  private async recoverMissed(active: ActiveSandbox, now: number) {
    if (now - (active.lastMissedCheck ?? 0) < 5_000) return;
    active.lastMissedCheck = now;
    const missed = await this.store.listEvents(active.sandboxId, {
      afterSeq: active.seenSeq ?? 0,
      eventTypes: LIFECYCLE_EVENTS,
      limit: 100,
    });
    for (const event of missed) {
      if (now - event.stored_at < 2_000) break;
      this.logger.warn(
        { sandbox_id: active.sandboxId, seq: event.seq, event_type: event.event_type },
        "handling an event the bus lost",
      );
      this.onEvent(event);
    }
  }

  /**
   * A re-attached run may have moved on while no server listened (its events were stored,
   * but the crash came before they were acted on): replay the last stored state change.
   */
  private async catchUp(active: ActiveSandbox, sandbox: Sandbox) {
    const events = await this.store.listEvents(sandbox.id, {
      eventTypes: LIFECYCLE_EVENTS,
      limit: 10_000,
    });
    const lastTurn = events.findLast((event) => event.event_type === "agent.turn_completed");
    if (lastTurn) {
      const payload = lastTurn.payload;
      active.lastTurn = {
        result: typeof payload.result === "string" ? payload.result : undefined,
        isError: payload.is_error === true,
        subtype: typeof payload.subtype === "string" ? payload.subtype : undefined,
      };
    }
    const last = events.findLast((event) => event.event_type !== "agent.turn_completed");
    if (!last) return;
    const task = sandbox.task_id ? await this.store.getTask(sandbox.task_id) : undefined;
    if (last.event_type === "agent.started" && task?.status !== "assigned") return;
    if (last.event_type === "agent.waiting" && sandbox.status === "idle") return;
    await this.handleEvent(last, active);
  }

  /** A worker said hello: one whose sandbox has ended (or that nobody supervises) is told to stop. */
  private async onWorkerConnected(sandboxId: string) {
    if (this.active.has(sandboxId)) return;
    const sandbox = await this.store.getSandbox(sandboxId);
    if (sandbox?.kind !== "agent") return;
    if (TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) {
      this.logger.warn(
        { sandbox_id: sandboxId },
        "a worker of an ended sandbox connected; stopping it",
      );
      this.workers.sendStop(sandboxId, `this sandbox is ${sandbox.status}`);
    }
  }

  /**
   * Shared store: a sandbox of another replica that has shown no sign of life for twice the
   * heartbeat timeout lost its supervisor (that replica died and did not come back). Its row
   * and task are closed out here; if its worker still runs, it is told to stop when it
   * reconnects anywhere (onWorkerConnected).
   */
  private async closeOutOrphans(now: number) {
    const { sandboxes } = await this.store.listSandboxes({
      status: ACTIVE_STATUSES,
      limit: 500,
      offset: 0,
    });
    for (const sandbox of sandboxes) {
      if (sandbox.kind !== "agent" || this.active.has(sandbox.id)) continue;
      if (sandbox.owner === this.options.replicaId) continue;
      const lastSign = Math.max(sandbox.last_heartbeat_at ?? 0, sandbox.updated_at);
      if (now - lastSign <= 2 * this.options.heartbeatTimeoutMs) continue;
      const reason = `its replica '${sandbox.owner}' stopped supervising it (no sign of life for ${Math.round((now - lastSign) / 1000)} s)`;
      this.logger.warn(
        { sandbox_id: sandbox.id, owner: sandbox.owner },
        "closing out an orphaned sandbox",
      );
      const ended = await this.store.updateSandbox(
        sandbox.id,
        { status: "failed", ended_at: now, error: reason },
        ACTIVE_STATUSES,
      );
      if (!ended) continue;
      await this.ingest.emit(sandboxTarget(sandbox.id, sandbox.task_id), "sandbox.failed", {
        error: reason,
      });
      await this.failTask(sandbox.task_id, sandbox.id, reason);
    }
  }

  /** After a restart: re-attach to workers still running, close out the rest honestly. */
  private async recover() {
    // Embedded (SQLite) there is one server per data dir: every sandbox is ours, whatever
    // replica id the previous process had. On Postgres, each replica recovers its own.
    const { sandboxes } = await this.store.listSandboxes({
      status: ACTIVE_STATUSES,
      owner: this.store.kind === "sqlite" ? undefined : this.options.replicaId,
      limit: 500,
      offset: 0,
    });
    for (const sandbox of sandboxes) {
      if (sandbox.kind !== "agent") continue;
      const handle: SandboxHandle = {
        sandboxId: sandbox.id,
        workspace: sandbox.workspace ?? "",
        pid: sandbox.worker_pid,
      };
      const alive = handle.pid !== null && (await this.provider.status(handle)) === "running";
      const task = sandbox.task_id ? await this.store.getTask(sandbox.task_id) : undefined;
      const active: ActiveSandbox = {
        sandboxId: sandbox.id,
        taskId: sandbox.task_id,
        handle,
        watchedSince: Date.now(),
        baseCost: 0,
      };
      if (!alive) {
        active.stopping = true;
        this.active.set(sandbox.id, active);
        const reason = "the worker was gone after a server restart";
        await this.provider.stop(handle).catch(() => undefined);
        await this.failTask(sandbox.task_id, sandbox.id, reason);
        await this.finishSandbox(sandbox.id, "failed", reason);
        continue;
      }
      active.baseCost = task ? Math.max(0, task.cost_usd) : 0;
      this.active.set(sandbox.id, active);
      if (sandbox.status === "idle") this.startIdleWindow(active);
      this.logger.info({ sandbox_id: sandbox.id }, "re-attached to running sandbox");
      active.seenSeq = await this.store.lastSeq(sandbox.id);
      await this.catchUp(active, sandbox);
    }
    // Tasks claiming to run without a live sandbox are closed out.
    const { tasks } = await this.store.listTasks({
      status: ["assigned", "running"],
      limit: 500,
      offset: 0,
    });
    for (const task of tasks) {
      if (task.sandbox_id && this.active.has(task.sandbox_id)) continue;
      const sandbox = task.sandbox_id ? await this.store.getSandbox(task.sandbox_id) : undefined;
      if (
        sandbox &&
        sandbox.owner !== this.options.replicaId &&
        ACTIVE_STATUSES.includes(sandbox.status)
      )
        continue;
      const error = "its sandbox was gone after a server restart";
      const failed = await this.store.updateTask(
        task.id,
        { status: "failed", error, completed_at: Date.now() },
        ["assigned", "running"],
      );
      if (failed)
        await this.ingest.emit(
          task.sandbox_id ? sandboxTarget(task.sandbox_id, task.id) : taskTarget(task.id),
          "task.failed",
          { error, will_retry: false },
        );
    }
  }
}
