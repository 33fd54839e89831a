import type { EventFrame } from "../protocol/event.ts";
import type { Cursors, ViewerServerFrame } from "../protocol/viewer.ts";

/*
 * Reading the viewer socket's frames and writing its query, once for every client (the CLI,
 * the web app, the tests and the benchmark). Types only from protocol/: no zod, no Node, so
 * the browser bundle takes it as it is. The server's frames are checked for the fields a
 * client relies on; anything else passes through untouched.
 */

export type { EventFrame };
export type ViewerFrame = ViewerServerFrame;

/** What a viewer asks the server for (`/ws/events?…`). */
export interface ViewerQuery {
  entityTypes?: readonly string[];
  entityIds?: readonly string[];
  eventTypes?: readonly string[];
  /** Every stored event of the one entity named (`since=0`), then live. */
  since?: number;
  /** The last N events of each stream of the one entity named, then live (instead of `since`). */
  tail?: number;
  /** Leave streamed deltas whose finished message is stored out of replay. */
  compact?: boolean;
  /** The last seq seen per stream: the server resumes each after it. */
  cursors?: Readonly<Cursors>;
  /** For a browser, which cannot set headers on a WebSocket. */
  token?: string | null;
}

/** `stream:seq,stream:seq`, as the `cursors` query parameter takes them. */
export function formatCursors(cursors: Readonly<Cursors>): string {
  return Object.entries(cursors)
    .map(([stream, seq]) => `${stream}:${seq}`)
    .join(",");
}

/** The viewer socket's URL on the server at `baseUrl` (`http(s)://host:port`). */
export function viewerUrl(baseUrl: string, query: ViewerQuery): string {
  const url = new URL("/ws/events", baseUrl);
  url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
  const search = url.searchParams;
  if (query.entityTypes?.length) search.set("entity_types", query.entityTypes.join(","));
  if (query.entityIds?.length) search.set("entity_ids", query.entityIds.join(","));
  if (query.eventTypes?.length) search.set("event_types", query.eventTypes.join(","));
  const cursors = query.cursors ? formatCursors(query.cursors) : "";
  if (cursors) search.set("cursors", cursors);
  if (query.tail !== undefined) search.set("tail", String(query.tail));
  else if (query.since !== undefined) search.set("since", String(query.since));
  if (query.compact) search.set("replay", "compact");
  if (query.token) search.set("token", query.token);
  return url.toString();
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isSeq = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= 0;

/** One frame from the server, or null when it is not one a client can use. */
export function parseViewerFrame(data: unknown): ViewerFrame | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isRecord(value) || typeof value.type !== "string") return null;
  switch (value.type) {
    case "event":
      if (typeof value.stream_id !== "string" || !isSeq(value.seq)) return null;
      if (typeof value.event_type !== "string") return null;
      if (!isRecord(value.payload)) value.payload = {};
      value.sandbox_id ??= null;
      value.task_id ??= null;
      break;
    case "skipped":
      if (typeof value.stream_id !== "string") return null;
      if (!isSeq(value.from_seq) || !isSeq(value.to_seq)) return null;
      break;
    case "subscribed":
    case "replayed":
    case "lagged":
      if (!isRecord(value.cursors)) value.cursors = {};
      break;
    case "error":
      if (!isRecord(value.error) || typeof value.error.message !== "string") {
        value.error = { name: "BadRequest", message: "bad frame" };
      }
      break;
    case "pong":
      break;
    default:
      return null;
  }
  return value as ViewerFrame;
}
