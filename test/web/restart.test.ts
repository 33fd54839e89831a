import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { type ScriptedModel, startScriptedModel } from "../../src/model/server.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, type OmoiProcess, spawnOmoi, tempDir } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import {
  eventKeys,
  launchBrowser,
  newPage,
  screenshot,
  seqsByStream,
  until,
  visible,
  WAIT_MS,
} from "./browser.ts";

/*
 * The page's WebSocket cut mid-run the hard way: the server is killed -9 while a browser
 * watches a slow run, then restarted on the same port and data dir. The page must go to
 * "reconnecting", come back "live", and end with every event once: no gap, no duplicate.
 */

let browser: Browser;
let model: ScriptedModel;
const data = tempDir("omoi-web-restart-");
const servers: OmoiProcess[] = [];
before(async () => {
  // The model lives outside the server so it survives the kill, as a real endpoint would.
  [browser, model] = await Promise.all([launchBrowser(), startScriptedModel({ port: 0 })]);
});
after(async () => {
  await browser?.close();
  for (const server of servers) await server.stop();
  await model?.close();
  data.remove();
});

/** Records every value connection-state's data-state takes (browser side). */
const RECORD_CONNECTION = `(() => {
  const seen = [];
  window.__connectionLog = seen;
  const scan = () => {
    const el = document.querySelector('[data-testid="connection-state"]');
    const state = el && el.getAttribute("data-state");
    if (state && seen[seen.length - 1] !== state) seen.push(state);
  };
  new MutationObserver(scan).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
  });
  scan();
})()`;

test("kill -9 the server under a watching page: reconnecting, then live, nothing lost or doubled", async () => {
  const env = { OMOI_DATA_DIR: data.dir, OMOI_PORT: "0", ANTHROPIC_BASE_URL: model.url };
  const first = await spawnOmoi(env);
  servers.push(first);
  const created = await api<Task>(first.url, "POST", "/api/v1/tasks", {
    prompt: "[scenario:slow-tool] a slow job across a server crash",
    title: "Browser: server crash",
  });
  assert.equal(created.status, 201);
  const taskId = created.body.id;

  const { page, context } = await newPage(browser);
  try {
    await page.goto(`${first.url}/#/tasks/${taskId}`);
    await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
    await visible(page.locator('[data-testid="tool-card"][data-tool="Bash"]'));
    const before = await eventKeys(page);
    await page.evaluate(RECORD_CONNECTION);

    await first.kill9();
    await visible(page.locator('[data-testid="connection-state"][data-state="reconnecting"]'));
    await screenshot(page, "session-reconnecting");

    // Same data dir and port: the worker and the page both find the server where it was.
    const second = await spawnOmoi({ ...env, OMOI_PORT: String(first.port) });
    servers.push(second);
    await visible(page.locator('[data-testid="connection-state"][data-state="live"]'));
    await visible(
      page.getByTestId("assistant-message").filter({ hasText: "The slow job finished." }),
    );
    await visible(page.locator('[data-testid="note"][data-event-type="task.completed"]'));

    const states = (await page.evaluate("window.__connectionLog")) as string[];
    assert.ok(
      states.indexOf("reconnecting") >= 0 &&
        states.lastIndexOf("live") > states.indexOf("reconnecting"),
      `reconnecting, then live: ${states.join(" → ")}`,
    );
    assert.equal(states.at(-1), "live");

    // The truth: every stored event of the task, from a fresh viewer on the new server.
    const truth = new TestViewer(
      `${second.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${taskId}&since=0`,
    );
    try {
      await truth.waitForEvent("task.completed", undefined, WAIT_MS);
      const stored = new Map<string, number[]>();
      for (const event of truth.events) {
        const list = stored.get(event.stream_id) ?? [];
        list.push(event.seq);
        stored.set(event.stream_id, list);
      }
      for (const [stream, seqs] of stored) {
        assert.deepEqual(
          seqs,
          Array.from({ length: seqs.length }, (_, i) => i + 1),
          `stream ${stream} is whole on the server`,
        );
      }
      const storedKeys = new Set(truth.events.map((event) => `${event.stream_id}:${event.seq}`));

      // The page: no item twice, every item a stored event, each stream's items in seq order,
      // and what was there before the crash still first.
      const keys = await eventKeys(page);
      assert.equal(new Set(keys).size, keys.length, `no duplicates: ${keys.join(" ")}`);
      assert.deepEqual(keys.slice(0, before.length), before, "nothing before the crash moved");
      for (const key of keys) {
        if (key === "prompt" || key.startsWith("local-")) continue;
        assert.ok(storedKeys.has(key), `${key} is a stored event`);
      }
      for (const [stream, seqs] of seqsByStream(keys)) {
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          `stream ${stream} in seq order`,
        );
      }
      // The page took in exactly the stored events: it counts each event it accepts, and
      // accepts only seqs above the last one per stream, so equal counts mean no gap. Deltas
      // that the resumed compact replay passed over (their message was stored while the page
      // was away) count too: the page reads them from the `skipped` frame.
      const shown = () => page.getByTestId("stat-events").textContent();
      await until(
        page,
        async () => (await shown()) === String(truth.events.length),
        async () =>
          `the page counts ${await shown()} events, the server stored ${truth.events.length}`,
      );
      await screenshot(page, "session-after-restart");
    } finally {
      truth.close();
    }
  } finally {
    await context.close();
  }
});
