import { StoredEvent } from "../protocol/event.ts";
import { parseWith } from "../protocol/json.ts";

/*
 * A stored event as it crosses Redis: the StoredEvent JSON with an `origin` key first, naming
 * the publishing bus (hex). Whatever arrives on the channel is checked against the
 * StoredEvent schema before any subscriber sees it; unknown keys are ignored, so replicas
 * with and without the origin read each other's messages.
 */

export const encodeMessage = (origin: string, event: StoredEvent): string =>
  `${originPrefix(origin)}${JSON.stringify(event).slice(1)}`;

const originPrefix = (origin: string) => `{"origin":${JSON.stringify(origin)},`;

/** `own`: the message came from the bus tagged `self`; it is not parsed. */
export function decodeMessage(
  text: string,
  self: string,
):
  | { ok: true; own: true }
  | { ok: true; own: false; event: StoredEvent }
  | { ok: false; error: string } {
  if (text.startsWith(originPrefix(self))) return { ok: true, own: true };
  const parsed = parseWith(StoredEvent, text);
  return parsed.ok
    ? { ok: true, own: false, event: parsed.value }
    : { ok: false, error: parsed.error };
}
