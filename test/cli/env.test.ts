import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Environment } from "../../src/protocol/environment.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi, tempDir } from "../helpers/omoi.ts";
import { omoi } from "./cli-process.ts";

describe("omoi env", () => {
  let server: TestOmoi;
  const files = tempDir("omoi-env-cli-");
  before(async () => {
    server = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
  });
  after(async () => {
    await server?.stop();
    files.remove();
  });
  const cli = (args: string[], env: Record<string, string> = {}) =>
    omoi([...args, "--server", server.url], env);

  it("creates an environment from flags; a secret read from the caller's environment is never shown", async () => {
    const script = path.join(files.dir, "setup.sh");
    writeFileSync(script, "npm ci\n");
    const result = await cli(
      [
        "env",
        "create",
        "web",
        "--script",
        script,
        "--agent-host",
        "api.example.com",
        "--agent-host",
        "*.cdn.example.com:443",
        "--var",
        "NODE_ENV=test",
        "--secret",
        "NPM_TOKEN",
        "--setup-secret",
        "DEPLOY_KEY=deploy-key-value-123456",
      ],
      { NPM_TOKEN: "npm-token-from-the-shell-9876" },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /agent network: {2}custom: api\.example\.com, \*\.cdn\.example\.com:443/,
    );
    assert.match(result.stdout, /NPM_TOKEN ••••9876/);
    assert.match(result.stdout, /DEPLOY_KEY ••••3456 \(setup only\)/);
    assert.doesNotMatch(result.stdout, /npm-token-from-the-shell|deploy-key-value/);
    const stored = await api<Environment>(server.url, "GET", "/api/v1/environments/web");
    assert.equal(stored.body.setup_script, "npm ci\n");
    assert.deepEqual(stored.body.network.setup, { level: "trusted" });
    assert.deepEqual(stored.body.variables, { NODE_ENV: "test" });
  });

  it("lists, edits (unset a variable, drop the script) and shows as JSON", async () => {
    const edited = await cli([
      "env",
      "edit",
      "web",
      "--unset",
      "NODE_ENV",
      "--no-script",
      "--setup-network",
      "none",
    ]);
    assert.equal(edited.code, 0, edited.stderr);
    const listed = await cli(["env", "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^NAME +SETUP NET +AGENT NET +SCRIPT +SECRETS +WARM POOL +UPDATED$/m,
    );
    assert.match(listed.stdout, /^web +none +custom \(2\) +- +2 +- +/m);
    const shown = await cli(["env", "show", "web", "--json"]);
    const environment = JSON.parse(shown.stdout) as Environment;
    assert.deepEqual(environment.variables, {});
    assert.equal(environment.setup_script, null);
  });

  it("edit sets MCP servers (remote ones with headers) from a JSON file; show lists them; rebuild asks for new snapshots", async () => {
    const servers = path.join(files.dir, "mcp.json");
    writeFileSync(
      servers,
      JSON.stringify({ docs: { type: "stdio", command: "docs-mcp", args: ["--serve"] } }),
    );
    const edited = await cli(["env", "edit", "web", "--mcp-servers", servers]);
    assert.equal(edited.code, 0, edited.stderr);
    assert.match(edited.stdout, /mcp servers: {4}docs \(docs-mcp\)/);
    assert.match(edited.stdout, /snapshots: {6}kept from the last setup/);

    const rebuilt = await cli(["env", "rebuild", "web"]);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stdout, /the next task runs its setup script again/);
    const stored = await api<Environment>(server.url, "GET", "/api/v1/environments/web");
    assert.equal(typeof stored.body.snapshots_reset_at, "number");
    assert.match((await cli(["env", "show", "web"])).stdout, /snapshots: {6}rebuilt on request/);

    // A remote server's headers: their names are shown, never what they stand for; a bad
    // one is the server's clear message and changes nothing.
    const hosted = (headers: Record<string, string>) =>
      writeFileSync(
        servers,
        JSON.stringify({ hosted: { type: "http", url: "https://api.example.com/mcp", headers } }),
      );
    hosted({ Authorization: `Bearer \${NPM_TOKEN}`, "X-Team": "web" });
    const remote = await cli(["env", "edit", "web", "--mcp-servers", servers]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(
      remote.stdout,
      /mcp servers: {4}hosted \(https:\/\/api\.example\.com\/mcp; headers Authorization, X-Team\)/,
    );
    assert.doesNotMatch(remote.stdout, /npm-token-from-the-shell/);
    hosted({ "Bad Name": "x" });
    const refused = await cli(["env", "edit", "web", "--mcp-servers", servers]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /'Bad Name' is not a header name/);
    const kept = await api<Environment>(server.url, "GET", "/api/v1/environments/web");
    assert.deepEqual(Object.keys(kept.body.mcp_servers), ["hosted"]);

    const removed = await cli(["env", "edit", "web", "--no-mcp-servers"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /mcp servers: {4}-/);
    const unknown = await cli(["env", "rebuild", "nowhere"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /environment 'nowhere' not found/);
  });

  it("sets a warm pool with --warm-pool, shows it (and its size in the list), and turns it off with 0", async () => {
    const created = await cli(["env", "create", "pooled", "--warm-pool", "2"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /warm pool: {6}2 started sandboxes/);
    const listed = await cli(["env", "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^pooled +trusted +none +- +0 +2 +/m,
      "the list shows the pool's size",
    );
    const edited = await cli(["env", "edit", "pooled", "--warm-pool", "0"]);
    assert.equal(edited.code, 0, edited.stderr);
    assert.match(edited.stdout, /warm pool: {6}-/);
    const stored = await api<Environment>(server.url, "GET", "/api/v1/environments/pooled");
    assert.equal(stored.body.warm_pool, 0);
  });

  it("env with no subcommand lists the environments, as env list does", async () => {
    const bare = await cli(["env"]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /^NAME +SETUP NET +AGENT NET/m);
    assert.match(bare.stdout, /^web +/m);
    const json = (args: string[]) => cli([...args, "--json"]).then((result) => result.stdout);
    assert.equal(await json(["env"]), await json(["env", "list"]));
    const help = await cli(["env", "--help"]);
    assert.match(help.stdout, /^Usage: omoi env \[list\]$/m);
    assert.match(help.stdout, /With no subcommand it lists the environments/);
  });

  it("edit --unset of a name that is neither a variable nor a secret is an error naming it, and changes nothing", async () => {
    const before = await api<Environment>(server.url, "GET", "/api/v1/environments/web");
    const result = await cli(["env", "edit", "web", "--unset", "NOPE", "--var", "ADDED=1"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /environment 'web' has no variable or secret 'NOPE' to remove/);
    const after = await api<Environment>(server.url, "GET", "/api/v1/environments/web");
    assert.deepEqual(after.body, before.body, "nothing of the edit was stored");
    assert.equal(after.body.variables.ADDED, undefined);
  });

  it("run --env names the environment; an unknown one is a clear error and no task", async () => {
    const created = await cli(["run", "build it", "--env", "web", "--detach"]);
    assert.equal(created.code, 0, created.stderr);
    const task = await api<Task>(server.url, "GET", `/api/v1/tasks/${created.stdout.trim()}`);
    const environment = await api<Environment>(server.url, "GET", "/api/v1/environments/web");
    assert.equal(task.body.environment_id, environment.body.id);
    const unknown = await cli(["run", "build it", "--env", "nowhere", "--detach"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /environment: 'nowhere' does not exist/);
  });

  it("bad arguments are usage errors naming what is wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["env", "rename", "x"], /unknown subcommand 'rename'/],
      [["env", "show"], /missing environment name/],
      [["env", "create", "x", "--agent-network", "custom"], /needs --agent-host/],
      [
        ["env", "create", "x", "--agent-network", "sideways"],
        /must be one of none, trusted, custom, full/,
      ],
      [
        ["env", "create", "x", "--secret", "UNSET_IN_SHELL"],
        /set UNSET_IN_SHELL in your environment/,
      ],
      [["env", "create", "x", "--var", "NOVALUE"], /--var NOVALUE needs =VALUE/],
      [["env", "edit", "web"], /nothing to change/],
      [["env", "rebuild"], /missing environment name/],
      [["env", "create", "x", "--no-mcp-servers"], /--no-mcp-servers is for edit/],
      [["env", "create", "x", "--mcp-servers", "-"], /--mcp-servers -: not JSON/],
      [
        ["env", "edit", "web", "--warm-pool", "9"],
        /--warm-pool must be a whole number from 0 to 4/,
      ],
      [["env", "create", "x", "--warm-pool", "two"], /--warm-pool must be a whole number/],
      [
        ["env", "create", "x", "--script", path.join(files.dir, "missing.sh")],
        /--script .*missing\.sh: cannot read it: no such file$/m,
      ],
      [["env", "create", "x", "--script", files.dir], /cannot read it: it is a folder, not a file/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const invalid = await cli(["env", "create", "x", "--var", "1BAD=v"]);
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /'1BAD'/);
  });
});
