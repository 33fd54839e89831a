import type { Bus, Unsubscribe } from "../bus/bus.ts";
import type { Ingest } from "../ingest/ingest.ts";
import type { Logger } from "../log/logger.ts";
import type { MessageFrame, PostMessageBody } from "../protocol/message.ts";
import type { CreateSandboxBody, Sandbox } from "../protocol/sandbox.ts";
import type { CreateTaskBody, Task } from "../protocol/task.ts";
import type { TaskAssignment } from "../protocol/worker-channel.ts";
import type { SandboxProvider } from "../sandbox/provider.ts";
import type { Store } from "../store/store.ts";
import { Commands } from "./commands.ts";
import type { Control, PreparedTask } from "./control.ts";
import { Following } from "./following.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Liveness } from "./liveness.ts";
import { Recovery } from "./recovery.ts";
import type { RunHooks } from "./run-hooks.ts";
import { type LaunchEnvironment, Scheduling } from "./scheduling.ts";
import { Stopping } from "./stopping.ts";
import { RunClock } from "./time-limits.ts";
import { WarmPools } from "./warm-pools.ts";

export type { LaunchEnvironment } from "./scheduling.ts";

export interface OrchestratorOptions {
  replicaId: string;
  maxSandboxes: number;
  /** Pending tasks beyond this are refused. */
  maxQueuedTasks: number;
  idleWindowMs: number;
  heartbeatTimeoutMs: number;
  /** How often process liveness and heartbeats are checked. */
  livenessIntervalMs: number;
  /** Wall-clock bounds of a run and of all a task's runs, unless the task sets its own. */
  maxRunMs: number;
  maxTaskMs: number;
  /** Grace a worker gets to end its session before its process tree is killed. */
  stopGraceMs: number;
  runAgents: boolean;
  /** How long warm pools trust the environments they read when no change was heard of. */
  environmentRefreshMs: number;
}

/** The worker channel as the orchestrator sees it. */
export interface WorkerChannel {
  sendStop(sandboxId: string, reason: string): boolean;
  /** Hands a claimed warm-pool sandbox its task; false when its worker is not connected here. */
  sendTask(sandboxId: string, task: TaskAssignment): boolean;
  hooks: { onConnected?(sandboxId: string, resume: boolean): void };
}

/**
 * Wires the orchestrator's modules together: the lifecycle core at the bottom, and
 * stopping, scheduling, run following, liveness, recovery and the commands above it. Lower
 * modules reach upper ones only through the callbacks set here.
 */
export class Orchestrator implements Control {
  private readonly lifecycle: Lifecycle;
  private readonly stopping: Stopping;
  private readonly scheduling: Scheduling;
  private readonly following: Following;
  private readonly liveness: Liveness;
  private readonly recovery: Recovery;
  private readonly commands: Commands;
  private readonly pools: WarmPools | undefined;
  private unsubscribe: Unsubscribe | undefined;
  private tick: NodeJS.Timeout | undefined;

  constructor(
    store: Store,
    private readonly bus: Bus,
    ingest: Ingest,
    provider: SandboxProvider,
    private readonly workers: WorkerChannel,
    launch: LaunchEnvironment,
    private readonly options: OrchestratorOptions,
    private readonly logger: Logger,
    hooks: RunHooks = {},
  ) {
    const sendStop = (sandboxId: string, reason: string) => workers.sendStop(sandboxId, reason);
    this.lifecycle = new Lifecycle(store, ingest, options.idleWindowMs);
    this.stopping = new Stopping(
      store,
      this.lifecycle,
      provider,
      sendStop,
      options.stopGraceMs,
      logger,
    );
    this.scheduling = new Scheduling(
      store,
      this.lifecycle,
      this.stopping,
      provider,
      launch,
      options,
      logger,
      hooks,
    );
    const resolveEnvironment = launch.resolveEnvironment;
    if (resolveEnvironment) {
      this.pools = new WarmPools(
        store,
        this.lifecycle,
        this.stopping,
        {
          providerName: provider.name,
          resolveEnvironment,
          start: (sandbox, environment) =>
            this.scheduling.startSandbox(
              sandbox,
              { prompt: null, resumeSessionId: null, workspace: null, baseCost: 0 },
              environment,
            ),
          sendTask: (sandboxId, task) => workers.sendTask(sandboxId, task),
        },
        options,
        logger,
      );
      this.scheduling.pools = this.pools;
    }
    const clock = new RunClock(
      store,
      ingest,
      this.lifecycle,
      this.stopping,
      { maxRunMs: options.maxRunMs, maxTaskMs: options.maxTaskMs },
      logger,
    );
    this.following = new Following(store, this.lifecycle, this.stopping, clock, logger, hooks);
    this.liveness = new Liveness(
      store,
      ingest,
      this.lifecycle,
      this.stopping,
      provider,
      sendStop,
      (event) => this.following.onEvent(event),
      options,
      logger,
    );
    this.recovery = new Recovery(
      store,
      this.lifecycle,
      this.stopping,
      clock,
      provider,
      (event, active) => this.following.handle(event, active),
      options.replicaId,
      logger,
    );
    this.commands = new Commands(
      store,
      ingest,
      this.lifecycle,
      this.scheduling,
      this.stopping,
      clock,
      {
        ...options,
        providerName: provider.name,
      },
    );
    this.lifecycle.hooks = {
      changed: () => this.scheduling.schedule(),
      idleWindowEnded: (active) =>
        void this.stopping
          .terminate(active.sandboxId, "idle window ended", "completed")
          .catch((error) => this.logger.error({ err: error }, "closing idle sandbox failed")),
    };
  }

