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
