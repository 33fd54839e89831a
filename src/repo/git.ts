import { spawn } from "node:child_process";
import os from "node:os";

/**
 * Runs Omoi's own git. Every call starts from an environment with nothing of the host's git
 * set-up in it (no system or global config, no GIT_* variables, no prompts, no askpass) and
 * with the settings that could run a program pinned on the command line, where they outrank
 * any repository config. Configuration passed this way travels in GIT_CONFIG_PARAMETERS, so
 * it also binds the git processes git starts itself (upload-pack, remote helpers).
 */

/** Settings that could run code or send a credential elsewhere, pinned for every git Omoi runs. */
export const PINNED_CONFIG: readonly string[] = [
  "core.hooksPath=/dev/null",
  "core.fsmonitor=false",
  "core.sshCommand=false",
  "core.askPass=",
  "core.editor=false",
  "core.pager=cat",
  "core.alternateRefsCommand=",
  "credential.helper=",
  "diff.external=",
  "commit.gpgSign=false",
  "tag.gpgSign=false",
  "gpg.program=false",
  "protocol.allow=never",
  "protocol.file.allow=always",
  "protocol.https.allow=always",
  "protocol.http.allow=always",
  "safe.bareRepository=all",
  "init.defaultBranch=main",
  "advice.detachedHead=false",
  "gc.auto=0",
  "maintenance.auto=false",
];

export interface GitOptions {
  /** Folder git runs in (`-C`). */
  cwd?: string;
  /** Extra variables (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, author…). */
  env?: Record<string, string>;
  /** Extra `-c key=value` settings, after the pinned ones. */
  config?: readonly string[];
  /** Written to git's stdin. */
  input?: string | Buffer;
  /** Kill git after this long (default 10 minutes). */
  timeoutMs?: number;
  /** Largest stdout kept, in bytes (default 64 MiB); more is an error. */
  maxOutputBytes?: number;
  /** Kills git when aborted. */
  signal?: AbortSignal;
  /** Runs git at the lowest CPU priority (work done ahead of time, in the background). */
  lowPriority?: boolean;
}

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

export class GitCommandError extends Error {
  override readonly name = "GitCommandError";
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ""} failed (${code ?? "killed"}): ${stderr.trim().slice(0, 2000)}`);
  }
}

/** Variables from the server's own environment that git may see. */
const PASSTHROUGH = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"];

export function gitEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSTHROUGH) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return {
    ...env,
    HOME: "/nonexistent",
    XDG_CONFIG_HOME: "/nonexistent",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "",
    SSH_ASKPASS: "",
    GIT_PROTOCOL_FROM_USER: "0",
    GIT_OPTIONAL_LOCKS: "0",
    GIT_NO_REPLACE_OBJECTS: "1",
    ...extra,
  };
}

/** Runs git and resolves with its output; a non-zero exit rejects with `GitCommandError`. */
export async function git(args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  const result = await gitRaw(args, options);
  if (result.code !== 0) throw new GitCommandError(args, result.code, result.stderr);
  return result;
}

/** Like `git` but resolves with any exit code (for commands whose code is an answer). */
export function gitRaw(args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  const config = [...PINNED_CONFIG, ...(options.config ?? [])].flatMap((entry) => ["-c", entry]);
  const full = [...config, ...(options.cwd ? ["-C", options.cwd] : []), ...args];
  const maxBytes = options.maxOutputBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn("git", full, {
      env: gitEnvironment(options.env),
      stdio: ["pipe", "pipe", "pipe"],
      signal: options.signal,
      killSignal: "SIGKILL",
    });
    if (options.lowPriority && child.pid !== undefined) {
      try {
        os.setPriority(child.pid, os.constants.priority.PRIORITY_LOW);
      } catch {
        // Not allowed here: it runs at the usual priority.
      }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = "";
    let overflow = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 600_000);
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        overflow = true;
        child.kill("SIGKILL");
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8");
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (overflow) {
        reject(new GitCommandError(args, code, `output larger than ${maxBytes} bytes`));
        return;
      }
      resolve({ stdout: Buffer.concat(chunks), stderr, code: code ?? -1 });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** stdout of a git command as trimmed text. */
export async function gitText(args: readonly string[], options: GitOptions = {}): Promise<string> {
  return (await git(args, options)).stdout.toString("utf8").trim();
}
