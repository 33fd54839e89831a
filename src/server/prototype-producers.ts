import type { Bus, Unsubscribe } from "../bus/bus.ts";
import { RUN_STATE_EVENTS } from "../orchestrator/following.ts";
import { LIVE_SANDBOX_STATUSES } from "../orchestrator/state-table.ts";
import { notFound, OmoiError } from "../protocol/error.ts";
import type { NewEvent } from "../protocol/event.ts";
import type { SandboxKind, SandboxStatus } from "../protocol/sandbox.ts";
import type { Store } from "../store/store.ts";

/** How often a producer's requests write its sandbox's heartbeat. */
const HEARTBEAT_WRITE_MS = 2_000;

interface Known {
  taskId: string | null;
  kind: SandboxKind;
  /** The status it ended in, once that is known here. */
  ended: SandboxStatus | null;
  heartbeatAt: number;
}

const ENDED_BY_EVENT: Record<string, SandboxStatus> = {
  "sandbox.completed": "completed",
  "sandbox.failed": "failed",
  "sandbox.terminated": "terminated",
};

/**
 * What each request of an HTTP producer in the prototype's style (POST /events,
 * GET /messages) needs: that its sandbox exists, and its task — both fixed once the sandbox exists — plus a heartbeat
 * written at most every two seconds. Kept per process, so a producer's request costs no
 * store round trip beyond its own work, and concurrent requests do not all write the
 * heartbeat when it falls due.
 */
export class PrototypeProducers {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly store: Store,
    private readonly maxEntries = 10_000,
  ) {}

  /** Hears the end of every sandbox (from any replica), so its producers are refused at once. */
  listen(bus: Bus): Unsubscribe {
    return bus.subscribe((event) => {
      const ended = ENDED_BY_EVENT[event.event_type];
      const known = ended && event.sandbox_id ? this.known.get(event.sandbox_id) : undefined;
      if (known) known.ended = ended;
    });
  }

  /** The sandbox's task; throws NotFound for a sandbox that does not exist. */
  async taskOf(sandboxId: string): Promise<string | null> {
    return (await this.lookup(sandboxId)).taskId;
  }

  /**
   * Checks a producer's events before they are stored, and returns the sandbox's task.
   * An ended sandbox takes no more events (409). A sandbox Omoi runs takes the events that
   * move its run's state (started, turn completed, waiting, …) only from its own worker's
   * channel, never from this route (403): the task lifecycle follows what Omoi observed.
   */
  async admit(sandboxId: string, events: NewEvent[]): Promise<string | null> {
    const known = await this.lookup(sandboxId);
    if (known.ended) {
      throw new OmoiError(
        "SandboxEnded",
        `sandbox '${sandboxId}' has ended (${known.ended}); it takes no more events`,
        409,
        { id: sandboxId, status: known.ended },
      );
    }
    if (known.kind !== "agent") return known.taskId;
    const index = events.findIndex((event) => RUN_STATE_EVENTS.has(event.event_type));
    if (index >= 0) {
      throw new OmoiError(
        "Forbidden",
        `${events.length > 1 ? `events[${index}]: ` : ""}${events[index].event_type} of a sandbox Omoi runs comes only from its worker channel; this route takes its other agent.* events`,
        403,
        { event_type: events[index].event_type, index },
      );
    }
    return known.taskId;
  }

  private async lookup(sandboxId: string): Promise<Known> {
    const cached = this.known.get(sandboxId);
    if (cached) return cached;
    const sandbox = await this.store.getSandbox(sandboxId);
    if (!sandbox) throw notFound("sandbox", sandboxId);
    const known = this.known.get(sandboxId) ?? {
      taskId: sandbox.task_id,
      kind: sandbox.kind,
      ended: LIVE_SANDBOX_STATUSES.includes(sandbox.status) ? null : sandbox.status,
      heartbeatAt: sandbox.last_heartbeat_at ?? 0,
    };
    this.known.set(sandboxId, known);
    // Oldest first out: Map iterates in insertion order.
    if (this.known.size > this.maxEntries) this.known.delete(this.known.keys().next().value!);
    return known;
  }

  /** The producer showed it is alive; call after taskOf(). */
  async heartbeat(sandboxId: string): Promise<void> {
    const known = this.known.get(sandboxId);
    const now = Date.now();
    if (!known || now - known.heartbeatAt < HEARTBEAT_WRITE_MS) return;
    known.heartbeatAt = now;
    // Written only while it lives: a miss says it ended (on another replica, perhaps).
    const alive = await this.store.updateSandbox(sandboxId, { last_heartbeat_at: now }, [
      ...LIVE_SANDBOX_STATUSES,
    ]);
    if (!alive) known.ended = (await this.store.getSandbox(sandboxId))?.status ?? "terminated";
  }
}
