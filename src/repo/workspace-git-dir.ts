import { constants, type Dirent } from "node:fs";
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
} from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { deflate } from "node:zlib";
import { RepoError } from "./errors.ts";

/*
 * The trusted side's reads and writes of a workspace's `.git`, done by Omoi's own code on
 * plain files rather than by git (which would honour the config the agent may have written).
 * Nothing here follows a symbolic link.
 */

const deflateAsync = promisify(deflate);
const MAX_ENTRIES = 500_000;
const HEAD_LIMIT = 4096;
/** Most of the workspace's `.git/info/exclude` Omoi reads; the whole lines within it are used. */
export const EXCLUDE_LIMIT = 64 * 1024;

/**
 * Refuses a `.git` that could make a fetch from it read outside the workspace or wait: `.git`
 * not a plain folder (a gitfile points anywhere), a symbolic link anywhere inside, anything
 * inside that is neither a regular file nor a folder (a FIFO, a socket or a device, which git
 * would block on or read without end; see `harmlessSpecial` for the two exceptions), a
 * `commondir`, or alternates (objects borrowed from another repository). Everything is
 * walked, loose objects included (the fetch opens those too), at one `readdir` per folder
 * and no `stat` per file: the entry's type comes with its name.
 */
export async function checkWorkspaceGitDir(workspace: string): Promise<void> {
  const gitDir = path.join(workspace, ".git");
  const top = await lstat(gitDir).catch(() => null);
  if (!top?.isDirectory()) {
    throw tampered("the workspace's .git is not a folder (a gitfile or a link)");
  }
  for (const name of ["commondir", "objects/info/alternates", "objects/info/http-alternates"]) {
    if (await lstat(path.join(gitDir, name)).catch(() => null)) {
      throw tampered(`the workspace's .git has ${name}, which borrows from another repository`);
    }
  }
  let seen = 0;
  const pending = [gitDir];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      seen += 1;
      if (seen > MAX_ENTRIES) throw tampered("the workspace's .git holds too many files");
      if (entry.isDirectory()) pending.push(path.join(folder, entry.name));
      else if (!entry.isFile()) {
        const relative = path.relative(workspace, path.join(folder, entry.name));
        if (!entry.isSymbolicLink() && harmlessSpecial(relative, entry)) continue;
        throw tampered(`the workspace's .git holds ${specialKind(entry)} (${relative})`);
      }
    }
  }
}

/**
 * The entries that may be other than a file or folder, because no git Omoi runs opens them:
 * `info/exclude` (Omoi reads it itself, as data, and ignores it unless it is a regular file)
 * and the socket of the agent's own git's file-system monitor.
 */
function harmlessSpecial(relative: string, entry: Dirent): boolean {
  if (relative === path.join(".git", "info", "exclude")) return true;
  return relative === path.join(".git", "fsmonitor--daemon.ipc") && entry.isSocket();
}

function specialKind(entry: Dirent): string {
  if (entry.isSymbolicLink()) return "a symbolic link";
  if (entry.isFIFO()) return "a FIFO";
  if (entry.isSocket()) return "a socket";
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return "a device node";
  return "something that is neither a file nor a folder";
}

function tampered(message: string): RepoError {
  return new RepoError("workspace_tampered", `${message}; Omoi did not fetch from it`);
}

/**
 * The branch the workspace's HEAD names (`null` when detached), read as hostile data: opened
 * without following a link and without blocking, read only if it is a regular file, and at
 * most `HEAD_LIMIT` bytes.
 */
export async function readWorkspaceHead(workspace: string): Promise<string | null> {
  const file = path.join(workspace, ".git", "HEAD");
  const handle = await open(
    file,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
  ).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ELOOP" ? tampered("the workspace's .git/HEAD is a symbolic link") : error;
  });
  try {
    if (!(await handle.stat()).isFile()) {
      throw tampered("the workspace's .git/HEAD is not a regular file");
    }
    const buffer = Buffer.alloc(HEAD_LIMIT);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_LIMIT, 0);
    const text = buffer.subarray(0, bytesRead).toString("utf8").trim();
    const match = /^ref: refs\/heads\/(.+)$/.exec(text);
    return match ? match[1] : null;
  } finally {
    await handle.close();
  }
}

export interface WorkspaceExclude {
  /** The patterns to honour, as git reads them (null: none). */
  patterns: Buffer | null;
  /** Why the file was not honoured, or only in part (for the log). */
  warning: string | null;
}

