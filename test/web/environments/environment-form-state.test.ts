import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Environment } from "../../../src/protocol/environment.ts";
import {
  createBody,
  initialFormState,
  patchBody,
} from "../../../web/src/environments/environment-form-state.ts";

const existing: Environment = {
  id: "env_1",
  name: "web",
  description: null,
  setup_script: "npm ci",
  network: { setup: { level: "trusted" }, agent: { level: "custom", hosts: ["a.example.com"] } },
  variables: { A: "1" },
  secrets: [{ name: "TOKEN", setup_only: true, hint: "••••" }],
  model: null,
  model_credentials: { kind: "api_key", hint: "••••abcd" },
  mcp_servers: { probe: { type: "stdio", command: "probe", args: [] } },
  snapshots_reset_at: null,
  warm_pool: 0,
  created_at: 1,
  updated_at: 1,
};

describe("the environment form's state", () => {
  it("an untouched edit changes nothing: secrets and credentials are kept, never re-sent", () => {
    assert.deepEqual(patchBody(existing, initialFormState(existing)), {});
  });

  it("an edit sends only what changed, with null for what was removed", () => {
    const state = initialFormState(existing);
    state.variables = "B=2";
    state.agentLevel = "none";
    state.secrets[0].action = "remove";
    state.newSecrets = "NEW=value-1234";
    state.credentials = "remove";
    state.mcpServers = "";
    state.script = "  ";
    assert.deepEqual(patchBody(existing, state), {
      setup_script: null,
      network: { setup: { level: "trusted" }, agent: { level: "none" } },
      variables: { A: null, B: "2" },
      secrets: { TOKEN: null, NEW: { value: "value-1234", setup_only: false } },
      model_credentials: null,
      mcp_servers: null,
    });
  });

  it("a remote MCP server's headers are edited as JSON: shown as their templates, sent only when changed", () => {
    const hosted: Environment = {
      ...existing,
      mcp_servers: {
        hosted: {
          type: "http",
          url: "https://a.example.com/mcp",
          headers: { Authorization: `Bearer \${TOKEN}` },
        },
      },
    };
    const state = initialFormState(hosted);
    assert.match(state.mcpServers, /"Authorization": "Bearer \$\{TOKEN\}"/);
    assert.deepEqual(patchBody(hosted, state), {}, "an untouched edit re-sends no header");
    state.mcpServers = JSON.stringify({
      hosted: {
        type: "http",
        url: "https://a.example.com/mcp",
        headers: { Authorization: `Bearer \${TOKEN}`, "X-Team": "web" },
      },
    });
    assert.deepEqual(patchBody(hosted, state).mcp_servers, {
      hosted: {
        type: "http",
        url: "https://a.example.com/mcp",
        headers: { Authorization: `Bearer \${TOKEN}`, "X-Team": "web" },
      },
    });
    assert.deepEqual(
      createBody({ ...initialFormState(), name: "x", mcpServers: state.mcpServers }).mcp_servers,
      JSON.parse(state.mcpServers),
    );
  });

  it("a warm pool is sent when set, and only when it changed; a bad size says what to fix", () => {
    const state = initialFormState(existing);
    state.warmPool = "2";
    assert.deepEqual(patchBody(existing, state), { warm_pool: 2 });
    assert.deepEqual(patchBody({ ...existing, warm_pool: 2 }, state), {});
    assert.equal(createBody({ ...initialFormState(), name: "x" }).warm_pool, undefined);
    assert.equal(createBody({ ...initialFormState(), name: "x", warmPool: "3" }).warm_pool, 3);
    for (const bad of ["5", "-1", "1.5", "two"])
      assert.throws(
        () => createBody({ ...initialFormState(), name: "x", warmPool: bad }),
        /Warm pool: a whole number from 0 to 4/,
      );
  });

  it("says what to fix: a replaced secret without a value, a line without '=', MCP servers that are not an object", () => {
    const state = initialFormState(existing);
    state.secrets[0].action = "replace";
    assert.throws(() => patchBody(existing, state), /Secret TOKEN: enter the new value/);
    assert.throws(
      () => createBody({ ...initialFormState(), name: "x", variables: "NOVALUE" }),
      /NAME=value/,
    );
    assert.throws(
      () => createBody({ ...initialFormState(), name: "x", mcpServers: "[1]" }),
      /give an object/,
    );
    assert.throws(
      () =>
        createBody({
          ...initialFormState(),
          name: "x",
          credentials: "auth_token",
          credentialValue: "t",
        }),
      /base URL/,
    );
  });

  it("a new environment's body carries model, credentials and MCP servers when given", () => {
    const body = createBody({
      ...initialFormState(),
      name: " fresh ",
      model: "claude-sonnet-4-5",
      credentials: "oauth_token",
      credentialValue: "sk-ant-oat01-x",
      mcpServers: '{"docs": {"type": "http", "url": "https://docs.example.com/mcp"}}',
    });
    assert.equal(body.name, "fresh");
    assert.equal(body.model, "claude-sonnet-4-5");
    assert.deepEqual(body.model_credentials, {
      kind: "oauth_token",
      oauth_token: "sk-ant-oat01-x",
    });
    assert.deepEqual(body.mcp_servers, {
      docs: { type: "http", url: "https://docs.example.com/mcp" },
    });
  });
});
