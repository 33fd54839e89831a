import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeGuardedRemote, makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";
import { startGitHubStandIn } from "../repo/github-stand-in.ts";
import { launchBrowser, newPage, screenshot, visible } from "./browser.ts";

/*
 * The repository flow in real Chromium against a real run (SDK + CLI in the sandbox, scripted
 * model): pick a registered repository, start, watch the +N −M badge, open the Changes panel,
 * create a pull request (GitHub REST stand-in; real git over smart HTTP), see its link.
 */

const TOKEN = "ghp_browsertest000000000000000000000009";
let omoi: TestOmoi;
let browser: Browser;
let github: Awaited<ReturnType<typeof startGitHubStandIn>>;
let git: Awaited<ReturnType<typeof serveGitHttp>>;
const cleanups: (() => Promise<void> | void)[] = [];
let root: string;
let localRemote: string;

before(async () => {
  root = await tempDir({ after: (fn) => cleanups.push(fn) });
  await mkdir(path.join(root, "acme"));
  const remote = await makeRemote(path.join(root, "acme"), "project");
  await makeGuardedRemote(path.join(root, "acme"));
  await mkdir(path.join(root, "local"));
  localRemote = await makeRemote(path.join(root, "local"), "tools");
  git = await serveGitHttp(root, { username: "x-access-token", password: TOKEN });
  github = await startGitHubStandIn({
    owner: "acme",
    repo: "project",
    gitDir: remote,
    tokens: [TOKEN],
  });
  [omoi, browser] = await Promise.all([
    startTestOmoi({ OMOI_IDLE_WINDOW_MS: "600000" }),
    launchBrowser(),
  ]);
  const registered = await api(omoi.url, "POST", "/api/v1/repositories", {
    name: "project",
    url: `${git.url}/acme/project.git`,
    api_base_url: github.url,
    credential: { kind: "token", token: TOKEN },
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const registeredGuarded = await api(omoi.url, "POST", "/api/v1/repositories", {
    name: "guarded",
    url: `${git.url}/acme/guarded.git`,
    credential: { kind: "token", token: TOKEN },
  });
  assert.equal(registeredGuarded.status, 201, JSON.stringify(registeredGuarded.body));
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
  await github?.close();
  await git?.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("pick a repository, start, watch +N −M grow, open the changes, create a pull request, see its link", async () => {
  const { page, context, errors } = await newPage(browser);
  try {
    await page.goto(`${omoi.url}/#/new`);
    const choices = page.locator('[data-testid="new-task-repo-choices"] option');
    await choices.first().waitFor({ state: "attached" });
    assert.deepEqual(
      await choices.evaluateAll((options) => options.map((option) => option.getAttribute("value"))),
      ["guarded", "project"],
    );
    // The repository field takes the form's whole row, so a URL or path can be read as typed.
    const field = await page.getByTestId("new-task-repo").boundingBox();
    const prompt = await page.getByTestId("new-task-prompt").boundingBox();
    assert.ok(
      field && prompt && field.width >= prompt.width - 2,
      `repository field ${field?.width}px of ${prompt?.width}px`,
    );
    await page.getByTestId("new-task-prompt").fill("[scenario:repo-edit] add a hello module");
    await page.getByTestId("new-task-repo").fill("project");
    await visible(page.getByTestId("new-task-base-branch"));
    await page.getByTestId("new-task-submit").click();
    await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/);
    await visible(page.getByTestId("repo-bar"));

    const badge = page.getByTestId("changes-badge");
    await visible(badge.filter({ hasText: "+3 −0" }));
    await badge.click();
    await visible(page.getByTestId("changes-panel"));
    const files = await page.getByTestId("changed-file").allTextContents();
    assert.deepEqual(
      files.map((text) => text.split(" ")[0]),
      ["NOTES.md", "hello.py"],
    );
    await visible(page.getByTestId("file-diff").filter({ hasText: "def hello" }));
    await screenshot(page, "repository-changes", { fullPage: true });

    await page.getByTestId("create-pull-request").click();
    const link = page.getByTestId("pull-request-link");
    await visible(link.filter({ hasText: "PR #1" }));
    assert.equal(await link.getAttribute("href"), github.pulls[0].html_url);
    assert.equal(github.pulls[0].base.ref, "main");

    await page.goto(`${omoi.url}/#/`);
    await visible(page.getByTestId("task-pull-request").filter({ hasText: "PR #1 · open" }));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("a repository the server cannot use is refused in the form with the server's reason", async () => {
  const { page, context } = await newPage(browser);
  try {
    await page.goto(`${omoi.url}/#/new`);
    await page.getByTestId("new-task-prompt").fill("anything");
    await page.getByTestId("new-task-repo").fill("project");
    await page.getByTestId("new-task-base-branch").fill("no-such-branch");
    await page.getByTestId("new-task-submit").click();
    await visible(
      page
        .getByTestId("new-task-error")
        .filter({ hasText: "base branch 'no-such-branch' does not exist" }),
    );
  } finally {
    await context.close();
  }
});

test("the picker offers recent repositories and their branches; naming an existing branch continues it", async () => {
  // A task on a server path makes it a recent repository.
  const recent = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", {
    prompt: "[scenario:quick] look around",
    repo: localRemote,
  });
  assert.equal(recent.status, 201, JSON.stringify(recent.body));
  await api(omoi.url, "POST", `/api/v1/tasks/${recent.body.id}/cancel`);
  const { page, context, errors } = await newPage(browser);
  try {
    await page.goto(`${omoi.url}/#/new`);
    const recentChoice = page.locator(
      `[data-testid="new-task-repo-choices"] option[value="${localRemote}"]`,
    );
    await recentChoice.waitFor({ state: "attached" });
    assert.equal(await recentChoice.getAttribute("label"), "recent task");

    await page.getByTestId("new-task-repo").fill(localRemote);
    await visible(
      page.getByTestId("new-task-repo-status").filter({ hasText: "2 branches · default main" }),
    );
    const branches = page.locator('[data-testid="new-task-branch-choices"] option');
    assert.deepEqual(
      await branches.evaluateAll((options) =>
        options.map((option) => option.getAttribute("value")),
      ),
      ["main", "release"],
    );
    assert.equal(
      await page.getByTestId("new-task-base-branch").getAttribute("placeholder"),
      "main",
    );
    assert.equal(
      await page.getByTestId("new-task-branch").getAttribute("list"),
      await page.getByTestId("new-task-branch-choices").getAttribute("id"),
    );
    await page.getByTestId("new-task-prompt").fill("[scenario:quick] continue the release");
    await page.getByTestId("new-task-branch").fill("release");
    await page.getByTestId("new-task-submit").click();
    await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/);
    const taskId = page.url().split("/").pop() ?? "";
    const task = await api<{ repo: { branch: string; base_branch: string; continued: boolean } }>(
      omoi.url,
      "GET",
      `/api/v1/tasks/${taskId}`,
    );
    assert.equal(task.body.repo.branch, "release");
    assert.equal(task.body.repo.base_branch, "main");
    assert.equal(task.body.repo.continued, true);
    await api(omoi.url, "POST", `/api/v1/tasks/${taskId}/cancel`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("credentials refused and a folder that is not a repository are said plainly, before and on submit", async () => {
  const { page, context } = await newPage(browser);
  try {
    await page.goto(`${omoi.url}/#/new`);
    await page.getByTestId("new-task-prompt").fill("anything");
    // The same server, reached by another name, is an unregistered URL: no credential.
    const unregistered = `${git.url.replace("127.0.0.1", "localhost")}/acme/project.git`;
    await page.getByTestId("new-task-repo").fill(unregistered);
    await visible(
      page
        .getByTestId("new-task-repo-status")
        .filter({ hasText: "the remote refused the credentials" }),
    );
    await page.getByTestId("new-task-submit").click();
    await visible(
      page.getByTestId("new-task-error").filter({ hasText: "the remote refused the credentials" }),
    );

    await page.getByTestId("new-task-repo").fill(root);
    await visible(
      page.getByTestId("new-task-repo-status").filter({ hasText: "is not a git repository" }),
    );
    await page.getByTestId("new-task-submit").click();
    await visible(
      page.getByTestId("new-task-error").filter({ hasText: "is not a git repository" }),
    );
  } finally {
    await context.close();
  }
});

test("a push the remote refuses (protected branch) shows its reason; the changes stay visible", async () => {
  const { page, context } = await newPage(browser);
  try {
    await page.goto(`${omoi.url}/#/new`);
    await page.getByTestId("new-task-prompt").fill("[scenario:repo-edit] add a hello module");
    await page.getByTestId("new-task-repo").fill("guarded");
    await page.getByTestId("new-task-submit").click();
    await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/);
    await visible(
      page
        .getByTestId("repo-error")
        .filter({ hasText: "Not pushed: the remote rejected the push" })
        .filter({ hasText: "pre-receive hook declined" })
        .filter({ hasText: "the remote said: protected branch: pushes need review" }),
    );
    await visible(page.getByTestId("changes-badge").filter({ hasText: "+3 −0" }));
    assert.equal(await page.getByTestId("create-pull-request").isDisabled(), true);
  } finally {
    await context.close();
  }
});

test("a pull request the forge refuses shows GitHub's reason", async () => {
  const { page, context } = await newPage(browser);
  try {
    await page.goto(`${omoi.url}/#/new`);
    await page.getByTestId("new-task-prompt").fill("[scenario:repo-edit] straight onto main");
    await page.getByTestId("new-task-repo").fill("project");
    // Working on the base branch itself (named explicitly): pushed, but no pull request can be made.
    await page.getByTestId("new-task-branch").fill("main");
    await page.getByTestId("new-task-submit").click();
    await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/);
    const create = page.locator('[data-testid="create-pull-request"]:enabled');
    await visible(create);
    await create.click();
    await visible(
      page.getByRole("alert").filter({ hasText: "GitHub refused the pull request: 422" }),
    );
  } finally {
    await context.close();
  }
});
