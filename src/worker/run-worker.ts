import { phaseVariables } from "../environment/launch.ts";
import { SecretMask } from "../environment/mask.ts";
import { sdkMcpServers } from "../environment/mcp.ts";
import {
  AgentCompleted,
  AgentError,
  AgentFailed,
  AgentLimitExceeded,
  EnvironmentPoolReady,
} from "../protocol/events.ts";
import type { TaskAssignment } from "../protocol/worker-channel.ts";
import { type Confinement, confine } from "../sandbox/confine.ts";
import type { LimitBreach } from "../sandbox/limit-watchdog.ts";
import { agentStatePaths } from "../sandbox/sandbox-env.ts";
import { WORKSPACE_READY } from "../sandbox/worker-config.ts";
import { unconfinedAgentEnv } from "./agent-env.ts";
import { type AgentEvent, agentEvent, envelope } from "./agent-event.ts";
import { ChannelTransport } from "./channel.ts";
import { limitFailure } from "./failure.ts";
import { HttpTransport } from "./http-fallback.ts";
import type { Logger } from "./log.ts";
import { type ModelProbe, probeModel } from "./model-probe.ts";
import { projectSettings } from "./project-settings.ts";
import { AgentSession, type SessionEnd } from "./session.ts";
import { runSetup } from "./setup.ts";
import type { IncomingMessage, Transport } from "./transport.ts";
import type { WorkerOptions } from "./worker-options.ts";

/** CLI settings the worker may pass through to the agent (retry count, request timeout). */
const CLI_SETTING = /^(CLAUDE_CODE_MAX_RETRIES|API_TIMEOUT_MS)$/;

export interface RunningWorker {
  /** Ends the session (as a `stop` frame would) and resolves with the exit code. */
  stop(reason: string): Promise<number>;
  /** Resolves with the exit code once the worker is done: 0 completed, 1 failed. */
  readonly done: Promise<number>;
}

/**
 * Runs one agent session for one sandbox: confinement, transport, session, and the
 * ending (`agent.completed` or `agent.failed`, outbox flushed within a bound).
 */
