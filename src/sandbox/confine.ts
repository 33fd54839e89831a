import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import type { Options, SpawnOptions } from "@anthropic-ai/claude-agent-sdk";
import { SandboxManager, type SandboxRuntimeConfig } from "@anthropic-ai/sandbox-runtime";
import { networkRules, openNetworkAllows } from "../environment/network.ts";
import type { NetworkPolicy } from "../protocol/environment.ts";
import { endBackgroundProcesses } from "./background-processes.ts";
import { findProgram } from "./find-program.ts";
import { GroupProcess } from "./group-process.ts";
import {
  type LimitBreach,
  type LimitWatchdog,
  type ResolvedLimits,
  startLimitWatchdog,
} from "./limit-watchdog.ts";
import { type ModelGateway, startModelGateway } from "./model-gateway.ts";
import { readView } from "./read-view.ts";
import { createResourceGroup, type ResourceGroup } from "./resource-group.ts";
import { agentStatePaths, buildSandboxEnv, mergeSpawnEnv } from "./sandbox-env.ts";
import { shellJoin, shellQuote } from "./shell-quote.ts";

export interface ConfineOptions {
  sandboxId: string;
  /** The only project folder the agent may write. */
  workspace: string;
  /** Per-sandbox folder; the agent gets `<stateDir>/agent` (HOME, TMPDIR, CLAUDE_CONFIG_DIR), nothing else of it. */
  stateDir: string;
  /** The real model endpoint; only the worker's gateway talks to it. */
  modelBaseUrl: string;
  /** ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / CLAUDE_CODE_OAUTH_TOKEN (kept outside) and model names (passed in). */
  modelEnv: Record<string, string>;
  /** Paths the agent must not read: server data dir, other workspaces, … */
  denyRead: string[];
  /** Folders the agent may read beyond the system's toolchain (see read-view.ts). */
  allowRead?: string[];
  /** Receives the CLI's stderr; without it, stderr goes to the worker's own stderr. */
  onStderr?: (text: string) => void;
  /** Bounds on processes, memory and disk; without them the sandbox is unbounded. */
  limits?: ResolvedLimits;
  /** A limit was passed: every process of the sandbox has already been killed. Called once. */
  onLimitExceeded?: (breach: LimitBreach) => void;
  /** What the sandbox may reach besides the model gateway (default: nothing). */
  network?: NetworkPolicy;
  /** The environment's variables (and secrets) for the agent's processes. */
  agentEnv?: Record<string, string>;
}

export interface Confinement {
  spawnClaudeCodeProcess: NonNullable<Options["spawnClaudeCodeProcess"]>;
  /** Pass as `Options.env`: the complete environment of the agent. */
  env: Record<string, string>;
  /** What bounds processes and memory: a cgroup, or the watchdog alone (`none` without limits). */
  bound: ResourceGroup["kind"] | "watchdog" | "none";
  /** Checks every limit now; the breach that ended (or would end) the run, or null. */
  checkLimits(): Promise<LimitBreach | null>;
  /** Kills what the agent's tools left running (call when a turn ends); how many there were. */
  endBackgroundProcesses(keep?: readonly (readonly string[])[]): Promise<number>;
  /** Runs a command inside the same sandbox (the setup script), with `env` on top of the base. */
  spawnInSandbox(
    argv: string[],
    options: { env: Record<string, string>; cwd: string },
  ): { process: GroupProcess; stdout: Readable; stderr: Readable };
  /** Changes what the sandbox may reach from now on (the proxy judges every request). */
  setNetwork(policy: NetworkPolicy): void;
  dispose(): Promise<void>;
}

/** The launcher the sandbox runs: it drops what srt sets that would break or leak, then execs the CLI. */
function launcherScript(tmpDir: string): string {
  return [
    // srt starts its two proxy bridges in the background and runs the command at once: on a
    // busy machine a first request (a setup script's download) could find no listener yet.
    // Wait (at most 5 s) until both accept a connection (bash's /dev/tcp).
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell expansions, run inside the sandbox
    'if [ -n "${BASH_VERSION:-}" ] && [ -n "${HTTP_PROXY:-}" ]; then for omoi_port in 3128 1080; do omoi_try=0; until (exec 3<>"/dev/tcp/127.0.0.1/$omoi_port") 2>/dev/null || [ "$omoi_try" -ge 500 ]; do omoi_try=$((omoi_try + 1)); sleep 0.01; done; done; unset omoi_port omoi_try; fi',
    // srt exempts loopback from its proxy; inside the sandbox the direct route does not exist.
    "unset NO_PROXY no_proxy",
    // srt points TMPDIR at a shared /tmp/claude; the agent gets its own.
    `export TMPDIR=${shellQuote(tmpDir)}`,
    `omoi_exec=$${LAUNCH_VARIABLE}`,
    `unset ${LAUNCH_VARIABLE}`,
    'eval "exec $omoi_exec"',
  ].join("; ");
}
const LAUNCH_VARIABLE = "OMOI_SANDBOX_EXEC";

