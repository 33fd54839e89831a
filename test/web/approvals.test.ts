import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi, tempDir } from "../helpers/omoi.ts";
import { launchBrowser, newPage, visible, WAIT_MS } from "./browser.ts";

/*
 * Approvals in real headless Chromium, against real agents (SDK + CLI in the local sandbox,
 * scripted model): the mode selector, the permission, plan and question cards, the mode in
 * the header, "needs you" in the task list; on a desktop and on a phone-sized screen.
 * Screenshots go to this test's temp dir.
 */

let omoi: TestOmoi;
let browser: Browser;
const shots = tempDir("omoi-approvals-shots-");
before(async () => {
  [omoi, browser] = await Promise.all([
    startTestOmoi({ OMOI_MAX_SANDBOXES: "3" }),
    launchBrowser(),
  ]);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
  shots.remove();
});

async function shoot(page: Page, name: string) {
  const file = path.join(shots.dir, `${name}.png`);
  await page.screenshot({ path: file, animations: "disabled" });
  assert.ok(existsSync(file));
}

function taskIdOf(page: Page): string {
  const match = /#\/tasks\/([A-Za-z0-9_-]+)$/.exec(page.url());
  assert.ok(match, `not on a task page: ${page.url()}`);
  return match[1];
}

async function workspaceFile(taskId: string, name: string) {
  const task = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`)).body;
  const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${task.sandbox_id}`))
    .body;
  return path.join(sandbox.workspace!, name);
}

const message = (page: Page, text: string) =>
  visible(page.getByTestId("assistant-message").filter({ hasText: text }));

/** The page is no wider than the screen (nothing to scroll sideways on a phone). */
async function fitsWidth(page: Page) {
  const [scroll, inner] = (await page.evaluate(
    "[document.documentElement.scrollWidth, window.innerWidth]",
  )) as [number, number];
  assert.ok(scroll <= inner, `the page is ${scroll}px wide on a ${inner}px screen`);
}

