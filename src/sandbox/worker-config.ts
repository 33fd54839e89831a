import { z } from "zod";
import { LaunchEnvironment } from "../environment/launch.ts";
import { PermissionMode, PermissionRule } from "../protocol/approval.ts";
import { parseWith } from "../protocol/json.ts";
import { SandboxLimits } from "../protocol/task.ts";
import { SnapshotStoreConfig } from "../worker/snapshots.ts";
import type { WorkerLaunchSpec } from "./provider.ts";

/** The environment variable the local provider hands a worker its configuration in. */
export const WORKER_CONFIG_ENV = "OMOI_WORKER_CONFIG";
/** What the local provider writes on a worker's stdin once its workspace is prepared. */
export const WORKSPACE_READY = "ready\n";

/**
 * What a worker is started with: the launch spec, with the provider's decisions filled in
 * (the workspace is always resolved, plus the state dir and the paths the agent must not read).
 */
export const WorkerConfig = z.object({
  sandboxId: z.string().min(1),
  taskId: z.string().min(1).nullable(),
  serverUrl: z.url(),
  workerToken: z.string().min(1),
  prompt: z.string().nullable(),
  model: z.string().min(1).nullable(),
  maxTurns: z.number().int().positive().nullable(),
  maxBudgetUsd: z.number().nonnegative().nullable(),
  permissionMode: PermissionMode.optional(),
  allowRules: z.array(PermissionRule).max(1000).optional(),
  /** The workspace is still being prepared: wait for `ready` on stdin before setup and agent. */
  awaitWorkspace: z.boolean().optional(),
  /** Every bound filled in (the task's over the provider's defaults). */
  limits: SandboxLimits.required(),
  resumeSessionId: z.string().min(1).nullable(),
  /** Absolute; exists. The agent's only writable project folder. */
  workspace: z.string().min(1),
  modelBaseUrl: z.url(),
  modelEnv: z.record(z.string(), z.string()),
  orphanTimeoutMs: z.number().int().positive().optional(),
  environment: LaunchEnvironment.nullable().optional(),
  /** A warm-pool sandbox: start the agent and wait for a task's prompt over the channel. */
  pooled: z.boolean().optional(),
  /** Absolute; exists. Per-sandbox folder for the worker (worker.log) and the agent's state. */
  stateDir: z.string().min(1),
  /** Absolute paths the agent must not read (the server data dir…); pass to `confine()`. */
  denyRead: z.array(z.string().min(1)),
  /** Absolute folders the agent may read beyond the system's toolchain; pass to `confine()`. */
  allowRead: z.array(z.string().min(1)).default([]),
  /** Where prepared sandboxes are kept (outside every sandbox); none: setup always runs. */
  snapshots: SnapshotStoreConfig.optional(),
});
export type WorkerConfig = z.infer<typeof WorkerConfig>;

// A worker config is a launch spec with every provider decision made.
type Check<T extends WorkerLaunchSpec> = T;
export type WorkerConfigIsALaunchSpec = Check<WorkerConfig>;

/** Reads and validates the worker's configuration from its environment; throws a readable error. */
export function readWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const text = env[WORKER_CONFIG_ENV];
  if (text === undefined) throw new Error(`${WORKER_CONFIG_ENV} is not set`);
  const parsed = parseWith(WorkerConfig, text);
  if (!parsed.ok) throw new Error(`${WORKER_CONFIG_ENV} is invalid: ${parsed.error}`);
  return parsed.value;
}
