import type { Logger } from "../log/logger.ts";
import type { StoredEvent } from "../protocol/event.ts";
import type { Store } from "../store/store.ts";
import type { ActiveSandbox, Lifecycle } from "./lifecycle.ts";
import type { RunHooks } from "./run-hooks.ts";
import type { Stopping } from "./stopping.ts";
import type { RunClock } from "./time-limits.ts";

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
export const LIFECYCLE_EVENTS = [
  "agent.started",
  "agent.turn_completed",
  "agent.waiting",
  "agent.failed",
  "agent.completed",
];

/**
 * Agent events that move a run's state. In a sandbox Omoi runs they come only from its
 * worker's channel: the HTTP event route refuses them, so no producer can end a run.
 */
export const RUN_STATE_EVENTS: ReadonlySet<string> = new Set([
  ...LIFECYCLE_EVENTS,
  "agent.interrupted",
]);

/**
 * Follows each supervised run's events and turns them into transitions: the agent started,
 * finished a turn, went idle, failed or finished; another replica ended the sandbox.
 */
export class Following {
  /** Events handled one at a time per sandbox, in order. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly stopping: Stopping,
    private readonly clock: RunClock,
    private readonly logger: Logger,
    private readonly hooks: RunHooks = {},
  ) {}

  /** Every stored event published on the bus comes here. */
  onEvent(event: StoredEvent) {
    if (SCHEDULING_EVENTS.has(event.event_type)) this.lifecycle.hooks.changed();
    if (!event.sandbox_id) return;
    const active = this.lifecycle.get(event.sandbox_id);
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
    const previous = this.chains.get(sandboxId) ?? Promise.resolve();
    const next = previous
      .then(() => this.handle(event, active))
      .catch((error) =>
        this.logger.error({ err: error, sandbox_id: sandboxId }, "handling event failed"),
      );
    this.chains.set(sandboxId, next);
    void next.then(() => {
      if (this.chains.get(sandboxId) === next) this.chains.delete(sandboxId);
    });
  }

  /** Waits for the events being handled. */
  async settle() {
    await Promise.allSettled(this.chains.values());
  }

  async handle(event: StoredEvent, active: ActiveSandbox | undefined) {
    const sandboxId = event.sandbox_id;
    if (!sandboxId) return;
    const payload = event.payload;
    switch (event.event_type) {
      case "agent.started": {
        const sessionId = typeof payload.session_id === "string" ? payload.session_id : null;
        await this.onStarted(sandboxId, sessionId, active);
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
        // Before the run goes idle: a task's repository work (commit, push) ends its turn.
        await this.hooks.afterTurn?.(task, sandboxId, active.lastTurn.result ?? null);
        return;
      }
      case "message.queued":
        // A follow-up posted on another replica woke this idle sandbox: keep it open.
        if (active?.idleTimer && !active.stopping) this.lifecycle.clearIdleWindow(active);
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
        await this.lifecycle.failTask(active?.taskId ?? null, sandboxId, error);
        await this.stopping.terminate(sandboxId, error, "failed");
        return;
      }
      case "agent.completed":
        if (active && !active.stopping)
          await this.stopping.terminate(sandboxId, "the agent finished", "completed");
        return;
      case "sandbox.terminated":
      case "sandbox.failed":
        // Another replica asked for this sandbox to stop: kill what runs here.
        if (active && !active.stopping)
          await this.stopping.killLocal(active, "terminated elsewhere");
        return;
    }
  }

  /** The SDK reports `init` at the start of every turn; only the first moves state. */
  private async onStarted(
    sandboxId: string,
    sessionId: string | null,
    active: ActiveSandbox | undefined,
  ) {
    const started = await this.lifecycle.sandbox("ready", sandboxId, {
      fields: { session_id: sessionId },
      payload: (sandbox) => ({ workspace: sandbox.workspace ?? undefined }),
    });
    const sandbox = started ?? (await this.store.getSandbox(sandboxId));
    if (!sandbox?.task_id) return;
    // A resumed run keeps the task's first start, so its duration covers the whole task.
    const previous = await this.store.getTask(sandbox.task_id);
    const task = await this.lifecycle.task("start", sandbox.task_id, {
      fields: { started_at: previous?.started_at ?? Date.now(), session_id: sessionId },
      payload: { sandbox_id: sandboxId },
      sandboxId,
    });
    if (task) {
      if (active) await this.clock.arm(active);
      return;
    }
    const current = await this.store.getTask(sandbox.task_id);
    const abandoned =
      !current || current.status === "cancelled" || current.sandbox_id !== sandboxId;
    if (abandoned && active && !active.stopping)
      await this.stopping.terminate(sandboxId, "its task is no longer running here", "terminated");
  }

  /** The agent finished its turn with nothing queued: the run is done, the sandbox waits. */
  private async onIdle(active: ActiveSandbox) {
    const sandbox = await this.lifecycle.sandbox("idle", active.sandboxId);
    if (!sandbox) return;
    this.clock.disarm(active);
    const turn = active.lastTurn;
    active.interrupted = false;
    if (active.taskId) {
      if (turn?.isError) {
        const error = `the agent stopped: ${turn.subtype ?? "error"}${turn.result ? ` — ${turn.result}` : ""}`;
        const failed = await this.lifecycle.task("fail", active.taskId, {
          fields: { error, completed_at: Date.now() },
          payload: { error },
          sandboxId: active.sandboxId,
        });
        if (failed) await this.lifecycle.failDependents(active.taskId, "failed");
      } else {
        await this.lifecycle.task("complete", active.taskId, {
          fields: { result: turn?.result ?? null, completed_at: Date.now() },
          payload: { result: turn?.result },
          sandboxId: active.sandboxId,
        });
      }
    }
    this.lifecycle.startIdleWindow(active);
    this.lifecycle.hooks.changed();
  }
}
