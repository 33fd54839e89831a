import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { formatIssues } from "../protocol/json.ts";
import { commaList } from "../protocol/query.ts";
import type { SandboxLimits } from "../protocol/task.ts";
import { machineIdentity } from "../repo/machine.ts";

/** Everything the server reads from its environment, validated once at start. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** The Redis pub/sub channel replicas share (OMOI_REDIS_CHANNEL). */
  redisChannel: string;
  /** When set, every /api route and WebSocket needs `Authorization: Bearer <token>`. */
  apiToken: string | undefined;
  /** Signs per-sandbox worker tokens; shared by all replicas (OMOI_SECRET). */
  secret: string;
  maxSandboxes: number;
  /** Pending tasks beyond this are refused (429) until the queue drains. */
  maxQueuedTasks: number;
  /** Tasks each caller (client address) may create per minute; 0 turns the limit off. */
  taskRateLimitPerMinute: number;
  /** Defaults for every sandbox's limits (OMOI_SANDBOX_MAX_*); unset ones are sized to the machine. */
  sandboxLimits: SandboxLimits;
  /** How long a finished sandbox's workspace and state are kept before the sweeper deletes them. */
  workspaceRetentionMs: number;
  /** How often the sweeper looks for workspaces past retention. */
  workspaceSweepIntervalMs: number;
  /** Folders every agent may read besides the system's toolchain (OMOI_SANDBOX_ALLOW_READ). */
  sandboxAllowRead: string[];
  /** Wall-clock bound of one run of a task (a task's `limits.max_run_ms` overrides it). */
  maxRunMs: number;
  /** Wall-clock bound of all a task's runs together (`limits.max_task_ms` overrides it). */
  maxTaskMs: number;
  /** How long a sandbox stays open for follow-ups after its task completes. */
  idleWindowMs: number;
  /** A running sandbox silent for this long is declared dead. */
  heartbeatTimeoutMs: number;
  /** A worker that cannot reach any server for this long stops its agent and exits. */
  workerOrphanTimeoutMs: number;
  /** Where workers connect back to; defaults to the server's own address. */
  publicUrl: string | undefined;
  /** Host names (besides loopback, the bound address and the public URL's) requests may carry. */
  allowedHosts: string[];
  /** Origins of other sites allowed to call the API from a browser (CORS); none by default. */
  allowedOrigins: string[];
  /** Listen beyond loopback without OMOI_API_TOKEN (OMOI_ALLOW_OPEN=1); warned on every start. */
  allowOpen: boolean;
  /** An id for this replica; sandboxes it supervises carry it as `owner`. */
  replicaId: string;
  model: {
    /** Anthropic-compatible endpoint; unset with no key → the scripted demo model. */
    baseUrl: string | undefined;
    apiKey: string | undefined;
    authToken: string | undefined;
    name: string | undefined;
    scenario: string;
  };
  bodyLimitBytes: number;
  /** Largest git bundle `POST /api/v1/bundles` takes. */
  uploadMaxBytes: number;
  /** How long an uploaded repository no task needs any more is kept before the sweeper deletes it. */
  uploadRetentionMs: number;
  /**
   * How long warm pools go without reading the environments again when no change was made on
   * this replica (a change made on another replica is seen after at most this).
   */
  warmPoolRefreshMs: number;
  /** Which machine this server runs on (health shows it; the CLI compares it with its own). */
  machineId: string;
  /** A viewer whose unsent backlog grows past this is told it lagged and disconnected. */
  viewerMaxBufferBytes: number;
  logLevel: string;
  /** Start the orchestrator and run agents (off for pure API/ingest replicas). */
  runAgents: boolean;
  /** Where to POST "a task needs you" notices (OMOI_WEBHOOK_URL), signed with OMOI_WEBHOOK_SECRET. */
  webhook: { url: string; secret: string } | undefined;
  /** Who Omoi's commits of the agent's leftover work name (OMOI_GIT_AUTHOR_*, OMOI_GIT_COMMITTER_*). */
  git: {
    author: { name: string; email: string };
    committer: { name: string; email: string };
  };
}

/** `scheme://host[:port]` and nothing else (no path, no wildcard). */
function isOrigin(value: string): boolean {
  if (value.includes("*")) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}

