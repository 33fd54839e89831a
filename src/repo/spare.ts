import { setMaxListeners } from "node:events";
import { rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { git } from "./git.ts";
import type { Mirror } from "./mirror.ts";

/**
 * Prepared checkouts. Writing a large repository's work tree file by file is most of the
 * time a repository task takes to start, so after a task's workspace is made from a mirror,
 * Omoi prepares the next one in the background, at the lowest CPU priority: a repository
 * with the base branch fetched from the mirror (no remote, no hard links), checked out, its
 * index settled. It lives in the mirror's folder, outside every sandbox, and no git but
 * Omoi's ever runs in it. The next task on the repository takes it whole — one `rename` into
 * its empty workspace folder under the mirror's lock — then brings it up to date from the
 * mirror (the commits it lacks, its own refs, `reset --hard`, which rewrites only what
 * changed). One prepared checkout per mirror, used once; without one, a task clones.
 */
export class SpareCheckouts {
  readonly #preparing = new Map<string, Promise<void>>();
  readonly #unusable = new Set<string>();
  readonly #abort = new AbortController();

  constructor(
    /** How long after a claim the next checkout is started, so it does not slow this start. */
    private readonly delayMs = 1000,
  ) {
    // One listener per git or timer under way, across every repository.
    setMaxListeners(0, this.#abort.signal);
  }

  /**
   * Makes the mirror's prepared checkout `workspace` (an empty folder on the same file
   * system). False when there is none; the caller clones instead. Call it under the mirror's
   * lock, so the refs it is brought up to date with are the ones the caller read.
   */
  async claim(mirror: Mirror, workspace: string): Promise<boolean> {
    if (this.#unusable.has(mirror.path)) return false;
    try {
      await rename(spareDir(mirror), workspace);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EXDEV") {
        // Workspaces live on another file system: a prepared checkout cannot be handed over.
        this.#unusable.add(mirror.path);
        void rm(spareDir(mirror), { recursive: true, force: true }).catch(() => {});
      }
      return false;
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
    // Files written in the same second as the index are "racily clean": git would hash them
    // all again at the claim. Refreshed a moment later, the index vouches for every file.
    await sleep(1100, undefined, { signal });
    await git(["update-index", "-q", "--refresh"], inCopy);
    try {
      await rename(temporary, spareDir(mirror));
    } catch (error) {
      // The mirror went away (or a checkout is there already): this copy is not needed.
      await rm(temporary, { recursive: true, force: true });
      if (!["ENOTEMPTY", "EEXIST", "ENOENT"].includes((error as NodeJS.ErrnoException).code ?? ""))
        throw error;
    }
  }
}

const spareDir = (mirror: Mirror) => path.join(mirror.path, "omoi", "spare");
const temporaryDir = (mirror: Mirror) => path.join(mirror.path, "omoi", "spare.tmp");

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
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
  const missing: string[] = [];
  for (const { branch, sha } of wanted) {
    const present = await git(["cat-file", "-e", `${sha}^{commit}`], { cwd: workspace }).then(
      () => true,
      () => false,
    );
    if (!present) missing.push(`refs/heads/${branch}`);
  }
  if (missing.length === 0) return;
  await git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", mirror.path, ...missing], {
    cwd: workspace,
    config: ["fetch.recurseSubmodules=false"],
  });
}
