import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { launchBrowser, newPage, screenshot, visible } from "./browser.ts";

/*
 * The page frame a person meets first: the top navigation on a phone, and the spacing between
 * the cards a page stacks. No agents run.
 */

let omoi: TestOmoi;
let browser: Browser;
before(async () => {
  [omoi, browser] = await Promise.all([startTestOmoi({ OMOI_RUN_AGENTS: "0" }), launchBrowser()]);
  for (const name of ["alpha", "beta"]) {
    const created = await api(omoi.url, "POST", "/api/v1/environments", { name });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
});

interface Box {
  label: string;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The brand, every link and button of the top bar, where they are drawn. */
function topbarBoxes(page: Page): Promise<Box[]> {
  return page.locator(".topbar a, .topbar button").evaluateAll((elements) =>
    elements.map((element) => {
      const box = element.getBoundingClientRect();
      return {
        label: element.getAttribute("aria-label") ?? element.textContent?.trim() ?? "",
        top: box.top,
        bottom: box.bottom,
        left: box.left,
        right: box.right,
      };
    }),
  );
}

/** The space between one card of the page and the next one. */
function gapsBetweenCards(page: Page, selector: string): Promise<number[]> {
  return page
    .locator(selector)
    .evaluateAll((elements) =>
      elements
        .slice(1)
        .map(
          (element, index) =>
            element.getBoundingClientRect().top -
            (elements[index]?.getBoundingClientRect().bottom ?? 0),
        ),
    );
}

describe("the page frame in the web app", () => {
  test("phone 390×844: the top navigation is one row and every destination is on screen", async () => {
    const { page, context, errors } = await newPage(browser, {
      width: 390,
      height: 844,
      isMobile: true,
    });
    try {
      await page.goto(`${omoi.url}/#/environments`);
      await visible(page.getByTestId("environment-list"));
      const nav = page.getByRole("navigation", { name: "Main" });
      for (const link of [
        page.getByRole("link", { name: "Omoi home" }),
        nav.getByRole("link", { name: "Tasks" }),
        page.getByTestId("environments-link"),
        page.getByTestId("repositories-link"),
        page.getByTestId("new-task-link"),
        page.getByTestId("enable-notifications"),
      ]) {
        await visible(link);
      }
      const boxes = await topbarBoxes(page);
      assert.deepEqual(
        boxes.map((box) => box.label),
        [
          "Omoi home",
          "Tasks",
          "Environments",
          "Repositories",
          "New task",
          "Notify me when tasks finish",
        ],
      );
      // One row: every item centred on the same line, none above or below another.
      const middle = (box: Box) => (box.top + box.bottom) / 2;
      for (const box of boxes) {
        assert.ok(
          Math.abs(middle(box) - middle(boxes[0] as Box)) <= 1,
          `${box.label} is on the same row: ${JSON.stringify(boxes)}`,
        );
        assert.ok(
          box.left >= 0 && box.right <= 390,
          `${box.label} is on screen: ${JSON.stringify(box)}`,
        );
      }
      const navBox = await nav.boundingBox();
      const tallest = Math.max(...boxes.map((box) => box.bottom - box.top));
      assert.ok(
        navBox && navBox.height <= tallest + 1,
        `the nav is one row high: ${navBox?.height}`,
      );
      const scrolls = await nav.evaluate((element) => element.scrollWidth > element.clientWidth);
      assert.equal(scrolls, false, "nothing is scrolled out of the nav at 390px");
      const pageWidth = await page.locator("html").evaluate((element) => element.scrollWidth);
      assert.ok(pageWidth <= 390, `the page does not scroll sideways: ${pageWidth}`);
      await screenshot(page, "layout-phone-topnav");

      // Still a working navigation at that size.
      await page.getByTestId("repositories-link").click();
      await visible(page.locator("#repositories-title"));
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test("the environments page spaces its cards as the task page does", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await page.goto(`${omoi.url}/#/`);
      await visible(page.locator("#tasks-heading"));
      const [taskPageGap] = await gapsBetweenCards(page, ".tasks-page > section");
      assert.ok(taskPageGap !== undefined && taskPageGap >= 16, `task page gap ${taskPageGap}`);

      await page.goto(`${omoi.url}/#/environments`);
      await visible(page.getByTestId("environment-list"));
      const environmentGaps = await gapsBetweenCards(page, ".page > .card");
      assert.equal(environmentGaps.length, 1, "the list card and the new-environment card");
      assert.deepEqual(environmentGaps, [taskPageGap]);
      await screenshot(page, "layout-environments-cards", { fullPage: true });

      await page.getByTestId("repositories-link").click();
      await visible(page.locator("#new-repository-title"));
      assert.deepEqual(await gapsBetweenCards(page, ".page > .card"), [taskPageGap]);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
