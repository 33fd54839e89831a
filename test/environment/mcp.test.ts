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

const remote: Record<string, McpServer> = {
  hosted: {
    type: "http",
    url: "https://mcp.example.com/mcp",
    headers: {
      Authorization: `Bearer \${AGENT_TOKEN}`,
      "X-Tenant": `\${TENANT}-\${NESTED}`,
      "X-Setup": `\${SETUP_TOKEN}`,
      "X-Server-Env": `\${HOME}`,
      "X-Literal": "plain",
    },
  },
  bare: { type: "sse", url: "https://mcp.example.com/sse" },
};

test("a remote server's header values are filled like the other fields: agent values only, in one pass", () => {
  const filled = sdkMcpServers(remote, {
    AGENT_TOKEN: "agent-secret-1",
    TENANT: "acme",
    NESTED: `\${AGENT_TOKEN}`,
  });
  assert.deepEqual(filled.hosted, {
    type: "http",
    url: "https://mcp.example.com/mcp",
    headers: {
      Authorization: "Bearer agent-secret-1",
      "X-Tenant": `acme-\${AGENT_TOKEN}`,
      "X-Setup": `\${SETUP_TOKEN}`,
      "X-Server-Env": `\${HOME}`,
      "X-Literal": "plain",
    },
    alwaysLoad: true,
  });
  assert.deepEqual(
    filled.bare,
    { type: "sse", url: "https://mcp.example.com/sse", alwaysLoad: true },
    "a server without headers is handed over without any",
  );
  assert.deepEqual(
    remote.hosted.type === "http" ? remote.hosted.headers?.Authorization : null,
    `Bearer \${AGENT_TOKEN}`,
    "the configuration keeps the template",
  );
});

test("a header referencing a setup-only secret or nothing is refused; so is one whose filled value could not be sent", () => {
  const context = {
    agentNetwork: { level: "custom" as const, hosts: ["mcp.example.com"] },
    variables: ["TENANT", "NESTED"],
    secrets: [
      { name: "AGENT_TOKEN", setup_only: false },
      { name: "SETUP_TOKEN", setup_only: true },
    ],
  };
  const problemsOf = (servers: Record<string, McpServer>, values?: Record<string, string>) => {
    try {
      checkMcpServers(servers, { ...context, ...(values ? { values } : {}) });
      return [];
    } catch (error) {
      return (error as Error & { data: { problems: string[] } }).data.problems;
    }
  };
  const problems = problemsOf(remote);
  assert.ok(
    problems.some((problem) => /hosted: '\$\{SETUP_TOKEN\}' is a setup-only secret/.test(problem)),
  );
  assert.ok(problems.some((problem) => /hosted: '\$\{HOME\}' names no variable/.test(problem)));
  assert.equal(problems.length, 2, problems.join("\n"));

  const hosted = { type: "http" as const, url: "https://mcp.example.com/mcp" };
  const withLineBreak = problemsOf(
    { hosted: { ...hosted, headers: { Authorization: `Bearer \${AGENT_TOKEN}` } } },
    { AGENT_TOKEN: "token-9c1e\r\nX-Injected: yes" },
  );
  assert.equal(withLineBreak.length, 1);
  assert.match(withLineBreak[0], /hosted\.headers\.Authorization: .*line break/);
  assert.ok(!withLineBreak[0].includes("token-9c1e"), "the problem never shows the value");
  const tooLong = problemsOf(
    { hosted: { ...hosted, headers: { "X-Tenant": `\${TENANT}` } } },
    { TENANT: "t".repeat(8 * 1024 + 1) },
  );
  assert.match(tooLong[0], /X-Tenant: filled in, it is over 8192 bytes/);
  assert.deepEqual(
    problemsOf(
      { hosted: { ...hosted, headers: { Authorization: `Bearer \${AGENT_TOKEN}` } } },
      { AGENT_TOKEN: "fine-token" },
    ),
    [],
  );
});