export async function runWorker(options: WorkerOptions, logger: Logger): Promise<RunningWorker> {
  const log = logger.child({ sandboxId: options.sandboxId });
  // Start-up marks (`mark`): the benchmark reads them from the worker log to say where a
  // slow start spends its time. `process_started_at` is when this process was spawned.
  log.info(
    { mark: "worker_up", process_started_at: Math.round(performance.timeOrigin) },
    "worker up",
  );
  const transport = createTransport(options, log);
  // A secret's value never leaves the worker: whatever prints it, events carry a mask.
  const mask = new SecretMask((options.environment?.secrets ?? []).map((secret) => secret.value));
  // A warm-pool sandbox learns its task when one claims it.
  let taskId = options.taskId;
  const send = (event: AgentEvent, source: "agent" | "worker" = "agent") =>
    transport.send(
      envelope(
        mask.empty ? event : { ...event, payload: mask.value(event.payload) },
        source,
        taskId,
      ),
    );

  let session: AgentSession | null = null;
  const stopRequested: string[] = [];
  // Messages can arrive (in the welcome) while confinement is still being set up; the
  // transport has marked them seen, so they must be kept, not dropped.
  const early: IncomingMessage[] = [];
  let permissionMode = options.permissionMode;
  // A warm-pool sandbox's task: it begins once the session has started (at most once).
  let assignment: TaskAssignment | null = null;
  // Set once Claude Code has answered the SDK's initialize: only then is the prompt pushed.
  let started = false;
  let begun = false;
  const beginTask = () => {
    if (!session || !started || !assignment || begun || stopRequested.length > 0) return;
    begun = true;
    const task = assignment;
    log.info({ mark: "task_assigned", taskId: task.task_id }, "warm sandbox claimed");
    session
      .begin(task.prompt, { model: task.model, mode: task.permission_mode })
      .catch(
        (error: Error) => void session?.fail({ reason: "startup_failed", error: error.message }),
      );
  };
  transport.start({
    onTask: (task) => {
      if (!options.pooled || assignment) return;
      assignment = task;
      taskId = task.task_id;
      beginTask();
    },
    onAnswer: (answer) => {
      if (!session?.answer(answer))
        log.info({ requestId: answer.request_id }, "answer for no waiting call");
    },
    onMode: (mode) => {
      if (session) void session.setMode(mode);
      else permissionMode = mode;
    },
    onMessage: (message) => (session ? session.receive(message) : early.push(message)),
    onStop: (reason) => {
      stopRequested.push(reason);
      void session?.stop(reason);
    },
  });

  // Read from the start, so the signal is never missed; awaited before setup and the agent.
  const workspace = options.awaitWorkspace ? workspaceReady(log) : Promise.resolve();
  workspace.catch(() => undefined);
  const probe = probeModel(options.modelBaseUrl);
  void probe.then((result) => reportUnreachable(result, options.modelBaseUrl, send));

  let confinement: Confinement | null = null;
  let breach: LimitBreach | null = null;
  const limitExceeded = (found: LimitBreach) => {
    if (breach) return;
    breach = found;
    log.warn({ ...found }, "the sandbox exceeded a limit; its processes were killed");
    send(agentEvent(AgentLimitExceeded, { ...found }), "worker");
  };
  const finish = async (sessionEnd: SessionEnd): Promise<number> => {
    // The kernel may have killed the CLI at the memory bound before the watchdog's next look:
    // a run that ends while the sandbox is over a limit ends for that limit.
    if (!breach && sessionEnd.status === "failed") {
      const found = await confinement?.checkLimits().catch(() => null);
      if (found) limitExceeded(found);
    }
    const end: SessionEnd = breach ? { status: "failed", ...limitFailure(breach) } : sessionEnd;
    send(endEvent(end), "worker");
    const flushed = await transport.flush(options.flushTimeoutMs);
    if (!flushed) log.warn({ pending: transport.pending() }, "exiting with unacknowledged events");
    await transport.close();
    await confinement
      ?.dispose()
      .catch((error) => log.warn({ err: String(error) }, "dispose failed"));
    log.info({ status: end.status, reason: end.reason }, "worker done");
    return end.status === "completed" ? 0 : 1;
  };

  try {
    let env: Record<string, string>;
    if (options.unconfined) {
      await workspace;
      env = await unconfinedAgentEnv(options);
      log.warn("running the agent unconfined (config says unconfined: true)");
    } else {
      confinement = await confine({
        sandboxId: options.sandboxId,
        workspace: options.workspace,
        stateDir: options.stateDir,
        modelBaseUrl: options.modelBaseUrl,
        modelEnv: options.modelEnv,
        denyRead: options.denyRead,
        allowRead: options.allowRead,
        onStderr: (text) => log.debug({ stderr: text.trimEnd() }, "cli stderr"),
        limits: options.limits,
        onLimitExceeded: (found) => {
          limitExceeded(found);
          void session?.fail(limitFailure(found));
        },
        network: options.environment?.network.agent,
        agentEnv: options.environment ? phaseVariables(options.environment, "agent") : undefined,
      });
      log.info(
        { mark: "sandboxed", bound: confinement.bound, limits: options.limits },
        "sandbox limits",
      );
      await workspace;
      if (options.environment) {
        const setup = await runSetup({
          environment: options.environment,
          workspace: options.workspace,
          scriptDir: agentStatePaths(options.stateDir).tmp,
          confinement,
          mask: (text) => mask.text(text),
          emit: (event) => send(event, "worker"),
          timeoutMs: options.setupTimeoutMs,
          snapshots: options.snapshots && {
            store: options.snapshots,
            home: agentStatePaths(options.stateDir).home,
          },
        });
        if (!setup.ok) {
          log.warn({ err: setup.error }, "setup failed");
          const done = finish({ status: "failed", reason: "setup_failed", error: setup.error });
          return { stop: () => done, done };
        }
        log.info({ mark: "setup_done", ran: setup.ran }, "environment set up");
      }
      env = { ...confinement.env, ...cliSettings(options.modelEnv) };
      log.info({ mark: "confined" }, "agent confined");
    }
    const mcpServers = options.environment
      ? sdkMcpServers(options.environment.mcpServers, phaseVariables(options.environment, "agent"))
      : undefined;
    // The CLI starts each stdio MCP server itself, once: it is the session's, not a turn's.
    const mcpArgv = Object.values(mcpServers ?? {}).flatMap((server) =>
      server.type === "stdio" ? [[server.command, ...server.args]] : [],
    );
    session = new AgentSession(
      {
        workspace: options.workspace,
        model: options.model,
        maxTurns: options.maxTurns,
        maxBudgetUsd: options.maxBudgetUsd,
        permissionMode,
        allowRules: options.allowRules,
        resumeSessionId: options.resumeSessionId,
        modelBaseUrl: options.modelBaseUrl,
        partialMessages: options.partialMessages,
        env,
        mcpServers,
        spawnClaudeCodeProcess: confinement ? markSpawn(confinement, log) : undefined,
        // Read once setup is done, before the agent could change anything.
        projectSettings: projectSettings(options.workspace).catch(() => undefined),
        scriptedModel: probe.then((result) => (result.reachable ? result.scripted : undefined)),
        logger: log,
        onTurnEnd: async () => {
          if (!confinement || options.limits.keep_background_processes) return;
          const ended = await confinement.endBackgroundProcesses(mcpArgv);
          if (ended > 0) log.info({ ended }, "ended the processes the turn left running");
        },
      },
      { emit: (event) => send(event), delivered: (message) => transport.delivered([message.id]) },
    );
    session.start(options.pooled ? null : options.prompt);
    for (const message of early.splice(0)) session.receive(message);
    if (stopRequested.length > 0) void session.stop(stopRequested[0]);
    if (options.pooled)
      void announceReady(session, options, send, log).then((up) => {
        started = up;
        beginTask();
      });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.error({ err: message }, "worker failed to start");
    const done = finish({ status: "failed", reason: "startup_failed", error: message });
    return { stop: () => done, done };
  }

  const running = session;
  const done = running.ended.then(finish);
  return {
    stop: async (reason) => {
      await running.stop(reason);
      return done;
    },
    done,
  };
}

