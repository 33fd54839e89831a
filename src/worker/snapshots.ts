import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { readWorkspaceFile } from "./workspace-file.ts";

/**
 * Setup is paid once: after a setup script succeeds, what it made (the new top-level entries
 * of the workspace, and the sandbox's home) is kept in a store outside every sandbox, keyed
 * by the environment, the script and the repository's dependency manifests. A later task
 * with the same key gets those copied back instead of running the script again.
 *
 * Everything copied was written by the script or the repository: hostile data. Copies never
 * follow a symlink (`cp -a` keeps links as links), the manifests are read as bounded regular
 * files only, and a restore never overwrites what the task's own checkout already has.
 */
export const SnapshotStoreConfig = z.object({
  /** Absolute; in the server's data dir, which the agent cannot read. */
  dir: z.string().min(1),
  /** Total size of the store; least recently used snapshots are removed beyond it. */
  maxBytes: z.number().int().positive(),
  /** A snapshot older than this is rebuilt (the script runs again). */
  maxAgeMs: z.number().int().positive(),
});
export type SnapshotStoreConfig = z.infer<typeof SnapshotStoreConfig>;

export const DEFAULT_SNAPSHOT_MAX_BYTES = 5 * 1024 ** 3;
export const DEFAULT_SNAPSHOT_MAX_AGE_MS = 7 * 24 * 3600_000;

/** The store's settings from `OMOI_SNAPSHOT_MAX_BYTES` / `OMOI_SNAPSHOT_MAX_AGE_MS`. */
export function snapshotStoreConfig(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): SnapshotStoreConfig {
  return {
    dir,
    maxBytes:
      positiveInteger(env.OMOI_SNAPSHOT_MAX_BYTES, "OMOI_SNAPSHOT_MAX_BYTES") ??
      DEFAULT_SNAPSHOT_MAX_BYTES,
    maxAgeMs:
      positiveInteger(env.OMOI_SNAPSHOT_MAX_AGE_MS, "OMOI_SNAPSHOT_MAX_AGE_MS") ??
      DEFAULT_SNAPSHOT_MAX_AGE_MS,
  };
}

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) {
    throw new Error(`${name} must be a positive integer, got '${value}'`);
  }
  return number;
}

/** Dependency manifests whose content is part of the key (at the workspace's top level). */
const MANIFESTS = [
  "package.json",
  "package-lock.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "pyproject.toml",
  "poetry.lock",
  "Cargo.toml",
  "Cargo.lock",
  "go.mod",
  "go.sum",
  "Gemfile",
  "Gemfile.lock",
  "pom.xml",
];
const MANIFEST_PATTERNS = [/^requirements.*\.txt$/, /^build\.gradle.*$/];
const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The snapshot key: a hash of the environment id, the script text and every dependency
 * manifest present. A manifest that is not a readable regular file within bounds (a pipe, a
 * symlink out, a huge file) is hashed as its failure reason, so it never blocks and never
 * matches a real file's content.
 */
export async function snapshotKey(
  environmentId: string,
  script: string,
  workspace: string,
): Promise<string> {
  const hash = createHash("sha256");
  const part = (text: string) => hash.update(`${Buffer.byteLength(text)}:${text}\n`);
  part("omoi-snapshot-v1");
  part(environmentId);
  part(script);
  const workspaceReal = await realpath(workspace);
  const names = (await readdir(workspaceReal).catch(() => [] as string[]))
    .filter((name) => MANIFESTS.includes(name) || MANIFEST_PATTERNS.some((re) => re.test(name)))
    .sort();
  for (const name of names) {
    const read = await readWorkspaceFile(workspaceReal, path.join(workspaceReal, name), {
      maxBytes: MANIFEST_MAX_BYTES,
      timeoutMs: 2_000,
    });
    part(name);
    part(read.ok ? `=${read.text}` : `!${read.reason}`);
  }
  return hash.digest("hex");
}

const Meta = z.object({
  createdAt: z.number(),
  lastUsedAt: z.number(),
  bytes: z.number(),
  /** The workspace's top-level entries the script made. */
  entries: z.array(z.string()),
});
type Meta = z.infer<typeof Meta>;

const KEY = /^[0-9a-f]{64}$/;

