import { z } from "zod";
import { FrameError } from "./error.ts";
import { EventFrame } from "./event.ts";
import { isEntityId } from "./id-pattern.ts";
import { EntityId } from "./ids.ts";
import { commaList, MAX_LIST_ENTRIES } from "./query.ts";

/*
 * The viewer WebSocket (`/ws/events`, `/api/v1/ws/events`).
 *
 * Query string: `entity_types`, `entity_ids`, `event_types` (comma lists; an event type may
 * end in `.*` to match a prefix), `since` (a seq; with exactly one entity id), `tail` (the
 * last N events of each named entity's streams, then live; instead of `since`), `cursors`
 * (`stream:seq,stream:seq`), `replay` (`full`, the default, or `compact`: stored deltas
 * superseded by their finished message are passed over and announced by `skipped` frames).
 * Client frames below replace the filters at any time.
 */

export const EntityType = z.enum(["sandbox", "task"]);
/** A viewer may follow this many entities by id; they are matched in memory. */
export const MAX_ENTITY_IDS = 1000;

/** Most events a `tail` may ask for per stream. */
export const MAX_TAIL = 100_000;
export const ReplayMode = z.enum(["full", "compact"]);
export type ReplayMode = z.infer<typeof ReplayMode>;

export const EventTypePattern = z
  .string()
  .regex(/^[a-z_]+(\.[a-z_*]+)?(\.\*)?$|^\*$/, "must look like 'agent.tool_use' or 'agent.*'");

export const ViewerFilters = z.object({
  entity_types: z.array(EntityType).max(2).optional(),
  entity_ids: z.array(EntityId).max(MAX_ENTITY_IDS).optional(),
  event_types: z.array(EventTypePattern).max(MAX_LIST_ENTRIES).optional(),
});
export type ViewerFilters = z.infer<typeof ViewerFilters>;

/** Per-stream cursors: the last seq the viewer has seen in each stream. */
export const MAX_CURSORS = 1000;
export const Cursors = z
  .record(EntityId, z.number().int().nonnegative())
  .refine(
    (cursors) => Object.keys(cursors).length <= MAX_CURSORS,
    `at most ${MAX_CURSORS} cursors`,
  );
export type Cursors = z.infer<typeof Cursors>;

export const ViewerQuery = z.object({
  entity_types: commaList(EntityType, 2).optional(),
  entity_ids: commaList(EntityId, MAX_ENTITY_IDS).optional(),
  event_types: commaList(EventTypePattern).optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  tail: z.coerce.number().int().nonnegative().max(MAX_TAIL).optional(),
  replay: ReplayMode.optional(),
  cursors: z
    .string()
    .transform((value, context) => {
      const cursors: Record<string, number> = {};
      const parts = value.split(",").filter(Boolean);
      if (parts.length > MAX_CURSORS) {
        context.addIssue({ code: "custom", message: `at most ${MAX_CURSORS} cursors` });
        return z.NEVER;
      }
      for (const part of parts) {
        const [stream, seq] = part.split(":");
        const parsedSeq = Number(seq);
        if (!stream || !isEntityId(stream) || !Number.isInteger(parsedSeq) || parsedSeq < 0) {
          context.addIssue({ code: "custom", message: `bad cursor '${part}': use stream:seq` });
          return z.NEVER;
        }
        cursors[stream] = parsedSeq;
      }
      return cursors;
    })
    .optional(),
  token: z.string().optional(),
});

export const ViewerClientFrame = z.discriminatedUnion("type", [
  ViewerFilters.extend({
    type: z.literal("subscribe"),
    since: z.number().int().nonnegative().optional(),
    tail: z.number().int().nonnegative().max(MAX_TAIL).optional(),
    replay: ReplayMode.optional(),
    cursors: Cursors.optional(),
  }),
  z.object({ type: z.literal("ping"), id: z.string().max(100).optional() }),
]);
export type ViewerClientFrame = z.infer<typeof ViewerClientFrame>;

/** Cursors as the server reports them (the 1000-cursor limit is the client's). */
const ReportedCursors = z.record(z.string(), z.number().int().nonnegative());

/** Frames the server sends besides `EventFrame`s (`type: "event"`). */
export const ViewerControlFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("subscribed"), filters: ViewerFilters, cursors: ReportedCursors }),
  z.object({ type: z.literal("replayed"), cursors: ReportedCursors }),
  /** Compact replay passed over `from_seq`..`to_seq` of a stream: superseded deltas only. */
  z.object({
    type: z.literal("skipped"),
    stream_id: z.string(),
    from_seq: z.number().int(),
    to_seq: z.number().int(),
  }),
  z.object({ type: z.literal("pong"), id: z.string().optional(), server_time: z.number() }),
  z.object({ type: z.literal("error"), error: FrameError }),
  z.object({ type: z.literal("lagged"), message: z.string(), cursors: ReportedCursors }),
]);
export type ViewerControlFrame = z.infer<typeof ViewerControlFrame>;

/** Every frame the server sends a viewer. */
export const ViewerServerFrame = z.discriminatedUnion("type", [
  EventFrame,
  ...ViewerControlFrame.options,
]);
export type ViewerServerFrame = z.infer<typeof ViewerServerFrame>;

export { ViewerCloseCode } from "./close-codes.ts";
