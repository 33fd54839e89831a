import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Locator, Page } from "playwright-core";
import type { Environment } from "../../src/protocol/environment.ts";
import type { Repository } from "../../src/protocol/repo.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";
import { launchBrowser, newPage, screenshot, visible, WAIT_MS } from "./browser.ts";

/*
 * Registered repositories from the browser: the Repositories page registers one with its
 * credential (tried by the server against real git over HTTP with basic auth), lists it with
 * the masked hint and its default branch, sets its default environment, and forgets it; the
 * new-task form starts a task on it. The credential never reaches the page again. No agents run.
 */

const TOKEN = "ghp_repositorypage0000000000000000007";
const PASSWORD = "correct-horse-battery";
/** The password the forge moves to; editing replaces the stored one with it. */
const NEW_PASSWORD = "rotated-staple-battery-2468";
let omoi: TestOmoi;
let browser: Browser;
let git: Awaited<ReturnType<typeof serveGitHttp>>;
let environment: Environment;
/** Whether the git server serves a request without credentials (the repository went public). */
let publicRead = false;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  const root = await tempDir({ after: (fn) => cleanups.push(fn) });
  await mkdir(path.join(root, "acme"));
  await makeRemote(path.join(root, "acme"), "project");
  await makeRemote(path.join(root, "acme"), "moved");
  git = await serveGitHttp(
    root,
    (username, password) =>
      (username === "x-access-token" && password === TOKEN) ||
      (username === "alice" && password === PASSWORD) ||
      (username === "bob" && password === NEW_PASSWORD),
    { anonymous: () => publicRead },
  );
  [omoi, browser] = await Promise.all([startTestOmoi({ OMOI_RUN_AGENTS: "0" }), launchBrowser()]);
  const created = await api<Environment>(omoi.url, "POST", "/api/v1/environments", {
    name: "node",
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  environment = created.body;
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
  await git?.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const repositoryUrl = () => `${git.url}/acme/project.git`;

async function listed(): Promise<Repository[]> {
  const list = await api<{ repositories: Repository[] }>(omoi.url, "GET", "/api/v1/repositories");
  assert.equal(list.status, 200);
  return list.body.repositories;
}

/** Nothing is wider than a 390-pixel phone, and each of `testIds` (the first in `scope`) is on it. */
async function assertFitsPhone(page: Page, scope: Page | Locator, testIds: string[]) {
  const overflow = await page.evaluate(
    "document.documentElement.scrollWidth - document.documentElement.clientWidth",
  );
  assert.equal(overflow, 0, "nothing is wider than the phone");
  for (const testId of testIds) {
    const box = await scope.getByTestId(testId).first().boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${testId} is within the screen`);
  }
}

/** Every answer body the page received, read as text (the page's own bundle left out). */
function recordAnswers(page: Page): () => Promise<string[]> {
  const bodies: Promise<string>[] = [];
  page.on("response", (response) => {
    if (!response.url().includes("/api/")) return;
    bodies.push(response.text().catch(() => ""));
  });
  return () => Promise.all(bodies);
}

describe("repositories in the web app", () => {
  test("register with a token, see the hint and default branch, set the default environment, start a task on it, forget it", async () => {
    const { page, context, errors } = await newPage(browser);
    const answers = recordAnswers(page);
    try {
      await page.goto(`${omoi.url}/#/`);
      await page.getByTestId("repositories-link").click();
      await page.waitForURL(/#\/repositories$/);
      await visible(page.getByTestId("repositories-empty"));

      await page.getByTestId("repository-url-input").fill(repositoryUrl());
      await page.getByTestId("repository-name-input").fill("project");
      assert.equal(await page.getByTestId("repository-credential").inputValue(), "token");
      const tokenInput = page.getByTestId("repository-token-input");
      assert.equal(await tokenInput.getAttribute("type"), "password");
      await tokenInput.fill(TOKEN);
      await page.getByTestId("repository-submit").click();

      const row = page.getByTestId("repository-row").filter({ hasText: "project" });
      await visible(row);
      await visible(
        page.getByTestId("repositories-notice").filter({ hasText: "project: registered." }),
      );
      const [stored] = await listed();
      assert.equal(stored.name, "project");
      assert.equal(stored.credential_kind, "token");
      assert.ok(stored.credential_hint);
      await visible(
        row
          .getByTestId("repository-credential-hint")
          .filter({ hasText: `token ${stored.credential_hint}` }),
      );
      await visible(row.getByTestId("repository-url").filter({ hasText: repositoryUrl() }));
      await visible(
        row.getByTestId("repository-default-branch").filter({ hasText: "default branch main" }),
      );
      assert.equal(
        await tokenInput.inputValue(),
        "",
        "the form forgets the token once the server has it",
      );
      await screenshot(page, "repositories-desktop", { fullPage: true });

      // Default environment: set, cleared, set again — each a PATCH the server keeps.
      const picker = row.getByTestId("repository-environment");
      await picker.locator("option", { hasText: "node" }).waitFor({ state: "attached" });
      assert.equal(await picker.inputValue(), "");
      await picker.selectOption({ label: "node" });
      await visible(
        page.getByTestId("repositories-notice").filter({ hasText: "tasks run in node" }),
      );
      assert.equal((await listed())[0].environment_id, environment.id);
      await picker.selectOption({ label: "none" });
      await visible(page.getByTestId("repositories-notice").filter({ hasText: "no environment" }));
      assert.equal((await listed())[0].environment_id, null);
      await picker.selectOption({ label: "node" });
      await visible(
        page.getByTestId("repositories-notice").filter({ hasText: "tasks run in node" }),
      );

      const html = await page.content();
      assert.ok(!html.includes(TOKEN), "the token is not in the page");

      // The new-task form links here, offers the repository and its default environment.
      await page.goto(`${omoi.url}/#/new`);
      assert.equal(
        await page.getByTestId("manage-repositories-link").getAttribute("href"),
        "#/repositories",
      );
      await page.getByTestId("new-task-prompt").fill("look around the project");
      await page.getByTestId("new-task-repo").fill("project");
      await visible(page.getByTestId("new-task-repo-status").filter({ hasText: "default main" }));
      // An option is never "visible": wait for the text the closed picker shows.
      await page.waitForFunction(
        `document.querySelector('[data-testid="new-task-environment-default"]')?.textContent === "project's default: node"`,
        undefined,
        { timeout: WAIT_MS },
      );
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      const taskId = new URL(page.url()).hash.split("/").at(-1) ?? "";
      const task = await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`);
      assert.equal(task.status, 200);
      assert.equal(task.body.repo?.repository_id, stored.id);
      assert.equal(task.body.environment_id, environment.id);
      const cancelled = await api(omoi.url, "POST", `/api/v1/tasks/${taskId}/cancel`, {});
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));

      // Forget: a dismissed confirmation keeps it; an accepted one forgets it.
      await page.goto(`${omoi.url}/#/repositories`);
      await visible(row);
      page.once("dialog", (dialog) => void dialog.dismiss());
      await row.getByTestId("repository-forget").click();
      assert.equal((await listed()).length, 1);
      page.once("dialog", (dialog) => {
        assert.match(dialog.message(), /Forget the repository “project”/);
        void dialog.accept();
      });
      await row.getByTestId("repository-forget").click();
      await visible(page.getByTestId("repositories-empty"));
      await visible(
        page.getByTestId("repositories-notice").filter({ hasText: "project: forgotten." }),
      );
      assert.deepEqual(await listed(), []);

      for (const body of await answers()) {
        assert.ok(!body.includes(TOKEN), "no answer the page received carries the token");
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("a refused credential, a duplicate name and a missing field are said next to the form; nothing is stored", async () => {
    const { page, context } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/repositories`);
      await visible(page.getByTestId("repositories-empty"));
      await page.getByTestId("repository-url-input").fill(repositoryUrl());
      await page.getByTestId("repository-name-input").fill("wrong");
      await page.getByTestId("repository-credential").selectOption("basic");
      await page.getByTestId("repository-username-input").fill("alice");
      const password = page.getByTestId("repository-password-input");
      assert.equal(await password.getAttribute("type"), "password");
      await password.fill("not-the-password");
      await page.getByTestId("repository-submit").click();
      await visible(
        page
          .getByTestId("repository-error")
          .filter({ hasText: "the remote refused the credentials" }),
      );
      assert.deepEqual(await listed(), []);
      await visible(page.getByTestId("repositories-empty"));

      // The right password registers it; the same name again is refused with the server's words.
      await password.fill(PASSWORD);
      await page.getByTestId("repository-submit").click();
      const row = page.getByTestId("repository-row").filter({ hasText: "wrong" });
      await visible(
        row.getByTestId("repository-credential-hint").filter({ hasText: "password alice:" }),
      );
      assert.ok(!(await page.content()).includes(PASSWORD));
      await page.getByTestId("repository-url-input").fill(repositoryUrl());
      await page.getByTestId("repository-name-input").fill("wrong");
      await page.getByTestId("repository-credential").selectOption("none");
      await page.getByTestId("repository-submit").click();
      await visible(
        page
          .getByTestId("repository-error")
          .filter({ hasText: "a repository named 'wrong' is already registered" }),
      );
      // A form missing what its credential needs says so before anything is sent.
      await page.getByTestId("repository-name-input").fill("other");
      await page.getByTestId("repository-credential").selectOption("token");
      await page.getByTestId("repository-submit").click();
      await visible(
        page.getByTestId("repository-error").filter({ hasText: "enter the access token" }),
      );
      // A URL nobody answers at, and a name the server does not take: its words, nothing kept.
      await page.getByTestId("repository-url-input").fill("http://127.0.0.1:9/nobody/here.git");
      await page.getByTestId("repository-credential").selectOption("none");
      await page.getByTestId("repository-submit").click();
      await visible(page.getByTestId("repository-error").filter({ hasText: "127.0.0.1:9" }));
      const unreachable = (await page.getByTestId("repository-error").textContent()) ?? "";
      await page.getByTestId("repository-url-input").fill(repositoryUrl());
      await page.getByTestId("repository-name-input").fill("bad name!");
      await page.getByTestId("repository-submit").click();
      await visible(
        page.getByTestId("repository-error").filter({ hasText: "must be 1-100 letters" }),
      );
      assert.notEqual(await page.getByTestId("repository-error").textContent(), unreachable);
      assert.deepEqual(
        (await listed()).map((repository) => repository.name),
        ["wrong"],
      );
      const forgotten = await api(omoi.url, "DELETE", "/api/v1/repositories/wrong");
      assert.equal(forgotten.status, 204);
    } finally {
      await context.close();
    }
  });

  test("fits a phone: list, default environment and the register form at 390×844", async () => {
    const registered = await api(omoi.url, "POST", "/api/v1/repositories", {
      name: "a-repository-with-a-long-name",
      url: repositoryUrl(),
      credential: { kind: "token", token: TOKEN },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const { page, context, errors } = await newPage(browser, {
      width: 390,
      height: 844,
      isMobile: true,
    });
    try {
      await page.goto(`${omoi.url}/#/repositories`);
      const row = page
        .getByTestId("repository-row")
        .filter({ hasText: "a-repository-with-a-long-name" });
      await visible(row.getByTestId("repository-default-branch"));
      await visible(page.getByTestId("repositories-link"));
      await assertFitsPhone(page, page, [
        "repository-environment",
        "repository-forget",
        "repository-url-input",
        "repository-submit",
      ]);
      await screenshot(page, "repositories-phone", { fullPage: true });
      await row.getByTestId("repository-environment").selectOption({ label: "node" });
      await visible(
        page.getByTestId("repositories-notice").filter({ hasText: "tasks run in node" }),
      );
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("edit at 390×844: a refused credential is said next to the form and changes nothing; a new one, URL and name are saved; the credential is removed once the remote is public", async () => {
    const registered = await api<Repository>(omoi.url, "POST", "/api/v1/repositories", {
      name: "editable",
      url: repositoryUrl(),
      credential: { kind: "basic", username: "alice", password: PASSWORD },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const { page, context, errors } = await newPage(browser, {
      width: 390,
      height: 844,
      isMobile: true,
    });
    const answers = recordAnswers(page);
    try {
      await page.goto(`${omoi.url}/#/repositories`);
      const row = page.getByTestId("repository-row").filter({ hasText: "editable" });
      await row.getByTestId("repository-edit").click();
      const form = row.getByTestId("repository-edit-form");
      await visible(form);
      assert.equal(await form.getByTestId("repository-url-input").inputValue(), repositoryUrl());
      assert.equal(await form.getByTestId("repository-name-input").inputValue(), "editable");

      // Nothing changed: said before anything is sent.
      await form.getByTestId("repository-submit").click();
      await visible(form.getByTestId("repository-error").filter({ hasText: "Nothing to change" }));

      // A refused password: the server's words next to the form; the stored one is untouched.
      await form.getByTestId("repository-credential").selectOption("basic");
      await form.getByTestId("repository-username-input").fill("bob");
      const password = form.getByTestId("repository-password-input");
      assert.equal(await password.getAttribute("type"), "password");
      await password.fill("not-the-new-password");
      await form.getByTestId("repository-name-input").fill("renamed");
      await form.getByTestId("repository-submit").click();
      await visible(
        form
          .getByTestId("repository-error")
          .filter({ hasText: "the remote refused the credentials" }),
      );
      assert.equal(await password.inputValue(), "", "the refused secret is emptied");
      const kept = (await listed()).find((repository) => repository.id === registered.body.id);
      assert.deepEqual(kept, registered.body, "nothing changed, not even the name");

      await assertFitsPhone(page, form, [
        "repository-url-input",
        "repository-password-input",
        "repository-submit",
      ]);
      await screenshot(page, "repository-edit-phone", { fullPage: true });

      // The new password, a new URL and a new name, saved together.
      await password.fill(NEW_PASSWORD);
      await form.getByTestId("repository-url-input").fill(`${git.url}/acme/moved.git`);
      await form.getByTestId("repository-submit").click();
      await visible(page.getByTestId("repositories-notice").filter({ hasText: "renamed: saved." }));
      const saved = page.getByTestId("repository-row").filter({ hasText: "renamed" });
      await visible(
        saved.getByTestId("repository-credential-hint").filter({ hasText: "password bob:…2468" }),
      );
      await visible(saved.getByTestId("repository-url").filter({ hasText: "/acme/moved.git" }));
      await visible(saved.getByTestId("repository-default-branch"));
      const stored = (await listed()).find((repository) => repository.id === registered.body.id);
      assert.equal(stored?.name, "renamed");
      assert.equal(stored?.url, `${git.url}/acme/moved.git`);
      assert.equal(stored?.credential_hint, "bob:…2468");

      // Removing the credential: refused while the remote needs one, with the server's words.
      await saved.getByTestId("repository-edit").click();
      const again = saved.getByTestId("repository-edit-form");
      await again.getByTestId("repository-credential").selectOption("none");
      assert.equal(await again.getByTestId("repository-password-input").count(), 0);
      await again.getByTestId("repository-submit").click();
      await visible(
        again.getByTestId("repository-error").filter({ hasText: "needs a credential" }),
      );
      const unchanged = (await listed()).find((repository) => repository.id === stored?.id);
      assert.deepEqual(unchanged, stored, "the credential is kept");
      // Once the repository is public, the same edit is saved and the hint is gone.
      publicRead = true;
      await again.getByTestId("repository-submit").click();
      await visible(
        saved
          .getByTestId("repository-credential-hint")
          .filter({ hasText: "no credential (public)" }),
      );
      const removed = (await listed()).find((repository) => repository.id === stored?.id);
      assert.equal(removed?.credential_kind, "none");
      assert.equal(removed?.credential_hint, null);

      const html = await page.content();
      const bodies = (await answers()).join("\n");
      for (const secret of [NEW_PASSWORD, PASSWORD, "not-the-new-password"]) {
        assert.ok(
          !html.includes(secret) && !bodies.includes(secret),
          "no password reaches the page",
        );
      }
      // The refused PATCH's 403 is the one resource error the console may show.
      assert.deepEqual(
        errors.filter((error) => !error.includes("status of 403")),
        [],
      );
      assert.equal((await api(omoi.url, "DELETE", "/api/v1/repositories/renamed")).status, 204);
    } finally {
      publicRead = false;
      await context.close();
    }
  });
});
