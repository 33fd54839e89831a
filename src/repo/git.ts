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
  /**
   * Runs git in a process group of its own, and a timeout or abort kills the whole group:
   * the programs git started too (a fetch's upload-pack), which would otherwise live on
   * blocked and keep git's output open, so the call would never return.
   */
  killGroup?: boolean;
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
  /** git was stopped at its time limit (see `timeoutMs`). */
  timedOut: boolean;
}

export class GitCommandError extends Error {
  override readonly name = "GitCommandError";
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    /** git was stopped at its time limit. */
    readonly timedOut = false,
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
  if (result.code !== 0) {
    throw new GitCommandError(args, result.code, result.stderr, result.timedOut);
  }
  return result;
}

/** Like `git` but resolves with any exit code (for commands whose code is an answer). */
export function gitRaw(args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  const config = [...PINNED_CONFIG, ...(options.config ?? [])].flatMap((entry) => ["-c", entry]);
  const full = [...config, ...(options.cwd ? ["-C", options.cwd] : []), ...args];
  const maxBytes = options.maxOutputBytes ?? 64 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const group = options.killGroup === true;
  return new Promise((resolve, reject) => {
    const child = spawn("git", full, {
      env: gitEnvironment(options.env),
      stdio: ["pipe", "pipe", "pipe"],
      signal: group ? undefined : options.signal,
      killSignal: "SIGKILL",
      detached: group,
    });
    const kill = () => {
      if (group && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
          return;
        } catch {
          // The group is gone already.
        }
      }
      child.kill("SIGKILL");
    };
    if (group) {
      if (options.signal?.aborted) kill();
      options.signal?.addEventListener("abort", kill, { once: true });
    }
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
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        overflow = true;
        kill();
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8");
    });
    const settled = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
    };
    child.once("error", (error) => {
      settled();
      reject(error);
    });
    child.once("close", (code) => {
      settled();
      if (overflow) {
        reject(new GitCommandError(args, code, `output larger than ${maxBytes} bytes`));
        return;
      }
      if (timedOut) stderr = `stopped after ${timeoutMs / 1000} s (its time limit)\n${stderr}`;
      resolve({ stdout: Buffer.concat(chunks), stderr, code: code ?? -1, timedOut });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** stdout of a git command as trimmed text. */
export async function gitText(args: readonly string[], options: GitOptions = {}): Promise<string> {
  return (await git(args, options)).stdout.toString("utf8").trim();
}
