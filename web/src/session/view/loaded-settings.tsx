import type { LoadedItem } from "../items.ts";

function List({ label, names, prefix = "" }: { label: string; names: string[]; prefix?: string }) {
  if (names.length === 0) return null;
  return (
    <div className="loaded-row">
      <span className="loaded-label muted">{label}</span>
      <span className="loaded-names">{names.map((name) => `${prefix}${name}`).join(", ")}</span>
    </div>
  );
}

/**
 * What the agent started with: the repository's Claude Code settings (CLAUDE.md, settings
 * files, commands, agents, skills) and the environment's MCP servers with their status.
 */
export function LoadedSettings({ item }: { item: LoadedItem }) {
  const failed = item.mcpServers.filter((server) => server.status !== "connected");
  const summary = [
    item.files.length > 0 ? item.files.join(", ") : null,
    item.commands.length > 0 ? `${item.commands.length} command${item.commands.length === 1 ? "" : "s"}` : null,
    item.agents.length > 0 ? `${item.agents.length} agent${item.agents.length === 1 ? "" : "s"}` : null,
    item.skills.length > 0 ? `${item.skills.length} skill${item.skills.length === 1 ? "" : "s"}` : null,
    item.mcpServers.length > 0
      ? `${item.mcpServers.length} MCP server${item.mcpServers.length === 1 ? "" : "s"}`
      : null,
  ].filter((part) => part !== null);
  return (
    <details className="loaded-settings" data-testid="loaded-settings" open={failed.length > 0}>
      <summary>
        <span className="loaded-title">Loaded</span>
        <span className="loaded-summary muted">{summary.join(" · ")}</span>
      </summary>
      <List label="Settings" names={item.files} />
      <List label="Commands" names={item.commands} prefix="/" />
      <List label="Agents" names={item.agents} />
      <List label="Skills" names={item.skills} />
      {item.mcpServers.length > 0 ? (
        <div className="loaded-row">
          <span className="loaded-label muted">MCP servers</span>
          <span className="loaded-names">
            {item.mcpServers.map((server) => (
              <span
                key={server.name}
                className={`mcp-server mcp-${server.status === "connected" ? "ok" : "failed"}`}
                data-testid="mcp-server"
              >
                {server.name} ({server.status})
              </span>
            ))}
          </span>
        </div>
      ) : null}
    </details>
  );
}
