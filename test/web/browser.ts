import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import { PROJECT_ROOT } from "../helpers/omoi.ts";

/*
 * Shared helpers for the browser tests: one headless Chromium per test file, a fresh
 * context per page, screenshots into test-results/screenshots/ for a person to look at.
 */

/** Generous safety timeout for every wait: the machine is small and busy. */
export const WAIT_MS = 60_000;

export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, "test-results", "screenshots");

/** `extraArgs`: more Chromium switches, e.g. `--host-resolver-rules` to map a name to loopback. */
export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.OMOI_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      ...extraArgs,
    ],
  });
}

export interface OpenPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught page errors, for assertions and failure messages. */
  errors: string[];
}

/** A page in its own context (own storage), with its errors collected. */
export async function newPage(
  browser: Browser,
  options: { width?: number; height?: number; isMobile?: boolean } = {},
): Promise<OpenPage> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    isMobile: options.isMobile,
    hasTouch: options.isMobile,
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  return { page, context, errors };
}

/**
 * Saves a PNG as test-results/screenshots/<name>.png and returns its path. The viewport by
 * default, as a person sees it (a full-page shot draws sticky bars in the middle); pass
 * `fullPage` for pages without them.
 */
export async function screenshot(
  page: Page,
  name: string,
  options: { fullPage?: boolean } = {},
): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({
    path: file,
    fullPage: options.fullPage ?? false,
    animations: "disabled",
  });
  return file;
}

/** The data-key of every rendered conversation item, in page order. */
export function eventKeys(page: Page): Promise<string[]> {
  return page
    .getByTestId("event-item")
    .evaluateAll((nodes) => nodes.map((node) => node.getAttribute("data-key") ?? ""));
}

/** Waits until `locator` (first match) is attached and visible. */
export function visible(locator: Locator): Promise<void> {
  return locator.first().waitFor({ state: "visible", timeout: WAIT_MS });
}

/**
 * Polls `check` until it holds, like expect.poll: for conditions that span the page and the
 * test process. Throws after the safety timeout with `describe()`'s account of the state.
 */
export async function until(
  page: Page,
  check: () => Promise<boolean>,
  describe: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${await describe()}`);
    await page.waitForTimeout(100);
  }
}

/**
 * Sequence numbers per stream from data-keys (`stream:seq`); local/prompt keys are skipped.
 */
export function seqsByStream(keys: string[]): Map<string, number[]> {
  const streams = new Map<string, number[]>();
  for (const key of keys) {
    const match = /^(.+):(\d+)$/.exec(key);
    if (!match) continue;
    const list = streams.get(match[1]) ?? [];
    list.push(Number(match[2]));
    streams.set(match[1], list);
  }
  return streams;
}

/**
 * A page expression true once the item `data-key=key` is where a reader sees it: inside the
 * window and not under anything docked over it (the composer at the bottom, the top bar).
 */
export function seenByReaderScript(key: string): string {
  return `(() => {
      const item = document.querySelector('[data-key="${key}"]');
      if (!item) return false;
      const box = item.getBoundingClientRect();
      const at = document.elementFromPoint(box.left + 10, (box.top + box.bottom) / 2);
      return box.top >= 0 && box.bottom <= window.innerHeight && item.contains(at);
    })()`;
}
