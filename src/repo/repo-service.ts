import path from "node:path";
import { type Changes, readChanges } from "./changes.ts";
import { RepoError } from "./errors.ts";
import { GitCommandError, git, gitRaw } from "./git.ts";
import { Mirror, type RemoteHeads, tipRef } from "./mirror.ts";
import type { RepoSource } from "./source.ts";
import { SpareCheckouts } from "./spare.ts";
import {
  type CloneResult,
  type CollectResult,
  checkBranchName,
  cloneWorkspace,
  collectTurn,
  type GitIdentity,
} from "./workspace.ts";

export interface RepoServiceOptions {
  /** Where mirrors live; outside every sandbox (the server's data dir). */
  mirrorsDir: string;
  /** Author of the commits Omoi makes for the agent (default: Omoi agent). */
  author?: GitIdentity;
  /** Committer of those commits (default: the author). */
  committer?: GitIdentity;
  /**
   * Which repositories get a checkout prepared ahead for their next task (see
   * `SpareCheckouts`); none when unset.
   */
  prepareAhead?: (source: RepoSource) => boolean;
  /** How long after `prepareNext` the repository's next checkout is begun (default 1 s). */
  prepareAheadDelayMs?: number;
  /** How long a turn's fetch from its workspace may take (default 2 minutes). */
  workspaceFetchTimeoutMs?: number;
}

/** A task's repository plan, settled before its sandbox starts. */
export interface RepoPlan {
  source: RepoSource;
  baseBranch: string;
  branch: string;
  /** The branch already exists on the remote; the task continues it. */
  continued: boolean;
}

export const DEFAULT_IDENTITY: GitIdentity = { name: "Omoi agent", email: "agent@omoi.invalid" };

/** The default branch name of a task: `omoi/<slug>-<short id>`. */
export function defaultBranchName(title: string, taskId: string): string {
  const slug =
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40)
      .replace(/-+$/g, "") || "task";
  const short = (taskId.split("_").pop() ?? taskId).replace(/[^a-z0-9]/gi, "").slice(0, 8);
  return `omoi/${slug}-${short}`;
}

/**
 * Everything Omoi does with git for tasks: check a repository before a task is accepted,
 * keep a trusted mirror of it, clone workspaces from the mirror, take each turn's result
 * out, push only the task's branch and read the changes.
 */
export class RepoService {
  readonly #mirrors = new Map<string, Mirror>();
  readonly #mirrorsDir: string;
  readonly #prepareAhead: (source: RepoSource) => boolean;
  readonly #workspaceFetchTimeoutMs: number | undefined;
  /** Checkouts prepared ahead of the next task on a repository. */
  readonly spares: SpareCheckouts;
  readonly author: GitIdentity;
  readonly committer: GitIdentity;

  constructor(options: RepoServiceOptions) {
    this.#mirrorsDir = path.resolve(options.mirrorsDir);
    this.#prepareAhead = options.prepareAhead ?? (() => false);
    this.#workspaceFetchTimeoutMs = options.workspaceFetchTimeoutMs;
    this.author = options.author ?? DEFAULT_IDENTITY;
    this.spares = new SpareCheckouts(this.author, options.prepareAheadDelayMs);
    this.committer = options.committer ?? this.author;
  }

  /** Stops the background work (checkouts being prepared). */
  close(): Promise<void> {
    return this.spares.close();
  }

