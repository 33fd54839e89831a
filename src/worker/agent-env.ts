import { mkdir } from "node:fs/promises";
import { join } from "node:path";

/** What the unconfined fallback needs to build the agent's environment. */
export interface AgentEnvOptions {
  stateDir: string;
  modelBaseUrl: string;
  modelEnv: Record<string, string>;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The agent's environment when it runs without confinement (tests, machines without
 * bubblewrap): built from nothing, like the confined one, so the worker's own secrets
 * never reach the CLI. Per-sandbox HOME, TMPDIR and CLAUDE_CONFIG_DIR under the state dir
 * keep sandboxes from sharing CLI state.
 */
export async function unconfinedAgentEnv(
  options: AgentEnvOptions,
): Promise<Record<string, string>> {
  const root = join(options.stateDir, "agent");
  const home = join(root, "home");
  const tmp = join(root, "tmp");
  const claudeConfig = join(root, "claude");
  await Promise.all([home, tmp, claudeConfig].map((dir) => mkdir(dir, { recursive: true })));
  return {
    PATH: process.env.PATH || DEFAULT_PATH,
    HOME: home,
    TMPDIR: tmp,
    CLAUDE_CONFIG_DIR: claudeConfig,
    LANG: "C.UTF-8",
    // The worker runs as root in containers; the CLI refuses bypassPermissions as root without it.
    IS_SANDBOX: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...options.modelEnv,
    ANTHROPIC_BASE_URL: options.modelBaseUrl,
  };
}
