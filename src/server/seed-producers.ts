import { notFound } from "../protocol/error.ts";
import type { Store } from "../store/store.ts";

/** How often a producer's requests write its sandbox's heartbeat. */
const HEARTBEAT_WRITE_MS = 2_000;

interface Known {
  taskId: string | null;
  heartbeatAt: number;
}

/**
 * What each request of a seed HTTP producer (POST /events, GET /messages) needs: that its
 * sandbox exists, and its task — both fixed once the sandbox exists — plus a heartbeat
 * written at most every two seconds. Kept per process, so a producer's request costs no
 * store round trip beyond its own work, and concurrent requests do not all write the
 * heartbeat when it falls due.
 */
export class SeedProducers {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly store: Store,
    private readonly maxEntries = 10_000,
  ) {}

  /** The sandbox's task; throws NotFound for a sandbox that does not exist. */
  async taskOf(sandboxId: string): Promise<string | null> {
    const cached = this.known.get(sandboxId);
    if (cached) return cached.taskId;
    const sandbox = await this.store.getSandbox(sandboxId);
    if (!sandbox) throw notFound("sandbox", sandboxId);
    const known = this.known.get(sandboxId) ?? {
      taskId: sandbox.task_id,
      heartbeatAt: sandbox.last_heartbeat_at ?? 0,
    };
    this.known.set(sandboxId, known);
    // Oldest first out: Map iterates in insertion order.
    if (this.known.size > this.maxEntries) this.known.delete(this.known.keys().next().value!);
    return known.taskId;
  }

  /** The producer showed it is alive; call after taskOf(). */
  async heartbeat(sandboxId: string): Promise<void> {
    const known = this.known.get(sandboxId);
    const now = Date.now();
    if (!known || now - known.heartbeatAt < HEARTBEAT_WRITE_MS) return;
    known.heartbeatAt = now;
    await this.store.updateSandbox(sandboxId, { last_heartbeat_at: now });
  }
}
