import type { ResolvedEnvironment } from "../environment/environments.ts";
import type { Logger } from "../log/logger.ts";
import { OmoiError } from "../protocol/error.ts";
import type { StoredEvent } from "../protocol/event.ts";
import { newSandboxId } from "../protocol/ids.ts";
import type { Sandbox } from "../protocol/sandbox.ts";
import { sandboxLimitsOf, type Task } from "../protocol/task.ts";
import type { TaskAssignment } from "../protocol/worker-channel.ts";
import type { EnvironmentRecord } from "../store/environment-store.ts";
import type { Store } from "../store/store.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Stopping } from "./stopping.ts";

/** What the pools need from the rest of the orchestrator and the server. */
export interface PoolLauncher {
  providerName: string;
  resolveEnvironment(id: string): Promise<ResolvedEnvironment>;
  /** Starts a recorded pool sandbox's worker with the environment, waiting for a task. */
  start(sandbox: Sandbox, environment: ResolvedEnvironment): Promise<void>;
  /** Hands a claimed sandbox its task over the worker channel; false when not connected. */
  sendTask(sandboxId: string, task: TaskAssignment): boolean;
}

export interface PoolOptions {
  replicaId: string;
  maxSandboxes: number;
  /**
   * How long the environments the pools read stay current when no change was heard of
   * (a change on this replica is heard at once; one on another replica after at most this).
   */
  environmentRefreshMs: number;
}

interface PoolEntry {
  sandboxId: string;
  environmentId: string;
  /** The environment's `updated_at` it was prepared from. */
  version: number;
  /** Setup done and Claude Code started (`environment.pool_ready`). */
  ready: boolean;
}

/** After a pool sandbox fails, the environment's pool waits this long (doubling) to refill. */
const FIRST_BACKOFF_MS = 5_000;
const MAX_BACKOFF_MS = 10 * 60_000;

/**
 * A pool sandbox is an agent sandbox with neither task nor prompt: nothing else is. Such a
 * row is never re-attached after a restart (the pool that knew it is gone).
 */
export function isPoolSandbox(sandbox: Sandbox): boolean {
  return sandbox.kind === "agent" && sandbox.task_id === null && sandbox.prompt === null;
}

/**
 * A task a warm sandbox can serve: one in an environment, without a repository (setup ran in
 * an empty workspace), and without settings fixed when Claude Code starts (turn and budget
 * bounds, sandbox limits). Any other task starts cold.
 */
export function canStartWarm(task: Task): boolean {
  return (
    task.environment_id !== null &&
    task.repo === null &&
    task.max_turns === null &&
    task.max_budget_usd === null &&
    sandboxLimitsOf(task.limits) === null
  );
}

/**
 * Each environment's warm pool on this replica: sandboxes set up, their worker connected and
 * Claude Code started, waiting for a task. A claim takes one out synchronously (so two tasks
 * never get the same sandbox) and hands it its task over the worker channel; the pool refills
 * when scheduling finds the queue empty. Pool sandboxes hold slots like any sandbox and are
 * the first to give one up for a queued task.
 */
export class WarmPools {
  private readonly entries = new Map<string, PoolEntry>();
  private readonly backoff = new Map<string, { until: number; delayMs: number }>();
  private filling = false;
  private again = false;
  private open = false;
  /** The environments as last read, so a pass with nothing changed reads nothing. */
  private environments: { records: EnvironmentRecord[]; readAt: number } | undefined;
  /** Counts the changes heard of: a read that began before one is not kept. */
  private changes = 0;

  constructor(
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly stopping: Stopping,
    private readonly launcher: PoolLauncher,
    private readonly options: PoolOptions,
    private readonly logger: Logger,
  ) {}

  /** Pools may fill (recovery is done). */
  begin() {
    this.open = true;
  }

  /** Shutting down: nothing refills; the sandboxes end with every other one. */
  end() {
    this.open = false;
  }

  /**
   * An environment was created, changed or deleted (or a claim found one changed): the next
   * pass reads them anew, ending old versions' sandboxes and filling from the new ones.
   */
  environmentsChanged(): Promise<void> {
    this.forgetEnvironments();
    return this.fill();
  }

  /** Pool sandboxes of this replica, ready or still being prepared. */
  get size(): number {
    return this.entries.size;
  }