/** Loopback: a person on this machine, never the network. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return (
    bare === "localhost" ||
    bare.endsWith(".localhost") ||
    bare === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) ||
    /^::ffff:127\./.test(bare)
  );
}

const EnvSchema = z.object({
  OMOI_PORT: z.coerce.number().int().min(0).max(65535).default(18000),
  OMOI_HOST: z.string().min(1).default("127.0.0.1"),
  OMOI_DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: z.string().min(1).optional(),
  REDIS_URL: z.string().min(1).optional(),
  OMOI_REDIS_CHANNEL: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,100}$/)
    .default("omoi:events"),
  OMOI_API_TOKEN: z.string().min(8, "OMOI_API_TOKEN must be at least 8 characters").optional(),
  OMOI_SECRET: z.string().min(16, "OMOI_SECRET must be at least 16 characters").optional(),
  OMOI_MAX_SANDBOXES: z.coerce.number().int().min(1).max(1000).optional(),
  OMOI_MAX_QUEUED_TASKS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  OMOI_TASK_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(120),
  OMOI_SANDBOX_MAX_PROCESSES: z.coerce.number().int().min(16).max(100_000).optional(),
  OMOI_SANDBOX_MAX_MEMORY_MB: z.coerce.number().int().min(64).max(1_048_576).optional(),
  OMOI_SANDBOX_MAX_DISK_MB: z.coerce.number().int().min(1).max(10_485_760).optional(),
  OMOI_WORKSPACE_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 60 * 60_000),
  OMOI_WORKSPACE_SWEEP_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(10 * 60_000),
  OMOI_SANDBOX_ALLOW_READ: z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().startsWith("/", "OMOI_SANDBOX_ALLOW_READ takes absolute paths"))),
  OMOI_MAX_RUN_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(2 * 3_600_000),
  OMOI_MAX_TASK_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(8 * 3_600_000),
  OMOI_IDLE_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10 * 60_000),
  // Workers ping every 5 s; 12 s tolerates one lost ping and still catches a dead one within 15 s.
  OMOI_HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(1000).default(12_000),
  // Long enough to ride out a server restart or upgrade; after it the run has no supervisor.
  OMOI_WORKER_ORPHAN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(10 * 60_000),
  OMOI_PUBLIC_URL: z.url().optional(),
  OMOI_ALLOWED_HOSTS: commaList(
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/, "must be a host name or address, no port"),
  ).optional(),
  OMOI_ALLOWED_ORIGINS: commaList(
    z.string().refine((value) => value === "null" || isOrigin(value), {
      message:
        "must be an origin such as https://app.example:8443, or null (opt-in for pages opened from disk); never *",
    }),
  ).optional(),
  OMOI_ALLOW_OPEN: z.enum(["0", "1", "true", "false"]).default("0"),
  OMOI_REPLICA_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_AUTH_TOKEN: z.string().min(1).optional(),
  ANTHROPIC_MODEL: z.string().min(1).optional(),
  OMOI_SCENARIO: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("demo"),
  OMOI_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  OMOI_UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(512 * 1024 * 1024),
  OMOI_UPLOAD_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 60 * 60_000),
  OMOI_WARM_POOL_REFRESH_MS: z.coerce.number().int().min(100).default(5_000),
  OMOI_MACHINE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  OMOI_VIEWER_MAX_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(8 * 1024 * 1024),
  OMOI_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),
  OMOI_RUN_AGENTS: z.enum(["0", "1", "true", "false"]).default("1"),
  OMOI_WEBHOOK_URL: z
    .url()
    .refine((url) => /^https?:/.test(url), "OMOI_WEBHOOK_URL must be http(s)")
    .optional(),
  OMOI_WEBHOOK_SECRET: z
    .string()
    .min(16, "OMOI_WEBHOOK_SECRET must be at least 16 characters")
    .optional(),
  OMOI_GIT_AUTHOR_NAME: z.string().min(1).max(200).default("Omoi agent"),
  OMOI_GIT_AUTHOR_EMAIL: z.string().min(3).max(200).default("agent@omoi.invalid"),
  OMOI_GIT_COMMITTER_NAME: z.string().min(1).max(200).optional(),
  OMOI_GIT_COMMITTER_EMAIL: z.string().min(3).max(200).optional(),
});

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Default concurrency: a scripted agent costs ~150 MB and a little CPU; leave room for the server. */
function defaultMaxSandboxes(): number {
  const byMemory = Math.floor(os.totalmem() / (256 * 1024 * 1024));
  return Math.max(1, Math.min(byMemory, os.cpus().length * 4, 100));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blank = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = EnvSchema.safeParse(blank);
  if (!parsed.success)
    throw new ConfigError(`bad configuration: ${formatIssues(parsed.error.issues)}`);
  const values = parsed.data;
  if (values.OMOI_WEBHOOK_URL && !values.OMOI_WEBHOOK_SECRET) {
    throw new ConfigError(
      "bad configuration: OMOI_WEBHOOK_URL needs OMOI_WEBHOOK_SECRET (the key its receiver checks the signature with)",
    );
  }
  const allowOpen = values.OMOI_ALLOW_OPEN === "1" || values.OMOI_ALLOW_OPEN === "true";
  if (!isLoopbackHost(values.OMOI_HOST) && !values.OMOI_API_TOKEN && !allowOpen) {
    throw new ConfigError(
      `refusing to listen on ${values.OMOI_HOST} without OMOI_API_TOKEN: anyone who can reach it could run commands on this machine. Set OMOI_API_TOKEN (recommended), listen on 127.0.0.1, or set OMOI_ALLOW_OPEN=1 to accept the risk`,
    );
  }
  const dataDir = path.resolve(values.OMOI_DATA_DIR);
  return {
    port: values.OMOI_PORT,
    host: values.OMOI_HOST,
    dataDir,
    databaseUrl: values.DATABASE_URL,
    redisUrl: values.REDIS_URL,
    redisChannel: values.OMOI_REDIS_CHANNEL,
    apiToken: values.OMOI_API_TOKEN,
    secret: values.OMOI_SECRET ?? "",
    maxSandboxes: values.OMOI_MAX_SANDBOXES ?? defaultMaxSandboxes(),
    maxQueuedTasks: values.OMOI_MAX_QUEUED_TASKS,
    taskRateLimitPerMinute: values.OMOI_TASK_RATE_LIMIT,
    sandboxAllowRead: values.OMOI_SANDBOX_ALLOW_READ,
    workspaceRetentionMs: values.OMOI_WORKSPACE_RETENTION_MS,
    workspaceSweepIntervalMs: values.OMOI_WORKSPACE_SWEEP_INTERVAL_MS,
    sandboxLimits: {
      processes: values.OMOI_SANDBOX_MAX_PROCESSES,
      memory_mb: values.OMOI_SANDBOX_MAX_MEMORY_MB,
      disk_mb: values.OMOI_SANDBOX_MAX_DISK_MB,
    },
    maxRunMs: values.OMOI_MAX_RUN_MS,
    maxTaskMs: values.OMOI_MAX_TASK_MS,
    idleWindowMs: values.OMOI_IDLE_WINDOW_MS,
    heartbeatTimeoutMs: values.OMOI_HEARTBEAT_TIMEOUT_MS,
    workerOrphanTimeoutMs: values.OMOI_WORKER_ORPHAN_TIMEOUT_MS,
    publicUrl: values.OMOI_PUBLIC_URL,
    allowedHosts: (values.OMOI_ALLOWED_HOSTS ?? []).map((host) => host.toLowerCase()),
    allowedOrigins: values.OMOI_ALLOWED_ORIGINS ?? [],
    allowOpen,
    replicaId:
      values.OMOI_REPLICA_ID ??
      `${os
        .hostname()
        .replace(/[^A-Za-z0-9_-]/g, "")
        .slice(0, 40)}-${process.pid}`,
    model: {
      baseUrl: values.ANTHROPIC_BASE_URL,
      apiKey: values.ANTHROPIC_API_KEY,
      authToken: values.ANTHROPIC_AUTH_TOKEN,
      name: values.ANTHROPIC_MODEL,
      scenario: values.OMOI_SCENARIO,
    },
    bodyLimitBytes: values.OMOI_BODY_LIMIT_BYTES,
    uploadMaxBytes: values.OMOI_UPLOAD_MAX_BYTES,
    uploadRetentionMs: values.OMOI_UPLOAD_RETENTION_MS,
    warmPoolRefreshMs: values.OMOI_WARM_POOL_REFRESH_MS,
    machineId: values.OMOI_MACHINE_ID ?? machineIdentity(),
    viewerMaxBufferBytes: values.OMOI_VIEWER_MAX_BUFFER_BYTES,
    logLevel: values.OMOI_LOG_LEVEL,
    runAgents: values.OMOI_RUN_AGENTS === "1" || values.OMOI_RUN_AGENTS === "true",
    webhook:
      values.OMOI_WEBHOOK_URL && values.OMOI_WEBHOOK_SECRET
        ? { url: values.OMOI_WEBHOOK_URL, secret: values.OMOI_WEBHOOK_SECRET }
        : undefined,
    git: {
      author: { name: values.OMOI_GIT_AUTHOR_NAME, email: values.OMOI_GIT_AUTHOR_EMAIL },
      committer: {
        name: values.OMOI_GIT_COMMITTER_NAME ?? values.OMOI_GIT_AUTHOR_NAME,
        email: values.OMOI_GIT_COMMITTER_EMAIL ?? values.OMOI_GIT_AUTHOR_EMAIL,
      },
    },
  };
}

/** The scripted model answers when no model credentials are configured. */
export function usesScriptedModel(config: Config): boolean {
  return !config.model.apiKey && !config.model.authToken;
}

/**
 * Reads OMOI_SECRET, or a secret kept in the data dir (created on first start), so worker
 * tokens stay valid across restarts. Replicas on several machines must share OMOI_SECRET.
 */
export function resolveSecret(config: Config): string {
  if (config.secret) return config.secret;
  const file = path.join(config.dataDir, "secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const secret = randomBytes(32).toString("hex");
    writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
    return secret;
  }
}
