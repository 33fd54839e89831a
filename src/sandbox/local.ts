import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseWith } from "../protocol/json.ts";
import type { SandboxLimits } from "../protocol/task.ts";
import { type SnapshotStoreConfig, snapshotStoreConfig } from "../worker/snapshots.ts";
import type { ResolvedLimits } from "./limit-watchdog.ts";
import { machineDefaultLimits, resolveLimits } from "./limits.ts";
import { checkSandboxRuntime } from "./preflight.ts";
import { isAlive, killProcessTree, readProcessStat } from "./process-tree.ts";
import type {
  SandboxCapabilities,
  SandboxHandle,
  SandboxProcessStatus,
  SandboxProvider,
  StartOptions,
  WorkerLaunchSpec,
} from "./provider.ts";
import { removeResourceGroup } from "./resource-group.ts";
import { buildWorker } from "./worker-build.ts";
import { WORKER_CONFIG_ENV, WORKSPACE_READY, type WorkerConfig } from "./worker-config.ts";

/** The pino-like logging the provider uses. */
export interface SandboxLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface LocalSandboxProviderOptions {
  /** The server's data dir: workspaces/ and sandbox-state/ live under it, and the agent may not read it. */
  dataDir: string;
  /** Default: node --import tsx <project>/src/worker/main.ts */
  workerCommand?: string[];
  /** More paths the agent must not read, besides the data dir. */
  denyRead?: string[];
  /** Folders every agent may read besides the system's toolchain (another toolchain…). */
  allowRead?: string[];
  /** How many sandboxes may run at once: memory and disk defaults are shared out between them. */
  maxSandboxes?: number;
  /** The server's defaults for every sandbox's limits; unset fields are sized to the machine. */
  limits?: SandboxLimits;
  logger?: SandboxLogger;
}

/** What the provider records beside a worker, to tell "our pid" from a reused one later. */
const WorkerRecord = z.object({ pid: z.number().int().positive(), startTime: z.string() });

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Variables a worker inherits from the server; everything else it gets in its config. */
const WORKER_ENV_PASSTHROUGH = ["PATH", "HOME", "LANG", "TZ", "NODE_ENV", "TMPDIR"];

export function defaultWorkerCommand(): string[] {
  const workerMain = fileURLToPath(new URL("../worker/main.ts", import.meta.url));
  // Resolved here, not by the worker: its cwd is the sandbox's state dir, where `tsx` is unknown.
  return [process.execPath, "--import", import.meta.resolve("tsx"), workerMain];
}

/**
 * Runs each sandbox's worker as a detached process group on this machine; the worker
 * confines its agent with @anthropic-ai/sandbox-runtime (see confine.ts).
 */
export class LocalSandboxProvider implements SandboxProvider {
  readonly name = "local";
  readonly capabilities: SandboxCapabilities = {
    survivesServerRestart: true,
    persistentWorkspace: true,
    networkAllowlist: true,
  };
  readonly #dataDir: string;
  #workerCommand: string[] | undefined;
  readonly #denyRead: string[];
  readonly #logger: SandboxLogger | undefined;
  readonly #options: LocalSandboxProviderOptions;
  #defaultLimits: ResolvedLimits | undefined;
  readonly #snapshots: SnapshotStoreConfig;

  constructor(options: LocalSandboxProviderOptions) {
    this.#dataDir = path.resolve(options.dataDir);
    this.#workerCommand = options.workerCommand;
    this.#denyRead = (options.denyRead ?? []).map((entry) => path.resolve(entry));
    this.#logger = options.logger;
    this.#options = options;
    this.#snapshots = snapshotStoreConfig(path.join(this.#dataDir, "snapshots"));
  }

