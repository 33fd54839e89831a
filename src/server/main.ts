import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBus } from "../bus/index.ts";
import { Environments } from "../environment/environments.ts";
import { Ingest } from "../ingest/ingest.ts";
import { createLogger } from "../log/logger.ts";
import { redactUrl } from "../log/redact-url.ts";
import { Orchestrator } from "../orchestrator/orchestrator.ts";
import { OutgoingBundles } from "../repo/outgoing.ts";
import { RepoService } from "../repo/repo-service.ts";
import { RepositoryRegistry } from "../repo/repositories.ts";
import { repoRunHooks } from "../repo/run-hooks.ts";
import { TaskRepos } from "../repo/task-repos.ts";
import { UploadRetention } from "../repo/upload-retention.ts";
import { RepoUploads } from "../repo/uploads.ts";
import { LocalSandboxProvider } from "../sandbox/local.ts";
import type {
  SandboxHandle,
  SandboxProvider,
  StartOptions,
  WorkerLaunchSpec,
} from "../sandbox/provider.ts";
import { startSweeper, WorkspaceRetention } from "../sandbox/retention.ts";
import { createStore } from "../store/index.ts";
import { Vault } from "../vault/vault.ts";
import { buildApp } from "./app.ts";
import { Approvals } from "./approvals.ts";
import { type Config, isLoopbackHost, resolveSecret, usesScriptedModel } from "./config.ts";
import type { ModelInfo } from "./context.ts";
import { secureDataDir } from "./data-dir.ts";
import { ViewerHub } from "./viewer-hub.ts";
import { Webhook } from "./webhook.ts";
import { WorkerHub } from "./worker-hub.ts";
import { workerToken } from "./worker-token.ts";

export interface BannerInfo {
  url: string;
  /** Every URL the server really answers on (all interfaces when bound to 0.0.0.0 or ::). */
  listening: string[];
  /** Said on every start, e.g. listening beyond loopback with no token (OMOI_ALLOW_OPEN=1). */
  warnings: string[];
  store: "sqlite" | "postgres";
  storeLocation: string;
  bus: "memory" | "redis";
  provider: string;
  model: { scripted: boolean; baseUrl: string; name?: string };
}

export interface RunningOmoi {
  url: string;
  port: number;
  banner: BannerInfo;
  /** Graceful stop: ends every sandbox this server runs, then closes. */
  close(): Promise<void>;
}

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

