import path from "node:path";

/** Where a sandbox's writable private state lives, under the worker's per-sandbox state dir. */
export interface AgentStatePaths {
  /** The only part of the state dir the sandbox may see (and write). */
  root: string;
  home: string;
  tmp: string;
  claudeConfig: string;
}

export function agentStatePaths(stateDir: string): AgentStatePaths {
  const root = path.join(stateDir, "agent");
  return {
    root,
    home: path.join(root, "home"),
    tmp: path.join(root, "tmp"),
    claudeConfig: path.join(root, "claude"),
  };
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Model settings that are names, not secrets, and may pass into the sandbox unchanged. */
const MODEL_SETTING = /^(ANTHROPIC_(MODEL|SMALL_FAST_MODEL|DEFAULT_[A-Z]+_MODEL)|API_TIMEOUT_MS)$/;

/** Anything that looks like a credential or an Omoi/infrastructure setting. */
const SECRET_LIKE =
  /(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|DATABASE|REDIS|POSTGRES|PG[A-Z]+$)/i;
const NEVER_FORWARDED = /^(ANTHROPIC_|OMOI_|AWS_|GOOGLE_|AZURE_|NODE_OPTIONS$|LD_|BASH_ENV$|ENV$)/;
const PROXY_SETTING = /^(https?|all|no|ftp|grpc)_proxy$/i;

export interface SandboxEnvOptions {
  paths: AgentStatePaths;
  gatewayUrl: string;
  /** The gateway's per-sandbox token; stands where the real key would. */
  accessToken: string;
  modelEnv: Record<string, string>;
}

/** The agent's environment, built from nothing: no inherited variable reaches the sandbox. */
export function buildSandboxEnv(options: SandboxEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH || DEFAULT_PATH,
    HOME: options.paths.home,
    TMPDIR: options.paths.tmp,
    CLAUDE_CONFIG_DIR: options.paths.claudeConfig,
    LANG: "C.UTF-8",
    IS_SANDBOX: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ANTHROPIC_BASE_URL: options.gatewayUrl,
  };
  const usesBearer =
    options.modelEnv.ANTHROPIC_AUTH_TOKEN !== undefined &&
    options.modelEnv.ANTHROPIC_API_KEY === undefined;
  if (usesBearer) env.ANTHROPIC_AUTH_TOKEN = options.accessToken;
  else env.ANTHROPIC_API_KEY = options.accessToken;
  for (const [name, value] of Object.entries(options.modelEnv)) {
    if (MODEL_SETTING.test(name)) env[name] = value;
  }
  return env;
}

/**
 * The environment a confined CLI is spawned with: the confinement's own variables, plus only
 * the harmless ones the SDK adds (CLAUDE_CODE_ENTRYPOINT, CLAUDE_AGENT_SDK_VERSION…). A
 * variable that looks like a secret, a proxy or an Omoi setting never passes, whoever set it.
 */
export function mergeSpawnEnv(
  base: Record<string, string>,
  requested: Record<string, string | undefined>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(requested)) {
    if (value === undefined || name in base) continue;
    if (SECRET_LIKE.test(name) || NEVER_FORWARDED.test(name) || PROXY_SETTING.test(name)) continue;
    if (process.env[name] === value && !name.startsWith("CLAUDE_")) continue;
    env[name] = value;
  }
  return { ...env, ...base };
}
