import type { Logger } from "../log/logger.ts";
import type { SandboxProvider } from "../sandbox/provider.ts";
import type { Store } from "../store/store.ts";
import type { ActiveSandbox, Lifecycle } from "./lifecycle.ts";

/** How a sandbox ended, and the transition that records it. */
export type SandboxEnd = "completed" | "failed" | "terminated";
const END_TRANSITION = { completed: "complete", failed: "fail", terminated: "terminate" } as const;

/** Asks a connected worker to end its session; false when it is not connected here. */
export type SendStop = (sandboxId: string, reason: string) => boolean;

/**
 * Stop means stop: asks the worker to finish, kills the whole process tree, then records
 * the end — in that order, so stored state never says "ended" while a process runs.
 */
export class Stopping {
  constructor(
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly provider: SandboxProvider,
    private readonly sendStop: SendStop,
    private readonly stopGraceMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Ends a sandbox. Runs on the replica that supervises it; elsewhere it records the
   * request, which reaches the owner as a `sandbox.terminated` event.
   */
  async terminate(sandboxId: string, reason: string, status: SandboxEnd) {
    const active = this.lifecycle.get(sandboxId);
    if (active?.stopping) return;
    if (active) {
      active.stopping = true;
      if (active.idleTimer) clearTimeout(active.idleTimer);
      const started = Date.now();
      const graceful = this.sendStop(sandboxId, reason);
      if (graceful) await this.waitForExit(active, this.stopGraceMs);
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
    }
    await this.finish(sandboxId, status, reason);
  }

  /** Kills what runs here of a sandbox that was ended elsewhere; its state is already stored. */
  async killLocal(active: ActiveSandbox, reason: string) {
    active.stopping = true;
    if (active.idleTimer) clearTimeout(active.idleTimer);
    await this.provider.stop(active.handle).catch(() => undefined);
    this.lifecycle.release(active.sandboxId);
    this.logger.info({ sandbox_id: active.sandboxId, reason }, "sandbox processes killed");
    this.lifecycle.hooks.changed();
  }

  /** Kills a sandbox's processes at once (no grace), without recording anything. */
  async kill(active: ActiveSandbox) {
    active.stopping = true;
    if (active.idleTimer) clearTimeout(active.idleTimer);
    await this.provider.stop(active.handle).catch(() => undefined);
  }

  private async waitForExit(active: ActiveSandbox, graceMs: number) {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if ((await this.provider.status(active.handle)) !== "running") return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Records a sandbox's end (its processes are gone), failing a task still running in it. */
  async finish(sandboxId: string, status: SandboxEnd, reason: string) {
    await this.lifecycle.sandbox(END_TRANSITION[status], sandboxId, {
      fields: { ended_at: Date.now(), error: status === "completed" ? null : reason },
      payload: status === "failed" ? { error: reason } : { reason },
      afterWrite: async (sandbox) => {
        const task = sandbox.task_id ? await this.store.getTask(sandbox.task_id) : undefined;
        if (!task || task.sandbox_id !== sandboxId) return;
        if (task.status !== "assigned" && task.status !== "running") return;
        // A task still running in a sandbox that just ended cannot go on there.
        const error = `its sandbox ${status === "completed" ? "closed" : status}: ${reason}`;
        await this.lifecycle.task("fail", task.id, {
          fields: { error, completed_at: Date.now() },
          payload: { error },
          sandboxId,
          only: [task.status],
        });
      },
    });
    // The slot frees only once the end is stored and told: a sandbox started in it begins later.
    this.lifecycle.release(sandboxId);
    this.lifecycle.hooks.changed();
  }
}