describe("approvals in the browser", () => {
  test("desktop: start in 'ask' mode, deny with a reason, always allow; the list says the task needs you", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/new`);
      await page.getByTestId("new-task-prompt").fill("[scenario:permission] record the approval");
      await page.getByTestId("new-task-mode").selectOption("default");
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      const taskId = taskIdOf(page);
      assert.equal(
        (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`)).body.permission_mode,
        "default",
      );
      await visible(page.locator('[data-testid="session-mode"][data-mode="default"]'));

      const card = page.getByTestId("permission-card");
      await visible(card);
      await visible(page.getByTestId("permission-input").filter({ hasText: "approved.txt" }));
      // While the request is open the conversation says Claude waits for the person, not that it works.
      await visible(page.locator('[data-testid="agent-activity"][data-activity="needs_you"]'));
      // The request shows in the conversation's history in words, not as an event type.
      await visible(page.getByTestId("note").filter({ hasText: "Bash asks for permission" }));

      // Another tab's task list shows the task waiting, naming what for.
      const list = await newPage(browser);
      await list.page.goto(`${omoi.url}/#/`);
      const row = list.page.locator(`[data-testid="task-row"][data-task-id="${taskId}"]`);
      await visible(row.getByTestId("needs-you"));
      assert.match(
        (await row.getByTestId("needs-you").getAttribute("title")) ?? "",
        /Allow Bash: echo approved/,
      );
      // The mark sits beside the title on the row's one line: the title keeps its room.
      const mark = await row.getByTestId("needs-you").boundingBox();
      const title = await row.getByTestId("task-title").boundingBox();
      assert.ok(mark && title, "the mark and the title are shown");
      assert.ok(
        title.x >= mark.x + mark.width,
        `the title starts after the mark: ${JSON.stringify({ mark, title })}`,
      );
      assert.ok(
        Math.abs(title.y + title.height / 2 - (mark.y + mark.height / 2)) < 8,
        "on the same line",
      );
      assert.ok(title.width > 200, `the title has room: ${title.width}px`);
      await list.context.close();

      await shoot(page, "desktop-permission-card");
      await page.getByTestId("deny-button").click();
      await page.getByTestId("deny-reason").fill("not on this machine");
      await page.getByTestId("confirm-deny").click();
      await message(page, "First command outcome: not on this machine");
      await visible(
        page.getByTestId("note").filter({ hasText: "Denied: not on this machine (web)" }),
      );
      assert.equal(existsSync(await workspaceFile(taskId, "approved.txt")), false);

      await visible(card.filter({ hasText: "second.txt" }));
      await card.getByTestId("always-allow-button").click();
      await message(page, "Second command outcome");
      assert.equal(existsSync(await workspaceFile(taskId, "second.txt")), true);
      assert.equal(await page.getByTestId("permission-card").count(), 0, "nothing left to answer");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("desktop: the composer switches the mode mid-run; the next tool call follows it", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
        prompt: "[scenario:permission] switch",
        permission_mode: "default",
      });
      await page.goto(`${omoi.url}/#/tasks/${created.body.id}`);
      await visible(page.getByTestId("permission-card"));
      await page.getByTestId("composer-mode").selectOption("bypassPermissions");
      await visible(page.locator('[data-testid="session-mode"][data-mode="bypassPermissions"]'));
      await page.getByTestId("allow-button").click();
      await message(page, "Second command outcome");
      assert.equal(existsSync(await workspaceFile(created.body.id, "second.txt")), true);
      assert.equal(await page.getByTestId("permission-card").count(), 0);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("phone 390×844: approve a plan into a working mode, then answer a question in my own words", async () => {
    const { page, context, errors } = await newPage(browser, {
      width: 390,
      height: 844,
      isMobile: true,
    });
    try {
      await page.goto(`${omoi.url}/#/new`);
      await page.getByTestId("new-task-prompt").fill("[scenario:plan] plan it first");
      await page.getByTestId("new-task-mode").selectOption("plan");
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      const planTask = taskIdOf(page);
      const plan = page.getByTestId("plan-card");
      await visible(plan);
      await visible(page.getByTestId("plan-text").filter({ hasText: "Create plan-result.txt" }));
      assert.equal(existsSync(await workspaceFile(planTask, "too-early.txt")), false);
      await fitsWidth(page);
      await shoot(page, "phone-plan-card");
      await page.getByTestId("plan-mode").selectOption("acceptEdits");
      await page.getByTestId("approve-plan").click();
      await visible(page.locator('[data-testid="session-mode"][data-mode="acceptEdits"]'));
      await message(page, "Work outcome");
      assert.equal(existsSync(await workspaceFile(planTask, "plan-result.txt")), true);

      await page.goto(`${omoi.url}/#/new`);
      await page.getByTestId("new-task-prompt").fill("[scenario:question] ask me");
      await page.getByTestId("new-task-mode").selectOption("acceptEdits");
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      const questionCard = page.getByTestId("question-card");
      await visible(questionCard.filter({ hasText: "Which greeting should I write?" }));
      await visible(page.getByTestId("question-option").filter({ hasText: "Howdy" }));
      await fitsWidth(page);
      await shoot(page, "phone-question-card");
      await page.getByTestId("question-free").fill("Good evening");
      await page.getByTestId("answer-question").click();
      await message(page, "You answered: Good evening");
      await fitsWidth(page);
      await shoot(page, "phone-after-answer");
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("phone 390×844: a reload while a request is open shows it again, and it can be answered", async () => {
    const { page, context, errors } = await newPage(browser, {
      width: 390,
      height: 844,
      isMobile: true,
    });
    try {
      const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
        prompt: "[scenario:permission] reload",
        permission_mode: "default",
      });
      await page.goto(`${omoi.url}/#/tasks/${created.body.id}`);
      await visible(page.getByTestId("permission-card"));
      await page.reload();
      await visible(page.getByTestId("permission-card"));
      await fitsWidth(page);
      await shoot(page, "phone-permission-card");
      await page.getByTestId("allow-button").click();
      await message(page, "First command outcome");
      assert.equal(existsSync(await workspaceFile(created.body.id, "approved.txt")), true);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
