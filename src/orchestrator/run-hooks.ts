import type { Task } from "../protocol/task.ts";

/**
 * What other parts of Omoi do at fixed points of a run, without the orchestrator knowing
 * them (a task's repository today). A hook that throws in `prepareWorkspace` fails the run
 * with its message; `afterTurn` reports its own failures as events.
 */
export interface RunHooks {
  /** Before a task's worker starts with no workspace yet: the folder to give it, or null. */
  prepareWorkspace?(task: Task, sandboxId: string): Promise<string | null>;
  /** After each turn of a task's agent, before the run's next state is handled. */
  afterTurn?(task: Task, sandboxId: string, summary: string | null): Promise<void>;
}