  /** A pool worker said it is ready; a failing environment's back-off is over. */
  onEvent(event: StoredEvent) {
    if (event.event_type !== "environment.pool_ready" || !event.sandbox_id) return;
    const entry = this.entries.get(event.sandbox_id);
    if (!entry) return;
    entry.ready = true;
    this.backoff.delete(entry.environmentId);
  }

  /**
   * Gives the task a warm sandbox of its environment if one fits; false when it must start
   * cold. True also when the task was cancelled meanwhile (nothing is left to start).
   */
  async claim(task: Task): Promise<boolean> {
    if (!this.open || !canStartWarm(task) || !task.environment_id) return false;
    const environmentId = task.environment_id;
    const candidates = [...this.entries.values()].filter(
      (entry) => entry.environmentId === environmentId,
    );
    if (candidates.length === 0) return false;
    // An environment that cannot be opened (a changed OMOI_SECRET…) fails the cold start
    // with its reason; the pool does not hide it.
    const environment = await this.launcher
      .resolveEnvironment(environmentId)
      .catch(() => undefined);
    if (!environment) {
      // Deleted on another replica, perhaps: the pools read the environments again.
      this.forgetEnvironments();
      return false;
    }
    const fresh: PoolEntry[] = [];
    for (const entry of candidates) {
      const active = this.lifecycle.get(entry.sandboxId);
      if (!active || active.stopping) this.entries.delete(entry.sandboxId);
      else if (entry.version !== environment.updatedAt) {
        // Changed on another replica since the pools last read it: refill from the new one.
        this.forgetEnvironments();
        await this.retire(entry, "its environment changed");
      } else fresh.push(entry);
    }
    const entry = fresh.find((candidate) => candidate.ready) ?? fresh[0];
    // Taken out before any await: no other claim can see it.
    if (!entry || !this.entries.delete(entry.sandboxId)) return false;
    const active = this.lifecycle.get(entry.sandboxId);
    if (!active || active.stopping) return false;
    try {
      return await this.assign(task, entry, active.handle.workspace || null);
    } catch (error) {
      // Half-claimed: end the sandbox; the caller hands the task back to the queue.
      await this.stopping
        .terminate(entry.sandboxId, "its claim failed", "failed")
        .catch(() => undefined);
      throw error;
    }
  }

  private async assign(task: Task, entry: PoolEntry, workspace: string | null): Promise<boolean> {
    const active = this.lifecycle.get(entry.sandboxId);
    if (!active) return false;
    active.taskId = task.id;
    // The task names its sandbox only while still assigned: a cancel that came first wins.
    const assigned = await this.store.updateTask(
      task.id,
      { sandbox_id: entry.sandboxId, ...(workspace ? { workspace } : {}) },
      ["assigned"],
    );
    if (!assigned) {
      active.taskId = null;
      this.entries.set(entry.sandboxId, entry);
      return true;
    }
    await this.store.updateSandbox(entry.sandboxId, {
      task_id: task.id,
      prompt: task.prompt,
      model: task.model,
      permission_mode: task.permission_mode,
      deny_unanswered_after_minutes: task.deny_unanswered_after_minutes,
    });
    await this.lifecycle.announce("claim", entry.sandboxId, task.id, {
      sandbox_id: entry.sandboxId,
      attempt: task.attempts,
      warm: true,
    });
    const sent = this.launcher.sendTask(entry.sandboxId, {
      task_id: task.id,
      prompt: task.prompt,
      model: task.model,
      permission_mode: task.permission_mode,
    });
    this.logger.info(
      { task_id: task.id, sandbox_id: entry.sandboxId, ready: entry.ready, sent },
      "task claimed a warm sandbox",
    );
    return true;
  }

  /** Ends one pool sandbox to free its slot for a queued task; false when there is none. */
  async evict(): Promise<boolean> {
    const entry =
      [...this.entries.values()].find((candidate) => !candidate.ready) ??
      this.entries.values().next().value;
    if (!entry) return false;
    await this.retire(entry, "closed to free a slot for a queued task");
    return true;
  }

  /**
   * Brings every environment's pool to its size while slots are free, and ends the pool
   * sandboxes of environments that changed, were deleted or no longer want a pool. Safe to
   * call often; runs one pass at a time.
   */
  async fill(): Promise<void> {
    if (!this.open) return;
    if (this.filling) {
      this.again = true;
      return;
    }
    this.filling = true;
    try {
      do {
        this.again = false;
        await this.fillOnce();
      } while (this.again && this.open);
    } catch (error) {
      this.logger.error({ err: error }, "filling warm pools failed");
    } finally {
      this.filling = false;
    }
  }

