import type { Task } from "../protocol/task.ts";

/** A workspace to prepare: its folder now, its content once `fill` has settled. */
export interface PreparedWorkspace {
  workspace: string;
  /**
   * Puts the content in place, called once the worker is spawned (its start-up is the longer
   * road, so it goes first); a rejection fails the run with its message.
   */
  fill(): Promise<void>;
}

/**
 * What other parts of Omoi do at fixed points of a run, without the orchestrator knowing
 * them (a task's repository today). A hook that throws in `prepareWorkspace` (or whose
 * `fill` rejects) fails the run with its message; `afterTurn` reports its own failures as
 * events.
 */
export interface RunHooks {
  /**
   * Before a task's worker starts with no workspace yet: the folder to give it, or null.
   * The worker starts while the content is prepared and its agent waits for `fill`.
   */
  prepareWorkspace?(task: Task, sandboxId: string): Promise<PreparedWorkspace | null>;
  /** After each turn of a task's agent, before the run's next state is handled. */
  afterTurn?(task: Task, sandboxId: string, summary: string | null): Promise<void>;
}
