import type { Task } from "../protocol/task.ts";

/** A workspace being prepared: its folder now, its content once `ready` resolves. */
export interface PreparedWorkspace {
  workspace: string;
  /** Settles when the content is in place; a rejection fails the run with its message. */
  ready: Promise<void>;
}

/**
 * What other parts of Omoi do at fixed points of a run, without the orchestrator knowing
 * them (a task's repository today). A hook that throws in `prepareWorkspace` (or whose
 * `ready` rejects) fails the run with its message; `afterTurn` reports its own failures as
 * events.
 */
export interface RunHooks {
  /**
   * Before a task's worker starts with no workspace yet: the folder to give it, or null.
   * The worker starts while the content is prepared and its agent waits for `ready`.
   */
  prepareWorkspace?(task: Task, sandboxId: string): Promise<PreparedWorkspace | null>;
  /** After each turn of a task's agent, before the run's next state is handled. */
  afterTurn?(task: Task, sandboxId: string, summary: string | null): Promise<void>;
}
