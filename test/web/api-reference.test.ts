import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { launchBrowser, newPage, screenshot, visible } from "./browser.ts";

/* The API reference page renders in Chromium from this server alone (no CDN). */

let omoi: TestOmoi;
let browser: Browser;
before(async () => {
  [omoi, browser] = await Promise.all([startTestOmoi({ OMOI_RUN_AGENTS: "0" }), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
});

describe("the API reference at /docs", () => {
  test("renders every operation of the OpenAPI document, loading nothing from elsewhere", async () => {
    const document = (await (await fetch(`${omoi.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(document.paths).reduce(
      (count, methods) => count + Object.keys(methods).length,
      0,
    );
    const { page, context, errors } = await newPage(browser);
    const elsewhere: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(omoi.url)) elsewhere.push(request.url());
    });
    try {
      await page.goto(`${omoi.url}/docs`);
      await visible(page.locator(".swagger-ui .opblock"));
      await visible(page.getByText("Omoi API"));
      assert.equal(await page.locator(".swagger-ui .opblock").count(), operations);
      await visible(page.locator('.opblock-summary-path[data-path="/api/v1/tasks"]'));
      await screenshot(page, "api-reference");
      assert.deepEqual(elsewhere, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