  private async fillOnce() {
    await this.forgetEnded();
    const records = await this.readEnvironments();
    const wanted = new Map(records.map((record) => [record.id, record]));
    for (const entry of [...this.entries.values()]) {
      const record = wanted.get(entry.environmentId);
      if (!record) await this.retire(entry, "its environment was deleted");
      else if (record.updated_at !== entry.version)
        await this.retire(entry, "its environment changed");
    }
    for (const record of records) {
      const size = record.spec.warm_pool ?? 0;
      const pool = [...this.entries.values()].filter((entry) => entry.environmentId === record.id);
      for (const entry of pool.slice(size)) await this.retire(entry, "its pool was made smaller");
      const waiting = this.backoff.get(record.id);
      if (waiting && waiting.until > Date.now()) continue;
      for (let count = pool.length; count < size; count++) {
        if (!this.open || this.lifecycle.size >= this.options.maxSandboxes) return;
        if (!(await this.launchOne(record))) break;
      }
    }
  }

  /**
   * The environments, read from the store only when a change was heard of or the last read is
   * older than `environmentRefreshMs`: a pass with nothing changed (every scheduling pass
   * with an empty queue) costs no query.
   */
  private async readEnvironments(): Promise<EnvironmentRecord[]> {
    const now = Date.now();
    const known = this.environments;
    if (known && now - known.readAt < this.options.environmentRefreshMs) return known.records;
    const changes = this.changes;
    const records = await this.store.environments.list();
    // A change heard of meanwhile may not be in this read: the pass it started reads again.
    if (changes === this.changes) this.environments = { records, readAt: now };
    return records;
  }

  private forgetEnvironments() {
    this.environments = undefined;
    this.changes += 1;
  }

  /** Drops the entries whose sandbox ended; one that failed makes its pool wait. */
  private async forgetEnded() {
    for (const entry of [...this.entries.values()]) {
      if (this.lifecycle.has(entry.sandboxId)) continue;
      this.entries.delete(entry.sandboxId);
      // Retired ones were taken out already: whatever ended here ended on its own.
      const sandbox = await this.store.getSandbox(entry.sandboxId);
      if (sandbox?.status !== "failed") continue;
      const delayMs = Math.min(
        MAX_BACKOFF_MS,
        (this.backoff.get(entry.environmentId)?.delayMs ?? FIRST_BACKOFF_MS / 2) * 2,
      );
      this.backoff.set(entry.environmentId, { until: Date.now() + delayMs, delayMs });
      this.logger.warn(
        { sandbox_id: entry.sandboxId, environment_id: entry.environmentId, delayMs },
        "a warm-pool sandbox failed; its pool waits before refilling",
      );
    }
  }

  /**
   * Starts one pool sandbox from the environment as the store has it now; false (nothing
   * started, and the environments are read again) when it was changed or deleted since the
   * pools read it, so a stale read never fills a deleted environment's or an old version's pool.
   */
  private async launchOne(record: EnvironmentRecord): Promise<boolean> {
    const environmentId = record.id;
    const environment = await this.launcher.resolveEnvironment(environmentId).catch((error) => {
      if (error instanceof OmoiError && error.status === 404) return undefined;
      throw error;
    });
    if (!environment || environment.updatedAt !== record.updated_at) {
      this.forgetEnvironments();
      this.again = true;
      return false;
    }
    const id = newSandboxId();
    const sandbox = await this.lifecycle.createUntasked(
      { id, provider: this.launcher.providerName, prompt: null, owner: this.options.replicaId },
      { provider: this.launcher.providerName, warm_pool: environment.name },
    );
    this.entries.set(id, {
      sandboxId: id,
      environmentId,
      version: record.updated_at,
      ready: false,
    });
    await this.launcher.start(sandbox, environment);
    return true;
  }

  private async retire(entry: PoolEntry, reason: string) {
    this.entries.delete(entry.sandboxId);
    this.logger.info({ sandbox_id: entry.sandboxId, reason }, "ending a warm-pool sandbox");
    await this.stopping.terminate(entry.sandboxId, reason, "terminated");
  }
}
