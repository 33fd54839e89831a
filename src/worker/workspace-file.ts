import { constants } from "node:fs";
import { open, readlink, realpath } from "node:fs/promises";
import { dirname, join, sep } from "node:path";

/**
 * Reading a file the agent may have planted, from the trusted side. The agent controls the
 * workspace: a path may be a named pipe (an open would block forever), a device, a socket,
 * a huge file, or a symlink (or a folder swapped for one) leading out of the workspace. So a
 * read resolves the path, opens it without following a final symlink and without blocking,
 * checks what it opened (`fstat`, and where the descriptor really points), reads at most
 * `maxBytes`, and gives up after `timeoutMs` whatever the file system does.
 */
export interface WorkspaceReadLimits {
  maxBytes: number;
  timeoutMs: number;
}

export const DEFAULT_WORKSPACE_READ_LIMITS: WorkspaceReadLimits = {
  maxBytes: 1024 * 1024,
  timeoutMs: 2_000,
};

export type WorkspaceReadFailure =
  | "missing"
  | "outside_workspace"
  | "not_a_regular_file"
  | "too_large"
  | "timed_out";

export type WorkspaceRead =
  | { ok: true; text: string }
  | { ok: false; reason: WorkspaceReadFailure };

const OPEN_FLAGS =
  constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Whether `real` (already resolved) is the workspace folder or inside it. */
export function isInside(workspaceReal: string, real: string): boolean {
  return real === workspaceReal || real.startsWith(workspaceReal + sep);
}

/** The real path of `path`, or of its nearest existing parent joined with the rest (a file yet to be made). */
export async function realpathOfExisting(path: string): Promise<string> {
  let current = path;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await realpath(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      rest.push(current.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      current = parent;
    }
  }
}

/** Reads one workspace file as UTF-8 text, within `limits`; never blocks on what it finds. */
export function readWorkspaceFile(
  workspaceReal: string,
  path: string,
  limits: WorkspaceReadLimits = DEFAULT_WORKSPACE_READ_LIMITS,
): Promise<WorkspaceRead> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<WorkspaceRead>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: "timed_out" }), limits.timeoutMs);
  });
  return Promise.race([readBounded(workspaceReal, path, limits.maxBytes), timedOut]).finally(() =>
    clearTimeout(timer),
  );
}

async function readBounded(
  workspaceReal: string,
  path: string,
  maxBytes: number,
): Promise<WorkspaceRead> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return { ok: false, reason: "missing" };
  }
  if (!isInside(workspaceReal, real)) return { ok: false, reason: "outside_workspace" };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(real, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ELOOP: the final component became a symlink after it was resolved.
    return { ok: false, reason: code === "ENOENT" ? "missing" : "not_a_regular_file" };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { ok: false, reason: "not_a_regular_file" };
    // A folder on the way may have been swapped for a symlink between realpath and open:
    // judge by what the descriptor really is.
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => real);
    if (!isInside(workspaceReal, opened)) return { ok: false, reason: "outside_workspace" };
    if (stat.size > maxBytes) return { ok: false, reason: "too_large" };
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { ok: false, reason: "too_large" };
    return { ok: true, text: buffer.toString("utf8", 0, length) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
