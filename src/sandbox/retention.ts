import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Sandbox } from "../protocol/sandbox.ts";
import { TERMINAL_SANDBOX_STATUSES } from "../protocol/status.ts";
import type { Store } from "../store/store.ts";

/**
 * The retention policy for what a sandbox leaves on disk: its workspace (the files the
 * agent made, kept for follow-ups and inspection) and its state folder (`worker.log`, the
 * agent's session transcripts). Both are kept for `retentionMs` after the last sandbox that
 * used the workspace ended, then deleted. A workspace an active sandbox or a recent one
 * still uses is kept; so is one outside the data dir's `workspaces/` folder (a folder Omoi
 * did not make is never deleted). Each replica sweeps only the sandboxes it ran.
 */
export interface RetentionOptions {
  dataDir: string;
  retentionMs: number;
  /** This replica: only its own sandboxes' folders are on its disk. */
  owner: string;
  logger?: {
    info(details: object, message: string): void;
    warn(details: object, message: string): void;
  };
}

/** What a sandbox keeps on disk once it has ended, and until when. */
export interface Retained {
  workspace: string | null;
  state: string | null;
  /** When the sweeper may delete them (ms epoch); null while the sandbox still runs. */
  until: number | null;
}

const PAGE = 500;

export class WorkspaceRetention {
  readonly #workspaces: string;
  readonly #states: string;

  constructor(
    private readonly store: Store,
    private readonly options: RetentionOptions,
  ) {
    this.#workspaces = path.join(path.resolve(options.dataDir), "workspaces");
    this.#states = path.join(path.resolve(options.dataDir), "sandbox-state");
  }

  /** What `sandbox` keeps on disk, as the DELETE route reports it. */
  retained(sandbox: Sandbox): Retained {
    const state = path.join(this.#states, sandbox.id);
    return {
      workspace: sandbox.workspace && existsSync(sandbox.workspace) ? sandbox.workspace : null,
      state: existsSync(state) ? state : null,
      until: sandbox.ended_at === null ? null : sandbox.ended_at + this.options.retentionMs,
    };
  }

  /** Deletes what is past its retention; returns the ids of the sandboxes swept. */
  async sweep(now = Date.now()): Promise<string[]> {
    const cutoff = now - this.options.retentionMs;
    const sandboxes = await this.#ownSandboxes();
    // A workspace is shared by a task's sandboxes: it stays while any of them is active or recent.
    const inUse = new Set<string>();
    for (const sandbox of sandboxes) {
      const recent = sandbox.ended_at === null || sandbox.ended_at > cutoff;
      if (sandbox.workspace && (recent || !TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)))
        inUse.add(path.resolve(sandbox.workspace));
    }
    const swept: string[] = [];
    for (const sandbox of sandboxes) {
      if (!TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) continue;
      if (sandbox.ended_at === null || sandbox.ended_at > cutoff) continue;
      let removed = false;
      const state = path.join(this.#states, sandbox.id);
      if (existsSync(state)) {
        await rm(state, { recursive: true, force: true });
        removed = true;
      }
      const workspace = sandbox.workspace ? path.resolve(sandbox.workspace) : null;
      if (
        workspace &&
        !inUse.has(workspace) &&
        path.dirname(workspace) === this.#workspaces &&
        existsSync(workspace)
      ) {
        // rm does not follow symlinks: a link the agent planted is removed, not its target.
        await rm(workspace, { recursive: true, force: true });
        removed = true;
      }
      if (removed) swept.push(sandbox.id);
    }
    if (swept.length > 0)
      this.options.logger?.info({ swept: swept.length }, "deleted workspaces past retention");
    return swept;
  }

  async #ownSandboxes(): Promise<Sandbox[]> {
    const all: Sandbox[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.store.listSandboxes({
        owner: this.options.owner,
        limit: PAGE,
        offset,
      });
      all.push(...page.sandboxes);
      if (page.sandboxes.length < PAGE) return all;
    }
  }
}

/** Runs `sweep` now and then; `stop` waits for a sweep in progress. */
export function startSweeper(
  retention: { sweep(): Promise<unknown> },
  intervalMs: number,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = retention.sweep().catch(onError);
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
