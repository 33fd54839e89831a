import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StreamCursors } from "../../../src/client/stream-cursors.ts";
import type { EventFrame } from "../../../web/src/api/types.ts";
import type { Item } from "../../../web/src/session/items.ts";
import { SessionModel } from "../../../web/src/session/session-model.ts";

/*
 * A page's cursors across a reconnect. When the server comes back after the agent finished a
 * streamed message, compact replay passes over that message's deltas (a `skipped` frame) and
 * sends the message: the page must end where a page that saw every event live ends, with the
 * same conversation and the same count of events taken in.
 */

const STREAM = "sbx_1";

function frame(seq: number, event_type: string, payload: Record<string, unknown> = {}): EventFrame {
  return {
    type: "event",
    id: `e${seq}`,
    seq,
    stream_id: STREAM,
    sandbox_id: STREAM,
    task_id: "task_1",
    entity_type: "sandbox",
    entity_id: STREAM,
    event_type,
    source: "agent",
    payload,
    emitted_at: seq,
    stored_at: seq,
  };
}

/** A slow tool, then a streamed answer: the run the page watches across a server restart. */
const RUN: EventFrame[] = [
  frame(1, "agent.started"),
  frame(2, "agent.message_delta", { delta: "Starting a s", message_id: "m1" }),
  frame(3, "agent.message_delta", { delta: "low job.", message_id: "m1" }),
  frame(4, "agent.message", { content: "Starting a slow job.", message_id: "m1" }),
  frame(5, "agent.tool_use", { tool: "Bash", tool_use_id: "t1", input: { command: "sleep 3" } }),
  frame(6, "agent.tool_result", { tool_use_id: "t1", output: "slow-step-done" }),
  frame(7, "agent.message_delta", { delta: "The slow job", message_id: "m2" }),
  frame(8, "agent.message_delta", { delta: " finished.", message_id: "m2" }),
  frame(9, "agent.message", { content: "The slow job finished.", message_id: "m2" }),
  frame(10, "agent.turn_completed", { num_turns: 1 }),
];

/** What a page does with what its socket brings: the stream's cursor first, then the model. */
class Page {
  readonly cursors = new StreamCursors();
  readonly model = new SessionModel();
  event(event: EventFrame, live: boolean) {
    if (this.cursors.accept(event.stream_id, event.seq)) this.model.apply(event, live);
  }
  skipped(from: number, to: number) {
    this.model.passOver(this.cursors.pass(STREAM, from, to));
  }
}

const view = (items: Item[]) =>
  items.map(
    (item) => `${item.key} ${item.kind}${item.kind === "assistant" ? ` ${item.text}` : ""}`,
  );

describe("StreamCursors", () => {
  it("takes each seq once: a replay overlap or a duplicate is dropped", () => {
    const cursors = new StreamCursors();
    assert.equal(cursors.accept("a", 1), true);
    assert.equal(cursors.accept("a", 2), true);
    assert.equal(cursors.accept("a", 2), false);
    assert.equal(cursors.accept("a", 1), false);
    assert.equal(cursors.accept("b", 1), true);
    assert.deepEqual(cursors.snapshot(), { a: 2, b: 1 });
  });

  it("counts only the newly passed seqs of a skipped run", () => {
    const cursors = new StreamCursors();
    cursors.accept("a", 5);
    assert.equal(cursors.pass("a", 6, 9), 4);
    assert.equal(cursors.pass("a", 6, 9), 0, "a run passed already counts nothing");
    assert.equal(cursors.pass("a", 8, 12), 3, "a run overlapping the cursor counts what is new");
    assert.equal(cursors.accept("a", 12), false);
    assert.equal(cursors.accept("a", 13), true);
    assert.deepEqual(cursors.snapshot(), { a: 13 });
  });

  it("after a reconnect that passed over a finished message's deltas, the page is as if it saw them live", () => {
    const live = new Page();
    for (const event of RUN) live.event(event, true);

    const restarted = new Page();
    for (const event of RUN.slice(0, 5)) restarted.event(event, true);
    // The server dies while the tool runs; the agent finishes before the page is back. The
    // resumed replay overlaps what the page has, passes over 7..8 and sends the message.
    for (const event of RUN.slice(3, 6)) restarted.event(event, false);
    restarted.skipped(7, 8);
    for (const event of RUN.slice(8)) restarted.event(event, false);

    assert.deepEqual(view(restarted.model.items), view(live.model.items));
    assert.equal(restarted.model.stats.eventsReceived, RUN.length);
    assert.equal(live.model.stats.eventsReceived, RUN.length);
    assert.deepEqual(restarted.cursors.snapshot(), { [STREAM]: RUN.length });
  });

  it("a reconnect mid-message passes over only the deltas the page did not see", () => {
    const restarted = new Page();
    for (const event of RUN.slice(0, 7)) restarted.event(event, true);
    // The server replays from the cursor (seq 7): delta 8 is superseded by message 9.
    restarted.skipped(8, 8);
    for (const event of RUN.slice(8)) restarted.event(event, false);
    const live = new Page();
    for (const event of RUN) live.event(event, true);
    assert.deepEqual(view(restarted.model.items), view(live.model.items));
    assert.equal(restarted.model.stats.eventsReceived, RUN.length);
  });
});
