import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import type { Environment } from "../../src/protocol/environment.ts";
import type { Task } from "../../src/protocol/task.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { api, type TestOmoi } from "../helpers/omoi.ts";

let omoi: TestOmoi;
/** `${NAME}`: how an MCP server names a variable or secret of its environment. */
const reference = (name: string) => `\${${name}}`;
const SECRET_VALUE = "s3cr3t-value-that-must-never-show-9f2c";
const TOKEN_VALUE = "sk-ant-oat01-subscription-token-7d1e";

const full = {
  name: "web-app",
  description: "the web app's environment",
  setup_script: "npm ci\n",
  network: {
    setup: { level: "trusted" },
    agent: { level: "custom", hosts: ["*.example.com", "api.example.org:8443"] },
  },
  variables: { NODE_ENV: "test" },
  secrets: {
    NPM_TOKEN: { value: SECRET_VALUE, setup_only: true },
    DB_PASSWORD: { value: "short" },
  },
  model: "claude-sonnet-4-5",
  model_credentials: { kind: "oauth_token", oauth_token: TOKEN_VALUE },
  mcp_servers: { docs: { type: "http", url: "https://mcp.example.com/mcp" } },
};

/** A create body with one remote MCP server the agent can reach, sending `headers`. */
const remoteWith = (name: string, headers: Record<string, string>) => ({
  name,
  network: { agent: { level: "full" } },
  mcp_servers: { s: { type: "http", url: "https://mcp.example.com/mcp", headers } },
});

function assertNoSecret(value: unknown) {
  const text = JSON.stringify(value);
  assert.ok(!text.includes(SECRET_VALUE), "a secret's value appears in a response");
  assert.ok(!text.includes(TOKEN_VALUE), "a model credential appears in a response");
}

