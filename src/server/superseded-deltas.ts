import type { StoredEvent } from "../protocol/event.ts";
import type { Store } from "../store/store.ts";

/*
 * Compact replay. Streamed text arrives as many `agent.message_delta` events followed by the
 * finished `agent.message`. Once that message is stored, its deltas carry nothing a reader
 * of history needs, so replay (and a compact REST page) leaves them out.
 *
 * The rule, exact and checkable from the stored stream alone: a stored delta is superseded
 * when it carries a `message_id` and the first `agent.message` stored after it in the same
 * stream carries the same `message_id`. A delta without an id, or of a message that never
 * finished (an interrupted turn), is never superseded. Live delivery sends every delta.
 */

const DELTA = "agent.message_delta";
const MESSAGE = "agent.message";

const messageIdOf = (event: StoredEvent): string | null => {
  const id = event.payload.message_id;
  return typeof id === "string" ? id : null;
};

/** Seqs of the page's superseded deltas. `page` is one stream's events, ascending. */
export async function supersededDeltas(store: Store, page: StoredEvent[]): Promise<Set<number>> {
  const skipped = new Set<number>();
  const last = page.at(-1);
  if (!last || !page.some((event) => event.event_type === DELTA)) return skipped;
  // The first agent.message after a delta may lie beyond the page: read it only when a
  // delta with an id comes after the page's last message.
  let next: string | null = null;
  let trailing = false;
  for (let index = page.length - 1; index >= 0; index--) {
    const event = page[index];
    if (event.event_type === MESSAGE) break;
    if (event.event_type === DELTA && messageIdOf(event) !== null) trailing = true;
  }
  if (trailing) {
    const [after] = await store.listEvents(last.stream_id, {
      afterSeq: last.seq,
      eventTypes: [MESSAGE],
      limit: 1,
    });
    next = after ? messageIdOf(after) : null;
  }
  for (let index = page.length - 1; index >= 0; index--) {
    const event = page[index];
    if (event.event_type === MESSAGE) next = messageIdOf(event);
    else if (event.event_type === DELTA && next !== null && messageIdOf(event) === next) {
      skipped.add(event.seq);
    }
  }
  return skipped;
}
