import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";
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

before(async () => {
  const root = await tempDir({ after: (fn) => cleanups.push(fn) });
  await mkdir(path.join(root, "acme"));
  const remote = await makeRemote(path.join(root, "acme"), "project");
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
    assert.equal(await choices.first().getAttribute("value"), "project");
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
