import { createHash } from "node:crypto";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { credentialEnvironment, redact } from "./credential.ts";
import { classifyRemoteFailure, RepoError } from "./errors.ts";
import { GitCommandError, git, gitRaw, gitText } from "./git.ts";
import { listRemoteHeads } from "./smart-http.ts";
import type { RepoSource } from "./source.ts";

/** What a remote holds, read without cloning it. */
export interface RemoteHeads {
  defaultBranch: string | null;
  branches: Map<string, string>;
}

/**
 * Branches of a task's result in the mirror. `work` is the workspace's HEAD as fetched;
 * `tip` is what Omoi pushes (work plus Omoi's commit of what was left uncommitted).
 */
export const workRef = (taskId: string) => `refs/omoi/tasks/${taskId}/work`;
export const tipRef = (taskId: string) => `refs/omoi/tasks/${taskId}/tip`;

/**
 * How long the branches `inspect` read from the remote stand for it: a fetch that soon after
 * finds the mirror holding exactly those tips has nothing to fetch, and skips the round trip.
 */
const OBSERVED_FRESH_MS = 10_000;

/** A bare repository outside every sandbox that holds a remote's branches and task results. */
export class Mirror {
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();
  /** The remote's branches as `inspect` last read them, and when (see `fetch`). */
  #observed: { at: number; branches: Map<string, string> } | null = null;

  constructor(
    root: string,
    readonly source: RepoSource,
  ) {
    const key = createHash("sha256").update(source.location).digest("hex").slice(0, 32);
    this.path = path.join(root, `${key}.git`);
  }

  /** Runs `work` after every earlier operation on this mirror (git's ref locks do not queue). */
  serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  /**
   * Lists the remote's branches and default branch; a clear error when it cannot. Over HTTP
   * it asks in process first (see `listRemoteHeads`); git answers whatever that could not.
   */
  async inspect(): Promise<RemoteHeads> {
    const heads =
      (this.source.kind === "remote"
        ? await listRemoteHeads(this.source.location, this.source.credential)
        : null) ?? (await this.#lsRemote());
    if (heads.defaultBranch && !heads.branches.has(heads.defaultBranch)) heads.defaultBranch = null;
    this.#observed = { at: performance.now(), branches: new Map(heads.branches) };
    return heads;
  }

  async #lsRemote(): Promise<RemoteHeads> {
    const result = await this.#remoteGit(["ls-remote", "--symref", this.source.location]);
    if (result.code !== 0) throw this.#remoteFailure(result.stderr);
    const heads: RemoteHeads = { defaultBranch: null, branches: new Map() };
    for (const line of result.stdout.toString("utf8").split("\n")) {
      const symbolic = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
      if (symbolic) {
        heads.defaultBranch = symbolic[1];
        continue;
      }
      const branch = /^([0-9a-f]{40,64})\trefs\/heads\/(\S+)$/.exec(line);
      if (branch) heads.branches.set(branch[2], branch[1]);
    }
    return heads;
  }

  /**
   * The mirror's branches and the commits they point at; a branch whose tip is not a commit
   * is left out (a remote can point a branch at any object).
   */
  async heads(): Promise<Map<string, string>> {
    const listing = await gitText(
      ["for-each-ref", "--format=%(objecttype) %(objectname) %(refname)", "refs/heads/"],
      { cwd: this.path },
    );
    const heads = new Map<string, string>();
    for (const line of listing.split("\n")) {
      const match = /^commit ([0-9a-f]{40,64}) refs\/heads\/(.+)$/.exec(line);
      if (match) heads.set(match[2], match[1]);
    }
    return heads;
  }

  /**
   * Creates the mirror when missing and fetches every branch of the remote into it — unless
   * the remote's branches were read a moment ago (a task's plan) and the mirror holds each of
   * `needed` exactly as the remote had it (at the same commit, or absent from both): then a
   * fetch would bring nothing the caller uses.
   */
  async fetch(needed?: readonly string[]): Promise<void> {
    const observed = this.#observed;
    this.#observed = null;
    await this.serialize(async () => {
      await this.#ensure();
      if (needed && observed && performance.now() - observed.at < OBSERVED_FRESH_MS) {
        const held = await this.heads();
        if (needed.every((name) => held.get(name) === observed.branches.get(name))) return;
      }
      const result = await this.#remoteGit(
        [
          "fetch",
          "--prune",
          "--no-tags",
          "--no-write-fetch-head",
          this.source.location,
          "+refs/heads/*:refs/heads/*",
        ],
        this.path,
      );
      if (result.code !== 0) throw this.#remoteFailure(result.stderr);
    });
  }

  /**
   * Pushes the task's result to `branch` on the remote: one explicit refspec, no `+` (so no
   * force), no tags, nothing deleted. The mirror's copy of the branch follows on success.
   */
  async push(taskId: string, branch: string): Promise<{ sha: string }> {
    return this.serialize(async () => {
      const sha = await gitText(["rev-parse", "--verify", `${tipRef(taskId)}^{commit}`], {
        cwd: this.path,
      });
      const result = await this.#remoteGit(
        [
          "push",
          "--porcelain",
          "--no-follow-tags",
          "--no-verify",
          this.source.location,
          `${sha}:refs/heads/${branch}`,
        ],
        this.path,
      );
      if (result.code !== 0) {
        const output = `${result.stdout.toString("utf8")}\n${result.stderr}`;
        const rejected = /^!\t[^\t]*\t(.*)$/m.exec(output);
        if (rejected) {
          // What the forge said (a protected-branch rule, a hook's message), scrubbed and short.
          const said = [...result.stderr.matchAll(/^remote: (.+)$/gm)]
            .map((line) => line[1].trim().slice(0, 200))
            .filter((line) => line !== "")
            .slice(0, 5)
            .join(" ");
          const reason = `${rejected[1]}${said ? ` — the remote said: ${said}` : ""}`;
          throw new RepoError(
            "push_rejected",
            `the remote rejected the push to ${branch}: ${redact(reason, this.source.credential)}`,
            { branch },
          );
        }
        throw this.#remoteFailure(result.stderr);
      }
      await git(["update-ref", `refs/heads/${branch}`, sha], { cwd: this.path });
      return { sha };
    });
  }

  async #ensure(): Promise<void> {
    const exists = await stat(path.join(this.path, "HEAD")).then(
      () => true,
      () => false,
    );
    if (exists) return;
    await mkdir(path.dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.${Date.now()}.tmp`;
    await git(["init", "--bare", "--quiet", temporary]);
    try {
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      const raced = await stat(path.join(this.path, "HEAD")).then(
        () => true,
        () => false,
      );
      if (!raced) throw error;
    }
  }

  #remoteGit(args: string[], cwd?: string) {
    const env =
      this.source.kind === "remote"
        ? credentialEnvironment(this.source.location, this.source.credential)
        : {};
    return gitRaw(args, { cwd, env, timeoutMs: 10 * 60_000 });
  }

  #remoteFailure(stderr: string): RepoError {
    const error = classifyRemoteFailure(stderr, this.source.display);
    if (this.source.kind === "local" && error.code === "not_found") {
      return new RepoError("not_a_repository", `${this.source.display} is not a git repository`, {
        repo: this.source.display,
      });
    }
    return error;
  }
}

export function isGitFailure(error: unknown): error is GitCommandError {
  return error instanceof GitCommandError;
}
