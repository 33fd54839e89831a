import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import { api, PROJECT_ROOT, startTestOmoi, type TestOmoi, tempDir } from "../helpers/omoi.ts";
import { launchBrowser, newPage, screenshot, visible, WAIT_MS } from "./browser.ts";

/*
 * The prototype's ways in, from a real browser: the standalone sample page opened from disk,
 * and the prototype's bare WebSocket snippet. An external sandbox fed over REST, no agents.
 * A page opened from disk has an opaque origin (`Origin: null`), which any sandboxed frame on
 * any site can claim too, so the server serves it only when started with the documented
 * opt-in OMOI_ALLOWED_ORIGINS=null (docs/security.md).
 */

let omoi: TestOmoi;
let browser: Browser;
before(async () => {
  [omoi, browser] = await Promise.all([
    startTestOmoi({ OMOI_ALLOWED_ORIGINS: "null" }),
    launchBrowser(),
  ]);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
});

async function externalSandbox(prefix: string): Promise<string> {
  const id = `${prefix}-${randomUUID().slice(0, 8)}`;
  const created = await api<Sandbox>(omoi.url, "POST", "/api/v1/sandboxes", { id });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.kind, "external");
  return id;
}

/** Posts one event in the prototype's shape; returns its seq. */
function postEvent(
  sandboxId: string,
  eventType: string,
  data: Record<string, unknown>,
): Promise<number> {
  return postEventTo(omoi.url, sandboxId, eventType, data);
}

async function postEventTo(
  base: string,
  sandboxId: string,
  eventType: string,
  data: Record<string, unknown>,
): Promise<number> {
  const posted = await api<{ seq: number }>(base, "POST", `/api/v1/sandboxes/${sandboxId}/events`, {
    event_type: eventType,
    event_data: data,
    source: "agent",
  });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
  return posted.body.seq;
}

