import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CliError } from "./errors.ts";

const run = promisify(execFile);

/*
 * The person's own git, in the person's own checkout (their configuration applies, as when
 * they run git themselves).
 */

/** Runs git in `cwd`; a failure is a CliError with git's own words. */
export async function localGit(
  args: string[],
  cwd = process.cwd(),
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const { stdout } = await run("git", args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new CliError(`git ${args[0]} failed: ${stderr || (error as Error).message}`, 1);
  }
}

/**
 * Brings `ref` of `source` (a URL, path or bundle file) into the local branch `branch`
 * without ever moving it backwards: a new branch is created, one behind is fast-forwarded
 * (the checked-out one with its working tree), and one that has commits of its own is left
 * as it is — the person's work is never overwritten.
 */
export async function fetchIntoBranch(source: string, ref: string, branch: string): Promise<void> {
  await localGit(["fetch", "--quiet", "--", source, ref]);
  const fetched = await localGit(["rev-parse", "--verify", "FETCH_HEAD^{commit}"]);
  const local = await localGit(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).catch(
    () => "",
  );
  if (local) {
    const behind = await localGit(["merge-base", "--is-ancestor", local, fetched]).then(
      () => true,
      () => false,
    );
    if (!behind) {
      throw new CliError(
        `your branch ${branch} has commits that the task's branch does not, so it was left as it is. ` +
          `To keep both, rename yours (git branch -m ${branch} ${branch}-mine) and run omoi checkout again`,
        1,
      );
    }
  }
  const current = await localGit(["branch", "--show-current"]).catch(() => "");
  if (current === branch) await localGit(["merge", "--quiet", "--ff-only", fetched]);
  else await localGit(["branch", "--force", "--", branch, fetched]);
}
