import type { Logger } from "../log/logger.ts";
import type { StoredEvent } from "../protocol/event.ts";
import type { Sandbox } from "../protocol/sandbox.ts";
import type { SandboxProvider } from "../sandbox/provider.ts";
import type { Store } from "../store/store.ts";
import { LIFECYCLE_EVENTS } from "./following.ts";
import { type ActiveSandbox, Lifecycle } from "./lifecycle.ts";
import { LIVE_SANDBOX_STATUSES } from "./state-table.ts";
import type { Stopping } from "./stopping.ts";
import type { RunClock } from "./time-limits.ts";
import { isPoolSandbox } from "./warm-pools.ts";

/**
 * After a restart: re-attach to the workers still running, replay the last lifecycle event
 * each left, and close out the rest honestly.
 */
export class Recovery {
  constructor(
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly stopping: Stopping,
    private readonly clock: RunClock,
    private readonly provider: SandboxProvider,
    /** Acts on a stored event of a supervised sandbox, as the run follower does. */
    private readonly handle: (event: StoredEvent, active: ActiveSandbox) => Promise<void>,
    private readonly replicaId: string,
    private readonly logger: Logger,
  ) {}

  async recover() {
    // Embedded (SQLite) there is one server per data dir: every sandbox is ours, whatever
    // replica id the previous process had. On Postgres, each replica recovers its own.
    const { sandboxes } = await this.store.listSandboxes({
      status: [...LIVE_SANDBOX_STATUSES],
      owner: this.store.kind === "sqlite" ? undefined : this.replicaId,
      limit: 500,
      offset: 0,
    });
    for (const sandbox of sandboxes) {
      if (sandbox.kind !== "agent") continue;
      const active = Lifecycle.record(sandbox.id, sandbox.task_id, sandbox.workspace, 0);
      active.handle.pid = sandbox.worker_pid;
      if (isPoolSandbox(sandbox)) {
        // The pool that knew it is gone, and nothing waits for it: end it, processes and all.
        active.stopping = true;
        this.lifecycle.hold(active);
        await this.provider.stop(active.handle).catch(() => undefined);
        await this.stopping.finish(
          sandbox.id,
          "terminated",
          "a warm-pool sandbox does not outlive its server",
        );
        continue;
      }
      const alive =
        active.handle.pid !== null && (await this.provider.status(active.handle)) === "running";
      if (!alive) {
        active.stopping = true;
        this.lifecycle.hold(active);
        const reason = "the worker was gone after a server restart";
        await this.provider.stop(active.handle).catch(() => undefined);
        await this.lifecycle.failTask(sandbox.task_id, sandbox.id, reason);
        await this.stopping.finish(sandbox.id, "failed", reason);
        continue;
      }
      const task = sandbox.task_id ? await this.store.getTask(sandbox.task_id) : undefined;
      active.baseCost = task ? Math.max(0, task.cost_usd) : 0;
      this.lifecycle.hold(active);
      if (sandbox.status === "idle") this.lifecycle.startIdleWindow(active);
      this.logger.info({ sandbox_id: sandbox.id }, "re-attached to running sandbox");
      active.seenSeq = await this.store.lastSeq(sandbox.id);
      await this.catchUp(active, sandbox);
      // A run still going keeps its clock: the time it ran before the restart counts.
      await this.clock.arm(active);
    }
    // Tasks claiming to run without a live sandbox are closed out.
    const { tasks } = await this.store.listTasks({
      status: ["assigned", "running"],
      limit: 500,
      offset: 0,
    });
    for (const task of tasks) {
      if (task.sandbox_id && this.lifecycle.has(task.sandbox_id)) continue;
      const sandbox = task.sandbox_id ? await this.store.getSandbox(task.sandbox_id) : undefined;
      if (
        sandbox &&
        sandbox.owner !== this.replicaId &&
        LIVE_SANDBOX_STATUSES.includes(sandbox.status)
      )
        continue;
      const error = "its sandbox was gone after a server restart";
      await this.lifecycle.task("fail", task.id, {
        fields: { error, completed_at: Date.now() },
        payload: { error },
      });
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
    await this.handle(last, active);
  }
}
