import path from "node:path";
import { conflict, notFound } from "../protocol/error.ts";
import type { PayloadInputOf } from "../protocol/event.ts";
import type { RegisteredDefinition } from "../protocol/events.ts";
import {
  type BranchList,
  TASK_REPO_UNTOUCHED,
  type TaskChanges,
  type TaskPullRequest,
  type TaskRepo,
} from "../protocol/repo.ts";
import {
  RepoChanges,
  RepoCloned,
  RepoCommitted,
  RepoPushed,
  RepoPushFailed,
  TaskPullRequestEvent,
} from "../protocol/repo-events.ts";
import type { CreateTaskBody, Task } from "../protocol/task.ts";
import type { Store } from "../store/store.ts";
import { redact } from "./credential.ts";
import { RepoError } from "./errors.ts";
import { compareUrl, githubTarget, openPullRequest, readPullRequest } from "./forge.ts";
import { commitMessage, type RepoPlan, type RepoService } from "./repo-service.ts";
import type { RepositoryRegistry, ResolvedRepository } from "./repositories.ts";

/** Where an event goes (the orchestrator's ingest decides the stream): stores and publishes one of a task's repository events, typed by its definition. */
export type RepoEventSink = <D extends RegisteredDefinition>(
  definition: D,
  payload: PayloadInputOf<D>,
) => Promise<unknown>;

export interface TaskReposLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface TaskReposOptions {
  store: Store;
  service: RepoService;
  registry: RepositoryRegistry;
  /** The link a commit trailer and a pull request body give back to the session. */
  taskLink(taskId: string): string;
  logger?: TaskReposLogger;
}

/** Resolves with how long `work` took, in ms. */
async function timed(work: Promise<unknown>): Promise<{ ms: number }> {
  const started = Date.now();
  await work;
  return { ms: Date.now() - started };
}

/** Most files a `repo.changes` event lists; the API has them all. */
const EVENT_FILE_LIMIT = 300;

/**
 * A task's repository from creation to pull request: checks at creation, the workspace
 * clone before the worker starts, and after every turn the commit, the changes, the push
 * (and the pull request when asked). Failures after creation become events, never throws
 * that would lose the workspace.
 */
export class TaskRepos {
  constructor(private readonly options: TaskReposOptions) {}

  /** Settles `repo`, `base_branch`, `branch` of a new task; a RepoError (4xx) when it cannot. */
  async plan(body: CreateTaskBody, taskId: string, title: string): Promise<TaskRepo | null> {
    if (body.repo === undefined) {
      if (body.base_branch || body.branch || body.auto_pr) {
        throw new RepoError("invalid_repository", "base_branch, branch and auto_pr need a repo");
      }
      return null;
    }
    const resolved = await this.options.registry.resolve(body.repo);
    const plan = await this.options.service.plan(resolved.source, {
      baseBranch: body.base_branch,
      branch: body.branch,
      title,
      taskId,
    });
    if (plan.branch === plan.baseBranch && body.branch === undefined) {
      throw new RepoError("invalid_branch", "the working branch may not be the base branch");
    }
    return {
      url: resolved.source.display,
      repository_id: resolved.record?.id ?? null,
      base_branch: plan.baseBranch,
      branch: plan.branch,
      continued: plan.continued,
      auto_pr: body.auto_pr ?? false,
      ...TASK_REPO_UNTOUCHED,
    };
  }

  /** The workspace folder a repository task uses on this machine. */
  workspaceFor(dataDir: string, taskId: string): string {
    return path.join(dataDir, "workspaces", taskId);
  }

  /** Fetches the mirror and clones the task's workspace from it; emits `repo.cloned`. */
  async prepareWorkspace(task: Task, workspace: string, emit: RepoEventSink): Promise<void> {
    const repo = requireRepo(task);
    const started = Date.now();
    const { plan } = await this.#open(task);
    const clone = await this.options.service.prepareWorkspace(plan, workspace, task.id);
    await this.#patch(task.id, { base_sha: clone.baseSha, head_sha: clone.headSha });
    await emit(RepoCloned, {
      url: repo.url,
      base_branch: repo.base_branch,
      base_sha: clone.baseSha,
      branch: repo.branch,
      continued: clone.continued,
      duration_ms: Date.now() - started,
    });
  }

