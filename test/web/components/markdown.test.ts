import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import type { Sandbox } from "../../../src/protocol/sandbox.ts";
import { api, startTestOmoi, type TestOmoi } from "../../helpers/omoi.ts";
import { launchBrowser, newPage, visible } from "../browser.ts";

/*
 * The agent's markdown is hostile data: rendered in real Chromium, nothing in it runs,
 * links keep only safe schemes and open without an opener, images load only over http(s).
 */

let omoi: TestOmoi;
let browser: Browser;
before(async () => {
  [omoi, browser] = await Promise.all([startTestOmoi({ OMOI_RUN_AGENTS: "0" }), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
});

const HOSTILE = [
  "Plain **bold** and a [good link](https://example.com/a).",
  "",
  "[bad link](javascript:alert(1)) and [data link](data:text/html,<script>alert(1)</script>)",
  "",
  '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">',
  "",
  "![local image](/api/v1/tasks) ![remote image](https://example.com/i.png)",
].join("\n");

describe("markdown from the agent", () => {
  test("renders as harmless HTML", async () => {
    const created = await api<Sandbox>(omoi.url, "POST", "/api/v1/sandboxes", {});
    assert.equal(created.status, 201);
    const sandboxId = created.body.id;
    const posted = await api(omoi.url, "POST", `/api/v1/sandboxes/${sandboxId}/events`, {
      event_type: "agent.message",
      payload: { content: HOSTILE },
    });
    assert.equal(posted.status, 201);

    const { page, context, errors } = await newPage(browser);
    try {
      // The page must never load the remote image: answer it here, from nowhere.
      await page.route("https://example.com/**", (route) => route.fulfill({ status: 204 }));
      await page.goto(`${omoi.url}/#/sandboxes/${sandboxId}`);
      const message = page.getByTestId("assistant-message").first();
      await visible(message);
      const rendered = await message.evaluate((node) => ({
        scripts: node.querySelectorAll("script, iframe, object, embed").length,
        handlers: [...node.querySelectorAll("*")].flatMap((element) =>
          element.getAttributeNames().filter((name: string) => name.startsWith("on")),
        ),
        links: [...node.querySelectorAll("a")].map((a) => ({
          href: a.getAttribute("href"),
          rel: a.getAttribute("rel"),
          target: a.getAttribute("target"),
        })),
        images: [...node.querySelectorAll("img")].map((img) => ({
          src: img.getAttribute("src"),
          referrer: img.getAttribute("referrerpolicy"),
        })),
        text: node.textContent ?? "",
        pwned: (globalThis as { __pwned?: number }).__pwned ?? null,
      }));
      assert.equal(rendered.pwned, null);
      assert.equal(rendered.scripts, 0);
      assert.deepEqual(rendered.handlers, []);
      assert.deepEqual(rendered.links, [
        { href: "https://example.com/a", rel: "noopener noreferrer", target: "_blank" },
      ]);
      assert.deepEqual(rendered.images, [
        { src: "https://example.com/i.png", referrer: "no-referrer" },
      ]);
      // What was refused stays readable as text.
      assert.match(rendered.text, /bad link/);
      assert.match(rendered.text, /local image/);
      assert.match(rendered.text, /<script>window.__pwned = 1<\/script>/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
