import assert from "node:assert/strict";
import { test } from "node:test";
import { phaseVariables } from "../../src/environment/launch.ts";
import { checkMcpServers, sdkMcpServers } from "../../src/environment/mcp.ts";
import type { McpServer } from "../../src/protocol/environment.ts";

/*
 * `${NAME}` in an MCP server's args and env is filled only from what the agent's processes
 * get: the environment's variables and agent secrets — never a setup-only secret, never the
 * server's or worker's own environment, and only once.
 */

const servers: Record<string, McpServer> = {
  probe: {
    type: "stdio",
    command: `node \${AGENT_TOKEN}`,
    args: [`--token=\${AGENT_TOKEN}`, `\${SETUP_TOKEN}`, `\${HOME}`, `\${NESTED}`, `\${__proto__}`],
    env: { A: `\${AGENT_TOKEN}`, B: `\${SETUP_TOKEN}`, C: `\${PATH}`, D: `\${constructor}` },
  },
};

test("references are filled from variables and agent secrets only, in one pass", () => {
  const values = phaseVariables(
    {
      id: "env_1",
      name: "e",
      setupScript: null,
      network: { setup: { level: "none" }, agent: { level: "none" } },
      variables: { NESTED: `\${SETUP_TOKEN}` },
      secrets: [
        { name: "AGENT_TOKEN", value: "agent-secret-1", setupOnly: false },
        { name: "SETUP_TOKEN", value: "setup-secret-2", setupOnly: true },
      ],
      mcpServers: servers,
      snapshotsResetAt: null,
    },
    "agent",
  );
  const filled = sdkMcpServers(servers, values).probe;
  assert.equal(filled.type, "stdio");
  if (filled.type !== "stdio") return;
  assert.equal(filled.command, `node \${AGENT_TOKEN}`, "the command is never filled");
  assert.deepEqual(filled.args, [
    "--token=agent-secret-1",
    `\${SETUP_TOKEN}`,
    `\${HOME}`,
    `\${SETUP_TOKEN}`,
    `\${__proto__}`,
  ]);
  assert.deepEqual(filled.env, {
    A: "agent-secret-1",
    B: `\${SETUP_TOKEN}`,
    C: `\${PATH}`,
    D: `\${constructor}`,
  });
  assert.ok(!JSON.stringify(filled).includes("setup-secret-2"));
});

test("a reference to a setup-only secret, the server's environment or an object key is refused up front", () => {
  assert.throws(
    () =>
      checkMcpServers(servers, {
        agentNetwork: { level: "none" },
        variables: ["NESTED"],
        secrets: [
          { name: "AGENT_TOKEN", setup_only: false },
          { name: "SETUP_TOKEN", setup_only: true },
        ],
      }),
    (error: Error & { data?: { problems?: string[] } }) => {
      const problems = error.data?.problems ?? [];
      assert.ok(problems.some((problem) => /SETUP_TOKEN.*setup-only/.test(problem)));
      for (const name of ["HOME", "PATH", "__proto__", "constructor"])
        assert.ok(
          problems.some((problem) => problem.includes(`\${${name}}' names no variable`)),
          name,
        );
      return true;
    },
  );
});
