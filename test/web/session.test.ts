import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, pidAlive, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { eventKeys, launchBrowser, newPage, screenshot, visible, WAIT_MS } from "./browser.ts";

/*
 * The web app in real headless Chromium against an in-process Omoi running real agents
 * (Claude Agent SDK + CLI in the local sandbox, scripted model): create a task in the UI,
 * watch it, steer it, interrupt it, stop it; reload mid-run; screenshots of the main views.
 */

let omoi: TestOmoi;
let browser: Browser;
before(async () => {
  [omoi, browser] = await Promise.all([
    startTestOmoi({ OMOI_MAX_SANDBOXES: "2" }),
    launchBrowser(),
  ]);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
});

interface RenderedItem {
  key: string;
  kind: string;
  tool: string | null;
  eventType: string | null;
  text: string;
  /** A tool card's output, if it has one. */
  output: string | null;
}

/** Every conversation item in page order, with what identifies it. */
function renderedItems(page: Page): Promise<RenderedItem[]> {
  return page.getByTestId("event-item").evaluateAll((nodes) =>
    nodes.map((node) => ({
      key: node.getAttribute("data-key") ?? "",
      kind: node.getAttribute("data-kind") ?? "",
      tool: node.querySelector("[data-tool]")?.getAttribute("data-tool") ?? null,
      eventType: node.querySelector("[data-event-type]")?.getAttribute("data-event-type") ?? null,
      text: (node.textContent ?? "").slice(0, 400),
      output: node.querySelector('[data-testid="tool-output"]')?.textContent ?? null,
    })),
  );
}

function taskIdOf(page: Page): string {
  const match = /#\/tasks\/([A-Za-z0-9_-]+)$/.exec(page.url());
  assert.ok(match, `not on a task page: ${page.url()}`);
  return match[1];
}

/** Records every value data-status takes on message-status elements (browser side). */
const RECORD_STATUSES = `(() => {
  const seen = [];
  window.__statusLog = seen;
  const scan = () => {
    for (const el of document.querySelectorAll('[data-testid="message-status"]')) {
      const status = el.getAttribute("data-status");
      if (status && seen[seen.length - 1] !== status) seen.push(status);
    }
  };
  new MutationObserver(scan).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"],
  });
  scan();
})()`;