  async start() {
    this.unsubscribe = this.bus.subscribe((event) => {
      this.following.onEvent(event);
      this.pools?.onEvent(event);
    });
    if (!this.options.runAgents) return;
    this.workers.hooks.onConnected = (sandboxId) =>
      void this.liveness
        .onWorkerConnected(sandboxId)
        .catch((error) =>
          this.logger.error(
            { err: error, sandbox_id: sandboxId },
            "handling a worker's hello failed",
          ),
        );
    await this.recovery.recover();
    // Only now may queued tasks start: recovery first counts the sandboxes still running.
    this.scheduling.begin();
    this.pools?.begin();
    this.tick = setInterval(() => {
      void this.liveness.check();
      void this.scheduling
        .keepWaitingAlive()
        .catch((error) => this.logger.error({ err: error }, "marking waiting follow-ups failed"));
      // A safety net only: tasks start on events (created, slot freed), not on this tick.
      this.scheduling.schedule();
    }, this.options.livenessIntervalMs);
    this.tick.unref();
    this.scheduling.schedule();
  }

  /**
   * Stops every sandbox this replica supervises, failing their running tasks with the reason.
   * (A crash leaves workers running instead; the next start re-attaches to them.)
   */
  async stopAll(reason: string) {
    // Shutting down: nothing new starts while the running sandboxes are stopped (warm-pool
    // sandboxes among them).
    this.scheduling.end();
    this.pools?.end();
    await Promise.allSettled([
      ...this.lifecycle.all().map(async (active) => {
        await this.lifecycle.failTask(active.taskId, active.sandboxId, reason, false);
        await this.stopping.terminate(active.sandboxId, reason, "terminated");
      }),
      ...this.scheduling.takeWaiting().map(async (sandbox) => {
        await this.lifecycle.failTask(sandbox.task_id, sandbox.id, reason, false);
        await this.stopping.finish(sandbox.id, "terminated", reason);
      }),
    ]);
  }

  async close() {
    this.scheduling.end();
    this.pools?.end();
    this.unsubscribe?.();
    if (this.tick) clearInterval(this.tick);
    this.lifecycle.close();
    await this.following.settle();
  }

  /** The bus reconnected: sweep every supervised sandbox for missed events on the next tick. */
  lookForMissedEvents() {
    this.liveness.lookForMissedEvents();
  }

  // ── Control ────────────────────────────────────────────────────────────────

  createTask(body: CreateTaskBody, prepared?: PreparedTask): Promise<Task> {
    return this.commands.createTask(body, prepared);
  }

  cancelTask(id: string): Promise<Task> {
    return this.commands.cancelTask(id);
  }

  retryTask(id: string): Promise<Task> {
    return this.commands.retryTask(id);
  }

  createSandbox(body: CreateSandboxBody): Promise<Sandbox> {
    return this.commands.createSandbox(body);
  }

  terminateSandbox(id: string, reason: string): Promise<Sandbox> {
    return this.commands.terminateSandbox(id, reason);
  }

  postMessage(sandboxId: string, body: PostMessageBody): Promise<MessageFrame> {
    return this.commands.postMessage(sandboxId, body);
  }

  postTaskMessage(taskId: string, body: PostMessageBody): Promise<MessageFrame> {
    return this.commands.postTaskMessage(taskId, body);
  }

  environmentChanged(): Promise<void> {
    return this.pools?.environmentsChanged() ?? Promise.resolve();
  }
}
