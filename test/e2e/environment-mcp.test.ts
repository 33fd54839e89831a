import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { viewerUrl } from "../../src/client/viewer-frame.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runTaskWithEvents, workerLogs } from "../helpers/tasks.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * An environment's MCP servers and the repository's own Claude Code settings, proved with the
 * real CLI in the real sandbox: the scripted model calls an MCP tool, the server (a small
 * stdio MCP server the setup script writes) runs inside the sandbox, and its answer reaches
 * the agent; `agent.started` says which servers connected and which settings were loaded. A
 * remote one, started here on loopback, answers only requests that carry its bearer token.
 */

const MCP_SECRET = "mcp-secret-value-5e0c21aa";
const HEADER_SECRET = "mcp-bearer-header-secret-8b3f94";
let omoi: TestOmoi;
/** `${NAME}`: how an MCP server names a variable or secret of its environment. */
const reference = (name: string) => `\${${name}}`;
let outside: string;

/** A minimal MCP server over stdio: newline-delimited JSON-RPC with one tool, `echo`. */
const ECHO_SERVER = (escapePath: string) => `
import { createInterface } from "node:readline";
import { writeFileSync } from "node:fs";
const send = (message) => process.stdout.write(JSON.stringify(message) + "\\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  const message = JSON.parse(line);
  if (message.method === "initialize") {
    send({ jsonrpc: "2.0", id: message.id, result: {
      protocolVersion: message.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: "probe", version: "1.0.0" } } });
  } else if (message.method === "tools/list") {
    send({ jsonrpc: "2.0", id: message.id, result: { tools: [{ name: "echo",
      description: "Echoes its text", inputSchema: { type: "object",
      properties: { text: { type: "string" } }, required: ["text"] } }] } });
  } else if (message.method === "tools/call") {
    let escaped = "written";
    try { writeFileSync(${JSON.stringify(escapePath)}, "x"); } catch (error) { escaped = "refused:" + error.code; }
    const text = "echo-from-mcp: " + message.params.arguments.text + " token=" + process.env.PROBE_TOKEN +
      " greeting=" + process.env.PROBE_GREETING + " outside-write=" + escaped;
    send({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text }] } });
  } else if (message.id !== undefined) {
    send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "no such method" } });
  }
});
`;

before(async () => {
  outside = await mkdtemp(join(tmpdir(), "omoi-mcp-outside-"));
  omoi = await startTestOmoi();
});
after(async () => {
  await omoi.stop();
  await rm(outside, { recursive: true, force: true });
});

/** Every process's command line, as /proc shows it to any user of the machine. */
async function readCommandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (text) lines.push(text.replaceAll("\0", " "));
  }
  return lines;
}

/** While the agent's CLI still runs (so the probe is live), no command line holds `secret`. */
async function assertOnNoCommandLine(secret: string) {
  const commandLines = await readCommandLines();
  assert.ok(
    commandLines.some((line) => /claude-agent-sdk.*--input-format stream-json/.test(line)),
    "the agent's CLI still runs (the probe is live)",
  );
  assert.deepEqual(
    commandLines.filter((line) => line.includes(secret)),
    [],
    "the secret is on a command line other users can read",
  );
}

/** Every regular file under `root` whose bytes contain `text` (links are not followed). */
async function filesHolding(root: string, text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const bytes = await readFile(file).catch(() => null);
    if (bytes?.includes(text)) found.push(file);
  }
  return found;
}

const runTask = (environment: string, prompt: string) =>
  runTaskWithEvents(omoi.url, { prompt, environment });

const heredoc = (file: string, text: string) => `cat > ${file} <<'OMOI_EOF'\n${text}\nOMOI_EOF`;

