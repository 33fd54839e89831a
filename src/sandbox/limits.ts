import { statfsSync } from "node:fs";
import os from "node:os";
import type { SandboxLimits } from "../protocol/task.ts";
import type { ResolvedLimits } from "./limit-watchdog.ts";

const MB = 1024 * 1024;

/**
 * Default bounds of one sandbox, sized to this machine: memory and disk are shared out
 * between `maxSandboxes` sandboxes (three quarters of the RAM, half of the data dir's free
 * space), with a floor a real agent needs. `overrides` (the server's configuration) win.
 */
export function machineDefaultLimits(options: {
  dataDir: string;
  maxSandboxes: number;
  overrides?: SandboxLimits;
}): ResolvedLimits {
  const share = Math.max(1, options.maxSandboxes);
  let freeBytes = 64 * 1024 * MB;
  try {
    const stats = statfsSync(options.dataDir);
    freeBytes = stats.bavail * stats.bsize;
  } catch {
    // The data dir is made at start; until then assume a modest disk.
  }
  return {
    // Processes and threads: the agent's CLI alone runs a few dozen threads.
    processes: 2048,
    memory_mb: Math.max(512, Math.floor((os.totalmem() * 0.75) / share / MB)),
    disk_mb: Math.max(1024, Math.floor((freeBytes * 0.5) / share / MB)),
    keep_background_processes: false,
    ...definedOnly(options.overrides),
  };
}

/** What a sandbox runs with: the task's own limits over the defaults. */
export function resolveLimits(
  requested: SandboxLimits | null | undefined,
  defaults: ResolvedLimits,
): ResolvedLimits {
  return { ...defaults, ...definedOnly(requested ?? undefined) };
}

function definedOnly(limits: SandboxLimits | undefined): SandboxLimits {
  return Object.fromEntries(
    Object.entries(limits ?? {}).filter(([, value]) => value !== undefined),
  ) as SandboxLimits;
}
