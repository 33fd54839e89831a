import type { LaunchEnvironment } from "../environment/launch.ts";
import type { PermissionMode, PermissionRule } from "../protocol/approval.ts";
import type { SandboxLimits } from "../protocol/task.ts";

/**
 * A sandbox provider runs one worker (and, through it, one agent) in an isolated place.
 * `local` uses @anthropic-ai/sandbox-runtime on this machine; remote providers (Daytona…)
 * implement the same interface. A capability a provider lacks throws
 * `UnsupportedCapabilityError` rather than silently doing nothing.
 */
export interface SandboxCapabilities {
  /** Its workers survive a server restart and reconnect by themselves. */
  survivesServerRestart: boolean;
  /** Workspaces persist after the sandbox ends, so a later sandbox can reuse one. */
  persistentWorkspace: boolean;
  networkAllowlist: boolean;
}

export interface WorkerLaunchSpec {
  sandboxId: string;
  taskId: string | null;
  /** Where the worker connects: the server's base URL (http://host:port). */
  serverUrl: string;
  /** Per-sandbox secret the worker presents in its channel hello. */
  workerToken: string;
  prompt: string | null;
  model: string | null;
  maxTurns: number | null;
  maxBudgetUsd: number | null;
  /** The permission mode the agent starts in (absent: `bypassPermissions`). */
  permissionMode?: PermissionMode;
  /** Rules a person chose "Always allow" for earlier in the task: the agent is not asked again. */
  allowRules?: PermissionRule[];
  /** The task's resource bounds; the provider fills the rest with its defaults. */
  limits: SandboxLimits | null;
  /** SDK session to resume (follow-up after the sandbox was closed). */
  resumeSessionId: string | null;
  /** Workspace folder to reuse; the provider makes one when absent. */
  workspace: string | null;
  /** Model endpoint the agent may reach (the only host allowed on its network). */
  modelBaseUrl: string;
  /** Model credentials; kept out of the sandbox where the provider can. */
  modelEnv: Record<string, string>;
  /** How long the worker tries to reach a server before it stops its agent (worker default: 10 min). */
  orphanTimeoutMs?: number;
  /** The task's environment: setup, network per phase, variables and secrets. */
  environment?: LaunchEnvironment | null;
  /**
   * A warm-pool sandbox: set up, the agent started, waiting for the task that claims it (its
   * prompt and settings come over the worker channel).
   */
  pooled?: boolean;
}

export interface StartOptions {
  workspaceReady?: Promise<void>;
}

export interface SandboxHandle {
  sandboxId: string;
  workspace: string;
  pid: number | null;
}

export type SandboxProcessStatus = "running" | "exited" | "unknown";

export interface SandboxProvider {
  readonly name: string;
  readonly capabilities: SandboxCapabilities;
  /** Checks what the provider needs (system packages…); throws a clear error when missing. */
  preflight(): Promise<void>;
  /**
   * Creates the sandbox and starts its worker; resolves once the process is spawned. With
   * `workspaceReady`, the workspace's content is still being prepared: the worker starts up
   * but runs no setup and no agent until it resolves (when it rejects, the caller stops the
   * worker). Until then the workspace folder itself may be replaced (a prepared checkout is
   * renamed onto it): hold it by path only — no bind mount, open handle or working
   * directory in it — before `workspaceReady` resolves. That preparation begins only once
   * `start` has resolved, so `start` must not wait for it.
   */
  start(spec: WorkerLaunchSpec, options?: StartOptions): Promise<SandboxHandle>;
  /** Kills the whole process tree; resolves when nothing of it runs any more. */
  stop(handle: SandboxHandle): Promise<void>;
  status(handle: SandboxHandle): Promise<SandboxProcessStatus>;
}

export class UnsupportedCapabilityError extends Error {
  override readonly name = "UnsupportedCapabilityError";
  constructor(provider: string, capability: string) {
    super(`sandbox provider '${provider}' does not support ${capability}`);
  }
}
