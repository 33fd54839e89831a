import { execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Helpers for tests that run `node bin/omoi.js …` as a person would. */

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const OMOI_BIN = fileURLToPath(new URL("../../bin/omoi.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion with `input` (or nothing) on stdin and no colour-forcing environment. */
export function omoi(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [OMOI_BIN, ...args],
      {
        cwd: PROJECT_ROOT,
        env: { ...cleanEnv(), ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === "number" ? error.code : error ? null : 0;
        resolve({ code: child.exitCode ?? code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

/** The parent's environment without the variables the CLI reads. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    "OMOI_URL",
    "OMOI_PORT",
    "OMOI_HOST",
    "OMOI_API_TOKEN",
    "NO_COLOR",
    "OMOI_DEBUG",
  ])
    delete env[name];
  return env;
}

/**
 * Runs the CLI against `serverUrl` in `cwd` (a person's checkout), stdin left open as a
 * pipe, and resolves with its exit code and output whatever the code.
 */
export async function omoiIn(
  cwd: string,
  serverUrl: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [OMOI_BIN, ...args, "--server", serverUrl],
      { cwd, env: { ...cleanEnv(), ...env }, timeout: 120_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, stdout: failure.stdout ?? "", stderr: failure.stderr ?? "" };
  }
}

/** A port nothing listens on: bound once, then released. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export { spawn };