describe("the session view, driven from the browser", () => {
  test("create a task in the UI, watch it, queue a message, interrupt, answer, stop", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/new`);
      await page
        .getByTestId("new-task-prompt")
        .fill("[scenario:slow-tool] run the slow job from the browser");
      await page.getByTestId("new-task-title").fill("Browser: slow job");
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      const taskId = taskIdOf(page);
      const created = await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`);
      assert.equal(created.status, 200);
      assert.equal(created.body.title, "Browser: slow job");
      await visible(page.locator('[data-testid="session-page"][data-kind="task"]'));
      await visible(page.getByTestId("session-title").filter({ hasText: "Browser: slow job" }));

      // The agent's first step: a text block, then the 3-second Bash call, running.
      await visible(
        page.getByTestId("assistant-message").filter({ hasText: "Starting a slow job." }),
      );
      await visible(
        page.locator('[data-testid="tool-card"][data-tool="Bash"][data-state="running"]'),
      );

      // While the tool runs: a message queued for after this turn (Enter sends).
      await page.evaluate(RECORD_STATUSES);
      await page.getByTestId("delivery-queue").check({ force: true });
      const composer = page.getByTestId("composer");
      await composer.fill("Please create a file named ui-made.txt");
      await composer.press("Enter");
      await visible(page.locator('[data-testid="message-status"][data-status="queued"]'));
      assert.equal(await composer.inputValue(), "", "the composer clears once sent");

      // Interrupt the slow tool: the turn ends, then the held message is delivered.
      await page.getByTestId("interrupt-button").click();
      await visible(page.locator('[data-testid="note"][data-event-type="agent.interrupted"]'));
      await visible(page.locator('[data-testid="message-status"][data-status="delivered"]'));
      await visible(
        page.getByTestId("assistant-message").filter({ hasText: "Done: I created ui-made.txt" }),
      );
      await visible(page.getByTestId("file-diff").filter({ hasText: "ui-made.txt" }));

      const statuses = (await page.evaluate("window.__statusLog")) as string[];
      assert.ok(
        statuses.indexOf("queued") >= 0 &&
          statuses.indexOf("queued") < statuses.indexOf("delivered"),
        `queued, then delivered: ${statuses.join(" → ")}`,
      );
      assert.equal(statuses.at(-1), "delivered");
      const messageId = await page.getByTestId("message-status").getAttribute("data-message-id");
      assert.ok(messageId, "the message carries the server's id");

      // Order on the page: the run, the message, the interrupt, the answer with its edit.
      const items = await renderedItems(page);
      const at = (what: string, find: (item: RenderedItem) => boolean) => {
        const index = items.findIndex(find);
        assert.ok(
          index >= 0,
          `${what} not on the page: ${JSON.stringify(items.map((i) => i.kind))}`,
        );
        return index;
      };
      const order = [
        at("the prompt", (item) => item.key === "prompt"),
        at(
          "the first reply",
          (item) => item.kind === "assistant" && item.text.includes("Starting a slow job."),
        ),
        at("the Bash card", (item) => item.tool === "Bash"),
        at("my message", (item) => item.kind === "user" && item.text.includes("ui-made.txt")),
        at("the interrupt", (item) => item.eventType === "agent.interrupted"),
        at("the Write card", (item) => item.tool === "Write"),
        at("the diff", (item) => item.kind === "file_edit"),
        at(
          "the answer",
          (item) => item.kind === "assistant" && item.text.includes("Done: I created"),
        ),
      ];
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
        `in order: ${items.map((item) => `${item.kind}:${item.tool ?? item.eventType ?? ""}`).join(" ")}`,
      );
      assert.ok(
        !items.some((item) => item.output?.includes("slow-step-done")),
        "the slow step never finished",
      );
      const keys = items.map((item) => item.key);
      assert.equal(new Set(keys).size, keys.length, "no item twice");
      await screenshot(page, "session-steered");

      // The server agrees: the message was delivered to a live agent that wrote the file.
      const task = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`)).body;
      assert.ok(task.sandbox_id);
      const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${task.sandbox_id}`))
        .body;
      assert.ok(sandbox.workspace && sandbox.worker_pid);
      assert.match(
        readFileSync(path.join(sandbox.workspace, "ui-made.txt"), "utf8"),
        /ui-made\.txt/,
      );
      assert.ok(pidAlive(sandbox.worker_pid), "the session stays open after the turn");

      // Stop. The task is done but its sandbox stays open for a follow-up, so the task
      // page's stop button closes the sandbox.
      await visible(page.locator('[data-testid="session-status"][data-status="completed"]'));
      const stop = page.getByTestId("stop-button");
      await visible(stop.filter({ hasText: "Stop sandbox" }));
      await stop.click();
      await visible(page.locator('[data-testid="note"][data-event-type="sandbox.terminated"]'));
      const stopped = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${sandbox.id}`)).body;
      assert.equal(stopped.status, "terminated");
      assert.equal(pidAlive(sandbox.worker_pid), false, "the worker is gone");
      await page.waitForFunction(
        `document.querySelector('[data-testid="stop-button"]').disabled`,
        undefined,
        { timeout: WAIT_MS },
      );
      const finalTask = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`)).body;
      assert.ok(["completed", "cancelled"].includes(finalTask.status), finalTask.status);
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });

  test("reload mid-run: the whole history, then live events, nothing twice", async () => {
    const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "[scenario:slow-tool] a slow job to reload through",
      title: "Browser: reload",
    });
    assert.equal(created.status, 201);
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/tasks/${created.body.id}`);
      await visible(page.locator('[data-testid="tool-card"][data-tool="Bash"]'));
      const before = await eventKeys(page);
      assert.ok(before.length >= 3, before.join(" "));

      await page.reload();
      await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
      // Replay brings back at least everything seen before the reload…
      await page.waitForFunction(
        `document.querySelectorAll('[data-testid="event-item"]').length >= ${before.length}`,
        undefined,
        { timeout: WAIT_MS },
      );
      // …and the run goes on: its last message, then a reply to a message sent after reload.
      await visible(
        page.getByTestId("assistant-message").filter({ hasText: "The slow job finished." }),
      );
      await visible(page.locator('[data-testid="note"][data-event-type="task.completed"]'));
      await page.getByTestId("composer").fill("still there after the reload?");
      await page.getByTestId("composer").press("Enter");
      await visible(page.locator('[data-testid="message-status"][data-status="delivered"]'));
      await visible(
        page.getByTestId("assistant-message").filter({ hasText: "still there after the reload?" }),
      );
      const latency = await page.getByTestId("stat-latency").textContent();
      assert.match(latency ?? "", /\d/, "live events were measured after the reload");

      const afterKeys = await eventKeys(page);
      assert.equal(
        new Set(afterKeys).size,
        afterKeys.length,
        `no duplicates: ${afterKeys.join(" ")}`,
      );
      assert.deepEqual(
        afterKeys.slice(0, before.length),
        before,
        "what was on the page before the reload comes back first, in the same order",
      );
      assert.ok(afterKeys.length > before.length);

      // Stop from the sandbox's own view (the task page links to it).
      const task = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${created.body.id}`)).body;
      assert.ok(task.sandbox_id);
      await page.locator(`a[href="#/sandboxes/${task.sandbox_id}"]`).first().click();
      await visible(page.locator('[data-testid="session-page"][data-kind="sandbox"]'));
      await visible(
        page.getByTestId("assistant-message").filter({ hasText: "still there after the reload?" }),
      );
      await page.getByTestId("stop-button").filter({ hasText: "Stop sandbox" }).click();
      await visible(page.locator('[data-testid="session-status"][data-status="terminated"]'));
      assert.ok(
        await page.getByTestId("composer").isDisabled(),
        "a stopped sandbox takes no messages",
      );
      const stopped = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${task.sandbox_id}`))
        .body;
      assert.equal(stopped.status, "terminated");
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });

  test("screenshots of the main views", async () => {
    const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "Set up the demo workspace.",
      title: "Browser: demo workspace",
    });
    assert.equal(created.status, 201);
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/tasks/${created.body.id}`);
      await visible(page.locator('[data-testid="note"][data-event-type="task.completed"]'));
      await visible(page.getByTestId("file-diff"));
      await visible(page.locator('[data-testid="tool-card"][data-state="done"]'));
      await visible(page.locator('[data-testid="session-status"][data-status="completed"]'));
      await screenshot(page, "session-demo-end");
      // The first tool cards and diffs, below the header.
      await page.getByTestId("file-diff").first().scrollIntoViewIfNeeded();
      await screenshot(page, "session-demo-diff");

      await page.goto(`${omoi.url}/#/`);
      await visible(page.locator(`[data-testid="task-row"][data-task-id="${created.body.id}"]`));
      assert.ok((await page.getByTestId("task-row").count()) >= 3, "every task so far is listed");
      await screenshot(page, "task-list", { fullPage: true });

      await page.goto(`${omoi.url}/#/new`);
      await page.getByTestId("new-task-prompt").fill("Add a --json flag to the CLI and test it");
      await screenshot(page, "new-task", { fullPage: true });

      const phone = await newPage(browser, { width: 390, height: 844, isMobile: true });
      try {
        await phone.page.goto(`${omoi.url}/#/tasks/${created.body.id}`);
        await visible(phone.page.getByTestId("file-diff"));
        await visible(phone.page.locator('[data-testid="connection-state"][data-state="live"]'));
        const overflow = (await phone.page.evaluate(
          "document.documentElement.scrollWidth - document.documentElement.clientWidth",
        )) as number;
        assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px too wide)`);
        await screenshot(phone.page, "phone-session-end");
        await phone.page.evaluate("window.scrollTo(0, 0)");
        await screenshot(phone.page, "phone-session-top");
        await phone.page.goto(`${omoi.url}/#/`);
        await visible(phone.page.getByTestId("task-row"));
        await screenshot(phone.page, "phone-task-list");
        assert.deepEqual(phone.errors, [], "no page errors on the phone");
      } finally {
        await phone.context.close();
      }
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });
});

describe("browser notifications", () => {
  test("once allowed, a task that ends while the app is open raises a notification naming it", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await context.grantPermissions(["notifications"], { origin: omoi.url });
      // Records each notification the app raises, then raises it for real (page-side JS).
      await page.addInitScript({
        content: `
          const Real = window.Notification;
          window.raisedNotifications = [];
          class Recording extends Real {
            constructor(title, options) {
              super(title, options);
              window.raisedNotifications.push({ title, body: options?.body, tag: options?.tag });
            }
            static get permission() { return Real.permission; }
            static requestPermission(...args) { return Real.requestPermission(...args); }
          }
          window.Notification = Recording;
        `,
      });
      await page.goto(`${omoi.url}/#/`);
      await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
      assert.equal(await page.getByTestId("enable-notifications").count(), 0, "already allowed");

      const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
        prompt: "[scenario:quick] say hi",
        title: "Notify when done",
      });
      assert.equal(created.status, 201);
      await page.waitForFunction("window.raisedNotifications.length > 0", undefined, {
        timeout: WAIT_MS,
      });
      const raised = await page.evaluate("window.raisedNotifications");
      assert.deepEqual(raised, [
        { title: "Task completed", body: "Notify when done", tag: `omoi-${created.body.id}` },
      ]);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
