import { execFile } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { git, gitText } from "./git.ts";
import type { Mirror } from "./mirror.ts";
import type { GitIdentity } from "./workspace.ts";

/**
 * Prepared checkouts. Writing a large repository's work tree file by file is most of the
 * time a repository task takes to start, so once a task's turn has been taken out of its
 * workspace and pushed (not while it starts or pushes: the machine is theirs then), Omoi
 * prepares the repository's next checkout in the background, at the lowest CPU priority: a
 * repository with the base branch fetched from the mirror (no remote, no hard links),
 * checked out, its index settled, its identity configured. It lives in the mirror's folder,
 * outside every sandbox, and no git but Omoi's ever runs in it. The next task on the
 * repository takes it whole — one `rename` into its empty workspace folder under the
 * mirror's lock — then brings it up to date from the mirror when the base moved (the commits
 * it lacks, `reset --hard`, which rewrites only what changed) and sets its own refs. One
 * prepared checkout per mirror, used once; without one, a task clones.
 */
export class SpareCheckouts {
  readonly #preparing = new Map<string, Promise<void>>();
  readonly #unusable = new Set<string>();
  /** Mirrors whose prepared checkout this process made (so it has the identity configured). */
  readonly #preparedHere = new Set<string>();
  readonly #abort = new AbortController();

