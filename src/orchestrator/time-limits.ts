import { type Ingest, sandboxTarget } from "../ingest/ingest.ts";
import type { Logger } from "../log/logger.ts";
import { AgentLimitExceeded } from "../protocol/events.ts";
import type { Task } from "../protocol/task.ts";
import type { Store } from "../store/store.ts";
import type { ActiveSandbox, Lifecycle } from "./lifecycle.ts";
import type { Stopping } from "./stopping.ts";

/** Wall-clock bounds, in milliseconds: of one run, and of all the task's runs together. */
export interface TimeLimits {
  maxRunMs: number;
  maxTaskMs: number;
}

const RUN_EVENTS = ["task.started", "task.completed", "task.failed", "task.cancelled"];

/** How long the task's runs took, read from its stored lifecycle events (any replica's). */
export async function runTimes(
  store: Store,
  taskId: string,
): Promise<{ pastMs: number; currentSince: number | undefined }> {
  const { sandboxes } = await store.listSandboxes({ taskId, limit: 500, offset: 0 });
  const events = (
    await Promise.all(
      sandboxes.map((sandbox) =>
        store.listEvents(sandbox.id, { eventTypes: RUN_EVENTS, limit: 10_000 }),
      ),
    )
  )
    .flat()
    .filter((event) => event.task_id === taskId)
    .sort((a, b) => a.stored_at - b.stored_at);
  let pastMs = 0;
  let currentSince: number | undefined;
  for (const event of events) {
    if (event.event_type === "task.started") {
      currentSince ??= event.stored_at;
      continue;
    }
    if (currentSince === undefined) continue;
    pastMs += event.stored_at - currentSince;
    currentSince = undefined;
  }
  return { pastMs, currentSince };
}

/**
 * Ends a run that goes on too long: past its task's `max_run_ms`, or past `max_task_ms` of
 * run time over all its runs (retries and follow-ups included; time spent idle or queued does
 * not count). The run ends with `agent.limit_exceeded` naming the limit, the task fails (no
 * retry: it would pass the same bound) and the sandbox is stopped.
 */
export class RunClock {
  constructor(
    private readonly store: Store,
    private readonly ingest: Ingest,
    private readonly lifecycle: Lifecycle,
    private readonly stopping: Stopping,
    private readonly defaults: TimeLimits,
    private readonly logger: Logger,
  ) {}

  /** The bounds a task runs with: its own, over the server's defaults. */
  limitsOf(task: Pick<Task, "limits">): TimeLimits {
    return {
      maxRunMs: task.limits?.max_run_ms ?? this.defaults.maxRunMs,
      maxTaskMs: task.limits?.max_task_ms ?? this.defaults.maxTaskMs,
    };
  }

  /** A run of the sandbox's task began (or was re-attached): its clock starts ticking. */
  async arm(active: ActiveSandbox) {
    this.disarm(active);
    if (!active.taskId) return;
    const task = await this.store.getTask(active.taskId);
    if (task?.status !== "running" || task.sandbox_id !== active.sandboxId) return;
    const limits = this.limitsOf(task);
    const { pastMs, currentSince } = await runTimes(this.store, task.id);
    const since = currentSince ?? Date.now();
    const runLeft = limits.maxRunMs - (Date.now() - since);
    const taskLeft = limits.maxTaskMs - pastMs - (Date.now() - since);
    const limit = runLeft <= taskLeft ? "run_time" : "task_time";
    const max = limit === "run_time" ? limits.maxRunMs : limits.maxTaskMs;
    if (active.stopping || this.lifecycle.get(active.sandboxId) !== active) return;
    // Already past (the task used up its time in earlier runs): the run ends now, before
    // anything else of it is acted on.
    if (Math.min(runLeft, taskLeft) <= 0) return this.passed(active, limit, max, since, pastMs);
    active.runTimer = setTimeout(
      () =>
        void this.passed(active, limit, max, since, pastMs).catch((error) =>
          this.logger.error({ err: error, sandbox_id: active.sandboxId }, "ending a run failed"),
        ),
      Math.max(0, Math.min(runLeft, taskLeft)),
    );
    active.runTimer.unref();
  }

  /** The run ended (idle, failed, stopped): its clock stops. */
  disarm(active: ActiveSandbox) {
    if (active.runTimer) clearTimeout(active.runTimer);
    active.runTimer = undefined;
  }

  private async passed(
    active: ActiveSandbox,
    limit: "run_time" | "task_time",
    max: number,
    since: number,
    pastMs: number,
  ) {
    active.runTimer = undefined;
    if (active.stopping || this.lifecycle.get(active.sandboxId) !== active) return;
    const value = Date.now() - since + (limit === "task_time" ? pastMs : 0);
    const name = limit === "run_time" ? "max_run_ms" : "max_task_ms";
    const error = `stopped: the ${limit === "run_time" ? "run" : "task"} passed its wall-clock limit (${name} ${max})`;
    this.logger.warn({ sandbox_id: active.sandboxId, limit, value, max }, "run time limit passed");
    await this.ingest.emit(sandboxTarget(active.sandboxId, active.taskId), AgentLimitExceeded, {
      limit,
      value,
      max,
      unit: "ms",
    });
    await this.lifecycle.failTask(active.taskId, active.sandboxId, error, false);
    await this.stopping.terminate(active.sandboxId, error, "failed");
  }
}
