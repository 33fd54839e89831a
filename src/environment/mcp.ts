import {
  HEADER_VALUE,
  MCP_HEADER_VALUE_MAX_BYTES,
  type McpServer,
  type NetworkPolicy,
} from "../protocol/environment.ts";
import { badRequest } from "../protocol/error.ts";
import { networkAllows } from "./network.ts";

/**
 * `${NAME}` in an stdio server's `env` values and `args`, and in a remote server's `headers`
 * values: a variable or an agent secret.
 */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** What the SDK's `mcpServers` option takes for the servers Omoi hands over. */
export type SdkMcpServer =
  | { type: "stdio"; command: string; args: string[]; env?: Record<string, string> }
  | { type: "http" | "sse"; url: string; headers?: Record<string, string> };

/** The parts of an environment its MCP servers are checked against. */
export interface McpContext {
  agentNetwork: NetworkPolicy;
  variables: readonly string[];
  secrets: readonly { name: string; setup_only: boolean }[];
  /**
   * What the agent's processes get (variables and agent secrets), when known: a header is then
   * checked as it will be sent, so a value with a line break can never reach a request.
   */
  values?: Readonly<Record<string, string>>;
}

/**
 * Refuses, with every reason at once, MCP servers that could never work as configured: a
 * remote server whose host the agent phase's network does not allow, or a `${NAME}` that names
 * no variable, or a secret kept for setup only (the agent must never hold it), or a header that
 * filled in could not be sent.
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
  const checkReferences = (name: string, texts: string[]) => {
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
  };
  for (const [name, server] of Object.entries(servers)) {
    if (server.type === "stdio") {
      checkReferences(name, [...server.args, ...Object.values(server.env ?? {})]);
      continue;
    }
    const headers = server.headers ?? {};
    checkReferences(name, Object.values(headers));
    if (context.values) problems.push(...filledHeaderProblems(name, headers, context.values));
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
  const fill = (text: string) => fillReferences(text, values);
  return Object.fromEntries(
    Object.entries(servers).map(([name, server]) => {
      if (server.type !== "stdio") {
        const headers = server.headers
          ? Object.fromEntries(
              Object.entries(server.headers).map(([header, value]) => [header, fill(value)]),
            )
          : undefined;
        return [
          name,
          { type: server.type, url: server.url, ...(headers ? { headers } : {}), alwaysLoad: true },
        ];
      }
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

/** `${NAME}` replaced by `values[NAME]`, in one pass; a name not there is left as written. */
function fillReferences(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(REFERENCE, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name] : whole,
  );
}

/**
 * A header whose value, once filled, could not be sent as written: a variable or secret with a
 * line break or control character (it would end the header and start another), or too long.
 * The problem names the header and the reference, never the value.
 */
function filledHeaderProblems(
  server: string,
  headers: Record<string, string>,
  values: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = [];
  for (const [header, template] of Object.entries(headers)) {
    const filled = fillReferences(template, values);
    if (filled === template) continue;
    if (!HEADER_VALUE.test(filled)) {
      problems.push(
        `mcp_servers.${server}.headers.${header}: what it references holds a line break, control or non-ASCII character, which a header cannot carry`,
      );
    } else if (new TextEncoder().encode(filled).length > MCP_HEADER_VALUE_MAX_BYTES) {
      problems.push(
        `mcp_servers.${server}.headers.${header}: filled in, it is over ${MCP_HEADER_VALUE_MAX_BYTES} bytes`,
      );
    }
  }
  return problems;
}