  constructor(
    /** The author the workspace's git is configured with (`user.name`, `user.email`). */
    private readonly identity: GitIdentity,
    /** How long after it is asked for the next checkout is started. */
    private readonly delayMs = 1000,
  ) {
    // One listener per git or timer under way, across every repository.
    setMaxListeners(0, this.#abort.signal);
  }

  /**
   * Makes the mirror's prepared checkout `workspace` (an empty folder on the same file
   * system). Null when there is none; the caller clones instead. Call it under the mirror's
   * lock, so the refs it is brought up to date with are the ones the caller read.
   */
  async claim(mirror: Mirror, workspace: string): Promise<ClaimedCheckout | null> {
    if (this.#unusable.has(mirror.path)) return null;
    const configured = this.#preparedHere.has(mirror.path);
    try {
      await rename(spareDir(mirror), workspace);
      this.#preparedHere.delete(mirror.path);
      // Omoi's own: no agent has run in it yet. Its one branch is the one HEAD names.
      const [prepared, ref] = (
        await gitText(["rev-parse", "HEAD^{commit}", "--symbolic-full-name", "HEAD"], {
          cwd: workspace,
        })
      ).split("\n");
      if (!/^[0-9a-f]{40,64}$/.test(prepared ?? "") || !ref?.startsWith("refs/heads/")) {
        throw new Error("the prepared checkout has no branch checked out");
      }
      return { prepared, ref, configured };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EXDEV") {
        // Workspaces live on another file system: a prepared checkout cannot be handed over.
        this.#unusable.add(mirror.path);
        void rm(spareDir(mirror), { recursive: true, force: true }).catch(() => {});
      }
      if (code !== "ENOENT" && code !== "EXDEV") {
        // Taken, but unreadable: the caller clones into the emptied folder.
        await rm(workspace, { recursive: true, force: true });
        await mkdir(workspace, { recursive: true });
      }
      return null;
    }
  }

  /** Starts preparing the mirror's next checkout at `baseBranch`, unless one is ready or under way. */
  prepare(mirror: Mirror, baseBranch: string): void {
    if (this.#unusable.has(mirror.path) || this.#abort.signal.aborted) return;
    if (this.#preparing.has(mirror.path)) return;
    const work = this.#prepare(mirror, baseBranch)
      .catch(() => rm(temporaryDir(mirror), { recursive: true, force: true }))
      .catch(() => {})
      .finally(() => this.#preparing.delete(mirror.path));
    this.#preparing.set(mirror.path, work);
  }

  /** Removes the mirror's prepared checkout, once any preparation under way has ended. */
  async discard(mirror: Mirror): Promise<void> {
    await this.#preparing.get(mirror.path);
    this.#preparedHere.delete(mirror.path);
    // Moved aside first, whole, so a task taking it at this moment gets all of it or none.
    const doomed = `${spareDir(mirror)}.discarded.${process.pid}.${Date.now()}`;
    const moved = await rename(spareDir(mirror), doomed).then(
      () => true,
      () => false,
    );
    if (moved) await rm(doomed, { recursive: true, force: true });
  }

  /** Resolves when no checkout is being prepared (tests and benchmarks wait on it). */
  async settled(): Promise<void> {
    while (this.#preparing.size > 0) await Promise.all(this.#preparing.values());
  }

  /** Stops every preparation under way (its git is killed, its half-made copy removed). */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.settled();
  }

  async #prepare(mirror: Mirror, baseBranch: string): Promise<void> {
    const signal = this.#abort.signal;
    await sleep(this.delayMs, undefined, { signal });
    if (await exists(spareDir(mirror))) return;
    // The mirror may have been removed since the task that asked for this checkout.
    if (!(await exists(path.join(mirror.path, "HEAD")))) return;
    const temporary = temporaryDir(mirror);
    const background = { signal, lowPriority: true } as const;
    await rm(temporary, { recursive: true, force: true });
    await git(["init", "--quiet", temporary], background);
    const inCopy = { ...background, cwd: temporary };
    // A fetch, not a local clone: it takes no lock on the mirror (git reads one consistent
    // state of the branch) and copies only the base branch's objects, not every task's.
    await git(
      [
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--update-head-ok",
        mirror.path,
        `+refs/heads/${baseBranch}:refs/heads/${baseBranch}`,
      ],
      { ...inCopy, config: ["fetch.recurseSubmodules=false"] },
    );
    await git(["symbolic-ref", "HEAD", `refs/heads/${baseBranch}`], inCopy);
    await git(["reset", "--quiet", "--hard", "HEAD"], inCopy);
    await git(["config", "user.name", this.identity.name], inCopy);
    await git(["config", "user.email", this.identity.email], inCopy);
    // Files written in the same second as the index are "racily clean": git would hash them
    // all again at the claim. Refreshed a moment later, the index vouches for every file.
    await sleep(1100, undefined, { signal });
    await git(["update-index", "-q", "--refresh"], inCopy);
    // Its 200 MB (say) go to disk now, as part of this background work, rather than being
    // written back later under a task's own commits and pushes.
    await flushFileSystem(temporary, signal);
    try {
      await rename(temporary, spareDir(mirror));
      this.#preparedHere.add(mirror.path);
    } catch (error) {
      // The mirror went away (or a checkout is there already): this copy is not needed.
      await rm(temporary, { recursive: true, force: true });
      if (!["ENOTEMPTY", "EEXIST", "ENOENT"].includes((error as NodeJS.ErrnoException).code ?? ""))
        throw error;
    }
  }
}

/** `sync --file-system` on the folder's file system; where that is not possible, nothing. */
function flushFileSystem(folder: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    execFile("sync", ["--file-system", folder], { signal }, () => resolve());
  });
}

const spareDir = (mirror: Mirror) => path.join(mirror.path, "omoi", "spare");
const temporaryDir = (mirror: Mirror) => path.join(mirror.path, "omoi", "spare.tmp");

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A prepared checkout taken as a task's workspace. */
export interface ClaimedCheckout {
  /** The commit it was prepared at (its HEAD): its files are that commit's. */
  prepared: string;
  /** Its one branch (the base it was prepared at), `refs/heads/…`. */
  ref: string;
  /** Its git is configured with the service's identity already. */
  configured: boolean;
}

/**
 * Brings a claimed checkout's objects up to date: fetches the branches whose commits it
 * lacks from the mirror (both trusted: no agent has run in the copy yet). Under the
 * mirror's lock, so the branches are still at `shas`.
 */
export async function catchUpSpare(
  mirror: Mirror,
  workspace: string,
  wanted: { branch: string; sha: string }[],
): Promise<void> {
  const listing = await gitText(["cat-file", "--batch-check=%(objecttype) %(objectname)"], {
    cwd: workspace,
    input: `${wanted.map(({ sha }) => sha).join("\n")}\n`,
  });
  const commits = new Set(
    listing
      .split("\n")
      .filter((line) => line.startsWith("commit "))
      .map((line) => line.slice("commit ".length)),
  );
  const missing = wanted
    .filter(({ sha }) => !commits.has(sha))
    .map(({ branch }) => `refs/heads/${branch}`);
  if (missing.length === 0) return;
  await git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", mirror.path, ...missing], {
    cwd: workspace,
    config: ["fetch.recurseSubmodules=false"],
  });
}
