import { z } from "zod";
import { EntityId, Uuid } from "./ids.ts";

/**
 * One event type: its name, its payload schema and what it means. Definitions are plain
 * values; `events.ts` lists every one of them in the registry, the one contract the
 * server, the worker, the CLI, the web app and the API reference derive from.
 */
export interface EventDefinition<T extends string = string, P extends z.ZodType = z.ZodType> {
  type: T;
  payload: P;
  description: string;
}

export function defineEvent<T extends string, P extends z.ZodType>(
  type: T,
  payload: P,
  description: string,
): EventDefinition<T, P> {
  return { type, payload, description };
}

/** What a payload of this definition holds once validated. */
export type PayloadOf<D extends EventDefinition> = z.output<D["payload"]>;
/** What a producer may pass as a payload of this definition. */
export type PayloadInputOf<D extends EventDefinition> = z.input<D["payload"]>;

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

/** The prototype's body: `{event_type, event_data, source}`. */
export const PrototypeEvent = z.object({
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
export const StoredEvent = z.object({
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
export type StoredEvent = z.infer<typeof StoredEvent>;

/** What a viewer receives: the envelope plus the prototype's fields. */
export const EventFrame = StoredEvent.extend({
  type: z.literal("event"),
  entity_type: z.enum(["sandbox", "task"]),
  entity_id: z.string(),
});
export type EventFrame = z.infer<typeof EventFrame>;

export function toEventFrame(event: StoredEvent): EventFrame {
  return {
    type: "event",
    entity_type: event.sandbox_id ? "sandbox" : "task",
    entity_id: event.sandbox_id ?? event.stream_id,
    ...event,
  };
}

/** Most events in one POST. */
export const MAX_EVENT_BATCH = 1000;

/**
 * `POST /api/v1/sandboxes/{id}/events`: one event (the envelope, or the prototype's
 * `{event_type, event_data, source}`), a JSON array of them, or `{events: [...]}`.
 */
const OneEvent = z.union([NewEvent.strict(), PrototypeEvent.strict()]);
export const PostEventsBody = z.union([
  OneEvent,
  z.array(OneEvent).min(1).max(MAX_EVENT_BATCH),
  z.object({ events: z.array(OneEvent).min(1).max(MAX_EVENT_BATCH) }),
]);

/** What storing events answers: one event's place, or each event's in a batch. */
export const PostEventsResponse = z.union([
  z.object({
    status: z.literal("stored"),
    id: z.string(),
    seq: z.number().int(),
    stored_at: z.number(),
    duplicate: z.boolean(),
  }),
  z.object({
    status: z.literal("stored"),
    events: z.array(z.object({ id: z.string(), seq: z.number().int(), duplicate: z.boolean() })),
  }),
]);

/** A page of one stream's stored events (`GET /api/v1/sandboxes/{id}/events`), ascending by seq. */
export const EventPage = z.object({
  events: z.array(StoredEvent),
  /** The seqs this page covers (compaction may leave out some inside it). */
  first_seq: z.number().int(),
  last_seq: z.number().int(),
  /** More in the direction of travel: later events forwards, earlier ones backwards. */
  has_more: z.boolean(),
});
export type EventPage = z.infer<typeof EventPage>;
