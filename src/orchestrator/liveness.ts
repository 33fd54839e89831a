import type { Ingest } from "../ingest/ingest.ts";
import { sandboxTarget } from "../ingest/ingest.ts";
import type { Logger } from "../log/logger.ts";
import type { StoredEvent } from "../protocol/event.ts";
import { AgentError } from "../protocol/events.ts";
import { TERMINAL_SANDBOX_STATUSES } from "../protocol/sandbox.ts";
import type { SandboxProvider } from "../sandbox/provider.ts";
import type { Store } from "../store/store.ts";
import { LIFECYCLE_EVENTS } from "./following.ts";
import type { ActiveSandbox, Lifecycle } from "./lifecycle.ts";
import { LIVE_SANDBOX_STATUSES } from "./state-table.ts";
import type { SendStop, Stopping } from "./stopping.ts";

export interface LivenessOptions {
  replicaId: string;
  heartbeatTimeoutMs: number;
}

/**
 * Honest state: a worker process that exited, a silent worker, a sandbox whose replica died,
 * or a lifecycle event the bus lost — each found and closed out here.
 */
export class Liveness {
  private ticks = 0;

  constructor(
    private readonly store: Store,
    private readonly ingest: Ingest,
    private readonly lifecycle: Lifecycle,
    private readonly stopping: Stopping,
    private readonly provider: SandboxProvider,
    private readonly sendStop: SendStop,
    /** Handles a stored event as if heard on the bus. */
    private readonly replay: (event: StoredEvent) => void,
    private readonly options: LivenessOptions,
    private readonly logger: Logger,
  ) {}

  async check() {
    const now = Date.now();
    if (this.store.kind === "postgres" && this.ticks++ % 5 === 0)
      await this.closeOutOrphans(now).catch((error) =>
        this.logger.error({ err: error }, "closing out orphaned sandboxes failed"),
      );
    for (const active of this.lifecycle.all()) {
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
    await this.stopping.kill(active);
    await this.ingest.emit(sandboxTarget(active.sandboxId, active.taskId), AgentError, {
      error: reason,
      code: "worker_lost",
    });
    await this.lifecycle.failTask(active.taskId, active.sandboxId, reason);
    await this.stopping.finish(active.sandboxId, "failed", reason);
  }

  /** The bus reconnected: sweep every supervised sandbox for missed events on the next tick. */
  lookForMissedEvents() {
    for (const active of this.lifecycle.all()) active.lastMissedCheck = 0;
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
      this.replay(event);
    }
  }

  /** A worker said hello: one whose sandbox has ended (or that nobody supervises) is told to stop. */
  async onWorkerConnected(sandboxId: string) {
    if (this.lifecycle.has(sandboxId)) return;
    const sandbox = await this.store.getSandbox(sandboxId);
    if (sandbox?.kind !== "agent") return;
    if (TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) {
      this.logger.warn(
        { sandbox_id: sandboxId },
        "a worker of an ended sandbox connected; stopping it",
      );
      this.sendStop(sandboxId, `this sandbox is ${sandbox.status}`);
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
      status: [...LIVE_SANDBOX_STATUSES],
      limit: 500,
      offset: 0,
    });
    for (const sandbox of sandboxes) {
      if (sandbox.kind !== "agent" || this.lifecycle.has(sandbox.id)) continue;
      if (sandbox.owner === this.options.replicaId) continue;
      const lastSign = Math.max(sandbox.last_heartbeat_at ?? 0, sandbox.updated_at);
      if (now - lastSign <= 2 * this.options.heartbeatTimeoutMs) continue;
      const reason = `its replica '${sandbox.owner}' stopped supervising it (no sign of life for ${Math.round((now - lastSign) / 1000)} s)`;
      this.logger.warn(
        { sandbox_id: sandbox.id, owner: sandbox.owner },
        "closing out an orphaned sandbox",
      );
      const ended = await this.lifecycle.sandbox("fail", sandbox.id, {
        fields: { ended_at: now, error: reason },
        payload: { error: reason },
      });
      if (!ended) continue;
      await this.lifecycle.failTask(sandbox.task_id, sandbox.id, reason);
    }
  }
}