describe("the standalone sample page, from file://", () => {
  test("connects to a sandbox, shows history then live events, sends a message, measures latency", async () => {
    const sandboxId = await externalSandbox("web-sample");
    await postEvent(sandboxId, "agent.message", { content: "from the history" });
    await postEvent(sandboxId, "agent.tool_use", {
      tool: "Bash",
      tool_use_id: "tu_1",
      input: { command: "ls" },
    });

    const { page, context, errors } = await newPage(browser);
    try {
      const sample = pathToFileURL(path.join(PROJECT_ROOT, "examples", "sandbox-ui-sample.html"));
      await page.goto(sample.href);
      assert.equal(new URL(page.url()).protocol, "file:");
      await page.locator("#server").fill(omoi.url);
      await page.locator("#sandbox").fill(sandboxId);
      await page.locator("#connect").click();
      await visible(page.locator('#state[data-state="live"]'));

      const rows = page.locator("#events li[data-testid='event-item']");
      await visible(rows.filter({ hasText: "from the history" }));
      assert.match(
        (await rows.filter({ hasText: "from the history" }).getAttribute("class")) ?? "",
        /\breplayed\b/,
        "history is marked as replayed",
      );

      // Live events, posted by the "outside worker" now that the page is live.
      for (const content of ["live one", "live two", "live three"]) {
        await postEvent(sandboxId, "agent.message", { content });
      }
      await visible(rows.filter({ hasText: "live three" }));
      assert.doesNotMatch(
        (await rows.filter({ hasText: "live one" }).getAttribute("class")) ?? "",
        /\breplayed\b/,
      );
      // The stats panel shows a measured average latency, a number of milliseconds.
      await page.waitForFunction(
        `/^\\d+(\\.\\d+)? ms$/.test(document.getElementById("stat-latency").textContent)`,
        undefined,
        { timeout: WAIT_MS },
      );
      const latency = (await page.locator("#stat-latency").textContent()) ?? "";
      assert.ok(Number.isFinite(Number.parseFloat(latency)), latency);

      // A message, sent with Ctrl+Enter, reaches the server.
      await page.locator("#content").fill("hello from the sample page");
      await page.locator("#content").press("Control+Enter");
      await visible(page.locator("#send-result", { hasText: "queued ·" }));
      const result = (await page.locator("#send-result").textContent()) ?? "";
      const messageId = result.split("·")[1]?.trim();
      assert.ok(messageId, result);
      assert.equal(await page.locator("#content").inputValue(), "", "the box clears once sent");
      await visible(
        rows
          .filter({ hasText: "message.queued" })
          .filter({ hasText: "hello from the sample page" }),
      );
      const pending = await api<{ id: string; content: string }[]>(
        omoi.url,
        "GET",
        `/api/v1/sandboxes/${sandboxId}/messages`,
      );
      assert.equal(pending.status, 200);
      const mine = pending.body.find((message) => message.content === "hello from the sample page");
      assert.ok(mine, `the worker's poll returns it: ${JSON.stringify(pending.body)}`);
      assert.equal(mine.id, messageId);

      // Every stored event is on the page exactly once, in seq order.
      const stored = await api<{ events: { seq: number }[]; last_seq: number }>(
        omoi.url,
        "GET",
        `/api/v1/sandboxes/${sandboxId}/events?after_seq=0&limit=100`,
      );
      const shown = await rows.locator(".seq").allTextContents();
      assert.deepEqual(
        shown,
        stored.body.events.map((event) => `#${event.seq}`),
      );
      await page.waitForFunction(
        `document.getElementById("stat-seq").textContent === "${stored.body.last_seq}"`,
        undefined,
        { timeout: WAIT_MS },
      );
      assert.equal(await page.locator("#stat-events").textContent(), String(shown.length));
      await screenshot(page, "sample-page");
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });
});

describe("the sample page without the opt-in", () => {
  test("a page opened from disk is refused by default and says how to opt in", async () => {
    const closed = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
    const { page, context } = await newPage(browser);
    try {
      const created = await api<Sandbox>(closed.url, "POST", "/api/v1/sandboxes", {});
      await postEventTo(closed.url, created.body.id, "agent.message", { content: "private" });
      const sample = pathToFileURL(path.join(PROJECT_ROOT, "examples", "sandbox-ui-sample.html"));
      await page.goto(sample.href);
      await page.locator("#server").fill(closed.url);
      await page.locator("#sandbox").fill(created.body.id);
      await page.locator("#connect").click();
      await visible(page.locator("#state", { hasText: "OMOI_ALLOWED_ORIGINS=null" }));
      assert.equal(await page.locator("#events li[data-testid='event-item']").count(), 0);
      await page.locator("#content").fill("a message from a page opened from disk");
      await page.locator("#content").press("Control+Enter");
      await visible(page.locator("#send-result.error"));
      const pending = await api<unknown[]>(
        closed.url,
        "GET",
        `/api/v1/sandboxes/${created.body.id}/messages`,
      );
      assert.deepEqual(pending.body, [], "the message was not stored");
    } finally {
      await context.close();
      await closed.stop();
    }
  });
});

describe("the prototype's browser WebSocket snippet", () => {
  // Pages on this machine: the served app, and a file opened from disk. (about:blank is an
  // opaque, "public" origin: Chromium's Local Network Access checks block its socket to
  // 127.0.0.1 with net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS unless a person allows
  // it at the prompt, whatever the server does — so it is not tested here.)
  for (const where of ["a file:// page", "the served app"]) {
    test(`works unchanged in Chromium (${where})`, async () => {
      const sandboxId = await externalSandbox("web-snippet");
      const other = await externalSandbox("web-other");
      const blank = tempDir("omoi-web-");
      writeFileSync(path.join(blank.dir, "blank.html"), "<!doctype html><title>blank</title>\n");
      const { page, context, errors } = await newPage(browser);
      try {
        await page.goto(
          where === "the served app"
            ? `${omoi.url}/`
            : pathToFileURL(path.join(blank.dir, "blank.html")).href,
        );
        const port = new URL(omoi.url).port;
        // The snippet as the prototype wrote it, plus a wait for the server's "subscribed".
        await page.evaluate(`(async () => {
          const id = ${JSON.stringify(sandboxId)};
          const log = [];
          window.log = log;
          const ws = new WebSocket("ws://127.0.0.1:${port}/ws/events?entity_types=sandbox&entity_ids=" + id); ws.onmessage = (e) => { const data = JSON.parse(e.data); if (data.entity_id === id) log.push(data.event_type) }
          window.ws = ws;
          await new Promise((resolve, reject) => {
            ws.addEventListener("message", (e) => { if (JSON.parse(e.data).type === "subscribed") resolve(); });
            ws.addEventListener("close", (e) => reject(new Error("closed " + e.code + " " + e.reason)));
          });
        })()`);

        await postEvent(other, "agent.message", { content: "not for this viewer" });
        const types = ["agent.started", "agent.thinking", "agent.message", "agent.completed"];
        for (const type of types) await postEvent(sandboxId, type, { content: `a ${type}` });
        await page.waitForFunction(`window.log.length >= ${types.length}`, undefined, {
          timeout: WAIT_MS,
        });
        assert.deepEqual(await page.evaluate("window.log"), types);
        await page.evaluate("window.ws.close()");
        assert.deepEqual(errors, [], "no page errors");
      } finally {
        await context.close();
        blank.remove();
      }
    });
  }
});
