import type { ResolvedEnvironment } from "../environment/environments.ts";
import { launchEnvironment, modelSettings } from "../environment/launch.ts";
import type { Logger } from "../log/logger.ts";
import { newSandboxId } from "../protocol/ids.ts";
import type { Sandbox } from "../protocol/sandbox.ts";
import { sandboxLimitsOf, type Task } from "../protocol/task.ts";
import type { SandboxProvider, WorkerLaunchSpec } from "../sandbox/provider.ts";
import type { Store } from "../store/store.ts";
import { type ActiveSandbox, Lifecycle } from "./lifecycle.ts";
import type { PreparedWorkspace, RunHooks } from "./run-hooks.ts";
import type { Stopping } from "./stopping.ts";
import type { WarmPools } from "./warm-pools.ts";

/** What a worker needs beyond the sandbox row: where to connect, which model to use. */
export interface LaunchEnvironment {
  serverUrl(): string;
  workerToken(sandboxId: string): string;
  modelBaseUrl: string;
  modelEnv: Record<string, string>;
  /** A worker that cannot reach any server for this long stops its agent and exits. */
  workerOrphanTimeoutMs: number;
  /** Opens a task's environment (its secrets included) for the worker that runs it. */
  resolveEnvironment?: (id: string) => Promise<ResolvedEnvironment>;
}

export interface SchedulingOptions {
  replicaId: string;
  maxSandboxes: number;
  runAgents: boolean;
}

/** How a sandbox's run begins: a prompt, or a session to resume on a workspace. */
export interface RunStart {
  prompt: string | null;
  resumeSessionId: string | null;
  workspace: string | null;
  baseCost: number;
}

/**
 * Starts queued tasks while slots are free, and launches sandboxes: the row, the slot, the
 * worker process.
 */
export class Scheduling {
  /** Follow-ups whose new sandbox waits for a slot; they start before queued tasks. */
  private readonly waiting: { sandbox: Sandbox; run: RunStart }[] = [];
  private running = false;
  private again = false;
  /** Nothing starts before recovery has counted what still runs, nor after shutdown began. */
  private open = false;
  /** Environments' warm pools: claimed from first, filled when the queue is empty. */
  pools: WarmPools | undefined;

  constructor(
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly stopping: Stopping,
    private readonly provider: SandboxProvider,
    private readonly launch: LaunchEnvironment,
    private readonly options: SchedulingOptions,
    private readonly logger: Logger,
    private readonly hooks: RunHooks = {},
  ) {}

  /** Recovery is done: queued tasks may start. */
  begin() {
    this.open = true;
  }

  /** Shutting down: nothing new starts. */
  end() {
    this.open = false;
  }

  get full(): boolean {
    return this.lifecycle.size >= this.options.maxSandboxes;
  }

  /**
   * Frees a slot: a warm-pool sandbox first (a queued task is worth more than a future one),
   * else the longest-idle sandbox. False when neither exists.
   */
  async evictIdle(): Promise<boolean> {
    if (await this.pools?.evict()) return true;
    const idle = this.lifecycle.idleCandidate();
    if (!idle) return false;
    await this.stopping.terminate(
      idle.sandboxId,
      "closed to free a slot for a queued task",
      "completed",
    );
    return true;
  }

  /**
   * A follow-up's new sandbox (recorded, its message stored) starts when a slot frees, ahead
   * of queued tasks: a person is waiting for it.
   */
  waitForSlot(sandbox: Sandbox, run: RunStart) {
    this.waiting.push({ sandbox, run });
    this.schedule();
  }

  /** The follow-ups still waiting (taken out: the caller ends them). */
  takeWaiting(): Sandbox[] {
    return this.waiting.splice(0).map((entry) => entry.sandbox);
  }

  /** Waiting follow-ups show a sign of life, so no replica closes them out as orphans. */
  async keepWaitingAlive() {
    const now = Date.now();
    for (const { sandbox } of this.waiting)
      await this.store.updateSandbox(sandbox.id, { last_heartbeat_at: now }, ["pending"]);
  }

  /** Starts the longest-waiting follow-up if a slot is (or can be made) free. */
  private async startWaiting(): Promise<boolean> {
    if (this.full) await this.evictIdle();
    if (this.full) return false;
    const next = this.waiting.shift();
    if (!next) return false;
    const { sandbox, run } = next;
    this.lifecycle.hold(Lifecycle.record(sandbox.id, sandbox.task_id, run.workspace, run.baseCost));
    await this.startSandbox(sandbox, run);
    return true;
  }

