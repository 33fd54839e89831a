import type { McpServer, NetworkPolicy } from "../protocol/environment.ts";
import { badRequest } from "../protocol/error.ts";
import { networkAllows } from "./network.ts";

/** `${NAME}` in an stdio server's `env` values and `args`: a variable or an agent secret. */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** What the SDK's `mcpServers` option takes for the servers Omoi hands over. */
export type SdkMcpServer =
  | { type: "stdio"; command: string; args: string[]; env?: Record<string, string> }
  | { type: "http" | "sse"; url: string };

/** The parts of an environment its MCP servers are checked against. */
export interface McpContext {
  agentNetwork: NetworkPolicy;
  variables: readonly string[];
  secrets: readonly { name: string; setup_only: boolean }[];
}

/**
 * Refuses, with every reason at once, MCP servers that could never work as configured: a
 * remote server whose host the agent phase's network does not allow, or a `${NAME}` that names
 * no variable, or a secret kept for setup only (the agent must never hold it).
 */
export function checkMcpServers(servers: Record<string, McpServer>, context: McpContext): void {
  const problems: string[] = [];
  const agentNames = new Set([
    ...context.variables,
    ...context.secrets.filter((secret) => !secret.setup_only).map((secret) => secret.name),
  ]);
  const setupOnly = new Set(
    context.secrets.filter((secret) => secret.setup_only).map((secret) => secret.name),
  );
  for (const [name, server] of Object.entries(servers)) {
    if (server.type === "stdio") {
      const texts = [...server.args, ...Object.values(server.env ?? {})];
      for (const text of texts) {
        for (const [, reference] of text.matchAll(REFERENCE)) {
          if (agentNames.has(reference)) continue;
          problems.push(
            setupOnly.has(reference)
              ? `mcp_servers.${name}: '\${${reference}}' is a setup-only secret; the agent's MCP servers cannot have it`
              : `mcp_servers.${name}: '\${${reference}}' names no variable or secret of this environment`,
          );
        }
      }
      continue;
    }
    const url = new URL(server.url);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    if (!networkAllows(context.agentNetwork, url.hostname, port)) {
      problems.push(
        `mcp_servers.${name}: ${url.hostname}:${port} is not reachable with the agent's network level '${context.agentNetwork.level}'; allow it (network.agent: custom with this host) or remove the server`,
      );
    }
  }
  if (problems.length > 0) throw badRequest(problems.join("; "), { problems });
}

/**
 * The servers as the SDK takes them, with `${NAME}` filled from what the agent's processes
 * get (`values`). A stdio server gets its own `env` on top of the agent's environment.
 * `alwaysLoad` makes the CLI connect before the first turn, so the tools are there from it on.
 */
export function sdkMcpServers(
  servers: Record<string, McpServer>,
  values: Record<string, string>,
): Record<string, SdkMcpServer & { alwaysLoad: true }> {
  const fill = (text: string) =>
    text.replace(REFERENCE, (whole, name: string) =>
      Object.hasOwn(values, name) ? values[name] : whole,
    );
  return Object.fromEntries(
    Object.entries(servers).map(([name, server]) => {
      if (server.type !== "stdio")
        return [name, { type: server.type, url: server.url, alwaysLoad: true }];
      const env = server.env
        ? Object.fromEntries(Object.entries(server.env).map(([key, value]) => [key, fill(value)]))
        : undefined;
      return [
        name,
        {
          type: "stdio",
          command: server.command,
          args: server.args.map(fill),
          ...(env ? { env } : {}),
          alwaysLoad: true,
        },
      ];
    }),
  );
}
