import type { Browser, Page } from "playwright-core";
import { postEvents, postLongSession, stepEvents } from "../test/helpers/long-session.ts";
import { launchBrowser, seenByReaderScript } from "../test/web/browser.ts";
import { startServer } from "./lib/server.ts";
import { ms, summarize } from "./lib/stats.ts";
import type { PartRun } from "./parts/run-context.ts";

/*
 * A 20,000-event session (the mix of a real run: streamed text, messages, Bash calls with
 * 30-line results, diffs, todos) opened in headless Chromium on the embedded defaults:
 * - opened → latest event on screen (navigation to the last item inside the window and not
 *   covered by the docked composer), p50 over rounds;
 * - JavaScript heap after opening (after a collection), the largest over rounds;
 * - live updates at 200 events/s while the view follows: the 95th-percentile frame time.
 * Beside each, its floor in the same rounds on the same machine: a 20-event session opened
 * the same way, and the frame times of the same open page with nothing arriving. On a busy
 * machine the absolute figures carry its load; the ratios to the floors do not.
 */

const EVENTS = 20_000;
const SHORT_EVENTS = 20;
const BARS = { openedP50Ms: 1000, heapMiB: 100, frameP95Ms: 32 };
const LIVE_RATE = 200;
const LIVE_SECONDS = 10;

async function openOnce(browser: Browser, url: string, latestKey: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const started = performance.now();
  await page.goto(url);
  // On screen where the reader sees it: inside the window and not under the docked composer.
  await page.waitForFunction(seenByReaderScript(latestKey), undefined, {
    timeout: 60_000,
    polling: "raf",
  });
  const openedMs = performance.now() - started;
  const heapMiB = await usedHeapMiB(page);
  return { context, page, openedMs, heapMiB };
}

async function usedHeapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  const { usedSize } = await cdp.send("Runtime.getHeapUsage");
  await cdp.detach();
  return usedSize / 1024 / 1024;
}

/** Frame durations (ms) while `during` runs, recorded by requestAnimationFrame in the page. */
async function frameTimes(page: Page, during: () => Promise<void>): Promise<number[]> {
  await page.evaluate(`(() => {
    const times = [];
    window.__frames = times;
    window.__framesStop = false;
    let last = performance.now();
    const tick = (now) => {
      times.push(now - last);
      last = now;
      if (!window.__framesStop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  await during();
  return (await page.evaluate(
    "(() => { window.__framesStop = true; return window.__frames.slice(1); })()",
  )) as number[];
}

/** Posts whole steps at `rate` events per second for `seconds`, in 50 ms ticks. */
async function postLive(url: string, sandbox: string, rate: number, seconds: number) {
  const tickMs = 50;
  const perTick = Math.round((rate * tickMs) / 1000);
  let queue: ReturnType<typeof stepEvents> = [];
  let step = 1_000_000;
  const started = performance.now();
  for (let tick = 0; tick < (seconds * 1000) / tickMs; tick++) {
    while (queue.length < perTick) queue = queue.concat(stepEvents(step++));
    await postEvents(url, sandbox, queue.splice(0, perTick));
    const next = started + (tick + 1) * tickMs;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

export async function longSessionPart(run: PartRun) {
  console.log(
    `\nlong session: ${EVENTS.toLocaleString("en-US")} events in headless Chromium, embedded`,
  );
  const server = await startServer("embedded");
  const browser = await launchBrowser();
  try {
    const posting = performance.now();
    const session = await postLongSession(server.url, EVENTS);
    console.log(`  posted in ${Math.round(performance.now() - posting)} ms`);
    const url = `${server.url}/#/sandboxes/${session.sandbox}`;
    const latestKey = `${session.sandbox}:${session.lastSeq}`;
    const short = await postLongSession(server.url, SHORT_EVENTS);
    const shortUrl = `${server.url}/#/sandboxes/${short.sandbox}`;
    const shortKey = `${short.sandbox}:${short.lastSeq}`;
    const shortOpened: number[] = [];
    let idleFrames: number[] = [];
    const rounds = run.options.quick ? 3 : 5;
    const opened: number[] = [];
    const heaps: number[] = [];
    // One warm-up open (the server's page cache, Chromium's first start), then the rounds.
    await (await openOnce(browser, url, latestKey)).context.close();
    let frames: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const floor = await openOnce(browser, shortUrl, shortKey);
      shortOpened.push(floor.openedMs);
      await floor.context.close();
      const result = await openOnce(browser, url, latestKey);
      opened.push(result.openedMs);
      heaps.push(result.heapMiB);
      if (round === rounds - 1) {
        idleFrames = await frameTimes(
          result.page,
          () => new Promise((resolve) => setTimeout(resolve, LIVE_SECONDS * 1000)),
        );
        frames = await frameTimes(result.page, () =>
          postLive(server.url, session.sandbox, LIVE_RATE, LIVE_SECONDS),
        );
      }
      await result.context.close();
    }
    const openedSummary = summarize(opened);
    const heapMax = Math.max(...heaps);
    const frameSummary = summarize(frames);
    const shortSummary = summarize(shortOpened);
    const idleSummary = summarize(idleFrames);
    const ratio = (value: number, floor: number) => `${(value / floor).toFixed(2)}×`;
    run.report.row({
      part: "long-session",
      what: `${EVENTS.toLocaleString("en-US")}-event session: opened → latest event on screen, p50 (${rounds} opens)`,
      result: `${ms(openedSummary.p50)} ms (max ${ms(openedSummary.max)}); a ${SHORT_EVENTS}-event session ${ms(shortSummary.p50)} ms, ${ratio(openedSummary.p50, shortSummary.p50)}`,
      bar: `≤ ${BARS.openedP50Ms} ms`,
      verdict: openedSummary.p50 <= BARS.openedP50Ms ? "pass" : "miss",
    });
    run.report.row({
      part: "long-session",
      what: "JavaScript heap after opening it (after a collection), largest of the opens",
      result: `${heapMax.toFixed(1)} MiB`,
      bar: `≤ ${BARS.heapMiB} MB`,
      verdict: heapMax <= BARS.heapMiB ? "pass" : "miss",
    });
    run.report.row({
      part: "long-session",
      what: `live updates at ${LIVE_RATE} events/s for ${LIVE_SECONDS} s while following: frame time p95`,
      result: `${ms(frameSummary.p95)} ms (p50 ${ms(frameSummary.p50)}, max ${ms(frameSummary.max)}, ${frames.length} frames); nothing arriving ${ms(idleSummary.p95)} ms, ${ratio(frameSummary.p95, idleSummary.p95)}`,
      bar: `≤ ${BARS.frameP95Ms} ms`,
      verdict: frameSummary.p95 <= BARS.frameP95Ms ? "pass" : "miss",
    });
  } finally {
    await browser.close();
    await server.stop();
  }
}