let activeSandbox: string | null = null;

/**
 * Sets up @anthropic-ai/sandbox-runtime for one sandbox and returns the spawner the Claude
 * Agent SDK uses to start its CLI inside it. srt keeps process-wide state, so a process
 * holds at most one confinement at a time (one worker per sandbox).
 */
export async function confine(options: ConfineOptions): Promise<Confinement> {
  if (activeSandbox !== null) {
    throw new Error(
      `this process already confines sandbox ${activeSandbox}; dispose it first (srt is process-wide)`,
    );
  }
  activeSandbox = options.sandboxId;
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const paths = agentStatePaths(path.resolve(options.stateDir));
    const workspace = path.resolve(options.workspace);
    await Promise.all(
      [workspace, paths.home, paths.tmp, paths.claudeConfig].map((dir) =>
        mkdir(dir, { recursive: true }),
      ),
    );

    const gateway: ModelGateway = await startModelGateway({
      upstreamBaseUrl: options.modelBaseUrl,
      apiKey: options.modelEnv.ANTHROPIC_API_KEY,
      authToken: options.modelEnv.ANTHROPIC_AUTH_TOKEN,
      // A Claude subscription token (an environment's credentials): swapped in here too.
      oauthToken: options.modelEnv.CLAUDE_CODE_OAUTH_TOKEN,
    });
    cleanups.push(() => gateway.close());

    // host AND port: a bare 127.0.0.1 would open every loopback service.
    const gatewayHost = `127.0.0.1:${gateway.port}`;
    let rules = networkRules(options.network ?? { level: "none" }, gatewayHost);
    // Found here rather than by srt, which spawns `which` for each (two processes on every
    // start); the same binaries. Not found: left to srt, which reports them missing.
    const bwrapPath = findProgram("bwrap") ?? undefined;
    const socatPath = findProgram("socat") ?? undefined;
    const config: SandboxRuntimeConfig = {
      ...(bwrapPath ? { bwrapPath } : {}),
      ...(socatPath ? { socatPath } : {}),
      network: { allowedDomains: rules.allowedDomains, deniedDomains: [] },
      filesystem: {
        ...readView({
          denyRead: options.denyRead,
          allowRead: options.allowRead ?? [],
          agentRoot: paths.root,
        }),
        allowWrite: [workspace, paths.root],
        denyWrite: [],
      },
    };
    // Hosts off the allowlist are asked about: only the `full` level says yes, and never to
    // this machine or a private network.
    await SandboxManager.initialize(
      config,
      async ({ host }) => rules.open && openNetworkAllows(host),
    );
    cleanups.push(() => SandboxManager.reset());
    // srt's proxy sockets sit in the host's /tmp, which the read view hides: show exactly
    // those two files (known only once srt has started its proxy).
    const proxySockets = [
      SandboxManager.getLinuxHttpSocketPath(),
      SandboxManager.getLinuxSocksSocketPath(),
    ].filter((entry): entry is string => typeof entry === "string");
    SandboxManager.updateConfig({
      ...config,
      filesystem: {
        ...config.filesystem,
        allowRead: [...new Set([...(config.filesystem.allowRead ?? []), ...proxySockets])],
      },
    });

    const limits = options.limits;
    const group = limits
      ? await createResourceGroup(options.sandboxId, {
          processes: limits.processes,
          memoryBytes: limits.memory_mb * 1024 * 1024,
        })
      : null;
    if (group) cleanups.push(() => group.remove());

    // Wrapped once: the SDK's spawner is synchronous, srt's wrapping is not. The command
    // line to run reaches the launcher through one environment variable.
    const wrapped = await SandboxManager.wrapWithSandbox(
      launcherScript(paths.tmp),
      undefined,
      undefined,
      undefined,
      { commandId: `omoi-${options.sandboxId}` },
    );

    const baseEnv = buildSandboxEnv({
      paths,
      gatewayUrl: gateway.url,
      accessToken: gateway.accessToken,
      modelEnv: options.modelEnv,
    });
    const env = { ...options.agentEnv, ...baseEnv };
    const running = new Set<GroupProcess>();
    /** The command line each CLI runs with, to tell it from what its tools started. */
    const cliArgv = new Map<GroupProcess, string[]>();

    let watchdog: LimitWatchdog | null = null;
    if (limits) {
      watchdog = startLimitWatchdog({
        limits,
        group,
        roots: () => [...running].flatMap((process_) => (process_.pid ? [process_.pid] : [])),
        diskFolders: [workspace, paths.root],
        onBreach: (breach) => {
          void (async () => {
            await group?.killAll().catch(() => undefined);
            await Promise.all([...running].map(killAndWait));
            options.onLimitExceeded?.(breach);
          })();
        },
      });
      const started = watchdog;
      cleanups.push(async () => started.stop());
    }

    // The launcher joins the sandbox's cgroup before it starts anything, so every process
    // of the sandbox is born inside the bound; if it cannot join, nothing runs.
    const launch = group ? `${group.joinCommand} || exit 125; ${wrapped}` : wrapped;

    const start = (argv: string[], childEnv: Record<string, string>, cwd: string) => {
      const child = spawn("/bin/sh", ["-c", launch], {
        cwd,
        env: { ...childEnv, [LAUNCH_VARIABLE]: shellJoin(argv) },
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      });
      const process_ = new GroupProcess(child);
      running.add(process_);
      child.once("exit", () => running.delete(process_));
      return { child, process_ };
    };

    const spawnClaudeCodeProcess = (spawnOptions: SpawnOptions): GroupProcess => {
      const argv = [spawnOptions.command, ...spawnOptions.args];
      const { child, process_ } = start(
        argv,
        mergeSpawnEnv(env, spawnOptions.env),
        spawnOptions.cwd ?? workspace,
      );
      if (!options.onStderr) child.stderr?.pipe(process.stderr);
      else {
        const onStderr = options.onStderr;
        child.stderr?.setEncoding("utf8").on("data", (text: string) => onStderr(text));
      }
      cliArgv.set(process_, argv);
      child.once("exit", () => cliArgv.delete(process_));
      const abort = () => process_.kill("SIGKILL");
      if (spawnOptions.signal.aborted) abort();
      else spawnOptions.signal.addEventListener("abort", abort, { once: true });
      child.once("exit", () => spawnOptions.signal.removeEventListener("abort", abort));
      return process_;
    };

    let disposed = false;
    return {
      spawnClaudeCodeProcess,
      env,
      bound: group ? group.kind : watchdog ? "watchdog" : "none",
      checkLimits: async () => (watchdog ? watchdog.check() : null),
      endBackgroundProcesses: async (keep = []) => {
        let ended = 0;
        for (const [process_, argv] of cliArgv) {
          if (process_.pid) ended += await endBackgroundProcesses(process_.pid, argv, keep);
        }
        return ended;
      },
      spawnInSandbox: (argv, spawnOptions) => {
        const { child, process_ } = start(
          argv,
          { ...spawnOptions.env, ...baseEnv },
          spawnOptions.cwd,
        );
        child.stdin?.end();
        return { process: process_, stdout: process_.stdout, stderr: child.stderr! };
      },
      setNetwork: (policy) => {
        rules = networkRules(policy, gatewayHost);
        // The current config (the read view was widened after start-up), with the new allowlist.
        const current = SandboxManager.getConfig() ?? config;
        SandboxManager.updateConfig({
          ...current,
          network: { ...current.network, allowedDomains: rules.allowedDomains },
        });
      },
      dispose: async () => {
        if (disposed) return;
        disposed = true;
        await Promise.all([...running].map(killAndWait));
        await runCleanups(cleanups);
        activeSandbox = null;
      },
    };
  } catch (error) {
    await runCleanups(cleanups);
    activeSandbox = null;
    throw error;
  }
}

async function killAndWait(process_: GroupProcess): Promise<void> {
  if (process_.exitCode !== null || process_.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => process_.once("exit", () => resolve()));
  process_.kill("SIGKILL");
  await exited;
}

async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // Teardown goes on: a failed gateway close must not leave srt initialized.
    }
  }
  cleanups.length = 0;
}