  /** Every sandbox's limits unless its task says otherwise (sized to the machine once). */
  get defaultLimits(): ResolvedLimits {
    this.#defaultLimits ??= machineDefaultLimits({
      dataDir: this.#dataDir,
      maxSandboxes: this.#options.maxSandboxes ?? 1,
      overrides: this.#options.limits,
    });
    return this.#defaultLimits;
  }

  async preflight(): Promise<void> {
    await checkSandboxRuntime();
    if (this.#workerCommand) return;
    // A compiled worker starts a third of a second faster than one run through tsx.
    const started = Date.now();
    const built = await buildWorker().catch((error: Error) => {
      this.#logger?.warn(
        { err: error.message },
        "could not compile the worker; running it through tsx",
      );
      return undefined;
    });
    if (!built) return;
    this.#workerCommand = built.command;
    this.#logger?.info(
      { reused: built.reused, durationMs: Date.now() - started },
      built.reused ? "worker bundle reused" : "worker bundle compiled",
    );
  }

  async start(spec: WorkerLaunchSpec, options: StartOptions = {}): Promise<SandboxHandle> {
    if (!SAFE_ID.test(spec.sandboxId)) {
      throw new Error(`sandbox id '${spec.sandboxId}' is not usable as a folder name`);
    }
    const workspace = path.resolve(
      spec.workspace ?? path.join(this.#dataDir, "workspaces", spec.sandboxId),
    );
    const stateDir = this.#stateDir(spec.sandboxId);
    await mkdir(workspace, { recursive: true });
    await mkdir(stateDir, { recursive: true });
    await this.#carryAgentState(workspace, spec.sandboxId);

    const config: WorkerConfig = {
      ...spec,
      workspace,
      stateDir,
      denyRead: [this.#dataDir, ...this.#denyRead],
      allowRead: (this.#options.allowRead ?? []).map((entry) => path.resolve(entry)),
      limits: resolveLimits(spec.limits, this.defaultLimits),
      snapshots: this.#snapshots,
      ...(options.workspaceReady ? { awaitWorkspace: true } : {}),
    };
    const env: Record<string, string> = { [WORKER_CONFIG_ENV]: JSON.stringify(config) };
    for (const name of WORKER_ENV_PASSTHROUGH) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }

    const [command, ...args] = this.#workerCommand ?? defaultWorkerCommand();
    const log = openSync(path.join(stateDir, "worker.log"), "a");
    let pid: number;
    try {
      const child = spawn(command, args, {
        cwd: stateDir,
        env,
        detached: true,
        // A worker whose workspace is still being prepared reads `ready` on its stdin.
        stdio: [options.workspaceReady ? "pipe" : "ignore", log, log],
      });
      pid = await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("spawn", () => resolve(child.pid!));
      });
      child.unref();
      const ready = child.stdin;
      if (ready && options.workspaceReady) {
        ready.on("error", () => undefined);
        // On a failure the caller stops the worker; the pipe stays open until then.
        options.workspaceReady.then(
          () => ready.end(WORKSPACE_READY),
          () => undefined,
        );
      }
    } finally {
      closeSync(log);
    }
    const stat = readProcessStat(pid);
    await writeFile(
      path.join(stateDir, "worker.json"),
      JSON.stringify({ pid, startTime: stat?.startTime ?? "" }),
    );
    this.#logger?.info(
      { sandboxId: spec.sandboxId, pid, workspace },
      "local sandbox: worker started",
    );
    return { sandboxId: spec.sandboxId, workspace, pid };
  }

  async stop(handle: SandboxHandle): Promise<void> {
    const started = Date.now();
    if (handle.pid !== null && (await this.#isOurs(handle))) await killProcessTree(handle.pid);
    // A worker killed with SIGKILL leaves its agent behind: the confined CLI runs in a session
    // of its own and is re-parented to init, out of reach of the worker's tree. Every process
    // of the sandbox carries its state dir in its environment; find and end those too.
    const strays = SAFE_ID.test(handle.sandboxId)
      ? processesMarkedWith(this.#stateDir(handle.sandboxId))
      : [];
    for (const pid of strays) await killProcessTree(pid);
    // And whatever is still in the sandbox's cgroup (a worker killed before it cleaned up).
    if (SAFE_ID.test(handle.sandboxId)) await removeResourceGroup(handle.sandboxId);
    this.#logger?.info(
      {
        sandboxId: handle.sandboxId,
        pid: handle.pid,
        strays: strays.length,
        durationMs: Date.now() - started,
      },
      "local sandbox: worker tree stopped",
    );
  }

  async status(handle: SandboxHandle): Promise<SandboxProcessStatus> {
    if (handle.pid === null) return "unknown";
    if (!isAlive(handle.pid)) return "exited";
    return (await this.#isOurs(handle)) ? "running" : "exited";
  }

  #stateDir(sandboxId: string): string {
    return path.join(this.#dataDir, "sandbox-state", sandboxId);
  }

  /**
   * The agent's state (CLAUDE_CONFIG_DIR holds the session transcripts `resume` needs) lives
   * in the per-sandbox state dir. A sandbox that reuses a workspace starts from a copy of the
   * state the workspace's previous sandbox left, so a session survives its sandbox closing.
   * `<dataDir>/workspace-agents/<hash of the workspace path>` names that previous sandbox.
   */
  async #carryAgentState(workspace: string, sandboxId: string): Promise<void> {
    const key = createHash("sha256").update(workspace).digest("hex").slice(0, 32);
    const index = path.join(this.#dataDir, "workspace-agents");
    const pointer = path.join(index, key);
    const previous = await readFile(pointer, "utf8").then(
      (text) => text.trim(),
      () => "",
    );
    if (previous && previous !== sandboxId && SAFE_ID.test(previous)) {
      const source = path.join(this.#stateDir(previous), "agent");
      const target = path.join(this.#stateDir(sandboxId), "agent");
      await cp(source, target, {
        recursive: true,
        force: false,
        errorOnExist: false,
        // tmp is scratch; sockets and the like cannot be copied.
        filter: (from) => from !== path.join(source, "tmp"),
      }).catch((error: Error) =>
        this.#logger?.warn(
          { sandboxId, previous, err: error.message },
          "local sandbox: could not carry the agent state over",
        ),
      );
    }
    await mkdir(index, { recursive: true });
    const temporary = `${pointer}.${sandboxId}`;
    await writeFile(temporary, sandboxId);
    await rename(temporary, pointer);
  }

  /** False when the pid now belongs to another process (the worker exited and the pid was reused). */
  async #isOurs(handle: SandboxHandle): Promise<boolean> {
    if (handle.pid === null || !SAFE_ID.test(handle.sandboxId)) return false;
    let text: string;
    try {
      text = await readFile(path.join(this.#stateDir(handle.sandboxId), "worker.json"), "utf8");
    } catch {
      return true; // No record (older layout): trust the handle.
    }
    const record = parseWith(WorkerRecord, text);
    if (!record.ok || record.value.pid !== handle.pid || record.value.startTime === "") return true;
    return readProcessStat(handle.pid)?.startTime === record.value.startTime;
  }
}

/** Processes whose environment mentions `folder` (a variable set to it, or to a path in it). */
function processesMarkedWith(folder: string): number[] {
  const markers = [`=${folder}/`, `=${folder}\0`, `"${folder}"`, `"${folder}/`];
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let environment: string;
    try {
      environment = `${readFileSync(`/proc/${name}/environ`, "latin1")}\0`;
    } catch {
      continue;
    }
    if (markers.some((marker) => environment.includes(marker))) found.push(Number(name));
  }
  return found;
}