async function readMeta(folder: string): Promise<Meta | null> {
  try {
    const parsed = Meta.safeParse(
      JSON.parse(await readFile(path.join(folder, "meta.json"), "utf8")),
    );
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The workspace's top-level names, to tell afterwards what the script made. */
export async function workspaceEntries(workspace: string): Promise<Set<string>> {
  return new Set(await readdir(workspace).catch(() => [] as string[]));
}

/**
 * Copies a snapshot back into a fresh sandbox: the entries the script made into the
 * workspace, its home into the sandbox's home. Nothing already there is overwritten.
 * Returns false (and the script runs) when there is none, it is too old, or it is unusable.
 */
export async function restoreSnapshot(
  store: SnapshotStoreConfig,
  key: string,
  target: { workspace: string; home: string },
  now = Date.now(),
): Promise<boolean> {
  if (!KEY.test(key)) return false;
  const folder = path.join(store.dir, key);
  const meta = await readMeta(folder);
  if (!meta) return false;
  if (now - meta.createdAt > store.maxAgeMs) {
    await removeSnapshot(store, key);
    return false;
  }
  try {
    for (const name of meta.entries) {
      const source = path.join(folder, "workspace", name);
      if (await exists(path.join(target.workspace, name))) continue;
      await copy(source, path.join(target.workspace, name));
    }
    await mkdir(target.home, { recursive: true });
    await copyContents(path.join(folder, "home"), target.home);
  } catch {
    return false;
  }
  await writeFile(
    path.join(folder, "meta.json"),
    JSON.stringify({ ...meta, lastUsedAt: now } satisfies Meta),
  ).catch(() => undefined);
  return true;
}

/**
 * Keeps what a successful setup made. Written to a temporary folder in the store and renamed
 * into place, so a reader never sees half a snapshot; then the store is trimmed to its bound.
 */
export async function saveSnapshot(
  store: SnapshotStoreConfig,
  key: string,
  source: { workspace: string; home: string; before: Set<string> },
  now = Date.now(),
): Promise<void> {
  if (!KEY.test(key)) return;
  await mkdir(store.dir, { recursive: true, mode: 0o700 });
  const temp = path.join(store.dir, `.tmp-${randomUUID()}`);
  try {
    await mkdir(path.join(temp, "workspace"), { recursive: true });
    const entries = [...(await workspaceEntries(source.workspace))]
      .filter((name) => !source.before.has(name) && name !== ".git")
      .sort();
    for (const name of entries) {
      await copy(path.join(source.workspace, name), path.join(temp, "workspace", name));
    }
    await mkdir(path.join(temp, "home"), { recursive: true });
    await copyContents(source.home, path.join(temp, "home"));
    const bytes = await sizeOf(temp);
    if (bytes > store.maxBytes) return;
    const meta: Meta = { createdAt: now, lastUsedAt: now, bytes, entries };
    await writeFile(path.join(temp, "meta.json"), JSON.stringify(meta));
    const folder = path.join(store.dir, key);
    await rm(folder, { recursive: true, force: true });
    // Another task may have saved the same key meanwhile: its copy is as good as ours.
    await rename(temp, folder).catch(() => undefined);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  await evictSnapshots(store);
}

/** Removes least recently used snapshots until the store fits `maxBytes`. */
export async function evictSnapshots(store: SnapshotStoreConfig): Promise<string[]> {
  const names = await readdir(store.dir).catch(() => [] as string[]);
  const snapshots: { key: string; meta: Meta }[] = [];
  for (const key of names) {
    if (!KEY.test(key)) continue;
    const meta = await readMeta(path.join(store.dir, key));
    if (meta) snapshots.push({ key, meta });
    else await removeSnapshot(store, key);
  }
  snapshots.sort((a, b) => a.meta.lastUsedAt - b.meta.lastUsedAt);
  let total = snapshots.reduce((sum, { meta }) => sum + meta.bytes, 0);
  const removed: string[] = [];
  for (const { key, meta } of snapshots) {
    if (total <= store.maxBytes) break;
    await removeSnapshot(store, key);
    total -= meta.bytes;
    removed.push(key);
  }
  return removed;
}

async function removeSnapshot(store: SnapshotStoreConfig, key: string) {
  // Renamed away first, so a concurrent restore sees either the whole snapshot or none.
  const doomed = path.join(store.dir, `.tmp-${randomUUID()}`);
  await rename(path.join(store.dir, key), doomed).catch(() => undefined);
  await rm(doomed, { recursive: true, force: true });
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

/** `cp -a`: modes, times and symlinks kept as symlinks (never followed); reflinks where possible. */
function copy(source: string, target: string): Promise<void> {
  return run("cp", ["-a", "--reflink=auto", "--", source, target]);
}

/** Copies what is inside `source` into `target`, keeping what `target` already has. */
function copyContents(source: string, target: string): Promise<void> {
  return run("cp", ["-a", "--reflink=auto", "--no-clobber", "--", `${source}/.`, target]);
}

/** Bytes on disk, without following links. */
async function sizeOf(folder: string): Promise<number> {
  let total = 0;
  const entries = await readdir(folder, { recursive: true });
  for (const entry of entries) {
    const stat = await lstat(path.join(folder, entry)).catch(() => null);
    if (stat) total += stat.size;
  }
  return total;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk.slice(0, 2000);
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} failed: ${stderr.trim()}`)),
    );
  });
}
