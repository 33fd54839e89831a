import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A temp workspace plus a private home/config/tmp for one Claude Code CLI run (test helper). */
export interface CliSandbox {
  workspace: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Environment that offers TodoWrite directly (not deferred behind ToolSearch). */
export const todoWriteEnv = {
  CLAUDE_CODE_ENABLE_TASKS: "0",
  CLAUDE_CODE_ENABLE_TODO_TOOLS: "1",
  ENABLE_TOOL_SEARCH: "false",
};

export async function cliSandbox(
  modelUrl: string,
  extra: Record<string, string> = {},
): Promise<CliSandbox> {
  const root = await mkdtemp(join(tmpdir(), "omoi-model-test-"));
  const workspace = join(root, "workspace");
  const home = join(root, "home");
  await mkdir(workspace);
  await mkdir(home);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const env = {
    ...inherited,
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: "scripted",
    IS_SANDBOX: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    CLAUDE_CONFIG_DIR: home,
    HOME: home,
    TMPDIR: home,
    ...extra,
  };
  return { workspace, env, cleanup: () => rm(root, { recursive: true, force: true }) };
}
