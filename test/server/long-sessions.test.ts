import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import type { EventFrame } from "../../src/protocol/event.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { api, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * Long sessions on the server: REST pages backwards (`before_seq`), a viewer asks for the
 * last N events then live (`tail`), and compact replay passes over streamed deltas whose
 * finished message is stored, announcing every seq it passes over.
 */

let omoi: TestOmoi;
let ws: string;

async function externalSandbox() {
  const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/sandboxes", {
    id: `sbx-${randomUUID().slice(0, 8)}`,
  });
  assert.equal(created.status, 201);
  return created.body.id;
}

async function post(sandbox: string, events: unknown[]) {
  const posted = await api(omoi.url, "POST", `/api/v1/sandboxes/${sandbox}/events`, events);
  assert.equal(posted.status, 201);
}

interface Page {
  events: EventFrame[];
  first_seq: number;
  last_seq: number;
  has_more: boolean;
}
const getPage = async (sandbox: string, query: string) => {
  const response = await api<Page>(omoi.url, "GET", `/api/v1/sandboxes/${sandbox}/events?${query}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

const delta = (messageId: string | undefined, text: string) => ({
  event_type: "agent.message_delta",
  payload: { delta: text, ...(messageId ? { message_id: messageId } : {}) },
});
const message = (messageId: string, content: string) => ({
  event_type: "agent.message",
  payload: { content, message_id: messageId },
});
const thoughts = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    event_type: "agent.thinking",
    payload: { content: `${index}` },
  }));
const tool = (name: string) => ({ event_type: "agent.tool_use", payload: { tool: name } });

/**
 * A stream with every case (seq 1 is sandbox.created):
 *  2-4 deltas of A, 5 a heartbeat between them, 6 A finished  → 2-4 superseded
 *  7-8 deltas of B, interrupted (never finished), 9 a tool call
 * 10-11 deltas without a message id, 12 message C            → not superseded (no id)
 * 13-14 deltas of D, 15 message E (not D)                     → not superseded
 * 16-17 deltas of F (F finishes later, live)
 */
const SCRIPT = [
  delta("A", "Hel"),
  delta("A", "lo "),
  delta("A", "there"),
  { event_type: "agent.heartbeat", payload: {} },
  message("A", "Hello there"),
  delta("B", "cut "),
  delta("B", "short"),
  tool("Bash"),
  delta(undefined, "no "),
  delta(undefined, "id"),
  message("C", "no id"),
  delta("D", "dee"),
  delta("D", "dee"),
  message("E", "other"),
  delta("F", "fi"),
  delta("F", "nal"),
];
const SUPERSEDED_BEFORE_F = [2, 3, 4];

/** Every seq a viewer was brought past: delivered events and `skipped` ranges, in order. */
function coverage(viewer: TestViewer, stream: string): number[] {
  const seqs: number[] = [];
  for (const frame of viewer.frames) {
    if (frame.type === "event" && frame.stream_id === stream) seqs.push(frame.seq as number);
    if (frame.type === "skipped" && frame.stream_id === stream) {
      for (let seq = frame.from_seq as number; seq <= (frame.to_seq as number); seq++) {
        seqs.push(seq);
      }
    }
  }
  return seqs;
}

/** A viewer on `query`, once its replay has caught up. */
async function replayedViewer(query: string) {
  const viewer = new TestViewer(`${ws}/ws/events?${query}`);
  await viewer.waitFor(() => viewer.frames.some((frame) => frame.type === "replayed"), "replayed");
  return viewer;
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => from + index);

forEachBackend(
  "long sessions",
  { OMOI_RUN_AGENTS: "0" },
  (started) => {
    omoi = started;
    ws = omoi.url.replace("http", "ws");
  },
  () => {
    describe("REST pages backwards", () => {
      test("before_seq walks a stream back to its start: every seq once, in order", async () => {
        const sandbox = await externalSandbox();
        await post(sandbox, thoughts(40));
        const tail = await getPage(sandbox, "before_seq=1000000&limit=15");
        assert.deepEqual(
          tail.events.map((event) => event.seq),
          range(27, 41),
        );
        assert.equal(tail.first_seq, 27);
        assert.equal(tail.has_more, true);
        const walked: number[] = [];
        let before = 42;
        for (;;) {
          const page = await getPage(sandbox, `before_seq=${before}&limit=15`);
          walked.unshift(...page.events.map((event) => event.seq));
          before = page.first_seq;
          if (!page.has_more) break;
        }
        assert.deepEqual(walked, range(1, 41));
        const empty = await getPage(sandbox, "before_seq=1&limit=5");
        assert.deepEqual(empty.events, []);
        assert.equal(empty.has_more, false);
        const bad = await api(omoi.url, "GET", `/api/v1/sandboxes/${sandbox}/events?before_seq=0`);
        assert.equal(bad.status, 400);
      });

      test("compact=true leaves out superseded deltas; the page still says which seqs it covers", async () => {
        const sandbox = await externalSandbox();
        await post(sandbox, SCRIPT);
        const all = await getPage(sandbox, "after_seq=0&limit=100");
        assert.equal(all.events.length, SCRIPT.length + 1, "without compact every event is there");
        const compact = await getPage(sandbox, "after_seq=0&limit=100&compact=true");
        const seqs = compact.events.map((event) => event.seq);
        assert.deepEqual(
          seqs,
          range(1, SCRIPT.length + 1).filter((seq) => !SUPERSEDED_BEFORE_F.includes(seq)),
        );
        // A backwards page that ends between a delta and its message still knows.
        const back = await getPage(sandbox, "before_seq=4&limit=10&compact=true");
        assert.deepEqual(
          back.events.map((event) => event.seq),
          [1],
        );
        assert.equal(back.first_seq, 1);
        assert.equal(back.last_seq, 3);
      });
    });

    describe("viewers", () => {
      test("tail=N sends the last N events of each stream, then every live one", async () => {
        const sandbox = await externalSandbox();
        await post(sandbox, thoughts(60));
        const viewer = await replayedViewer(`entity_ids=${sandbox}&tail=10`);
        const subscribed = viewer.frames.find((frame) => frame.type === "subscribed");
        assert.deepEqual(subscribed?.cursors, { [sandbox]: 51 });
        await post(sandbox, [tool("Read"), tool("Grep")]);
        await viewer.waitFor(() => viewer.events.length >= 12, "12 events");
        assert.deepEqual(
          viewer.events.map((event) => event.seq),
          range(52, 63),
        );
        viewer.close();

        const whole = new TestViewer(`${ws}/ws/events?entity_ids=${sandbox}&tail=1000`);
        await whole.waitFor(() => whole.events.length >= 63, "the whole stream");
        assert.deepEqual(
          whole.events.map((event) => event.seq),
          range(1, 63),
        );
        whole.close();
      });

      test("tail with since, or without entity_ids, is refused", async () => {
        const both = new TestViewer(`${ws}/ws/events?entity_ids=sbx-x&tail=5&since=0`);
        await both.waitFor(() => both.closed !== undefined, "close");
        assert.equal(both.closed?.code, 4400);
        const unnamed = new TestViewer(`${ws}/ws/events?tail=5`);
        await unnamed.waitFor(() => unnamed.closed !== undefined, "close");
        assert.equal(unnamed.closed?.code, 4400);
      });

      test("compact replay from any cursor: every seq delivered or announced skipped, once, in order", async () => {
        const sandbox = await externalSandbox();
        await post(sandbox, SCRIPT);
        const end = SCRIPT.length + 1;
        for (let cursor = 0; cursor <= end; cursor++) {
          const viewer = await replayedViewer(
            `entity_ids=${sandbox}&cursors=${sandbox}:${cursor}&replay=compact`,
          );
          assert.deepEqual(
            coverage(viewer, sandbox),
            range(cursor + 1, end),
            `from cursor ${cursor}`,
          );
          const skipped = range(cursor + 1, end).filter(
            (seq) => !viewer.events.some((event) => event.seq === seq),
          );
          assert.deepEqual(
            skipped,
            SUPERSEDED_BEFORE_F.filter((seq) => seq > cursor),
            `only deltas whose finished message is stored are passed over (cursor ${cursor})`,
          );
          viewer.close();
        }

        // F's deltas were replayed (F had not finished); live, F's message and every delta arrive.
        const viewer = await replayedViewer(`entity_ids=${sandbox}&since=0&replay=compact`);
        await post(sandbox, [delta("F", "!"), message("F", "final!")]);
        await viewer.waitFor(() => viewer.events.some((event) => event.seq === end + 2), "F");
        assert.deepEqual(coverage(viewer, sandbox), range(1, end + 2));
        viewer.close();

        // Once F is stored, a new compact replay passes over its deltas too.
        const later = await replayedViewer(`entity_ids=${sandbox}&since=0&replay=compact`);
        assert.deepEqual(coverage(later, sandbox), range(1, end + 2));
        assert.deepEqual(
          later.events
            .filter((event) => event.event_type === "agent.message_delta")
            .map((event) => event.seq),
          [7, 8, 10, 11, 13, 14],
        );
        later.close();
      });
    });
  },
);
