import { existsSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { shellQuote } from "./shell-quote.ts";

/**
 * A kernel-enforced bound on one sandbox's processes and memory: a cgroup (v2 when the host
 * has the unified hierarchy with the pids and memory controllers delegable, v1 otherwise)
 * that the sandbox's first process joins before it starts anything. The kernel refuses a
 * fork past `pids.max` whoever asks — root included, which `RLIMIT_NPROC` does not bind —
 * and charges every page the sandbox uses (tmpfs files included) to its memory limit.
 * Needs write access to the cgroup file system (root, or a delegated subtree); without
 * it `createResourceGroup` returns null and the watchdog alone bounds the sandbox.
 */
export interface ResourceGroup {
  readonly kind: "cgroup-v1" | "cgroup-v2";
  /** A shell command that moves the shell running it (`$$`) into the group. */
  readonly joinCommand: string;
  read(): Promise<ResourceUsage>;
  /** SIGKILLs everything in the group until it is empty. */
  killAll(): Promise<void>;
  /** Kills what is left and removes the group. */
  remove(): Promise<void>;
}

export interface ResourceUsage {
  processes: number;
  memoryBytes: number;
  /** Highest memory use seen (for the report), or `memoryBytes` where the kernel keeps none. */
  memoryPeakBytes: number;
  /** Forks the kernel refused at the process bound. */
  processLimitHits: number;
  /** Processes the kernel killed at the memory bound. */
  oomKills: number;
}

export interface ResourceBounds {
  processes: number;
  memoryBytes: number;
}

const CGROUP_ROOT = "/sys/fs/cgroup";
/** Omoi's groups live under this folder of each hierarchy, one per sandbox. */
const PARENT = "omoi";
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The group's folders: [pids, memory] for v1, [unified] for v2. */
function groupFolders(name: string): { kind: ResourceGroup["kind"]; folders: string[] } {
  if (existsSync(path.join(CGROUP_ROOT, "cgroup.controllers"))) {
    return { kind: "cgroup-v2", folders: [path.join(CGROUP_ROOT, PARENT, name)] };
  }
  return {
    kind: "cgroup-v1",
    folders: [
      path.join(CGROUP_ROOT, "pids", PARENT, name),
      path.join(CGROUP_ROOT, "memory", PARENT, name),
    ],
  };
}

async function readText(file: string): Promise<string> {
  return readFile(file, "utf8").catch(() => "");
}

/** `key value` lines (pids.events, memory.events, memory.oom_control) → the value of `key`. */
function counter(text: string, key: string): number {
  const line = text.split("\n").find((entry) => entry.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) || 0 : 0;
}

async function number(file: string): Promise<number> {
  return Number((await readText(file)).trim()) || 0;
}

async function members(folder: string): Promise<number[]> {
  return (await readText(path.join(folder, "cgroup.procs")))
    .split("\n")
    .filter(Boolean)
    .map(Number);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function killFolder(folder: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  // cgroup v2 can kill a whole group at once (Linux 5.14+); otherwise signal each member,
  // again and again, until forks in flight are caught too.
  await writeFile(path.join(folder, "cgroup.kill"), "1").catch(() => undefined);
  for (;;) {
    const pids = await members(folder);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`processes still in ${folder} after SIGKILL: ${pids.join(", ")}`);
    }
    await sleep(10);
  }
}

async function removeFolders(folders: string[]): Promise<void> {
  for (const folder of folders) {
    if (!existsSync(folder)) continue;
    await killFolder(folder);
    // An emptied group may still count its last exiting task for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(folder);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
        if (attempt >= 100) throw error;
        await sleep(10);
      }
    }
  }
}

/** Kills whatever is left in a sandbox's group (a worker that died without cleaning up) and removes it. */
export async function removeResourceGroup(name: string): Promise<void> {
  if (!SAFE_NAME.test(name)) return;
  await removeFolders(groupFolders(name).folders);
}

/** Creates the sandbox's group with its bounds, or null when this host does not let us. */
export async function createResourceGroup(
  name: string,
  bounds: ResourceBounds,
): Promise<ResourceGroup | null> {
  if (!SAFE_NAME.test(name)) throw new Error(`'${name}' is not usable as a cgroup name`);
  const { kind, folders } = groupFolders(name);
  try {
    if (kind === "cgroup-v2") {
      const parent = path.dirname(folders[0]);
      // Controllers must be enabled top-down; the root may hold processes, Omoi's folder may not.
      await writeFile(path.join(CGROUP_ROOT, "cgroup.subtree_control"), "+pids +memory");
      await mkdir(parent, { recursive: true });
      await writeFile(path.join(parent, "cgroup.subtree_control"), "+pids +memory");
      await mkdir(folders[0], { recursive: true });
      await writeFile(path.join(folders[0], "pids.max"), String(bounds.processes));
      await writeFile(path.join(folders[0], "memory.max"), String(bounds.memoryBytes));
      await writeFile(path.join(folders[0], "memory.swap.max"), "0").catch(() => undefined);
    } else {
      const [pids, memory] = folders;
      await mkdir(pids, { recursive: true });
      await mkdir(memory, { recursive: true });
      await writeFile(path.join(pids, "pids.max"), String(bounds.processes));
      await writeFile(path.join(memory, "memory.limit_in_bytes"), String(bounds.memoryBytes));
    }
  } catch {
    await removeFolders(folders).catch(() => undefined);
    return null;
  }
  const joinCommand = folders
    .map((folder) => `echo $$ > ${shellQuote(path.join(folder, "cgroup.procs"))}`)
    .join(" && ");
  const read = async (): Promise<ResourceUsage> => {
    if (kind === "cgroup-v2") {
      const [folder] = folders;
      const memoryBytes = await number(path.join(folder, "memory.current"));
      return {
        processes: await number(path.join(folder, "pids.current")),
        memoryBytes,
        memoryPeakBytes: (await number(path.join(folder, "memory.peak"))) || memoryBytes,
        processLimitHits: counter(await readText(path.join(folder, "pids.events")), "max"),
        oomKills: counter(await readText(path.join(folder, "memory.events")), "oom_kill"),
      };
    }
    const [pids, memory] = folders;
    const memoryBytes = await number(path.join(memory, "memory.usage_in_bytes"));
    return {
      processes: await number(path.join(pids, "pids.current")),
      memoryBytes,
      memoryPeakBytes:
        (await number(path.join(memory, "memory.max_usage_in_bytes"))) || memoryBytes,
      processLimitHits: counter(await readText(path.join(pids, "pids.events")), "max"),
      oomKills: counter(await readText(path.join(memory, "memory.oom_control")), "oom_kill"),
    };
  };
  return {
    kind,
    joinCommand,
    read,
    killAll: async () => {
      for (const folder of folders) await killFolder(folder);
    },
    remove: () => removeFolders(folders),
  };
}
