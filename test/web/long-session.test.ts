import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import {
  itemSeqsOf,
  type LongSession,
  postEvents,
  postLongSession,
  stepEvents,
} from "../helpers/long-session.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import {
  launchBrowser,
  newPage,
  screenshot,
  seenByReaderScript,
  visible,
  WAIT_MS,
} from "./browser.ts";

/*
 * A 20,000-event session (streamed text, messages, Bash calls with 30-line results, diffs,
 * todos) in real headless Chromium: it opens at its end, history loads page by page as the
 * reader scrolls up, in order, nothing twice, nothing missing; the DOM stays small; the
 * timeline jumps to the start, to a turn and back to live; a reconnect in the middle of
 * catching up loses and doubles nothing.
 */

const EVENTS = 20_000;
/** The DOM of the session page, however long the session (the unvirtualized view had ~27,000). */
const MAX_DOM_NODES = 4_000;

let omoi: TestOmoi;
let browser: Browser;
let session: LongSession;
before(async () => {
  [omoi, browser] = await Promise.all([startTestOmoi({ OMOI_RUN_AGENTS: "0" }), launchBrowser()]);
  session = await postLongSession(omoi.url, EVENTS);
});
after(async () => {
  await browser?.close();
  await omoi?.stop();
});

const domNodes = (page: Page) =>
  page.evaluate("document.getElementsByTagName('*').length") as Promise<number>;

const keyOf = (sandbox: string, seq: number) => `${sandbox}:${seq}`;

/**
 * Waits until the item is on screen where a reader sees it: inside the window and not under
 * anything docked over it (the composer at the bottom, the top bar).
 */
async function seenByReader(page: Page, key: string) {
  await page.waitForFunction(seenByReaderScript(key), undefined, { timeout: WAIT_MS });
}

/**
 * Browser-side helpers. `settle()` waits a few frames so the list renders what scrolled in;
 * `toTop()` scrolls to the top and reports the items on screen and where history stands;
 * `walkDown()` scrolls from the top to the live end a viewport at a time, collecting every
 * item's key in page order and the largest DOM seen on the way.
 */
const BROWSER_HELPERS = `
window.settle = () => new Promise((resolve) => {
  let left = 3;
  const tick = () => (--left <= 0 ? resolve(undefined) : requestAnimationFrame(tick));
  requestAnimationFrame(tick);
});
window.itemKeys = () => [...document.querySelectorAll('[data-testid="event-item"]')].map(
  (node) => node.getAttribute("data-key") ?? "",
);
window.covered = () => {
  const nodes = document.querySelectorAll('[data-testid="event-item"]');
  if (nodes.length === 0) return false;
  const first = nodes[0].getBoundingClientRect();
  const last = nodes[nodes.length - 1].getBoundingClientRect();
  const end = document.documentElement.scrollHeight - window.innerHeight;
  return (first.top <= 0 || window.scrollY < 400) &&
    (last.bottom >= window.innerHeight - 200 || window.scrollY >= end - 2);
};
window.toTop = async () => {
  window.scrollTo(0, 0);
  await window.settle();
  const head = document.querySelector('[data-testid="history-state"]');
  return { keys: window.itemKeys(), history: head?.getAttribute("data-state") ?? "complete" };
};
window.walkDown = async () => {
  const keys = [];
  const seen = new Set();
  let maxNodes = 0;
  window.scrollTo(0, 0);
  await window.settle();
  for (let steps = 0; steps < 20000; steps++) {
    for (const key of window.itemKeys()) {
      if (!seen.has(key)) {
        seen.add(key);
        keys.push(key);
      }
    }
    maxNodes = Math.max(maxNodes, document.getElementsByTagName("*").length);
    const bottom = document.documentElement.scrollHeight - window.innerHeight;
    if (window.scrollY >= bottom - 2) break;
    window.scrollBy(0, Math.round(window.innerHeight * 0.7));
    // The list renders what scrolled in within a few frames: wait until its items cover
    // the viewport from top to bottom.
    for (let waits = 0; waits < 30; waits++) {
      await window.settle();
      if (window.covered()) break;
    }
  }
  return { keys, maxNodes };
};`;

/** Drops the session's socket after its 40th frame, once, while the tail is still arriving. */
const DROP_SOCKET = `(() => {
  const Native = window.WebSocket;
  const state = { dropped: false };
  window.__drop = state;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("entity_ids=")) return;
      let frames = 0;
      this.addEventListener("message", () => {
        frames++;
        if (frames === 40 && !state.dropped) {
          state.dropped = true;
          this.close();
        }
      });
    }
  };
})();`;

/**
 * Scrolls to the top until every page of history is loaded. Each time the rendered items
 * are checked: one stream, seqs strictly ascending (in order, nothing twice).
 */
async function scrollUpThroughHistory(page: Page, sandbox: string): Promise<number> {
  let loads = 0;
  for (;;) {
    const state = (await page.evaluate("window.toTop()")) as { keys: string[]; history: string };
    const seqs = state.keys.map((key) => {
      assert.ok(key.startsWith(`${sandbox}:`), `an item of another stream: ${key}`);
      return Number(key.slice(sandbox.length + 1));
    });
    for (let index = 1; index < seqs.length; index++) {
      assert.ok(seqs[index] > seqs[index - 1], `in order on screen: ${seqs.join(",")}`);
    }
    if (state.history === "complete") return loads;
    if (state.history === "loading") {
      await page.waitForFunction(
        `document.querySelector('[data-testid="history-state"]')?.getAttribute("data-state") !== "loading"`,
        undefined,
        { timeout: WAIT_MS },
      );
    }
    loads++;
    assert.ok(loads < 200, "history keeps loading");
  }
}

