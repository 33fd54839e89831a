import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import type { Environment } from "../../src/protocol/environment.ts";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeRemote, tempDir } from "../repo/fixtures.ts";
import { launchBrowser, newPage, screenshot, visible, WAIT_MS } from "./browser.ts";

/*
 * Environments from the browser: the panel creates one (its secret shown only as a hint), the
 * new-task form starts a task in it, the panel deletes one. The setup log is fed as a worker
 * feeds it, as `environment.setup_*` events on an external sandbox; no agents run.
 */

let omoi: TestOmoi;
let browser: Browser;
let remote: string;
const cleanups: (() => Promise<void> | void)[] = [];
before(async () => {
  [omoi, browser] = await Promise.all([startTestOmoi({ OMOI_RUN_AGENTS: "0" }), launchBrowser()]);
  remote = await makeRemote(await tempDir({ after: (fn) => cleanups.push(fn) }), "shop");
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function postEvent(
  sandboxId: string,
  eventType: string,
  data: Record<string, unknown>,
): Promise<void> {
  const posted = await api(omoi.url, "POST", `/api/v1/sandboxes/${sandboxId}/events`, {
    event_type: eventType,
    event_data: data,
    source: "agent",
  });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
}

describe("environments in the web app", () => {
  test("create an environment in the panel, start a task in it from the form, delete one", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/environments`);
      await visible(page.getByTestId("environments-empty"));
      await page.getByTestId("environment-name-input").fill("web-node");
      await page.getByTestId("environment-description-input").fill("Node with the registry");
      await page.getByTestId("environment-script-input").fill("npm ci");
      await page.getByTestId("environment-setup-network").selectOption("custom");
      await page.getByTestId("environment-setup-hosts").fill("registry.npmjs.org");
      await page.getByTestId("environment-variables-input").fill("NODE_ENV=test");
      await page
        .getByTestId("environment-secrets-input")
        .fill("NPM_TOKEN=npm_abcdefghijklmnop1234");
      await page.getByTestId("environment-secrets-setup-only").check();
      await page.getByTestId("environment-warm-pool-input").fill("2");
      await page.getByTestId("environment-submit").click();
      const row = page.getByTestId("environment-row").filter({ hasText: "web-node" });
      await visible(row);
      await visible(row.getByTestId("environment-secret").filter({ hasText: "NPM_TOKEN" }));
      const rowText = (await row.textContent()) ?? "";
      assert.match(rowText, /custom \(registry\.npmjs\.org\)/);
      assert.match(rowText, /setup only/);
      assert.match(rowText, /· 1 variable ·/, "one variable, counted in words a person reads");
      assert.match(rowText, /warm pool of 2/);
      assert.doesNotMatch(rowText, /abcdefghijklmnop/, "the secret's value is never shown");

      const stored = await api<Environment>(omoi.url, "GET", "/api/v1/environments/web-node");
      assert.equal(stored.status, 200);
      assert.deepEqual(stored.body.network.setup, {
        level: "custom",
        hosts: ["registry.npmjs.org"],
      });
      assert.deepEqual(stored.body.variables, { NODE_ENV: "test" });
      assert.deepEqual(
        stored.body.secrets.map((secret) => [secret.name, secret.setup_only]),
        [["NPM_TOKEN", true]],
      );
      assert.equal(stored.body.setup_script, "npm ci");
      assert.equal(stored.body.warm_pool, 2);

      // A bad name: the server's message, nothing stored.
      await page.getByTestId("environment-name-input").fill("bad name!");
      await page.getByTestId("environment-submit").click();
      await visible(page.getByTestId("environment-error"));
      const listed = await api<{ environments: Environment[] }>(
        omoi.url,
        "GET",
        "/api/v1/environments",
      );
      assert.deepEqual(
        listed.body.environments.map((environment) => environment.name),
        ["web-node"],
      );

      // The new-task form offers it ("none" by default) and sends it.
      await page.goto(`${omoi.url}/#/new`);
      const picker = page.getByTestId("new-task-environment");
      await picker.locator("option", { hasText: "web-node" }).waitFor({ state: "attached" });
      assert.equal(await picker.inputValue(), "");
      await picker.selectOption("web-node");
      await page.getByTestId("new-task-prompt").fill("run the tests in the node environment");
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      const taskId = new URL(page.url()).hash.split("/").at(-1) ?? "";
      const task = await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`);
      assert.equal(task.status, 200);
      assert.equal(task.body.environment_id, stored.body.id);

      // Delete, from the panel: refused while a task that has not ended uses it, then done.
      await page.goto(`${omoi.url}/#/environments`);
      page.on("dialog", (dialog) => void dialog.accept());
      await row.getByTestId("environment-delete").click();
      await visible(page.getByRole("alert").filter({ hasText: "has not ended" }));
      const cancelled = await api(omoi.url, "POST", `/api/v1/tasks/${taskId}/cancel`, {});
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      await row.getByTestId("environment-delete").click();
      await visible(page.getByTestId("environments-empty"));
      const gone = await api(omoi.url, "GET", "/api/v1/environments/web-node");
      assert.equal(gone.status, 404);
      // The refused create (400) and delete (409) are the only failures the browser saw.
      assert.deepEqual(
        errors.filter((error) => !/status of (400|409)/.test(error)),
        [],
      );
    } catch (error) {
      await screenshot(page, "environments-panel-failure");
      throw error;
    } finally {
      await context.close();
    }
  });

  test("edit an environment: script, network, variables, secrets kept/replaced/removed, model, credentials and MCP servers; rebuild its snapshot; see which repository it is the default of", async () => {
    const KEEP = "keep-me-secret-value-0001";
    const REPLACED = "replace-me-old-value-0002";
    const NEW_VALUE = "replace-me-new-value-0003";
    const ADDED = "brand-new-secret-value-0004";
    const TOKEN = "sk-ant-oat01-web-edit-token-0005";
    const created = await api<Environment>(omoi.url, "POST", "/api/v1/environments", {
      name: "editable",
      setup_script: "echo one",
      network: { agent: { level: "custom", hosts: ["api.example.com"] } },
      variables: { A: "1", B: "2" },
      secrets: {
        KEEP_ME: { value: KEEP },
        DROP_ME: { value: "drop-me-value-000" },
        REPLACE_ME: { value: REPLACED, setup_only: true },
      },
      model_credentials: { kind: "api_key", api_key: "sk-ant-api-old-key-0006" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const keepHint = created.body.secrets.find((secret) => secret.name === "KEEP_ME")?.hint;
    const repository = await api(omoi.url, "POST", "/api/v1/repositories", {
      url: remote,
      environment: "editable",
    });
    assert.equal(repository.status, 201, JSON.stringify(repository.body));

    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/environments`);
      const row = page.locator('[data-testid="environment-row"][data-name="editable"]');
      await visible(
        row.getByTestId("environment-default-of").filter({ hasText: "default of shop" }),
      );
      await row.getByTestId("environment-edit").click();
      const form = row.getByTestId("environment-edit-form");
      await visible(form);
      assert.equal(await form.getByTestId("environment-script-input").inputValue(), "echo one");
      assert.equal(
        await form.getByTestId("environment-agent-hosts").inputValue(),
        "api.example.com",
      );
      assert.ok(
        !(await form.textContent())?.includes(KEEP),
        "a secret's value is never in the page",
      );

      await form.getByTestId("environment-script-input").fill("echo two");
      await form.getByTestId("environment-agent-network").selectOption("none");
      await form.getByTestId("environment-variables-input").fill("A=10\nC=3");
      const secret = (name: string) =>
        form.locator(`[data-testid="environment-secret-edit"][data-name="${name}"]`);
      await secret("DROP_ME").getByTestId("environment-secret-action").selectOption("remove");
      await secret("REPLACE_ME").getByTestId("environment-secret-action").selectOption("replace");
      await secret("REPLACE_ME").getByTestId("environment-secret-value").fill(NEW_VALUE);
      await secret("REPLACE_ME").getByRole("checkbox").uncheck();
      await form.getByTestId("environment-secrets-input").fill(`ADDED=${ADDED}`);
      await form.getByTestId("environment-model-input").fill("claude-sonnet-4-5");
      await form.getByTestId("environment-credentials").selectOption("oauth_token");
      await form.getByTestId("environment-credential-value").fill(TOKEN);
      // A remote MCP server the agent's network (now none) cannot reach: the server says so, nothing is saved.
      await form
        .getByTestId("environment-mcp-input")
        .fill('{"docs": {"type": "http", "url": "https://mcp.example.com/mcp"}}');
      await form.getByTestId("environment-save").click();
      await visible(form.getByTestId("environment-error").filter({ hasText: "not reachable" }));
      assert.equal(
        (await api<Environment>(omoi.url, "GET", "/api/v1/environments/editable")).body
          .setup_script,
        "echo one",
        "nothing of a refused edit is stored",
      );
      await form
        .getByTestId("environment-mcp-input")
        .fill('{"probe": {"type": "stdio", "command": "probe-mcp", "args": ["--serve"]}}');
      await form.getByTestId("environment-save").click();
      await visible(page.getByTestId("environments-notice").filter({ hasText: "editable: saved" }));
      await visible(row.getByTestId("environment-meta").filter({ hasText: "MCP: probe" }));

      const stored = (await api<Environment>(omoi.url, "GET", "/api/v1/environments/editable"))
        .body;
      assert.equal(stored.setup_script, "echo two");
      assert.deepEqual(stored.network.agent, { level: "none" });
      assert.deepEqual(stored.variables, { A: "10", C: "3" });
      assert.deepEqual(
        stored.secrets.map((entry) => [entry.name, entry.setup_only]),
        [
          ["ADDED", false],
          ["KEEP_ME", false],
          ["REPLACE_ME", false],
        ],
      );
      assert.equal(stored.secrets.find((entry) => entry.name === "KEEP_ME")?.hint, keepHint);
      assert.equal(
        stored.secrets.find((entry) => entry.name === "REPLACE_ME")?.hint,
        `••••${NEW_VALUE.slice(-4)}`,
      );
      assert.equal(stored.model, "claude-sonnet-4-5");
      assert.equal(stored.model_credentials?.kind, "oauth_token");
      assert.deepEqual(stored.mcp_servers, {
        probe: { type: "stdio", command: "probe-mcp", args: ["--serve"] },
      });
      const shown = (await page.content()) + JSON.stringify(stored);
      for (const value of [KEEP, NEW_VALUE, ADDED, TOKEN])
        assert.ok(!shown.includes(value), `${value} shown`);

      // Rebuild the snapshot: the next task runs setup again.
      assert.equal(stored.snapshots_reset_at, null);
      await row.getByTestId("environment-rebuild").click();
      await visible(
        page.getByTestId("environments-notice").filter({ hasText: "runs the setup script again" }),
      );
      const rebuilt = (await api<Environment>(omoi.url, "GET", "/api/v1/environments/editable"))
        .body;
      assert.equal(typeof rebuilt.snapshots_reset_at, "number");

      // The new-task form says a task on the repository runs in its default when it names none.
      await page.goto(`${omoi.url}/#/new`);
      await page.getByTestId("new-task-repo").fill("shop");
      const fallback = page.getByTestId("new-task-environment-default");
      await page.waitForFunction(
        `document.querySelector('[data-testid="new-task-environment-default"]')?.textContent?.includes("shop's default: editable")`,
        undefined,
        { timeout: WAIT_MS },
      );
      assert.equal(await page.getByTestId("new-task-environment").inputValue(), "");
      assert.match((await fallback.textContent()) ?? "", /shop's default: editable/);

      // The repository's default cannot be deleted: the panel says which repository names it.
      await page.goto(`${omoi.url}/#/environments`);
      page.on("dialog", (dialog) => void dialog.accept());
      await row.getByTestId("environment-delete").click();
      await visible(
        page
          .getByTestId("environments-error")
          .filter({ hasText: "default environment of repository 'shop'" }),
      );
      assert.deepEqual(
        errors.filter((error) => !/status of (400|409)/.test(error)),
        [],
      );
    } catch (error) {
      await screenshot(page, "environments-edit-failure");
      throw error;
    } finally {
      await context.close();
    }
  });

  test("the session shows setup like a CI log: live lines, then exit code and duration, or the failure", async () => {
    const sandboxId = `web-setup-${randomUUID().slice(0, 8)}`;
    const created = await api<Sandbox>(omoi.url, "POST", "/api/v1/sandboxes", { id: sandboxId });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/sandboxes/${sandboxId}`);
      await visible(page.locator('[data-testid="session-page"][data-kind="sandbox"]'));
      await postEvent(sandboxId, "environment.setup_started", {
        environment: "web-node",
        source: "environment",
        network: "trusted",
      });
      await postEvent(sandboxId, "environment.setup_output", {
        lines: [
          { stream: "stdout", text: "installing 42 packages" },
          { stream: "stderr", text: "npm warn deprecated left-pad" },
        ],
      });
      const log = page.getByTestId("setup-log").first();
      await visible(
        log.getByTestId("setup-lines").filter({ hasText: "npm warn deprecated left-pad" }),
      );
      assert.equal(await log.getAttribute("data-status"), "running");

      await postEvent(sandboxId, "environment.setup_output", {
        lines: [{ stream: "stdout", text: "added 42 packages" }],
      });
      await postEvent(sandboxId, "environment.setup_finished", {
        exit_code: 0,
        duration_ms: 4200,
        cached: false,
      });
      await visible(page.locator('[data-testid="setup-log"][data-status="ok"]'));
      const outcome = (await log.getByTestId("setup-outcome").textContent()) ?? "";
      assert.match(outcome, /exit 0/);
      assert.match(outcome, /4/);
      assert.equal(
        await log.evaluate((element) => element.hasAttribute("open")),
        false,
        "collapsed once done",
      );
      await log.locator("summary").click();
      await visible(log.getByTestId("setup-lines").filter({ hasText: "added 42 packages" }));

      // A second run whose setup fails: open, with the exit code and the error.
      await postEvent(sandboxId, "environment.setup_started", {
        environment: "web-node",
        source: "environment",
        network: "trusted",
      });
      await postEvent(sandboxId, "environment.setup_finished", {
        exit_code: 2,
        duration_ms: 900,
        cached: false,
        error: "setup script exited with code 2",
        tail: ["npm error missing script: build"],
      });
      const failed = page.locator('[data-testid="setup-log"][data-status="failed"]');
      await visible(failed);
      assert.match((await failed.getByTestId("setup-outcome").textContent()) ?? "", /exit 2/);
      await visible(failed.getByTestId("setup-error").filter({ hasText: "exited with code 2" }));
      await visible(failed.getByTestId("setup-lines").filter({ hasText: "missing script: build" }));

      // The agent starts: the session says which settings it loaded and which MCP servers connected.
      await postEvent(sandboxId, "agent.started", {
        model: "claude-sonnet-4-5",
        mcp_servers: [
          { name: "probe", status: "connected" },
          { name: "docs", status: "failed" },
        ],
        project_settings: {
          files: ["CLAUDE.md", ".claude/settings.json"],
          commands: ["hello"],
          agents: ["reviewer"],
          skills: ["greet"],
        },
      });
      const loaded = page.getByTestId("loaded-settings");
      await visible(loaded);
      assert.match(
        (await loaded.locator("summary").textContent()) ?? "",
        /CLAUDE\.md, \.claude\/settings\.json · 1 command · 1 agent · 1 skill · 2 MCP servers/,
      );
      assert.equal(
        await loaded.evaluate((element) => element.hasAttribute("open")),
        true,
        "open: a server failed",
      );
      await visible(loaded.getByTestId("mcp-server").filter({ hasText: "docs (failed)" }));
      await visible(loaded.filter({ hasText: "/hello" }));
      assert.deepEqual(errors, []);
    } catch (error) {
      await screenshot(page, "environments-setup-failure");
      throw error;
    } finally {
      await context.close();
    }
  });
});