/**
 * The workspace's `.git/info/exclude`, read as hostile data: only a regular file is read
 * (opened without following a link and without blocking, so a FIFO or a device is never
 * waited on), only if the descriptor really is that file (a folder on the way swapped for a
 * link after Omoi's check leads elsewhere), and at most `EXCLUDE_LIMIT` bytes: beyond, only
 * the whole lines within the limit are kept. Anything else is ignored with a warning.
 */
export async function readWorkspaceExclude(workspace: string): Promise<WorkspaceExclude> {
  const relative = ".git/info/exclude";
  const ignored = (why: string): WorkspaceExclude => ({
    patterns: null,
    warning: `the workspace's ${relative} ${why}; it is not honoured`,
  });
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(
      path.join(workspace, relative),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { patterns: null, warning: null };
    return ignored(code === "ELOOP" ? "is a symbolic link" : `cannot be opened (${code})`);
  }
  try {
    if (!(await handle.stat()).isFile()) return ignored("is not a regular file");
    const expected = path.join(await realpath(workspace), relative);
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => expected);
    if (opened !== expected) return ignored("leads out of the workspace");
    const buffer = Buffer.alloc(EXCLUDE_LIMIT + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length <= EXCLUDE_LIMIT) return { patterns: buffer.subarray(0, length), warning: null };
    // A line cut at the limit could be a shorter pattern than the one written: it goes too.
    const kept = buffer.subarray(0, buffer.lastIndexOf(10, EXCLUDE_LIMIT - 1) + 1);
    return {
      patterns: kept,
      warning: `the workspace's ${relative} is larger than ${EXCLUDE_LIMIT} bytes; only its whole lines within the first ${EXCLUDE_LIMIT} bytes are honoured`,
    };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Makes `relative` (under `.git`) a folder, refusing any link on the way. */
async function ensureRealFolder(gitDir: string, relative: string): Promise<string> {
  let current = gitDir;
  for (const part of relative.split("/").filter(Boolean)) {
    current = path.join(current, part);
    const info = await lstat(current).catch(() => null);
    if (!info) {
      await mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
      continue;
    }
    if (!info.isDirectory()) throw tampered(`.git/${relative} is not a plain folder`);
  }
  return current;
}

/** Writes `data` to `target` by a fresh file in `.git` renamed over it. */
async function replaceFile(gitDir: string, target: string, data: Buffer | string): Promise<void> {
  const temporary = path.join(
    gitDir,
    `omoi-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`,
  );
  const handle = await open(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  await rename(temporary, target).catch(async (error) => {
    await rm(temporary, { force: true });
    throw error;
  });
}

export interface GitObject {
  id: string;
  type: string;
  content: Buffer;
}

/** Adds objects to the workspace's store as loose objects (existing ones are left alone). */
export async function writeLooseObjects(workspace: string, objects: GitObject[]): Promise<void> {
  const gitDir = path.join(workspace, ".git");
  await ensureRealFolder(gitDir, "objects");
  for (const object of objects) {
    if (!/^[0-9a-f]{40}$/.test(object.id)) throw new Error(`bad object id ${object.id}`);
    const folder = await ensureRealFolder(gitDir, `objects/${object.id.slice(0, 2)}`);
    const file = path.join(folder, object.id.slice(2));
    if (await lstat(file).catch(() => null)) continue;
    const header = Buffer.from(`${object.type} ${object.content.length}\0`);
    const data = await deflateAsync(Buffer.concat([header, object.content]));
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(
        file,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o444,
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw error;
    }
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
  }
}

/**
 * Moves the workspace's HEAD (its branch, or HEAD itself when detached) to `sha` and installs
 * `index`, so the agent's git sees Omoi's commit as its own history and a clean tree.
 */
export async function advanceWorkspace(
  workspace: string,
  branch: string | null,
  sha: string,
  index: Buffer,
): Promise<void> {
  const gitDir = path.join(workspace, ".git");
  if (branch === null) {
    await replaceFile(gitDir, path.join(gitDir, "HEAD"), `${sha}\n`);
  } else {
    const relative = `refs/heads/${branch}`;
    const folder = await ensureRealFolder(gitDir, path.posix.dirname(relative));
    await replaceFile(gitDir, path.join(folder, path.posix.basename(relative)), `${sha}\n`);
  }
  await replaceFile(gitDir, path.join(gitDir, "index"), index);
}

export async function readBounded(file: string, limit: number): Promise<Buffer> {
  const data = await readFile(file);
  if (data.length > limit) throw new Error(`${file} is larger than ${limit} bytes`);
  return data;
}
