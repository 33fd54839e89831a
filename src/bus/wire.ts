import { z } from "zod";
import { EventSource, type StoredEvent } from "../protocol/event.ts";
import { parseWith } from "../protocol/json.ts";

/**
 * A stored event as it crosses Redis: `<origin> <StoredEvent JSON>`, where origin names the
 * publishing bus (hex, no spaces). Whatever arrives on the channel is checked against this
 * shape before any subscriber sees it. A message that starts with `{` is an event without
 * an origin, as older replicas sent it.
 */
const WireEvent = z.object({
  id: z.string().min(1),
  seq: z.number().int().nonnegative(),
  stream_id: z.string().min(1),
  sandbox_id: z.string().nullable(),
  task_id: z.string().nullable(),
  event_type: z.string().min(1),
  source: EventSource,
  payload: z.record(z.string(), z.unknown()),
  emitted_at: z.number(),
  stored_at: z.number(),
});

export const encodeMessage = (origin: string, event: StoredEvent): string =>
  `${origin} ${JSON.stringify(event)}`;

/** `own`: the message came from the bus tagged `self`; it is not parsed. */
export function decodeMessage(
  text: string,
  self: string,
):
  | { ok: true; own: true }
  | { ok: true; own: false; event: StoredEvent }
  | { ok: false; error: string } {
  const space = text.startsWith("{") ? -1 : text.indexOf(" ");
  if (space === self.length && text.startsWith(self)) return { ok: true, own: true };
  const parsed = parseWith(WireEvent, text.slice(space + 1));
  return parsed.ok
    ? { ok: true, own: false, event: parsed.value }
    : { ok: false, error: parsed.error };
}
