import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EventFrame } from "../../../web/src/api/types.ts";
import type { Item } from "../../../web/src/session/items.ts";
import { SessionModel } from "../../../web/src/session/session-model.ts";
import { type GeneratedEvent, longSessionEvents } from "../../helpers/long-session.ts";

/*
 * The web app's fold, without a browser: history joined on in front page by page ends with
 * the same conversation as folding everything in order, and a streamed message has the same
 * key whether it was seen live or replayed without its deltas.
 */

const STREAM = "sbx-model";

function frames(events: GeneratedEvent[], firstSeq = 1): EventFrame[] {
  return events.map((event, index) => ({
    type: "event",
    id: `e${firstSeq + index}`,
    seq: firstSeq + index,
    stream_id: STREAM,
    sandbox_id: STREAM,
    task_id: null,
    entity_type: "sandbox",
    entity_id: STREAM,
    event_type: event.event_type,
    payload: event.payload,
    source: "agent",
    emitted_at: 0,
    stored_at: firstSeq + index,
  }));
}

const view = (items: Item[]) =>
  items.map((item) => {
    if (item.kind === "tool") return `${item.key} tool ${item.result ? "done" : "running"}`;
    if (item.kind === "assistant") return `${item.key} ${item.text}`;
    return `${item.key} ${item.kind}`;
  });

/** Compact replay: deltas whose finished message follows are left out. */
function compact(all: EventFrame[]): EventFrame[] {
  return all.filter((frame, index) => {
    if (frame.event_type !== "agent.message_delta") return true;
    const next = all.slice(index + 1).find((later) => later.event_type === "agent.message");
    return next?.payload.message_id !== frame.payload.message_id;
  });
}

describe("SessionModel", () => {
  const all = frames(longSessionEvents(3_000).events);

  it("joined on page by page from the end, history is the same as folded in order", () => {
    const whole = new SessionModel();
    for (const frame of all) whole.apply(frame, false);

    // Pages end anywhere: between a tool call and its result, inside a streamed message.
    const cuts = [2_990, 2_617, 2_000, 1_003, 997, 450, 17, 0];
    const paged = new SessionModel();
    for (const frame of compact(all.slice(cuts[0]))) paged.apply(frame, false);
    const opened = paged.items.length;
    let added = 0;
    for (let index = 1; index < cuts.length; index++) {
      added += paged.prepend(
        compact(all).filter((frame) => frame.seq > cuts[index] && frame.seq <= cuts[index - 1]),
      );
    }
    assert.deepEqual(view(paged.items), view(whole.items));
    assert.equal(opened + added, paged.items.length, "prepend says how many items it added");
    assert.deepEqual(paged.turnStarts, whole.turnStarts);
    assert.equal(paged.stats.turns, whole.stats.turns);
  });

  it("a streamed message has its finished message's key, live or replayed compactly", () => {
    const live = new SessionModel();
    for (const frame of all) live.apply(frame, true);
    const replayed = new SessionModel();
    for (const frame of compact(all)) replayed.apply(frame, false);
    assert.deepEqual(view(live.items), view(replayed.items));
    assert.ok(live.items.every((item) => item.kind !== "assistant" || !item.streaming));
  });
});
