import { z } from "zod";
import { McpServer, NetworkPolicy } from "../protocol/environment.ts";
import type { ResolvedEnvironment } from "./environments.ts";

/**
 * What a worker needs of an environment to prepare its sandbox: the setup script and the
 * values it runs with, the network of each phase, and what the agent's processes get.
 * Travels inside the worker's configuration (trusted side only, never into the sandbox).
 */
export const LaunchEnvironment = z.object({
  id: z.string().nullable(),
  name: z.string().nullable(),
  /** The environment's own script; null: the repository's `.omoi/setup.sh` when there is one. */
  setupScript: z.string().nullable(),
  network: z.object({ setup: NetworkPolicy, agent: NetworkPolicy }),
  variables: z.record(z.string(), z.string()),
  secrets: z.array(z.object({ name: z.string(), value: z.string(), setupOnly: z.boolean() })),
  mcpServers: z.record(z.string(), McpServer),
  /** When a snapshot rebuild was last asked for: snapshots from before do not match. */
  snapshotsResetAt: z.number().nullable().default(null),
});
export type LaunchEnvironment = z.infer<typeof LaunchEnvironment>;

export function launchEnvironment(environment: ResolvedEnvironment): LaunchEnvironment {
  const setupOnly = new Map(
    environment.spec.secrets.map((secret) => [secret.name, secret.setup_only]),
  );
  return {
    id: environment.id,
    name: environment.name,
    setupScript: environment.spec.setup_script,
    network: environment.spec.network,
    variables: environment.spec.variables,
    secrets: Object.entries(environment.secrets).map(([name, value]) => ({
      name,
      value,
      setupOnly: setupOnly.get(name) ?? false,
    })),
    mcpServers: environment.spec.mcp_servers,
    snapshotsResetAt: environment.spec.snapshots_reset_at ?? null,
  };
}

/** The variables of one phase: every secret for setup; for the agent, all but setup-only ones. */
export function phaseVariables(
  environment: LaunchEnvironment,
  phase: "setup" | "agent",
): Record<string, string> {
  const secrets = environment.secrets.filter((secret) => phase === "setup" || !secret.setupOnly);
  return {
    ...environment.variables,
    ...Object.fromEntries(secrets.map((secret) => [secret.name, secret.value])),
  };
}

/** The model endpoint and credentials a task runs with: the environment's, else the server's. */
export function modelSettings(
  environment: ResolvedEnvironment | null,
  server: { modelBaseUrl: string; modelEnv: Record<string, string> },
): { modelBaseUrl: string; modelEnv: Record<string, string> } {
  const credentials = environment?.modelCredentials;
  const model = environment?.spec.model;
  const kept = Object.fromEntries(
    Object.entries(server.modelEnv).filter(
      ([name]) =>
        !credentials ||
        !["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"].includes(name),
    ),
  );
  if (model) kept.ANTHROPIC_MODEL = model;
  if (!credentials) return { modelBaseUrl: server.modelBaseUrl, modelEnv: kept };
  switch (credentials.kind) {
    case "api_key":
      return {
        modelBaseUrl: server.modelBaseUrl,
        modelEnv: { ...kept, ANTHROPIC_API_KEY: credentials.api_key },
      };
    case "auth_token":
      return {
        modelBaseUrl: credentials.base_url,
        modelEnv: { ...kept, ANTHROPIC_AUTH_TOKEN: credentials.auth_token },
      };
    case "oauth_token":
      return {
        modelBaseUrl: server.modelBaseUrl,
        modelEnv: { ...kept, CLAUDE_CODE_OAUTH_TOKEN: credentials.oauth_token },
      };
  }
}