  /**
   * Lists a remote's branches with `source`'s credential, on a mirror of its own: a
   * credential being tried (or none) never replaces the one tasks' git is using meanwhile.
   */
  probe(source: RepoSource): Promise<RemoteHeads> {
    return new Mirror(this.#mirrorsDir, source).inspect();
  }

  mirror(source: RepoSource): Mirror {
    const probe = new Mirror(this.#mirrorsDir, source);
    const known = this.#mirrors.get(probe.path);
    if (known) {
      // Same location, possibly a fresher credential.
      Object.assign(known.source, { credential: source.credential });
      return known;
    }
    this.#mirrors.set(probe.path, probe);
    return probe;
  }

  /**
   * Checks what can be checked before a task is accepted — reachable, credentials accepted,
   * not empty, base branch present, branch name valid and not the base unless named — and
   * settles the branches. Throws `RepoError` (a 4xx) otherwise.
   */
  async plan(
    source: RepoSource,
    request: { baseBranch?: string; branch?: string; title: string; taskId: string },
  ): Promise<RepoPlan> {
    const heads = await this.mirror(source).inspect();
    for (const name of [request.baseBranch, request.branch]) {
      if (name !== undefined) checkBranchName(name);
    }
    if (heads.branches.size === 0) {
      throw new RepoError("empty_repository", `repository ${source.display} has no branches yet`, {
        repo: source.display,
      });
    }
    const baseBranch = request.baseBranch ?? heads.defaultBranch ?? [...heads.branches.keys()][0];
    const branch = request.branch ?? defaultBranchName(request.title, request.taskId);
    // The names the remote or Omoi chose, checked too.
    if (request.baseBranch === undefined) checkBranchName(baseBranch);
    if (request.branch === undefined) checkBranchName(branch);
    if (!heads.branches.has(baseBranch)) {
      throw new RepoError("base_branch_missing", `base branch '${baseBranch}' does not exist`, {
        base_branch: baseBranch,
      });
    }
    return { source, baseBranch, branch, continued: heads.branches.has(branch) };
  }

  /** Brings the mirror up to date, then makes the task's workspace from it. */
  async prepareWorkspace(plan: RepoPlan, workspace: string, taskId?: string): Promise<CloneResult> {
    const mirror = this.mirror(plan.source);
    await mirror.fetch([plan.baseBranch, plan.branch]);
    return cloneWorkspace({
      mirror,
      workspace,
      baseBranch: plan.baseBranch,
      branch: plan.branch,
      identity: this.author,
      taskId,
      spares: this.#prepareAhead(plan.source) ? this.spares : undefined,
    });
  }

  /**
   * Begins preparing the repository's next checkout in the background (see `SpareCheckouts`),
   * when it gets them; call it once a task's turn is taken out and pushed, so that work never
   * shares the machine with a task's start or push.
   */
  prepareNext(plan: RepoPlan): void {
    if (this.#prepareAhead(plan.source))
      this.spares.prepare(this.mirror(plan.source), plan.baseBranch);
  }

  /** Removes the repository's prepared checkout (a repository forgotten or moved). */
  discardPrepared(source: RepoSource): Promise<void> {
    return this.spares.discard(this.mirror(source));
  }

  /** Takes a turn's result from the workspace (committing what was left) into the mirror. */
  collect(
    plan: RepoPlan,
    workspace: string,
    taskId: string,
    message: string,
  ): Promise<CollectResult> {
    return collectTurn({
      mirror: this.mirror(plan.source),
      workspace,
      taskId,
      message,
      author: this.author,
      committer: this.committer,
      fetchTimeoutMs: this.#workspaceFetchTimeoutMs,
    });
  }

  /** Pushes the task's result to its branch on the remote (fast-forward only). */
  push(plan: RepoPlan, taskId: string): Promise<{ sha: string }> {
    return this.mirror(plan.source).push(taskId, plan.branch);
  }

  /**
   * Writes the task's result as a complete git bundle to `file` (its one ref: the task's
   * tip in the mirror), for a person whose checkout the server cannot push into.
   */
  async bundle(plan: RepoPlan, taskId: string, file: string): Promise<string> {
    const mirror = this.mirror(plan.source);
    await mirror.serialize(() =>
      git(["bundle", "create", "--quiet", file, tipRef(taskId)], { cwd: mirror.path }),
    );
    return tipRef(taskId);
  }

  /** Whether the task's result has commits its base branch lacks (so there is something to push). */
  async hasCommits(plan: RepoPlan, taskId: string): Promise<boolean> {
    const mirror = this.mirror(plan.source);
    const result = await gitRaw(
      ["merge-base", "--is-ancestor", tipRef(taskId), `refs/heads/${plan.baseBranch}`],
      { cwd: mirror.path },
    );
    if (result.code === 0 || result.code === 1) return result.code === 1;
    throw new GitCommandError(["merge-base"], result.code, result.stderr);
  }

  /** The task's changes against the merge-base with the base branch. */
  changes(plan: RepoPlan, taskId: string): Promise<Changes> {
    const mirror = this.mirror(plan.source);
    return readChanges(mirror.path, `refs/heads/${plan.baseBranch}`, tipRef(taskId));
  }
}

/**
 * The commit message of Omoi's commit: the agent's summary and a trailer naming the task.
 * The subject is the summary's first line, unless that is a markdown heading ("## Done",
 * "# Summary"): a section label says nothing of the change, so the task's title does.
 */
export function commitMessage(summary: string | null, taskTitle: string, taskLink: string): string {
  const text = (summary ?? "").trim();
  const firstLine =
    text
      .split("\n")
      .find((line) => line.trim() !== "")
      ?.trim() ?? "";
  const heading = /^#{1,6}\s+(.*)$/.exec(firstLine)?.[1]?.trim();
  const lead = heading === undefined ? firstLine : taskTitle.trim() || heading;
  const subject = (lead || taskTitle || "Changes by the agent").slice(0, 72);
  const body = text && text !== firstLine ? `\n\n${text.slice(0, 4000)}` : "";
  return `${subject}${body}\n\nOmoi-Task: ${taskLink}\n`;
}