  /**
   * After a turn: take the result out of the workspace (committing what was left), record
   * the changes, push the branch, and open or refresh the pull request when asked. Then
   * the repository's next checkout is prepared, in the background.
   */
  async afterTurn(taskId: string, summary: string | null, emit: RepoEventSink): Promise<void> {
    const task = await this.options.store.getTask(taskId);
    if (!task?.repo || !task.workspace) return;
    const repo = task.repo;
    let resolved: ResolvedRepository | undefined;
    let plan: RepoPlan | undefined;
    try {
      const opened = await this.#open(task);
      resolved = opened.resolved;
      plan = opened.plan;
      const message = commitMessage(summary, task.title, this.options.taskLink(task.id));
      const result = await this.options.service.collect(plan, task.workspace, task.id, message);
      for (const warning of result.warnings)
        this.options.logger?.warn(
          { taskId, warning },
          "repository: workspace setting not honoured",
        );
      if (result.committed) await emit(RepoCommitted, result.committed);
      // The push (when the branch has commits the remote lacks) runs while the changes are read.
      const service = this.options.service;
      const pushing =
        result.tip !== repo.pushed_sha && (await service.hasCommits(plan, task.id))
          ? timed(service.push(plan, task.id))
          : null;
      pushing?.catch(() => undefined);
      const changes = await service.changes(plan, task.id).catch(async (error) => {
        await pushing?.catch(() => undefined);
        throw error;
      });
      await emit(RepoChanges, {
        files: changes.files
          .slice(0, EVENT_FILE_LIMIT)
          .map(({ path: file, status, added, removed }) => ({
            path: file,
            status,
            added,
            removed,
          })),
        file_count: changes.files.length,
        added: changes.added,
        removed: changes.removed,
        head_sha: result.tip,
        commits: changes.commits.length,
      });
      const summaryOfChanges = {
        files: changes.files.length,
        added: changes.added,
        removed: changes.removed,
      };
      await this.#patch(task.id, { head_sha: result.tip, changes: summaryOfChanges });
      if (!pushing) return;

      const pushed = await pushing;
      await emit(RepoPushed, {
        branch: repo.branch,
        sha: result.tip,
        url: repo.url,
        duration_ms: pushed.ms,
      });
      const forge = githubTarget(repo.url, resolved.record?.api_base_url ?? null);
      await this.#patch(task.id, {
        pushed_sha: result.tip,
        last_error: null,
        compare_url: forge ? null : compareUrl(repo.url, repo.base_branch, repo.branch),
      });
      if (repo.pull_request && forge && resolved.apiToken) {
        const fresh = await readPullRequest(forge, resolved.apiToken, repo.pull_request.number);
        await this.#recordPullRequest(task.id, fresh, emit);
      } else if (repo.auto_pr) {
        await this.pullRequest(task.id, { draft: false }, emit);
      }
    } catch (error) {
      const reason = redact(
        error instanceof Error ? error.message : String(error),
        resolved?.source.credential ?? null,
      );
      const code = error instanceof RepoError ? error.code : "git_failed";
      this.options.logger?.warn({ taskId, code, reason }, "repository: turn result not pushed");
      await this.#patch(taskId, { last_error: reason });
      await emit(RepoPushFailed, { branch: repo.branch, reason, code });
    } finally {
      if (plan) this.options.service.prepareNext(plan);
    }
  }

  /** A repository's branches and default branch, read on the trusted side (`git ls-remote`). */
  async branches(repo: string): Promise<BranchList> {
    const resolved = await this.options.registry.resolve(repo);
    const heads = await this.options.service.mirror(resolved.source).inspect();
    return {
      repo: resolved.record?.name ?? resolved.source.display,
      default_branch: heads.defaultBranch,
      branches: [...heads.branches]
        .map(([name, sha]) => ({ name, sha }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  }

  /**
   * Writes the task's result as a git bundle to `file`; answers the ref it holds and the
   * branch a person checks it out as.
   */
  async bundle(taskId: string, file: string): Promise<{ ref: string; branch: string }> {
    const task = await this.options.store.getTask(taskId);
    if (!task) throw notFound("task", taskId);
    const repo = requireRepo(task);
    if (!repo.head_sha) {
      throw new RepoError("nothing_changed", `task '${taskId}' has no result yet`);
    }
    const { plan } = await this.#open(task);
    const ref = await this.options.service.bundle(plan, task.id, file);
    return { ref, branch: repo.branch };
  }

  /** The task's changes against the merge-base with its base branch. */
  async changes(taskId: string): Promise<TaskChanges> {
    const task = await this.options.store.getTask(taskId);
    if (!task) throw notFound("task", taskId);
    if (!task.repo) throw conflict(`task '${taskId}' does not work on a repository`);
    if (!task.repo.head_sha) throw conflict(`task '${taskId}' has no changes recorded yet`);
    const { plan } = await this.#open(task);
    return this.options.service.changes(plan, task.id);
  }

  /**
   * Opens (or finds) the task's pull request. On a forge without an API Omoi can use, the
   * answer is the compare URL where a person opens it.
   */
  async pullRequest(
    taskId: string,
    request: { draft: boolean; title?: string },
    emit: RepoEventSink,
  ): Promise<{ pull_request: TaskPullRequest | null; compare_url: string | null }> {
    const task = await this.options.store.getTask(taskId);
    if (!task) throw notFound("task", taskId);
    const repo = requireRepo(task);
    if (!repo.pushed_sha) {
      throw new RepoError(
        "nothing_changed",
        "the task's branch has not been pushed yet (no changes)",
      );
    }
    const { resolved } = await this.#open(task);
    const forge = githubTarget(repo.url, resolved.record?.api_base_url ?? null);
    if (!forge || !resolved.apiToken) {
      return {
        pull_request: null,
        compare_url: compareUrl(repo.url, repo.base_branch, repo.branch),
      };
    }
    const lastTurn = task.result ? `\n\n${task.result.slice(0, 60_000)}` : "";
    const pullRequest = await openPullRequest({
      target: forge,
      token: resolved.apiToken,
      head: repo.branch,
      base: repo.base_branch,
      title: (request.title ?? task.title).slice(0, 256),
      body: `${task.prompt.slice(0, 2000)}${lastTurn}\n\n---\nOpened by Omoi from ${this.options.taskLink(task.id)}`,
      draft: request.draft,
    });
    await this.#recordPullRequest(task.id, pullRequest, emit);
    return { pull_request: pullRequest, compare_url: null };
  }

  async #recordPullRequest(taskId: string, pullRequest: TaskPullRequest, emit: RepoEventSink) {
    const before = (await this.options.store.getTask(taskId))?.repo?.pull_request;
    await this.#patch(taskId, { pull_request: pullRequest });
    if (JSON.stringify(before) !== JSON.stringify(pullRequest)) {
      await emit(TaskPullRequestEvent, { ...pullRequest });
    }
  }

  async #open(task: Task): Promise<{ resolved: ResolvedRepository; plan: RepoPlan }> {
    const repo = requireRepo(task);
    const resolved = await this.options.registry.reopen(repo.repository_id, repo.url);
    return {
      resolved,
      plan: {
        source: resolved.source,
        baseBranch: repo.base_branch,
        branch: repo.branch,
        continued: repo.continued,
      },
    };
  }

  async #patch(taskId: string, patch: Partial<TaskRepo>): Promise<void> {
    const task = await this.options.store.getTask(taskId);
    if (!task?.repo) return;
    await this.options.store.updateTask(taskId, { repo: { ...task.repo, ...patch } });
  }
}

function requireRepo(task: Task): TaskRepo {
  if (!task.repo) throw conflict(`task '${task.id}' does not work on a repository`);
  return task.repo;
}
