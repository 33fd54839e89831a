import { rm } from "node:fs/promises";
import { type Ingest, sandboxTarget } from "../ingest/ingest.ts";
import type { RunHooks } from "../orchestrator/run-hooks.ts";
import type { RepoEventSink, TaskRepos } from "./task-repos.ts";

/**
 * A task's repository in the run: its workspace is cloned before the first worker starts,
 * and after every turn Omoi commits what was left, records the changes and pushes.
 */
export function repoRunHooks(repos: TaskRepos, ingest: Ingest, dataDir: string): RunHooks {
  const sink =
    (sandboxId: string, taskId: string): RepoEventSink =>
    (definition, payload) =>
      ingest.emit(sandboxTarget(sandboxId, taskId), definition, payload);
  return {
    async prepareWorkspace(task, sandboxId) {
      if (!task.repo) return null;
      if (task.workspace) return { workspace: task.workspace, fill: async () => undefined };
      const workspace = repos.workspaceFor(dataDir, task.id);
      // No agent has had this folder yet (the task names its workspace once one started):
      // whatever an interrupted clone left is Omoi's own and starts over.
      await rm(workspace, { recursive: true, force: true });
      // The clone runs while the worker starts; its agent waits until the clone is done.
      return {
        workspace,
        fill: () => repos.prepareWorkspace(task, workspace, sink(sandboxId, task.id)),
      };
    },
    async afterTurn(task, sandboxId, summary) {
      if (!task.repo) return;
      await repos.afterTurn(task.id, summary, sink(sandboxId, task.id));
    },
  };
}
