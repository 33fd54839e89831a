import { copyFile, mkdir, readdir, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { RepoError } from "./errors.ts";
import { GitCommandError, git, gitRaw, gitText } from "./git.ts";
import { type Mirror, tipRef, workRef } from "./mirror.ts";
import { type ClaimedCheckout, catchUpSpare, type SpareCheckouts } from "./spare.ts";
import {
  advanceWorkspace,
  checkWorkspaceGitDir,
  type GitObject,
  readBounded,
  readWorkspaceExclude,
  readWorkspaceHead,
  writeLooseObjects,
} from "./workspace-git-dir.ts";

export interface GitIdentity {
  name: string;
  email: string;
}

export interface CloneResult {
  baseSha: string;
  headSha: string;
  /** True when the branch already existed on the remote and the task continues it. */
  continued: boolean;
}

/**
 * Makes `workspace` a clone of the mirror with `branch` checked out: from the remote's
 * branch when it exists, otherwise new at the base. The copy has no remote (the sandbox
 * holds no URL, no credential) and copies objects rather than hard-linking them, so an
 * agent that rewrites its object files cannot touch the mirror's.
 */
export async function cloneWorkspace(options: {
  mirror: Mirror;
  workspace: string;
  baseBranch: string;
  branch: string;
  identity: GitIdentity;
  /** Keeps the fresh index for this task's turns (see `collectTurn`). */
  taskId?: string;
  /** Prepared checkouts: one is taken when ready. */
  spares?: SpareCheckouts;
}): Promise<CloneResult> {
  const { mirror, workspace, baseBranch, branch } = options;
  await mkdir(workspace, { recursive: true });
  if ((await readdir(workspace)).length > 0) {
    throw new RepoError("git_failed", "the workspace folder is not empty");
  }
  const { baseSha, branchSha, claimed } = await mirror.serialize(async () => {
    const heads = await mirror.heads();
    const base = heads.get(baseBranch);
    if (base === undefined) {
      throw new RepoError("base_branch_missing", `base branch '${baseBranch}' does not exist`, {
        base_branch: baseBranch,
      });
    }
    const shas = { baseSha: base, branchSha: heads.get(branch) ?? null };
    const wanted = [{ branch: baseBranch, sha: shas.baseSha }];
    if (shas.branchSha) wanted.push({ branch, sha: shas.branchSha });
    const headSha = shas.branchSha ?? shas.baseSha;
    const spare = await claimSpare(options.spares, mirror, workspace, wanted, headSha);
    if (spare) return { ...shas, claimed: spare };
    await git(
      ["clone", "--quiet", "--local", "--no-hardlinks", "--no-checkout", mirror.path, workspace],
      {},
    );
    // The sandbox's copy names no remote: the mirror's path is Omoi's business.
    await git(["remote", "remove", "origin"], { cwd: workspace });
    return { ...shas, claimed: null };
  });
  const inWorkspace = { cwd: workspace };
  const headSha = branchSha ?? baseSha;
  // What `git symbolic-ref HEAD` writes; no agent has had this repository yet.
  await writeFile(path.join(workspace, ".git", "HEAD"), `ref: refs/heads/${branch}\n`);
  // A clone also made a branch for the mirror's HEAD, a prepared checkout one for the base it
  // was made at: keep only the two the task is about, dropped first (`dev` blocks `dev/fix`).
  const local = claimed
    ? claimed.ref
    : await gitText(["for-each-ref", "--format=%(refname)", "refs/heads/"], inWorkspace);
  const dropped = local
    .split("\n")
    .filter(
      (ref) => ref !== "" && ref !== `refs/heads/${branch}` && ref !== `refs/heads/${baseBranch}`,
    );
  if (dropped.length > 0)
    await updateRefs(
      workspace,
      dropped.map((ref) => `delete ${ref}`),
    );
  const kept = [`update refs/heads/${branch} ${headSha}`];
  if (branch !== baseBranch) kept.push(`update refs/heads/${baseBranch} ${baseSha}`);
  await updateRefs(workspace, kept);
  // A prepared checkout still at the commit the task starts from has its files and index.
  if (claimed?.prepared !== headSha)
    await git(["reset", "--quiet", "--hard", headSha], inWorkspace);
  if (!claimed?.configured) {
    await git(["config", "user.name", options.identity.name], inWorkspace);
    await git(["config", "user.email", options.identity.email], inWorkspace);
  }
  // The ref logs name where the copy came from (the mirror's path) and when: Omoi's business.
  await rm(path.join(workspace, ".git", "logs"), { recursive: true, force: true });
  // No agent has touched the workspace yet: its index (with every file's stat data) is
  // Omoi's own. A copy on the trusted side spares the turns from hashing every file again.
  if (options.taskId) await keepIndex(options.mirror, options.taskId, gitIndex(workspace));
  return { baseSha, headSha, continued: branchSha !== null };
}

/** One transaction of `git update-ref --stdin` instructions in a repository Omoi owns. */
async function updateRefs(repository: string, instructions: string[]): Promise<void> {
  await git(["update-ref", "--stdin"], {
    cwd: repository,
    input: `${instructions.join("\n")}\n`,
  });
}

/**
 * Takes the mirror's prepared checkout as the workspace and gives it the objects of the
 * task's branches; null (and the folder empty again) when there is none or it cannot be
 * brought up to date.
 */
async function claimSpare(
  spares: SpareCheckouts | undefined,
  mirror: Mirror,
  workspace: string,
  wanted: { branch: string; sha: string }[],
  headSha: string,
): Promise<ClaimedCheckout | null> {
  const claimed = spares ? await spares.claim(mirror, workspace) : null;
  if (!claimed) return null;
  try {
    // Its HEAD commit (and so its history) it has: only other commits may be missing.
    const others = wanted.filter(({ sha }) => sha !== claimed.prepared);
    if (others.length > 0) await catchUpSpare(mirror, workspace, others);
    if (claimed.prepared === headSha) return claimed;
    // `reset --hard` rewrites only files whose content changed; a file whose attributes
    // changed (line endings, `ident`, an encoding) would keep its old form. Such a
    // checkout is not the one the task's commit gives: clone instead.
    const attributes = await gitRaw(
      ["diff", "--quiet", "--no-ext-diff", "HEAD", headSha, "--", "*.gitattributes"],
      { cwd: workspace },
    );
    if (attributes.code !== 0) throw new Error("attributes changed");
    return claimed;
  } catch {
    await rm(workspace, { recursive: true, force: true });
    await mkdir(workspace, { recursive: true });
    return null;
  }
}

/**
 * Longest the fetch of a turn's result from its workspace may take: a local copy of the
 * objects the turn made, far below git's usual ten minutes, so a workspace that makes git
 * wait holds the mirror (and every other task on the repository) only this long.
 */
export const WORKSPACE_FETCH_TIMEOUT_MS = 120_000;

export interface CollectResult {
  /** What Omoi will push: the agent's HEAD plus Omoi's commit of what was left uncommitted. */
  tip: string;
  /** Set when Omoi committed what the agent left uncommitted. */
  committed: { sha: string; message: string } | null;
  /** What Omoi could not honour in the workspace (for the log), such as its `info/exclude`. */
  warnings: string[];
}

/**
 * Takes a turn's result out of the workspace without running git there: fetches its HEAD
 * into the mirror (git's upload-pack reads the agent's repository with every setting that
 * could run a program pinned), commits what is left uncommitted from the mirror's side with
 * a private index, and hands that commit back to the workspace as plain files.
 *
 * Untracked files the workspace's `.git/info/exclude` names are left out, as the agent's own
 * `git add --all` would: its patterns are copied to a file of Omoi's and handed to git as
 * `core.excludesFile`, so git never opens a path in the workspace's `.git`. The workspace's
 * own `core.excludesFile` (a path the agent chooses, anywhere) is never read.
 */
export async function collectTurn(options: {
  mirror: Mirror;
  workspace: string;
  taskId: string;
  message: string;
  author: GitIdentity;
  committer: GitIdentity;
  /** How long the fetch from the workspace may take (default `WORKSPACE_FETCH_TIMEOUT_MS`). */
  fetchTimeoutMs?: number;
}): Promise<CollectResult> {
  const { mirror, workspace, taskId } = options;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? WORKSPACE_FETCH_TIMEOUT_MS;
  await checkWorkspaceGitDir(workspace);
  const headBranch = await readWorkspaceHead(workspace);
  if (headBranch !== null) checkBranchName(headBranch);
  return mirror.serialize(async () => {
    const inMirror = { cwd: mirror.path };
    const uploadPack = [
      "git",
      "-c core.hooksPath=/dev/null",
      "-c core.fsmonitor=false",
      "-c uploadpack.allowFilter=false",
      "upload-pack",
    ].join(" ");
    await git(
      [
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        `--upload-pack=${uploadPack}`,
        workspace,
        `+HEAD:${workRef(taskId)}`,
      ],
      {
        ...inMirror,
        config: ["fetch.fsckObjects=true", "fetch.recurseSubmodules=false"],
        // Something the agent left (a FIFO swapped in after the check, a config include of
        // one) can make git wait without end while the mirror is held: stop it, and every
        // program it started, long before the usual limit.
        timeoutMs: fetchTimeoutMs,
        killGroup: true,
      },
    ).catch((error) => {
      const stopped = error instanceof GitCommandError && error.timedOut;
      throw new RepoError(
        "git_failed",
        stopped
          ? `fetching the agent's commits from its workspace took longer than ${fetchTimeoutMs / 1000} s and was stopped (something in its .git may block reads)`
          : "could not fetch the agent's commits from its workspace",
        { detail: String((error as Error).message).slice(0, 500) },
      );
    });
    const [work, workTree] = (
      await gitText(
        ["rev-parse", `${workRef(taskId)}^{commit}`, `${workRef(taskId)}^{tree}`],
        inMirror,
      )
    ).split("\n");

    const scratch = path.join(os.tmpdir(), `omoi-index-${taskId}-${process.pid}-${Date.now()}`);
    const excludes = `${scratch}.exclude`;
    const indexEnv = {
      GIT_DIR: mirror.path,
      GIT_WORK_TREE: workspace,
      GIT_INDEX_FILE: scratch,
    };
    try {
      await startIndex(mirror, taskId, work, scratch, indexEnv);
      const exclude = await readWorkspaceExclude(workspace);
      const warnings = exclude.warning ? [exclude.warning] : [];
      // Omoi's own copy of the patterns: git opens nothing in the workspace's `.git` for them.
      await writeFile(excludes, exclude.patterns ?? "", { mode: 0o600 });
      await git(["add", "--all", "--", "."], {
        env: indexEnv,
        cwd: workspace,
        config: ["core.bare=false", "add.ignoreErrors=true", `core.excludesFile=${excludes}`],
      });
      const tree = await gitText(["write-tree"], { env: indexEnv });
      if (tree === workTree) {
        await git(["update-ref", tipRef(taskId), work], inMirror);
        await keepIndex(mirror, taskId, scratch);
        return { tip: work, committed: null, warnings };
      }
      const sha = await gitText(["commit-tree", tree, "-p", work, "-F", "-"], {
        ...inMirror,
        input: options.message,
        env: {
          GIT_AUTHOR_NAME: options.author.name,
          GIT_AUTHOR_EMAIL: options.author.email,
          GIT_COMMITTER_NAME: options.committer.name,
          GIT_COMMITTER_EMAIL: options.committer.email,
        },
      });
      await git(["update-ref", tipRef(taskId), sha], inMirror);
      const objects = await readNewObjects(mirror.path, sha, work);
      await writeLooseObjects(workspace, objects);
      await advanceWorkspace(workspace, headBranch, sha, await readBounded(scratch, 1 << 30));
      await keepIndex(mirror, taskId, scratch);
      return { tip: sha, committed: { sha, message: options.message }, warnings };
    } finally {
      await rm(scratch, { force: true });
      await rm(excludes, { force: true });
    }
  });
}

const gitIndex = (workspace: string) => path.join(workspace, ".git", "index");
/** Where a task's index lives on the trusted side: inside the mirror, outside every sandbox. */
const keptIndexPath = (mirror: Mirror, taskId: string) =>
  path.join(mirror.path, "omoi", "index", taskId);

async function keepIndex(mirror: Mirror, taskId: string, index: string): Promise<void> {
  const kept = keptIndexPath(mirror, taskId);
  await mkdir(path.dirname(kept), { recursive: true });
  const temporary = `${kept}.${process.pid}.tmp`;
  await copyIndex(index, temporary);
  await rename(temporary, kept);
}

/**
 * Copies an index with its modification time: git trusts an entry's stat data only when the
 * file is older than the index (a file changed in the same second as its entry was taken is
 * "racily clean" and hashed again), so a copy stamped later would hide such a change.
 */
async function copyIndex(from: string, to: string): Promise<void> {
  const { atime, mtime } = await stat(from);
  await copyFile(from, to);
  await utimes(to, atime, mtime);
}

/**
 * Fills the private index with `work`'s tree. From the task's kept index (the tree of its
 * last result, with the stat data of the files as Omoi last hashed them) by a two-tree
 * merge, which keeps the stat data of every path `work` did not change, so `git add` hashes
 * only the files that changed since; without one, from `work` alone (every file hashed).
 */
async function startIndex(
  mirror: Mirror,
  taskId: string,
  work: string,
  scratch: string,
  env: Record<string, string>,
): Promise<void> {
  const copied = await copyIndex(keptIndexPath(mirror, taskId), scratch).then(
    () => true,
    () => false,
  );
  if (copied) {
    const kept = await gitRaw(["write-tree"], { env });
    const merged =
      kept.code === 0
        ? await gitRaw(["read-tree", "-m", kept.stdout.toString().trim(), work], { env })
        : kept;
    if (merged.code === 0) return;
    await rm(scratch, { force: true });
  }
  await git(["read-tree", work], { env });
}

/**
 * Rejects a branch name git would not accept (`git check-ref-format refs/heads/<name>`, whose
 * rules this follows without starting a process), and so any name that walks out of refs/;
 * also a name that reads as an option, or longer than 200 characters.
 */
export function checkBranchName(branch: string): void {
  if (!isBranchName(branch)) {
    throw new RepoError("invalid_branch", `'${branch}' is not a valid branch name`, { branch });
  }
}

/** Characters no ref may hold besides controls, space and DEL. */
const REF_FORBIDDEN = new Set("~^:?*[\\");

function isBranchName(branch: string): boolean {
  if (branch === "" || branch.length > 200 || branch.startsWith("-")) return false;
  for (const char of branch) {
    const code = char.charCodeAt(0);
    if (code <= 0x20 || code === 0x7f || REF_FORBIDDEN.has(char)) return false;
  }
  if (branch.includes("..") || branch.includes("@{")) return false;
  if (branch.endsWith(".")) return false;
  // Components: none empty (no leading, trailing or doubled slash), none starting with a dot,
  // none ending in `.lock`.
  return branch
    .split("/")
    .every((part) => part !== "" && !part.startsWith(".") && !part.endsWith(".lock"));
}

/** Objects reachable from `tip` but not from `known`, read from the mirror. */
async function readNewObjects(mirrorPath: string, tip: string, known: string) {
  const list = await gitText(["rev-list", "--objects", tip, `^${known}`], { cwd: mirrorPath });
  const ids = list
    .split("\n")
    .map((line) => line.slice(0, 40))
    .filter((id) => /^[0-9a-f]{40}$/.test(id));
  if (ids.length === 0) return [];
  const output = (
    await git(["cat-file", "--batch"], { cwd: mirrorPath, input: `${ids.join("\n")}\n` })
  ).stdout;
  const objects: GitObject[] = [];
  let offset = 0;
  while (offset < output.length) {
    const end = output.indexOf(10, offset);
    const [id, type, size] = output.subarray(offset, end).toString("utf8").split(" ");
    const length = Number(size);
    objects.push({ id, type, content: output.subarray(end + 1, end + 1 + length) });
    offset = end + 1 + length + 1;
  }
  return objects;
}
