import { z } from "zod";
import { EntityId, Uuid } from "./ids.ts";

/**
 * The event registry. Every event type is defined once, with its payload schema;
 * REST validation, WebSocket frames and client types are all derived from it.
 */
export interface EventDefinition<T extends string = string, P extends z.ZodType = z.ZodType> {
  type: T;
  payload: P;
  description: string;
}

const registry = new Map<string, EventDefinition>();

export function defineEvent<T extends string, P extends z.ZodType>(
  type: T,
  payload: P,
  description: string,
): EventDefinition<T, P> {
  if (registry.has(type)) throw new Error(`event type ${type} defined twice`);
  const definition = { type, payload, description };
  registry.set(type, definition);
  return definition;
}

export const EventSource = z.enum(["agent", "worker", "system"]);
export type EventSource = z.infer<typeof EventSource>;

/** Largest accepted payload of one event, in bytes of JSON. */
export const MAX_EVENT_PAYLOAD_BYTES = 256 * 1024;

/**
 * An event as a producer sends it. `id` is minted by the producer and is the
 * idempotency key; the server fills it in when absent.
 */
export const NewEvent = z.object({
  id: Uuid.optional(),
  event_type: z.string().min(1).max(100),
  source: EventSource.optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
  emitted_at: z.number().int().nonnegative().optional(),
  task_id: EntityId.nullable().optional(),
});
export type NewEvent = z.infer<typeof NewEvent>;

/** The seed prototype's body: `{event_type, event_data, source}`. */
export const SeedEvent = z.object({
  event_type: z.string().min(1).max(100),
  event_data: z.record(z.string(), z.unknown()).optional(),
  source: z.string().max(100).optional(),
  id: Uuid.optional(),
  task_id: EntityId.nullable().optional(),
});

/**
 * An event once stored. `seq` counts 1, 2, 3… with no gaps within its stream.
 * A stream is a sandbox (`stream_id == sandbox_id`), or a task before it has a sandbox
 * (`sandbox_id == null`, `stream_id == task_id`).
 */
export interface StoredEvent {
  id: string;
  seq: number;
  stream_id: string;
  sandbox_id: string | null;
  task_id: string | null;
  event_type: string;
  source: EventSource;
  payload: Record<string, unknown>;
  emitted_at: number;
  stored_at: number;
}

/** What a viewer receives: the envelope plus the seed's fields. */
export interface EventFrame extends StoredEvent {
  type: "event";
  entity_type: "sandbox" | "task";
  entity_id: string;
}

export function toEventFrame(event: StoredEvent): EventFrame {
  return {
    type: "event",
    entity_type: event.sandbox_id ? "sandbox" : "task",
    entity_id: event.sandbox_id ?? event.stream_id,
    ...event,
  };
}

/** Validates one event's type and payload against the registry. */
export function validateEventPayload(
  eventType: string,
  payload: unknown,
): { ok: true; payload: Record<string, unknown> } | { ok: false; error: string } {
  const definition = registry.get(eventType);
  if (!definition) {
    return { ok: false, error: `unknown event_type '${eventType}'` };
  }
  const result = definition.payload.safeParse(payload ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    return { ok: false, error: `${eventType}: ${where}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, payload: result.data as Record<string, unknown> };
}
