import { z } from "zod";
import { EventSource, type StoredEvent } from "../protocol/event.ts";
import { parseWith } from "../protocol/json.ts";

/**
 * A stored event as it crosses Redis: the StoredEvent JSON itself. Whatever arrives on the
 * channel is checked against this shape before any subscriber sees it.
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

export const encodeEvent = (event: StoredEvent): string => JSON.stringify(event);

export function decodeEvent(
  text: string,
): { ok: true; event: StoredEvent } | { ok: false; error: string } {
  const parsed = parseWith(WireEvent, text);
  return parsed.ok ? { ok: true, event: parsed.value } : { ok: false, error: parsed.error };
}