const walkDown = (page: Page) =>
  page.evaluate("window.walkDown()") as Promise<{ keys: string[]; maxNodes: number }>;

const expectedKeys = (current: LongSession, extra: number[] = []) =>
  [...current.itemSeqs, ...extra].map((seq) => keyOf(current.sandbox, seq));

describe("a 20,000-event session in the browser", () => {
  test("opens at its end, pages history in order, stays small, jumps start / turn / live", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await page.addInitScript(BROWSER_HELPERS);
      await page.goto(`${omoi.url}/#/sandboxes/${session.sandbox}`);
      const latest = page.locator(`[data-key="${keyOf(session.sandbox, session.lastSeq)}"]`);
      await visible(latest);
      assert.match((await latest.textContent()) ?? "", /Latest step/);
      await seenByReader(page, keyOf(session.sandbox, session.lastSeq));
      await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
      const opened = await domNodes(page);
      assert.ok(opened < MAX_DOM_NODES, `${opened} DOM nodes after opening`);
      await screenshot(page, "long-session-opened");

      // Live events land at the end while the reader is there.
      const liveStep = stepEvents(100_000);
      await postEvents(omoi.url, session.sandbox, liveStep);
      const liveSeqs = itemSeqsOf(liveStep, session.lastSeq + 1);
      await visible(page.locator(`[data-key="${keyOf(session.sandbox, liveSeqs[1])}"]`));
      // The view follows: the newest item is where the reader sees it, above the composer.
      await seenByReader(page, keyOf(session.sandbox, liveSeqs.at(-1) ?? 0));

      // Scrolling up loads every page of history, each in order.
      const loads = await scrollUpThroughHistory(page, session.sandbox);
      assert.ok(loads >= 5, `history came in pages (${loads})`);
      // The whole session, top to bottom: every item once, in order, nothing missing.
      const walk = await walkDown(page);
      assert.deepEqual(walk.keys, expectedKeys(session, liveSeqs));
      assert.ok(
        walk.maxNodes < MAX_DOM_NODES,
        `${walk.maxNodes} DOM nodes at most while scrolling`,
      );

      // Back to live, from the top, in one click.
      await page.evaluate("window.scrollTo(0, 0)");
      await page.getByTestId("jump-live").click();
      await visible(page.locator(`[data-key="${keyOf(session.sandbox, liveSeqs[1])}"]`));
      await page.waitForFunction(
        "document.documentElement.scrollHeight - window.innerHeight - window.scrollY < 200",
        undefined,
        { timeout: WAIT_MS },
      );

      // To a turn (here the second), in one choice.
      const turn = await page
        .getByTestId("jump-turn")
        .locator("option")
        .nth(2)
        .getAttribute("value");
      assert.ok(turn);
      await page.getByTestId("jump-turn").selectOption(turn);
      await visible(page.locator(`[data-key="${turn}"]`));
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });

  test("jump to start from a freshly opened session loads history and shows the first step", async () => {
    const { page, context, errors } = await newPage(browser);
    try {
      await page.addInitScript(BROWSER_HELPERS);
      await page.goto(`${omoi.url}/#/sandboxes/${session.sandbox}`);
      await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
      await page.getByTestId("jump-start").click();
      const first = page.locator(`[data-key="${keyOf(session.sandbox, session.itemSeqs[0])}"]`);
      await visible(first);
      assert.match((await first.textContent()) ?? "", /Step 1:/);
      assert.ok((await domNodes(page)) < MAX_DOM_NODES);
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });

  test("a reconnect in the middle of catching up: nothing missing, nothing twice", async () => {
    const current = await postLongSession(omoi.url, EVENTS);
    const { page, context, errors } = await newPage(browser);
    try {
      await page.addInitScript(BROWSER_HELPERS);
      await page.addInitScript(DROP_SOCKET);
      await page.goto(`${omoi.url}/#/sandboxes/${current.sandbox}`);
      await page.waitForFunction("window.__drop.dropped", undefined, { timeout: WAIT_MS });
      // Events stored while it is away arrive after it resumes.
      // (Without deltas: whether they come live or replayed, the items are the same.)
      const away = stepEvents(200_000).filter(
        (event) => event.event_type !== "agent.message_delta",
      );
      await postEvents(omoi.url, current.sandbox, away);
      const awaySeqs = itemSeqsOf(away, current.lastSeq + 1);
      await visible(page.locator(`[data-key="${keyOf(current.sandbox, awaySeqs[1])}"]`));
      await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
      await scrollUpThroughHistory(page, current.sandbox);
      const walk = await walkDown(page);
      assert.deepEqual(walk.keys, expectedKeys(current, awaySeqs));
      const stored = await api<{ last_seq: number }>(
        omoi.url,
        "GET",
        `/api/v1/sandboxes/${current.sandbox}/events?after_seq=${current.lastSeq + away.length - 1}`,
      );
      assert.equal(stored.body.last_seq, current.lastSeq + away.length);
      assert.deepEqual(errors, [], "no page errors");
    } finally {
      await context.close();
    }
  });
});
