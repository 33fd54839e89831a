import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { launchBrowser, newPage, visible, WAIT_MS } from "./browser.ts";

/*
 * A hostile page in real Chromium against a local, tokenless Omoi (docs/security.md): served
 * from another loopback port, from a name that resolves to 127.0.0.1, and — DNS rebinding —
 * from that name on Omoi's own port. It tries a JSON fetch, a no-cors fetch, a form post and a
 * viewer WebSocket; none may create a task or receive a frame. The web app itself still works.
 */

const EVIL_NAME = "evil-omoi.test";

let omoi: TestOmoi;
let browser: Browser;
let evil: Server;
let evilPort: number;

before(async () => {
  evil = createServer((_request, response) => {
    response.setHeader("content-type", "text/html");
    response.end("<!doctype html><title>a page the person visits</title><p>hello</p>\n");
  });
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
  evilPort = (evil.address() as AddressInfo).port;
  [omoi, browser] = await Promise.all([
    startTestOmoi({ OMOI_RUN_AGENTS: "0" }),
    launchBrowser([`--host-resolver-rules=MAP ${EVIL_NAME} 127.0.0.1`]),
  ]);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
  await new Promise((resolve) => evil?.close(resolve));
});

interface AttackReport {
  jsonFetch: string;
  noCorsFetch: string;
  formPosted: boolean;
  socket: { opened: boolean; frames: number; ended: string };
}

/**
 * Everything a page can try, run inside the page (as source text: the tests are not compiled
 * with the DOM's types); `base` is Omoi's origin as the page names it.
 */
const ATTACK = `async (base) => {
  const task = JSON.stringify({ prompt: "touch /tmp/pwned-by-a-web-page" });
  const report = { jsonFetch: "", noCorsFetch: "", formPosted: false,
    socket: { opened: false, frames: 0, ended: "" } };
  try {
    const response = await fetch(base + "/api/v1/tasks", {
      method: "POST", headers: { "content-type": "application/json" }, body: task,
    });
    report.jsonFetch = "answered " + response.status;
  } catch (error) {
    report.jsonFetch = "failed: " + error.message;
  }
  try {
    const response = await fetch(base + "/api/v1/tasks", {
      method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: task,
    });
    report.noCorsFetch = "answered " + response.type + " " + response.status;
  } catch (error) {
    report.noCorsFetch = "failed: " + error.message;
  }
  // A form post with a text/plain body shaped like JSON: name=value is {"prompt":…,"x":"="}.
  const frame = document.createElement("iframe");
  frame.name = "sink";
  document.body.append(frame);
  const loaded = new Promise((resolve) => frame.addEventListener("load", () => resolve()));
  const form = document.createElement("form");
  form.method = "POST";
  form.action = base + "/api/v1/tasks";
  form.enctype = "text/plain";
  form.target = "sink";
  const input = document.createElement("input");
  input.name = task.slice(0, -1) + ',"x":"';
  input.value = '"}';
  form.append(input);
  document.body.append(form);
  form.submit();
  await loaded;
  report.formPosted = true;
  await new Promise((resolve) => {
    const socket = new WebSocket(base.replace("http", "ws") + "/ws/events");
    socket.onopen = () => { report.socket.opened = true; };
    socket.onmessage = () => { report.socket.frames += 1; socket.close(); };
    socket.onclose = (event) => { report.socket.ended = "closed " + event.code; resolve(); };
  });
  return report;
}`;

function attack(page: Page, base: string): Promise<AttackReport> {
  return page.evaluate(`(${ATTACK})(${JSON.stringify(base)})`) as Promise<AttackReport>;
}

function assertNothingGotThrough(report: AttackReport, where: string) {
  assert.match(report.jsonFetch, /^failed|answered 403/, `${where}: ${report.jsonFetch}`);
  assert.equal(report.formPosted, true, `${where}: the form was posted`);
  assert.equal(report.socket.opened, false, `${where}: the socket never opened`);
  assert.equal(report.socket.frames, 0, `${where}: no frame received`);
}

async function assertNoTask() {
  const tasks = await api<{ total: number }>(omoi.url, "GET", "/api/v1/tasks");
  assert.equal(tasks.body.total, 0, "no task was created");
}

describe("a hostile web page cannot drive a local Omoi", () => {
  test("from another loopback port", async () => {
    const { page, context } = await newPage(browser);
    try {
      await page.goto(`http://127.0.0.1:${evilPort}/`);
      assertNothingGotThrough(await attack(page, omoi.url), "another port");
      await assertNoTask();
    } finally {
      await context.close();
    }
  });

  test("from a name that resolves to 127.0.0.1", async () => {
    const { page, context } = await newPage(browser);
    try {
      await page.goto(`http://${EVIL_NAME}:${evilPort}/`);
      assertNothingGotThrough(await attack(page, omoi.url), "another name");
      await assertNoTask();
    } finally {
      await context.close();
    }
  });

  test("by DNS rebinding: that name on Omoi's own port", async () => {
    const { page, context } = await newPage(browser);
    try {
      const rebound = `http://${EVIL_NAME}:${omoi.port}`;
      const landing = await page.goto(`${rebound}/`);
      assert.equal(landing?.status(), 403, "not even the web app is served under a foreign name");
      const report = await attack(page, rebound);
      assertNothingGotThrough(report, "rebinding");
      assert.equal(report.jsonFetch, "answered 403", "same-origin to the page, refused by Host");
      await assertNoTask();
    } finally {
      await context.close();
    }
  });
});

describe("the web app itself", () => {
  test("still creates a task and opens its live socket", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      const subscribed = new Promise<void>((resolve) => {
        page.on("websocket", (socket) =>
          socket.on("framereceived", (frame) => {
            if (String(frame.payload).includes('"type":"subscribed"')) resolve();
          }),
        );
      });
      await page.goto(`${omoi.url}/#/new`);
      await page.getByTestId("new-task-prompt").fill("a task made in the app");
      await page.getByTestId("new-task-title").fill("Made in the app");
      await page.getByTestId("new-task-submit").click();
      await page.waitForURL(/#\/tasks\/[A-Za-z0-9_-]+$/, { timeout: WAIT_MS });
      await visible(page.getByTestId("session-title").filter({ hasText: "Made in the app" }));
      await subscribed;
      const tasks = await api<{ tasks: Task[] }>(omoi.url, "GET", "/api/v1/tasks");
      assert.deepEqual(
        tasks.body.tasks.map((task) => task.title),
        ["Made in the app"],
      );
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });
});
