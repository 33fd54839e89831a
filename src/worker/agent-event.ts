import type { z } from "zod";
import type { EventDefinition, EventSource } from "../protocol/event.ts";
import { AgentSystem, validateEventPayload } from "../protocol/events.ts";
import { newEventId } from "../protocol/ids.ts";
import { MAX_JSON_DEPTH, textProblem } from "../protocol/json.ts";

/** An event before it gets its envelope: what the mapping and the session produce. */
export interface AgentEvent {
  /** Set when the event's id must be known in advance (an approval request's id is its event's). */
  id?: string;
  event_type: string;
  payload: Record<string, unknown>;
}

/** An event with its envelope, as the worker sends it (`NewEvent` on the wire). */
export interface OutgoingEvent {
  id: string;
  event_type: string;
  source: EventSource;
  payload: Record<string, unknown>;
  emitted_at: number;
  task_id?: string | null;
}

/** Builds an event whose payload is type-checked against its registry definition. */
export function agentEvent<D extends EventDefinition>(
  definition: D,
  payload: z.input<D["payload"]>,
): AgentEvent {
  return { event_type: definition.type, payload: payload as Record<string, unknown> };
}

/** Longest string kept in a payload; longer ones are cut and marked, so one event stays small. */
export const MAX_STRING_CHARS = 48_000;
/** Below the server's 256 KiB limit, leaving room for the envelope. */
const MAX_PAYLOAD_CHARS = 200_000;

/**
 * Deepest nesting kept in a payload: the server refuses JSON nested deeper than MAX_JSON_DEPTH,
 * the frame's envelope included, so the worker cuts what the agent nested deeper.
 */
const MAX_PAYLOAD_DEPTH = MAX_JSON_DEPTH - 8;
const CUT_TOO_DEEP = `…[nested deeper than ${MAX_PAYLOAD_DEPTH} levels: cut]`;

/**
 * Makes a payload fit what the server stores exactly: text with NUL characters or lone
 * surrogates (binary tool output, text cut mid-character) shows U+FFFD in their place, and
 * values nested too deep are cut and the payload marked `truncated`. The server refuses such
 * input from anyone else rather than change it.
 */
function fitForServer(value: unknown, depth: number, cut: { deep: boolean }): unknown {
  if (typeof value === "string") return fitText(value);
  if (typeof value !== "object" || value === null) return value;
  if (depth > MAX_PAYLOAD_DEPTH) {
    cut.deep = true;
    return CUT_TOO_DEEP;
  }
  if (Array.isArray(value)) return value.map((item) => fitForServer(item, depth + 1, cut));
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      fitText(key),
      fitForServer(inner, depth + 1, cut),
    ]),
  );
}

/** Node 20 has String.prototype.toWellFormed; TypeScript's ES2023 library does not list it. */
const fitText = (text: string): string =>
  textProblem(text) === undefined
    ? text
    : (text.replaceAll("\0", "\ufffd") as unknown as { toWellFormed(): string }).toWellFormed();

/** Cuts long strings so a payload fits the server's limit; marks the payload when it did. */
export function clampPayload(raw: Record<string, unknown>): Record<string, unknown> {
  const cut = { deep: false };
  const fitted = fitForServer(raw, 1, cut) as Record<string, unknown>;
  const payload = cut.deep ? { ...fitted, truncated: true } : fitted;
  const text = JSON.stringify(payload);
  if (text.length <= MAX_PAYLOAD_CHARS) return payload;
  const shortened = clampValue(payload) as Record<string, unknown>;
  if (JSON.stringify(shortened).length <= MAX_PAYLOAD_CHARS)
    return { ...shortened, truncated: true };
  return { truncated: true, preview: text.slice(0, MAX_PAYLOAD_CHARS / 2) };
}

function clampValue(value: unknown): unknown {
  if (typeof value === "string") {
    if (value.length <= MAX_STRING_CHARS) return value;
    return `${value.slice(0, MAX_STRING_CHARS)}\n…[${value.length - MAX_STRING_CHARS} characters cut]`;
  }
  if (Array.isArray(value)) return value.map(clampValue);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, clampValue(inner)]),
    );
  }
  return value;
}

/**
 * Gives an event its envelope. A payload the registry rejects is still sent, as
 * `agent.system` carrying the original, so a mapping bug never loses what happened.
 */
export function envelope(
  event: AgentEvent,
  source: EventSource,
  taskId: string | null,
  now = Date.now(),
): OutgoingEvent {
  const payload = clampPayload(event.payload);
  const checked = validateEventPayload(event.event_type, payload);
  const base = {
    id: event.id ?? newEventId(),
    source,
    emitted_at: now,
    ...(taskId ? { task_id: taskId } : {}),
  };
  if (checked.ok) return { ...base, event_type: event.event_type, payload };
  return {
    ...base,
    event_type: AgentSystem.type,
    payload: clampPayload({
      subtype: "invalid_event",
      data: { event_type: event.event_type, payload, error: checked.error },
    }),
  };
}