forEachBackend(
  "environments",
  { OMOI_RUN_AGENTS: "0" },
  (started) => {
    omoi = started;
  },
  () => {
    describe("environments as a resource", () => {
      test("create, read by id and by name, list: secrets and credentials only as hints", async () => {
        const created = await api<Environment>(omoi.url, "POST", "/api/v1/environments", full);
        assert.equal(created.status, 201);
        assertNoSecret(created.body);
        assert.match(created.body.id, /^env_/);
        assert.deepEqual(created.body.network, full.network);
        assert.deepEqual(created.body.variables, { NODE_ENV: "test" });
        assert.deepEqual(
          created.body.secrets.map(({ name, setup_only }) => ({ name, setup_only })),
          [
            { name: "NPM_TOKEN", setup_only: true },
            { name: "DB_PASSWORD", setup_only: false },
          ],
        );
        assert.equal(created.body.secrets[0].hint, `••••${SECRET_VALUE.slice(-4)}`);
        assert.equal(
          created.body.secrets[1].hint,
          "••••",
          "a short secret shows nothing of itself",
        );
        assert.deepEqual(created.body.model_credentials, {
          kind: "oauth_token",
          hint: `••••${TOKEN_VALUE.slice(-4)}`,
        });
        for (const key of [created.body.id, "web-app"]) {
          const read = await api<Environment>(omoi.url, "GET", `/api/v1/environments/${key}`);
          assert.equal(read.status, 200);
          assert.deepEqual(read.body, created.body);
        }
        const listed = await api<{ environments: Environment[] }>(
          omoi.url,
          "GET",
          "/api/v1/environments",
        );
        assertNoSecret(listed.body);
        assert.deepEqual(
          listed.body.environments.map((environment) => environment.name),
          ["web-app"],
        );
      });

      test("defaults: setup on trusted registries, the agent on nothing but the model", async () => {
        const created = await api<Environment>(omoi.url, "POST", "/api/v1/environments", {
          name: "bare",
        });
        assert.equal(created.status, 201);
        assert.deepEqual(created.body.network, {
          setup: { level: "trusted" },
          agent: { level: "none" },
        });
        assert.equal(created.body.setup_script, null);
        assert.deepEqual(created.body.secrets, []);
      });

      test("a patch sets and deletes single variables and secrets and keeps the rest", async () => {
        const patched = await api<Environment>(omoi.url, "PATCH", "/api/v1/environments/web-app", {
          variables: { NODE_ENV: null, CI: "1" },
          secrets: { DB_PASSWORD: null, API_KEY: { value: "another-long-secret-value" } },
          setup_script: null,
        });
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        assertNoSecret(patched.body);
        assert.deepEqual(patched.body.variables, { CI: "1" });
        assert.deepEqual(
          patched.body.secrets.map((secret) => secret.name),
          ["API_KEY", "NPM_TOKEN"],
        );
        assert.equal(patched.body.setup_script, null);
        assert.equal(patched.body.model_credentials?.kind, "oauth_token", "untouched fields stay");
      });

      test("a remote MCP server's headers come back as written: a referenced secret's value is in no response", async () => {
        const HEADER_SECRET = "mcp-bearer-token-never-shown-41d7";
        const headers = {
          Authorization: `Bearer ${reference("MCP_TOKEN")}`,
          "X-Tenant": reference("TENANT"),
        };
        const created = await api<Environment>(omoi.url, "POST", "/api/v1/environments", {
          name: "hosted-mcp",
          network: { agent: { level: "custom", hosts: ["mcp.example.com"] } },
          variables: { TENANT: "acme" },
          secrets: { MCP_TOKEN: { value: HEADER_SECRET } },
          mcp_servers: { docs: { type: "http", url: "https://mcp.example.com/mcp", headers } },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.deepEqual(created.body.mcp_servers.docs, {
          type: "http",
          url: "https://mcp.example.com/mcp",
          headers,
        });
        const rotated = await api<Environment>(
          omoi.url,
          "PATCH",
          "/api/v1/environments/hosted-mcp",
          {
            secrets: { MCP_TOKEN: { value: `${HEADER_SECRET}-rotated` } },
          },
        );
        assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
        assert.deepEqual(rotated.body.mcp_servers, created.body.mcp_servers);
        const read = await api<Environment>(omoi.url, "GET", "/api/v1/environments/hosted-mcp");
        const listed = await api(omoi.url, "GET", "/api/v1/environments");
        const everything = JSON.stringify([created.body, rotated.body, read.body, listed.body]);
        assert.ok(everything.includes(`Bearer ${reference("MCP_TOKEN")}`), "the template is shown");
        assert.ok(!everything.includes(HEADER_SECRET), "a header's secret is in a response");

        // A secret that would break the header it is sent in is refused when it is set, with
        // neither the value nor anything else of the patch stored.
        const injected = await api<{ error: { message: string } }>(
          omoi.url,
          "PATCH",
          "/api/v1/environments/hosted-mcp",
          {
            description: "changed",
            secrets: { MCP_TOKEN: { value: `${HEADER_SECRET}\r\nX-Injected: yes` } },
          },
        );
        assert.equal(injected.status, 400);
        assert.match(
          injected.body.error.message,
          /mcp_servers\.docs\.headers\.Authorization: .*line break/,
        );
        assert.ok(!JSON.stringify(injected.body).includes(HEADER_SECRET));
        const kept = await api<Environment>(omoi.url, "GET", "/api/v1/environments/hosted-mcp");
        assert.equal(kept.body.description, null);
        assert.equal(kept.body.updated_at, rotated.body.updated_at, "nothing was stored");
      });

      test("a task names an environment by name; an unknown one is a 400 and no task", async () => {
        const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
          prompt: "build it",
          environment: "web-app",
        });
        assert.equal(created.status, 201);
        const environment = await api<Environment>(omoi.url, "GET", "/api/v1/environments/web-app");
        assert.equal(created.body.environment_id, environment.body.id);

        const before = await api<{ total: number }>(omoi.url, "GET", "/api/v1/tasks");
        const unknown = await api<{ error: { message: string } }>(
          omoi.url,
          "POST",
          "/api/v1/tasks",
          {
            prompt: "build it",
            environment: "nowhere",
          },
        );
        assert.equal(unknown.status, 400);
        assert.match(unknown.body.error.message, /environment: 'nowhere' does not exist/);
        const after = await api<{ total: number }>(omoi.url, "GET", "/api/v1/tasks");
        assert.equal(after.body.total, before.body.total);

        // In use by a task that has not ended: it cannot go.
        const refused = await api(omoi.url, "DELETE", "/api/v1/environments/web-app");
        assert.equal(refused.status, 409);
        await api(omoi.url, "POST", `/api/v1/tasks/${created.body.id}/cancel`);
        const deleted = await api<Environment>(omoi.url, "DELETE", "/api/v1/environments/web-app");
        assert.equal(deleted.status, 200);
        assert.equal((await api(omoi.url, "GET", "/api/v1/environments/web-app")).status, 404);
      });

      describe("bad input is a clear 4xx and stores nothing", () => {
        const cases: [string, unknown, RegExp][] = [
          ["an invalid name", { name: "-dash" }, /name/],
          [
            "a host with a scheme",
            { name: "n1", network: { agent: { level: "custom", hosts: ["https://x.com"] } } },
            /host name/,
          ],
          [
            "a port out of range",
            { name: "n2", network: { agent: { level: "custom", hosts: ["x.com:70000"] } } },
            /1-65535/,
          ],
          [
            "custom without hosts",
            { name: "n3", network: { setup: { level: "custom" } } },
            /at least one host/,
          ],
          [
            "hosts without custom",
            { name: "n4", network: { setup: { level: "full", hosts: ["x.com"] } } },
            /only with level 'custom'/,
          ],
          ["an unknown level", { name: "n5", network: { setup: { level: "some" } } }, /level/],
          [
            "a script over the limit",
            { name: "n6", setup_script: "x".repeat(64 * 1024 + 1) },
            /at most 65536 bytes/,
          ],
          [
            "a secret with an invalid name",
            { name: "n7", secrets: { "1BAD": { value: "v" } } },
            /shell variable name/,
          ],
          [
            "a reserved variable name",
            { name: "n8", variables: { ANTHROPIC_API_KEY: "x" } },
            /reserved/,
          ],
          [
            "an empty secret",
            { name: "n9", secrets: { GOOD: { value: "" } } },
            /must not be empty/,
          ],
          ["an unknown field", { name: "n10", colour: "blue" }, /colour/],
          [
            "unknown credentials kind",
            { name: "n11", model_credentials: { kind: "cookie", cookie: "x" } },
            /kind/,
          ],
          [
            "an MCP server with a bad name",
            { name: "n12", mcp_servers: { "my server": { type: "stdio", command: "x" } } },
            /letters, digits/,
          ],
          [
            "an MCP stdio server without a command",
            { name: "n13", mcp_servers: { s: { type: "stdio", command: " " } } },
            /must not be empty/,
          ],
          [
            "an MCP command with a control character",
            { name: "n14", mcp_servers: { s: { type: "stdio", command: "run\nrm -rf" } } },
            /control characters/,
          ],
          [
            "an MCP server URL that is not http(s)",
            { name: "n15", mcp_servers: { s: { type: "http", url: "file:///etc/passwd" } } },
            /url/,
          ],
          [
            "an MCP server URL carrying a password",
            {
              name: "n16",
              network: { agent: { level: "full" } },
              mcp_servers: { s: { type: "sse", url: "https://me:pw@mcp.example.com/sse" } },
            },
            /user or password/,
          ],
          [
            "a remote MCP server the agent's network does not reach",
            {
              name: "n17",
              mcp_servers: { docs: { type: "http", url: "https://mcp.example.com/" } },
            },
            /mcp\.example\.com:443 is not reachable with the agent's network level 'none'/,
          ],
          [
            "an MCP env reference to nothing",
            {
              name: "n18",
              mcp_servers: { s: { type: "stdio", command: "x", env: { T: reference("NOPE") } } },
            },
            /names no variable or secret/,
          ],
          [
            "an MCP reference to a setup-only secret",
            {
              name: "n19",
              secrets: { ONLY_SETUP: { value: "value-1234", setup_only: true } },
              mcp_servers: {
                s: { type: "stdio", command: "x", args: [`--t=${reference("ONLY_SETUP")}`] },
              },
            },
            /setup-only secret/,
          ],
          [
            "an MCP header name that is not a token",
            remoteWith("n21", { "X Token": "v" }),
            /'X Token' is not a header name/,
          ],
          [
            "an MCP header value with a line break",
            remoteWith("n22", { "X-Token": "a\r\nX-Injected: yes" }),
            /'X-Token': a header value holds only visible ASCII.*no line breaks/,
          ],
          [
            "an MCP header the transport sets itself",
            remoteWith("n23", { Host: "elsewhere.example.com" }),
            /'Host' is set by the MCP transport/,
          ],
          [
            "an MCP header given twice in different case",
            remoteWith("n24", { Authorization: "Bearer a", authorization: "Bearer b" }),
            /'authorization' is given twice/,
          ],
          [
            "too many MCP headers",
            remoteWith(
              "n25",
              Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`X-H${index}`, "v"])),
            ),
            /at most 32 headers/,
          ],
          [
            "an MCP header value over the limit",
            remoteWith("n26", { "X-Big": "v".repeat(8 * 1024 + 1) }),
            /'X-Big': a header value is at most 8192 bytes/,
          ],
          [
            "an MCP header referencing a setup-only secret",
            {
              ...remoteWith("n27", { Authorization: `Bearer ${reference("ONLY_SETUP")}` }),
              secrets: { ONLY_SETUP: { value: "value-1234", setup_only: true } },
            },
            /mcp_servers\.s: '\$\{ONLY_SETUP\}' is a setup-only secret/,
          ],
          [
            "an MCP header referencing a secret with a line break",
            {
              ...remoteWith("n28", { Authorization: `Bearer ${reference("TOKEN")}` }),
              secrets: { TOKEN: { value: "token\nX-Injected: yes" } },
            },
            /headers\.Authorization: what it references holds a line break/,
          ],
          [
            "MCP headers on a stdio server",
            {
              name: "n29",
              mcp_servers: { s: { type: "stdio", command: "x", headers: { A: "b" } } },
            },
            /headers/,
          ],
          [
            "an MCP env with a reserved name",
            {
              name: "n20",
              mcp_servers: { s: { type: "stdio", command: "x", env: { HTTPS_PROXY: "y" } } },
            },
            /reserved/,
          ],
        ];
        for (const [what, body, message] of cases) {
          test(what, async () => {
            const response = await api<{ error: { message: string } }>(
              omoi.url,
              "POST",
              "/api/v1/environments",
              body,
            );
            assert.equal(response.status, 400, JSON.stringify(response.body));
            assert.match(response.body.error.message, message);
            const listed = await api<{ environments: Environment[] }>(
              omoi.url,
              "GET",
              "/api/v1/environments",
            );
            const name = (body as { name: string }).name;
            assert.ok(!listed.body.environments.some((environment) => environment.name === name));
          });
        }

        test("a patch that would leave an MCP server unreachable or unresolved is refused whole", async () => {
          const created = await api(omoi.url, "POST", "/api/v1/environments", {
            name: "mcp-patch",
            network: { agent: { level: "custom", hosts: ["mcp.example.com"] } },
            variables: { TOKEN_SOURCE: "x" },
            mcp_servers: {
              docs: { type: "http", url: "https://mcp.example.com/mcp" },
              local: { type: "stdio", command: "x", env: { T: reference("TOKEN_SOURCE") } },
            },
          });
          assert.equal(created.status, 201, JSON.stringify(created.body));
          const narrowed = await api<{ error: { message: string } }>(
            omoi.url,
            "PATCH",
            "/api/v1/environments/mcp-patch",
            {
              description: "changed",
              network: { agent: { level: "none" } },
              variables: { TOKEN_SOURCE: null },
            },
          );
          assert.equal(narrowed.status, 400);
          assert.match(narrowed.body.error.message, /mcp_servers\.docs: mcp\.example\.com:443/);
          assert.match(narrowed.body.error.message, /mcp_servers\.local: '\$\{TOKEN_SOURCE\}'/);
          const kept = await api<Environment>(omoi.url, "GET", "/api/v1/environments/mcp-patch");
          assert.equal(kept.body.description, null, "nothing of the refused patch was stored");
          assert.equal(kept.body.network.agent.level, "custom");
        });

        test("a duplicate name is a 409; an empty patch or unknown environment a clear 4xx", async () => {
          assert.equal(
            (await api(omoi.url, "POST", "/api/v1/environments", { name: "dup" })).status,
            201,
          );
          assert.equal(
            (await api(omoi.url, "POST", "/api/v1/environments", { name: "dup" })).status,
            409,
          );
          assert.equal((await api(omoi.url, "PATCH", "/api/v1/environments/dup", {})).status, 400);
          assert.equal(
            (await api(omoi.url, "PATCH", "/api/v1/environments/nope", { description: "x" }))
              .status,
            404,
          );
          assert.equal((await api(omoi.url, "DELETE", "/api/v1/environments/nope")).status, 404);
        });
      });
    });
  },
);

test("secrets are sealed at rest: the SQLite file holds no secret value", async () => {
  const { startTestOmoi } = await import("../helpers/omoi.ts");
  const local = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
  try {
    const created = await api(local.url, "POST", "/api/v1/environments", full);
    assert.equal(created.status, 201);
    const database = new Database(path.join(local.dataDir, "omoi.db"), { readonly: true });
    const rows = database.prepare("SELECT * FROM environments").all();
    database.close();
    assert.equal(rows.length, 1);
    assertNoSecret(rows);
    assert.match(JSON.stringify(rows), /"sealed":"v1\./);
  } finally {
    await local.stop();
  }
});
