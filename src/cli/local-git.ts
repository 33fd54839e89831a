import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { CliError } from "./errors.ts";

const run = promisify(execFile);

/*
 * The person's own git, in the person's own checkout (their configuration applies, as when
 * they run git themselves).
 */

/** Runs git in `cwd`; a failure is a CliError with git's own words. */
export async function localGit(args: string[], cwd = process.cwd()): Promise<string> {
  try {
    const { stdout } = await run("git", args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new CliError(`git ${args[0]} failed: ${stderr || (error as Error).message}`, 1);
  }
}

/**
 * What `--repo` names, as the server takes it: URLs and registered names unchanged, a path
 * (`.` included) as the absolute top folder of the checkout it is in.
 */
export async function repoArgument(value: string | undefined): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const looksLikePath =
    value === "." || value.startsWith("./") || value.startsWith("../") || path.isAbsolute(value);
  if (!looksLikePath) return value;
  return localGit(["rev-parse", "--show-toplevel"], path.resolve(value));
}