describe("an environment's MCP servers and the repository's settings", () => {
  test("a stdio MCP server runs inside the sandbox with its referenced secret; the agent calls its tool and gets the answer", async () => {
    const escapePath = join(outside, "escaped.txt");
    const created = await api(omoi.url, "POST", "/api/v1/environments", {
      name: "with-mcp",
      setup_script: heredoc("mcp-echo.mjs", ECHO_SERVER(escapePath)),
      variables: { GREETING: "hello-vars" },
      secrets: { MCP_SECRET: { value: MCP_SECRET } },
      mcp_servers: {
        probe: {
          type: "stdio",
          command: process.execPath,
          args: ["mcp-echo.mjs"],
          env: { PROBE_TOKEN: reference("MCP_SECRET"), PROBE_GREETING: reference("GREETING") },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const { task, events } = await runTask("with-mcp", "[scenario:mcp] ping-through-mcp");
    assert.equal(task.status, "completed", task.error ?? "");
    // The session idles for follow-ups with its CLI alive: what any user of the machine can
    // read of its processes' command lines (the CLI's, bubblewrap's) must not hold the secret.
    await assertOnNoCommandLine(MCP_SECRET);
    const started = events.find((event) => event.event_type === "agent.started");
    assert.deepEqual(
      ((started?.payload.mcp_servers ?? []) as { name: string; status: string }[]).map(
        ({ name, status }) => ({ name, status }),
      ),
      [{ name: "probe", status: "connected" }],
      "the session view learns the server connected",
    );
    // A turn's end kills what the agent's tools left running, never the session's MCP
    // servers: after a follow-up turn has come and gone, the server still runs for the next.
    const viewer = new TestViewer(
      viewerUrl(omoi.url, { entityTypes: ["sandbox"], entityIds: [task.sandbox_id!], since: 0 }),
    );
    await api(omoi.url, "POST", `/api/v1/sandboxes/${task.sandbox_id}/messages`, {
      content: "still there?",
    });
    await viewer.waitForEvent(
      "agent.turn_completed",
      () =>
        viewer.events.some(
          (event) =>
            event.event_type === "agent.message" &&
            String(event.payload.content).includes("still there?"),
        ),
      60_000,
    );
    viewer.close();
    assert.ok(
      (await readCommandLines()).some((line) => line.trim() === `${process.execPath} mcp-echo.mjs`),
      "the MCP server outlives the turns",
    );

    const use = events.find((event) => event.event_type === "agent.tool_use");
    assert.equal(use?.payload.tool, "mcp__probe__echo");
    const result = events.find((event) => event.event_type === "agent.tool_result");
    const output = JSON.stringify(result?.payload.output);
    assert.match(output, /echo-from-mcp: ping-through-mcp/);
    assert.match(output, /greeting=hello-vars/, "a variable reference was filled in");
    assert.match(
      output,
      /token=•+/,
      "the secret reached the server, and was masked on its way out",
    );
    assert.match(output, /outside-write=refused:/, "the server runs confined to the sandbox");
    assert.equal(existsSync(escapePath), false);
    const said = events.filter((event) => event.event_type === "agent.message");
    assert.match(
      JSON.stringify(said.map((event) => event.payload)),
      /The MCP tool said: echo-from-mcp/,
    );

    const stored = await api(
      omoi.url,
      "GET",
      `/api/v1/sandboxes/${task.sandbox_id}/events?limit=1000`,
    );
    const environment = await api(omoi.url, "GET", "/api/v1/environments/with-mcp");
    const everything = JSON.stringify([stored.body, events, task, environment.body]);
    assert.ok(!everything.includes(MCP_SECRET), "the secret was stored or served");
    assert.ok(!(await workerLogs(omoi.dataDir)).includes(MCP_SECRET), "the secret was logged");
  });

  test("a remote (http) MCP server is reached through the agent's network level with its configured headers, and its tool answers the agent", async () => {
    let calls = 0;
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((request, response) => {
      seen.push(request.headers);
      // A hosted MCP server: nothing without its bearer token.
      if (request.headers.authorization !== `Bearer ${HEADER_SECRET}`) {
        response.writeHead(401, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: "unauthorized" }));
        return;
      }
      if (request.method !== "POST") {
        response.writeHead(405).end();
        return;
      }
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        const message = JSON.parse(body) as {
          id?: number;
          method: string;
          params?: Record<string, unknown>;
        };
        if (message.id === undefined) {
          response.writeHead(202).end();
          return;
        }
        const reply = (result: unknown) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
        };
        if (message.method === "initialize") {
          reply({
            protocolVersion: message.params?.protocolVersion,
            capabilities: { tools: {} },
            serverInfo: { name: "remote-probe", version: "1.0.0" },
          });
        } else if (message.method === "tools/list") {
          reply({
            tools: [
              {
                name: "echo",
                description: "Echoes its text",
                inputSchema: {
                  type: "object",
                  properties: { text: { type: "string" } },
                  required: ["text"],
                },
              },
            ],
          });
        } else if (message.method === "tools/call") {
          calls++;
          const text = (message.params?.arguments as { text?: string } | undefined)?.text;
          reply({
            content: [
              {
                type: "text",
                text: `remote-echo: ${text} tenant=${request.headers["x-tenant"]}`,
              },
            ],
          });
        } else reply({});
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as AddressInfo).port;
    try {
      const headers = {
        Authorization: `Bearer ${reference("MCP_TOKEN")}`,
        "X-Tenant": reference("TENANT"),
        "X-Client": "omoi-e2e",
      };
      const created = await api(omoi.url, "POST", "/api/v1/environments", {
        name: "with-remote-mcp",
        network: { agent: { level: "custom", hosts: [`127.0.0.1:${port}`] } },
        variables: { TENANT: "acme" },
        secrets: { MCP_TOKEN: { value: HEADER_SECRET } },
        mcp_servers: { probe: { type: "http", url: `http://127.0.0.1:${port}/mcp`, headers } },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { task, events } = await runTask("with-remote-mcp", "[scenario:mcp] over-http");
      assert.equal(task.status, "completed", task.error ?? "");
      const started = events.find((event) => event.event_type === "agent.started");
      assert.deepEqual(started?.payload.mcp_servers, [{ name: "probe", status: "connected" }]);
      const result = events.find((event) => event.event_type === "agent.tool_result");
      const output = JSON.stringify(result?.payload.output);
      assert.match(output, /remote-echo: over-http tenant=acme/);
      assert.equal(calls, 1);
      assert.ok(seen.length >= 3, "initialize, tools/list and tools/call reached the server");
      for (const received of seen) {
        assert.equal(received.authorization, `Bearer ${HEADER_SECRET}`);
        assert.equal(received["x-tenant"], "acme");
        assert.equal(received["x-client"], "omoi-e2e");
      }

      // The session idles with its CLI alive: the token is on no process's command line, in no
      // file under the data dir (the sandbox's home, Claude Code's config and temp dirs, the
      // workspace, the logs, the database), in no event and in no response.
      await assertOnNoCommandLine(HEADER_SECRET);
      assert.deepEqual(await filesHolding(omoi.dataDir, HEADER_SECRET), []);
      const stored = await api(
        omoi.url,
        "GET",
        `/api/v1/sandboxes/${task.sandbox_id}/events?limit=1000`,
      );
      const environment = await api<{ mcp_servers: Record<string, { headers?: unknown }> }>(
        omoi.url,
        "GET",
        "/api/v1/environments/with-remote-mcp",
      );
      assert.deepEqual(environment.body.mcp_servers.probe.headers, headers);
      const listed = await api(omoi.url, "GET", "/api/v1/environments");
      const everything = JSON.stringify([stored.body, events, task, environment.body, listed.body]);
      assert.ok(!everything.includes(HEADER_SECRET), "the header's secret was stored or served");
      assert.ok(!(await workerLogs(omoi.dataDir)).includes(HEADER_SECRET), "it was logged");
    } finally {
      server.close();
    }
  });

  test("the session's first event lists the repository's CLAUDE.md, settings, commands, agents and skills Claude Code loaded", async () => {
    const created = await api(omoi.url, "POST", "/api/v1/environments", {
      name: "with-settings",
      setup_script: [
        "mkdir -p .claude/commands/ops .claude/agents .claude/skills/greet",
        "echo 'Be brief.' > CLAUDE.md",
        `echo '{"env": {"FROM_SETTINGS": "yes"}}' > .claude/settings.json`,
        "printf -- '---\\ndescription: Say hello\\n---\\nSay hello.\\n' > .claude/commands/hello.md",
        "printf -- '---\\ndescription: Deploy\\n---\\nDeploy it.\\n' > .claude/commands/ops/deploy.md",
        "printf -- '---\\nname: reviewer\\ndescription: Reviews code\\n---\\nReview.\\n' > .claude/agents/reviewer.md",
        "printf -- '---\\nname: greet\\ndescription: Greets people\\n---\\nGreet.\\n' > .claude/skills/greet/SKILL.md",
        // A link out of the workspace is never followed by the trusted side.
        "ln -s /etc .claude/skills/escape",
      ].join("\n"),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { task, events } = await runTask("with-settings", "[scenario:quick] hi");
    assert.equal(task.status, "completed", task.error ?? "");
    const started = events.find((event) => event.event_type === "agent.started")?.payload;
    assert.deepEqual(started?.project_settings, {
      files: ["CLAUDE.md", ".claude/settings.json"],
      commands: ["deploy", "hello"],
      agents: ["reviewer"],
      skills: ["greet"],
    });
    // What Claude Code itself reported loading.
    const loaded = (field: string) => (started?.[field] as string[] | undefined) ?? [];
    assert.ok(loaded("slash_commands").includes("hello"), loaded("slash_commands").join(","));
    assert.ok(loaded("agents").includes("reviewer"), loaded("agents").join(","));
    assert.ok(loaded("skills").includes("greet"), loaded("skills").join(","));
  });
});
