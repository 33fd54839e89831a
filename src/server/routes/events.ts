import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { sandboxTarget } from "../../ingest/ingest.ts";
import { badRequest, notFound } from "../../protocol/error.ts";
import {
  EventPage,
  MAX_EVENT_BATCH,
  NewEvent,
  PostEventsBody,
  PostEventsResponse,
  PrototypeEvent,
} from "../../protocol/event.ts";
import { EntityId } from "../../protocol/ids.ts";
import { commaList } from "../../protocol/query.ts";
import { EventTypePattern } from "../../protocol/viewer.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";
import type { PrototypeProducers } from "../prototype-producers.ts";
import { supersededDeltas } from "../superseded-deltas.ts";

const Params = z.object({ id: EntityId });

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** One event in either shape: the envelope, or the prototype's `{event_type, event_data, source}`. */
function parseEvent(value: unknown, where: string): NewEvent {
  if (isObject(value) && "event_data" in value) {
    const prototype = parseRequest(
      PrototypeEvent.strict(),
      value,
      `${where}(the prototype's shape)`,
    );
    return {
      id: prototype.id,
      event_type: prototype.event_type,
      payload: prototype.event_data,
      task_id: prototype.task_id,
      source: "agent",
    };
  }
  return parseRequest(NewEvent.strict(), value, where);
}

/** A body is one event, a JSON array of events, or `{events: [...]}`. */
function parseEventBody(body: unknown): { events: NewEvent[]; batch: boolean } {
  const items = Array.isArray(body)
    ? body
    : isObject(body) && Array.isArray(body.events)
      ? body.events
      : undefined;
  if (!items) return { events: [parseEvent(body, "event")], batch: false };
  if (items.length === 0) throw badRequest("a batch needs at least one event");
  if (items.length > MAX_EVENT_BATCH)
    throw badRequest(`a batch holds at most ${MAX_EVENT_BATCH} events; got ${items.length}`);
  return { events: items.map((item, index) => parseEvent(item, `events[${index}]`)), batch: true };
}

const Query = z.object({
  after_seq: z.coerce.number().int().nonnegative().default(0),
  before_seq: z.coerce.number().int().positive().optional(),
  compact: z
    .enum(["true", "false", "1", "0"])
    .optional()
    .transform((value) => value === "true" || value === "1"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  event_type: commaList(EventTypePattern).optional(),
});

export function eventRoutes(
  app: FastifyInstance,
  context: ServerContext,
  producers: PrototypeProducers,
) {
  const postSchema = routeSchema({
    summary: "Store agent events",
    description:
      "Idempotent by event `id`. Producers send `agent.*` events for their own sandbox; " +
      "lifecycle events are Omoi's own.",
    params: Params,
    body: PostEventsBody,
    response: { 201: PostEventsResponse },
  });
  app.post("/api/v1/sandboxes/:id/events", { schema: postSchema }, async (request, reply) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const { events, batch } = parseEventBody(request.body);
    const taskId = await producers.admit(id, events);
    const prepared = context.ingest.prepare(sandboxTarget(id, taskId), events, "agent");
    const results = await context.ingest.append(prepared);
    // A worker on the prototype's HTTP transport shows it is alive by posting and polling.
    await producers.heartbeat(id);
    reply.status(201);
    if (!batch) {
      const [result] = results;
      return {
        status: "stored",
        id: result.event.id,
        seq: result.event.seq,
        stored_at: result.event.stored_at,
        duplicate: result.duplicate,
      };
    }
    return {
      status: "stored",
      events: results.map((result) => ({
        id: result.event.id,
        seq: result.event.seq,
        duplicate: result.duplicate,
      })),
    };
  });

  const listSchema = routeSchema({
    summary: "Page through a sandbox's events",
    params: Params,
    querystring: Query,
    response: { 200: EventPage },
  });
  app.get(
    "/api/v1/sandboxes/:id/events",
    { schema: listSchema },
    async (request): Promise<EventPage> => {
      const { id } = parseRequest(Params, request.params, "sandbox id");
      const query = parseRequest(Query, request.query, "query");
      // A task's own stream (its events before it had a sandbox) is read here too.
      const known = (await context.store.getSandbox(id)) ?? (await context.store.getTask(id));
      if (!known) throw notFound("sandbox", id);
      const backwards = query.before_seq !== undefined;
      const events = await context.store.listEvents(id, {
        afterSeq: query.after_seq,
        beforeSeq: query.before_seq,
        limit: query.limit + 1,
        eventTypes: query.event_type,
      });
      const page = backwards ? events.slice(-query.limit) : events.slice(0, query.limit);
      const first = page[0];
      const last = page.at(-1);
      // Deciding needs the stream's messages, so compaction applies to pages of every type only.
      const compact = query.compact && !query.event_type?.length;
      const superseded = compact ? await supersededDeltas(context.store, page) : undefined;
      return {
        events: superseded?.size ? page.filter((event) => !superseded.has(event.seq)) : page,
        // The seqs this page covers (compaction may leave out some inside it).
        first_seq: first ? first.seq : (query.before_seq ?? query.after_seq + 1),
        last_seq: last ? last.seq : backwards ? (query.before_seq ?? 1) - 1 : query.after_seq,
        // More in the direction of travel: later events forwards, earlier ones backwards.
        has_more: events.length > query.limit,
      };
    },
  );
}