const urlOf = (host: string, port: number) =>
  `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

/** The URLs a server bound to `host` answers on; loopback first, as the one to open. */
function listeningUrls(host: string, port: number): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [urlOf(host, port)];
  const addresses = Object.values(os.networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => host === "::" || entry.family === "IPv4")
    .sort((a, b) => Number(b.internal) - Number(a.internal))
    .map((entry) => urlOf(entry.address, port));
  return addresses.length ? addresses : [urlOf(host, port)];
}

/** Wraps a provider so a failed preflight turns into a clear error on each start. */
function guarded(provider: SandboxProvider, problem: () => Error | undefined): SandboxProvider {
  return {
    name: provider.name,
    capabilities: provider.capabilities,
    preflight: () => provider.preflight(),
    start: (spec: WorkerLaunchSpec, options?: StartOptions) => {
      const error = problem();
      return error ? Promise.reject(error) : provider.start(spec, options);
    },
    stop: (handle: SandboxHandle) => provider.stop(handle),
    status: (handle: SandboxHandle) => provider.status(handle),
  };
}

/** Starts Omoi: store, bus, scripted model when no key is set, sandbox provider, orchestrator, HTTP. */
export async function startOmoi(config: Config): Promise<RunningOmoi> {
  const logger = createLogger("server", config.logLevel);
  secureDataDir(config.dataDir);
  const store = createStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  // After a Redis reconnect, what was published meanwhile is found in the store (set below).
  let onBusResubscribed = () => {};
  const bus = createBus({
    redisUrl: config.redisUrl,
    channel: config.redisChannel,
    connectionName: `omoi-${config.replicaId}`,
    onSubscribed: () => onBusResubscribed(),
  });
  const closers: (() => Promise<void>)[] = [];
  try {
    await store.migrate();
    closers.push(() => store.close());
    await bus.start();
    closers.push(() => bus.close());

    const secret = resolveSecret(config);
    const scripted = usesScriptedModel(config);
    let modelBaseUrl = config.model.baseUrl ?? "https://api.anthropic.com";
    if (scripted && !config.model.baseUrl) {
      const { startScriptedModel } = await import("../model/server.ts");
      const model = await startScriptedModel({
        port: 0,
        defaultScenario: config.model.scenario,
        pace: { firstTokenMs: 150, tokensPerSecond: 400 },
        logger: createLogger("model", config.logLevel),
      });
      closers.push(() => model.close());
      modelBaseUrl = model.url;
    }
    const modelEnv: Record<string, string> = {};
    if (config.model.apiKey) modelEnv.ANTHROPIC_API_KEY = config.model.apiKey;
    if (config.model.authToken) modelEnv.ANTHROPIC_AUTH_TOKEN = config.model.authToken;
    if (!config.model.apiKey && !config.model.authToken)
      modelEnv.ANTHROPIC_API_KEY = "scripted-demo";
    if (config.model.name) modelEnv.ANTHROPIC_MODEL = config.model.name;
    const modelInfo: ModelInfo = {
      scripted,
      base_url: modelBaseUrl,
      name: config.model.name ?? null,
    };

    const local = new LocalSandboxProvider({
      dataDir: config.dataDir,
      maxSandboxes: config.maxSandboxes,
      limits: config.sandboxLimits,
      allowRead: config.sandboxAllowRead,
      logger: createLogger("sandbox", config.logLevel),
    });
    let preflightError: Error | undefined;
    if (config.runAgents) {
      await local.preflight().catch((error: Error) => {
        preflightError = error;
        logger.error({ err: error }, "the local sandbox cannot run agents");
      });
    }
    const provider = guarded(local, () => preflightError);

    const ingest = new Ingest(store, bus);
    let serverUrl = config.publicUrl ?? "";
    const uploads = new RepoUploads(path.join(config.dataDir, "uploads"), config.uploadMaxBytes);
    const repoService = new RepoService({
      mirrorsDir: path.join(config.dataDir, "mirrors"),
      author: config.git.author,
      committer: config.git.committer,
      // An upload is a one-off (each `omoi run --repo .` from afar sends its own); a
      // repository named again and again gets its next checkout prepared ahead.
      prepareAhead: (source) => !uploads.holds(source),
    });
    const outgoing = new OutgoingBundles(path.join(config.dataDir, "outgoing"), {
      logger: createLogger("retention", config.logLevel),
    });
    closers.push(() => repoService.close());
    const repositories = new RepositoryRegistry(
      store,
      new Vault(secret, "repositories"),
      repoService,
      [config.dataDir],
      uploads,
    );
    const repos = new TaskRepos({
      store,
      service: repoService,
      registry: repositories,
      taskLink: (taskId) => `${serverUrl}/#/tasks/${taskId}`,
      logger: createLogger("repo", config.logLevel),
    });
    const environments = new Environments(store.environments, new Vault(secret, "environments"));
    const viewers = new ViewerHub(store, bus, createLogger("viewers", config.logLevel), {
      maxBufferedBytes: config.viewerMaxBufferBytes,
      pingIntervalMs: 25_000,
    });
    const workers = new WorkerHub(
      store,
      bus,
      ingest,
      secret,
      createLogger("workers", config.logLevel),
    );
    const approvals = new Approvals(
      store,
      bus,
      ingest,
      createLogger("approvals", config.logLevel),
      {
        webhook: config.webhook
          ? new Webhook(config.webhook, createLogger("webhook", config.logLevel))
          : undefined,
        publicUrl: () => serverUrl,
      },
    );
    const orchestrator = new Orchestrator(
      store,
      bus,
      ingest,
      provider,
      workers,
      {
        serverUrl: () => serverUrl,
        workerToken: (sandboxId) => workerToken(secret, sandboxId),
        modelBaseUrl,
        modelEnv,
        workerOrphanTimeoutMs: config.workerOrphanTimeoutMs,
        resolveEnvironment: (id) => environments.resolve(id),
      },
      {
        replicaId: config.replicaId,
        maxSandboxes: config.maxSandboxes,
        maxQueuedTasks: config.maxQueuedTasks,
        maxRunMs: config.maxRunMs,
        maxTaskMs: config.maxTaskMs,
        idleWindowMs: config.idleWindowMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        livenessIntervalMs: 1000,
        stopGraceMs: 2000,
        runAgents: config.runAgents,
        environmentRefreshMs: config.warmPoolRefreshMs,
      },
      createLogger("orchestrator", config.logLevel),
      repoRunHooks(repos, ingest, config.dataDir),
    );
    viewers.start();
    workers.start();
    await approvals.start();
    closers.push(() => approvals.stop());
    onBusResubscribed = () => {
      viewers.refill();
      orchestrator.lookForMissedEvents();
    };
    const retention = new WorkspaceRetention(store, {
      dataDir: config.dataDir,
      retentionMs: config.workspaceRetentionMs,
      owner: config.replicaId,
      logger: createLogger("retention", config.logLevel),
    });
    const app = await buildApp(
      {
        config,
        secret,
        version: VERSION,
        store,
        bus,
        ingest,
        viewers,
        workers,
        approvals,
        control: orchestrator,
        environments,
        repositories,
        repos,
        uploads,
        outgoing,
        providerName: provider.name,
        model: modelInfo,
        retention,
      },
      logger,
    );
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const listening = listeningUrls(config.host, port);
    const url = listening[0];
    serverUrl ||= url;
    await orchestrator.start();
    if (config.runAgents) {
      const sweeper = startSweeper(retention, config.workspaceSweepIntervalMs, (error) =>
        logger.warn({ err: error }, "sweeping old workspaces failed"),
      );
      closers.push(() => sweeper.stop());
    }
    // Uploads arrive whether or not this replica runs agents.
    const uploadRetention = new UploadRetention(store, {
      uploadsDir: path.join(config.dataDir, "uploads"),
      mirrorsDir: path.join(config.dataDir, "mirrors"),
      retentionMs: config.uploadRetentionMs,
      logger: createLogger("retention", config.logLevel),
    });
    const uploadSweeper = startSweeper(uploadRetention, config.workspaceSweepIntervalMs, (error) =>
      logger.warn({ err: error }, "sweeping old uploads failed"),
    );
    closers.push(() => uploadSweeper.stop());
    // What a stop between writing a result's bundle and sending it left behind; also swept now.
    const outgoingSweeper = startSweeper(outgoing, config.workspaceSweepIntervalMs, (error) =>
      logger.warn({ err: error }, "sweeping leftover result bundles failed"),
    );
    closers.push(() => outgoingSweeper.stop());

    const warnings: string[] = [];
    if (!config.apiToken && !isLoopbackHost(config.host)) {
      warnings.push(
        `OMOI_ALLOW_OPEN=1: listening on ${config.host} with no OMOI_API_TOKEN — anyone who can reach ${listening.join(", ")} can run commands on this machine`,
      );
    }
    for (const warning of warnings) logger.warn(warning);
    const banner: BannerInfo = {
      url,
      listening,
      warnings,
      store: store.kind,
      storeLocation: config.databaseUrl
        ? redactUrl(config.databaseUrl)
        : `${config.dataDir}/omoi.db`,
      bus: bus.kind,
      provider: provider.name,
      model: { scripted, baseUrl: modelBaseUrl, name: config.model.name },
    };
    logger.info(
      { ...banner, replica: config.replicaId, max_sandboxes: config.maxSandboxes },
      "omoi started",
    );
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      banner,
      close: () => {
        closing ??= (async () => {
          await orchestrator.stopAll("the server shut down");
          await orchestrator.close();
          await app.close();
          for (const close of closers.reverse()) await close().catch(() => undefined);
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