  /** Starts queued tasks while slots are free. Safe to call often; runs one pass at a time. */
  schedule() {
    if (!this.open || !this.options.runAgents) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        let queueEmpty = false;
        do {
          this.again = false;
          while (this.open) {
            if (this.waiting.length > 0) {
              if (await this.startWaiting()) continue;
              break;
            }
            const full = this.full;
            if (full && !this.lifecycle.idleCandidate() && !this.pools?.size) break;
            const task = await this.store.claimNextTask();
            if (!task) {
              queueEmpty = true;
              break;
            }
            if (await this.claimWarm(task)) continue;
            if (full) await this.evictIdle();
            if (this.full) {
              // The idle sandbox woke up meanwhile: hand the task back to the queue.
              await this.lifecycle.task("requeue", task.id, {
                fields: { attempts: task.attempts - 1 },
              });
              break;
            }
            await this.launchClaimed(task);
          }
        } while (this.again && this.open);
        // Only once no queued task wants a slot do warm pools take free ones.
        if (queueEmpty) void this.pools?.fill();
      } catch (error) {
        this.logger.error({ err: error }, "scheduling failed");
      } finally {
        this.running = false;
      }
    })();
  }

  /** A claimed task takes a warm sandbox when one fits; a failed claim requeues it. */
  private async claimWarm(task: Task): Promise<boolean> {
    if (!this.pools) return false;
    try {
      return await this.pools.claim(task);
    } catch (error) {
      this.logger.error(
        { err: error, task_id: task.id },
        "claiming a warm sandbox failed; the task goes back to the queue",
      );
      await this.lifecycle
        .task("requeue", task.id, {
          fields: { sandbox_id: null, attempts: Math.max(0, task.attempts - 1) },
        })
        .catch(() => undefined);
      return true;
    }
  }

  /**
   * Gives a claimed task its sandbox and starts it. If the store fails midway, the slot is
   * released and the task goes back to the queue rather than staying "assigned" forever.
   */
  private async launchClaimed(task: Task) {
    let sandbox: Sandbox | undefined;
    try {
      sandbox = await this.createTaskSandbox(task, "claim");
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
        const active = this.lifecycle.get(sandbox.id);
        if (active) await this.provider.stop(active.handle).catch(() => undefined);
        this.lifecycle.release(sandbox.id);
        await this.lifecycle
          .sandbox("fail", sandbox.id, {
            fields: { ended_at: Date.now(), error: String(error) },
            payload: { error: String(error) },
          })
          .catch(() => undefined);
      }
      await this.lifecycle
        .task("requeue", task.id, {
          fields: { sandbox_id: null, attempts: Math.max(0, task.attempts - 1) },
        })
        .catch(() => undefined);
    }
  }

  /**
   * Records the sandbox of a claimed or resumed task and holds its slot; undefined when the
   * task was cancelled meanwhile.
   */
  async createTaskSandbox(
    task: Task,
    how: "claim" | "resume",
    holdSlot = true,
  ): Promise<Sandbox | undefined> {
    const id = newSandboxId();
    if (holdSlot) this.lifecycle.hold(Lifecycle.record(id, task.id, task.workspace, task.cost_usd));
    try {
      // The task names its sandbox only while still assigned: a cancel that came first wins.
      const assigned = await this.store.updateTask(task.id, { sandbox_id: id }, ["assigned"]);
      if (!assigned) {
        this.lifecycle.release(id);
        return undefined;
      }
      const sandbox = await this.lifecycle.createSandbox(
        "create",
        {
          id,
          task_id: task.id,
          kind: "agent",
          provider: this.provider.name,
          prompt: task.prompt,
          model: task.model,
          max_turns: task.max_turns,
          max_budget_usd: task.max_budget_usd,
          permission_mode: task.permission_mode,
          deny_unanswered_after_minutes: task.deny_unanswered_after_minutes,
          limits: sandboxLimitsOf(task.limits),
          workspace: task.workspace,
          owner: this.options.replicaId,
        },
        { provider: this.provider.name },
      );
      await this.lifecycle.announce(how, sandbox.id, task.id, {
        sandbox_id: sandbox.id,
        attempt: task.attempts,
      });
      return sandbox;
    } catch (error) {
      this.lifecycle.release(id);
      throw error;
    }
  }

  /**
   * Asks the provider for the sandbox's worker; a failure fails the sandbox and its run.
   * `pooled`: a warm-pool sandbox of that environment, started without a task.
   */
  async startSandbox(sandbox: Sandbox, run: RunStart, pooled?: ResolvedEnvironment) {
    const held = this.lifecycle.get(sandbox.id);
    const active: ActiveSandbox =
      held ?? Lifecycle.record(sandbox.id, sandbox.task_id, run.workspace, run.baseCost);
    active.baseCost = run.baseCost;
    if (active.stopping || (sandbox.task_id && !held)) {
      // Cancelled between the claim and the start.
      await this.stopping.finish(
        sandbox.id,
        "terminated",
        "its task was cancelled before it started",
      );
      return;
    }
    this.lifecycle.hold(active);
    const started = await this.lifecycle.sandbox("start", sandbox.id, {
      fields: { started_at: Date.now() },
      payload: { provider: this.provider.name },
    });
    if (!started) {
      // Ended before it began (closed out elsewhere): nothing to launch, the slot is free.
      this.lifecycle.release(sandbox.id);
      this.lifecycle.hooks.changed();
      return;
    }
    const environment =
      pooled ?? (await this.environmentOf(sandbox).catch((error: Error) => error));
    if (environment instanceof Error) {
      const message = `could not prepare the task's environment: ${environment.message}`;
      await this.stopping.finish(sandbox.id, "failed", message);
      await this.lifecycle.failTask(sandbox.task_id, sandbox.id, message);
      return;
    }
    const model = modelSettings(environment, this.launch);
    const spec: WorkerLaunchSpec = {
      sandboxId: sandbox.id,
      taskId: sandbox.task_id,
      serverUrl: this.launch.serverUrl(),
      workerToken: this.launch.workerToken(sandbox.id),
      prompt: run.prompt,
      model: sandbox.model,
      maxTurns: sandbox.max_turns,
      maxBudgetUsd: sandbox.max_budget_usd,
      permissionMode: sandbox.permission_mode,
      limits: sandbox.limits,
      resumeSessionId: run.resumeSessionId,
      workspace: run.workspace,
      modelBaseUrl: model.modelBaseUrl,
      modelEnv: model.modelEnv,
      orphanTimeoutMs: this.launch.workerOrphanTimeoutMs,
      environment: environment ? launchEnvironment(environment) : null,
      ...(pooled ? { pooled: true } : {}),
    };
    try {
      let prepared: PreparedWorkspace | null = null;
      if (spec.workspace === null && sandbox.task_id && this.hooks.prepareWorkspace) {
        const task = await this.store.getTask(sandbox.task_id);
        if (task) prepared = await this.hooks.prepareWorkspace(task, sandbox.id);
        if (prepared) spec.workspace = prepared.workspace;
      }
      // The content is prepared once the worker is spawned, while it starts up: its start is
      // the longer of the two, and nothing of the preparation competes with its spawn.
      let spawned: () => void = () => undefined;
      const ready =
        prepared &&
        new Promise<void>((resolve) => {
          spawned = resolve;
        }).then(prepared.fill);
      // Awaited below, once the worker is starting; a failure before that is not unhandled.
      ready?.catch(() => undefined);
      // A resumed session keeps what a person chose to "Always allow" earlier in the task.
      if (sandbox.task_id && run.resumeSessionId) {
        const rules = await this.store.approvals.remembered(sandbox.task_id);
        if (rules.length > 0) spec.allowRules = rules;
      }
      const handle = await this.provider.start(spec, ready ? { workspaceReady: ready } : {});
      active.handle = handle;
      active.watchedSince = Date.now();
      if (active.stopping || this.lifecycle.get(sandbox.id) !== active) {
        // Cancelled or terminated while the worker was being spawned: nothing may outlive that.
        await this.provider.stop(handle);
        return;
      }
      spawned();
      await this.store.updateSandbox(sandbox.id, {
        workspace: handle.workspace,
        worker_pid: handle.pid,
      });
      // The task names its workspace only once the content is complete, so a run that fails
      // here leaves the next one to prepare it afresh.
      await ready;
      if (sandbox.task_id)
        await this.store.updateTask(sandbox.task_id, { workspace: handle.workspace });
    } catch (error) {
      const message = `could not start the sandbox: ${(error as Error).message}`;
      this.logger.error({ err: error, sandbox_id: sandbox.id }, "sandbox start failed");
      // A worker that started (waiting for its workspace) goes first: stop means stop.
      if (active.handle.pid !== null)
        await this.provider.stop(active.handle).catch(() => undefined);
      await this.stopping.finish(sandbox.id, "failed", message);
      await this.lifecycle.failTask(sandbox.task_id, sandbox.id, message);
    }
  }

  /** The environment of the sandbox's task, opened; null when it runs in none. */
  private async environmentOf(sandbox: Sandbox): Promise<ResolvedEnvironment | null> {
    if (!sandbox.task_id || !this.launch.resolveEnvironment) return null;
    const task = await this.store.getTask(sandbox.task_id);
    if (!task?.environment_id) return null;
    return this.launch.resolveEnvironment(task.environment_id);
  }
}