/**
 * Resolves when the server says the workspace is prepared (`ready` on stdin, written by the
 * local provider); rejects when stdin ends first (the server went away mid-preparation).
 */
function workspaceReady(log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = "";
    const done = (error?: Error) => {
      process.stdin.removeListener("data", onData);
      process.stdin.removeListener("end", onEnd);
      process.stdin.pause();
      if (error) reject(error);
      else {
        log.info({ mark: "workspace_ready" }, "workspace prepared");
        resolve();
      }
    };
    const onData = (chunk: Buffer) => {
      received += chunk.toString("utf8");
      if (received.includes(WORKSPACE_READY)) done();
    };
    const onEnd = () => done(new Error("the workspace was not prepared (the server went away)"));
    process.stdin.on("data", onData);
    process.stdin.once("end", onEnd);
  });
}

/**
 * A warm-pool sandbox is ready once Claude Code has answered the SDK's initialize request;
 * the server is told so, and a task that claimed it meanwhile begins now.
 */
async function announceReady(
  session: AgentSession,
  options: WorkerOptions,
  send: (event: AgentEvent, source: "worker") => void,
  log: Logger,
): Promise<boolean> {
  try {
    await session.started();
    send(
      agentEvent(EnvironmentPoolReady, { environment: options.environment?.name ?? null }),
      "worker",
    );
    log.info({ mark: "pool_ready" }, "warm sandbox ready");
    return true;
  } catch (error) {
    log.warn({ err: String(error) }, "the agent did not start; the session ends on its own");
    return false;
  }
}

/** The confinement's CLI spawner, logging the moment the SDK starts the CLI. */
function markSpawn(confinement: Confinement, log: Logger): Confinement["spawnClaudeCodeProcess"] {
  return (spawnOptions) => {
    log.info({ mark: "cli_spawned" }, "agent CLI started");
    return confinement.spawnClaudeCodeProcess(spawnOptions);
  };
}

function createTransport(options: WorkerOptions, logger: Logger): Transport {
  const common = {
    serverUrl: options.serverUrl,
    sandboxId: options.sandboxId,
    token: options.workerToken,
    orphanTimeoutMs: options.orphanTimeoutMs,
    logger,
  };
  return options.transport === "http" ? new HttpTransport(common) : new ChannelTransport(common);
}

function cliSettings(modelEnv: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(modelEnv).filter(([name]) => CLI_SETTING.test(name)));
}

function reportUnreachable(
  probe: ModelProbe,
  modelBaseUrl: string,
  send: (event: AgentEvent, source: "worker") => void,
) {
  if (probe.reachable) return;
  send(
    agentEvent(AgentError, {
      error: `model endpoint ${modelBaseUrl} unreachable: ${probe.error}`,
      code: "model_unreachable",
      retryable: true,
    }),
    "worker",
  );
}

function endEvent(end: SessionEnd): AgentEvent {
  if (end.status === "failed") {
    return agentEvent(AgentFailed, { error: end.error, reason: end.reason });
  }
  return agentEvent(AgentCompleted, {
    reason: end.reason,
    ...(end.result !== undefined ? { result: end.result } : {}),
    ...(end.num_turns !== undefined ? { num_turns: end.num_turns } : {}),
    ...(end.cost_usd !== undefined ? { cost_usd: end.cost_usd } : {}),
  });
}
