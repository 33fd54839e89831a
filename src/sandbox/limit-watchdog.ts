import { lstat, readdir, readFile, statfs } from "node:fs/promises";
import path from "node:path";
import type { SandboxLimits } from "../protocol/task.ts";
import { processTree } from "./process-tree.ts";
import type { ResourceGroup } from "./resource-group.ts";

/** Every limit filled in: what one sandbox runs with. */
export type ResolvedLimits = Required<SandboxLimits>;

export type LimitName = "processes" | "memory" | "disk";

/** A bound the sandbox went past: `value` and `max` in processes or bytes. */
export interface LimitBreach {
  limit: LimitName;
  value: number;
  max: number;
  unit: "processes" | "bytes";
}

export interface LimitWatchdogOptions {
  limits: ResolvedLimits;
  /** The kernel's bound, when the host has one; the watchdog then reads its counters. */
  group: ResourceGroup | null;
  /** The sandbox's top processes (the spawned launchers); their trees are the sandbox. */
  roots: () => number[];
  /** Folders whose size counts against `disk_mb` (the workspace, the agent's home and tmp). */
  diskFolders: string[];
  onBreach(breach: LimitBreach): void;
  intervalMs?: number;
  diskIntervalMs?: number;
}

export interface LimitWatchdog {
  /** Checks every limit now (the disk too); the first breach found, or null. */
  check(): Promise<LimitBreach | null>;
  stop(): void;
}

const MB = 1024 * 1024;
const PAGE_SIZE = 4096;
/** A workspace walk stops counting past this many entries (the bound is then judged on what it saw). */
const MAX_WALK_ENTRIES = 500_000;

/**
 * Watches one sandbox against its limits and reports the first breach once. With a cgroup
 * the kernel enforces processes and memory and the watchdog reads what it refused or
 * killed; without one it counts the sandbox's process trees and their resident memory plus
 * every private tmpfs mounted inside (those files live in RAM), and the breach ends the run.
 * Disk is always a watchdog: the size of the workspace and the agent's own folders.
 */
export function startLimitWatchdog(options: LimitWatchdogOptions): LimitWatchdog {
  const { limits } = options;
  const maxMemory = limits.memory_mb * MB;
  const maxDisk = limits.disk_mb * MB;
  let reported = false;
  let stopped = false;
  let lastDiskCheck = 0;
  let running: Promise<LimitBreach | null> | null = null;

  const processesAndMemory = async (): Promise<LimitBreach | null> => {
    if (options.group) {
      const usage = await options.group.read();
      if (usage.processLimitHits > 0 || usage.processes > limits.processes) {
        return {
          limit: "processes",
          value: Math.max(usage.processes, limits.processes),
          max: limits.processes,
          unit: "processes",
        };
      }
      if (usage.oomKills > 0 || usage.memoryBytes > maxMemory) {
        return {
          limit: "memory",
          value: Math.max(usage.memoryPeakBytes, usage.memoryBytes),
          max: maxMemory,
          unit: "bytes",
        };
      }
      return null;
    }
    const pids = new Set<number>();
    for (const root of options.roots()) for (const pid of processTree(root)) pids.add(pid);
    const tasks = await countTasks([...pids]);
    if (tasks > limits.processes) {
      return { limit: "processes", value: tasks, max: limits.processes, unit: "processes" };
    }
    const memory = (await residentBytes([...pids])) + (await privateTmpfsBytes([...pids]));
    if (memory > maxMemory)
      return { limit: "memory", value: memory, max: maxMemory, unit: "bytes" };
    return null;
  };

  const disk = async (): Promise<LimitBreach | null> => {
    lastDiskCheck = Date.now();
    let total = 0;
    for (const folder of options.diskFolders) total += await folderBytes(folder);
    return total > maxDisk ? { limit: "disk", value: total, max: maxDisk, unit: "bytes" } : null;
  };

  const run = async (withDisk: boolean): Promise<LimitBreach | null> => {
    const breach = (await processesAndMemory()) ?? (withDisk ? await disk() : null);
    if (breach && !reported && !stopped) {
      reported = true;
      options.onBreach(breach);
    }
    return breach;
  };

  const check = (withDisk: boolean): Promise<LimitBreach | null> => {
    running ??= run(withDisk).finally(() => {
      running = null;
    });
    return running;
  };

  const diskIntervalMs = options.diskIntervalMs ?? 5_000;
  const timer = setInterval(() => {
    if (running || reported) return;
    void check(Date.now() - lastDiskCheck >= diskIntervalMs).catch(() => undefined);
  }, options.intervalMs ?? 500);
  timer.unref();

  return {
    check: async () => {
      await running?.catch(() => undefined);
      return check(true);
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** Processes and their threads, as the kernel's pids controller would count them. */
async function countTasks(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const entries = await readdir(`/proc/${pid}/task`).catch(() => null);
    total += entries ? entries.length : 0;
  }
  return total;
}

async function residentBytes(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const statm = await readFile(`/proc/${pid}/statm`, "utf8").catch(() => "");
    total += (Number(statm.split(" ")[1]) || 0) * PAGE_SIZE;
  }
  return total;
}

/** `device → mount point` of the tmpfs mounts in a mountinfo text. */
function tmpfsMounts(mountinfo: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (!after?.startsWith("tmpfs ")) continue;
    const fields = before.split(" ");
    if (!mounts.has(fields[2])) mounts.set(fields[2], fields[4].replace(/\\040/g, " "));
  }
  return mounts;
}

/**
 * Bytes held by the tmpfs mounts private to the sandbox (bubblewrap's /dev, srt's hidden
 * folders): files there live in RAM. A mount whose device the host also has (its /dev/shm
 * seen through the read-only root) is not the sandbox's. Read through /proc/<pid>/root.
 */
async function privateTmpfsBytes(pids: number[]): Promise<number> {
  const host = tmpfsMounts(await readFile("/proc/self/mountinfo", "utf8").catch(() => ""));
  const seen = new Set<string>(host.keys());
  let total = 0;
  for (const pid of pids) {
    const mounts = tmpfsMounts(await readFile(`/proc/${pid}/mountinfo`, "utf8").catch(() => ""));
    for (const [device, mountPoint] of mounts) {
      if (seen.has(device)) continue;
      seen.add(device);
      const stats = await statfs(path.join(`/proc/${pid}/root`, mountPoint)).catch(() => null);
      if (stats) total += (stats.blocks - stats.bfree) * stats.bsize;
    }
  }
  return total;
}

/** Bytes a folder takes on disk (allocated blocks; symlinks not followed). */
async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  let entries = 0;
  const queue = [folder];
  while (queue.length > 0 && entries < MAX_WALK_ENTRIES) {
    const current = queue.pop()!;
    const names = await readdir(current).catch(() => [] as string[]);
    for (const name of names) {
      entries++;
      const full = path.join(current, name);
      const stat = await lstat(full).catch(() => null);
      if (!stat) continue;
      total += stat.blocks * 512;
      if (stat.isDirectory()) queue.push(full);
    }
  }
  return total;
}
