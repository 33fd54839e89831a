import type { ListEventsOptions } from "./store.ts";

export const DEFAULT_EVENT_LIMIT = 1000;
export const MAX_EVENT_LIMIT = 10_000;

export interface EventQuery {
  afterSeq: number;
  /** Set when paging backwards: the newest `limit` events below it. */
  beforeSeq: number | undefined;
  limit: number;
  /** Exact event types to match; empty with no prefixes means "every type". */
  exact: string[];
  /** Prefixes from `prefix.*` patterns (kept with the trailing dot: `agent.`). */
  prefixes: string[];
}

/**
 * Normalizes listEvents options for both adapters. A pattern ending in `*` matches by
 * prefix; a lone `*`, or no patterns at all, matches every type.
 */
export function toEventQuery(options: ListEventsOptions = {}): EventQuery {
  const limit =
    options.limit === undefined
      ? DEFAULT_EVENT_LIMIT
      : Math.min(Math.max(Math.floor(options.limit), 0), MAX_EVENT_LIMIT);
  const afterSeq = Math.max(Math.floor(options.afterSeq ?? 0), 0);
  const beforeSeq =
    options.beforeSeq === undefined ? undefined : Math.max(Math.floor(options.beforeSeq), 0);
  const patterns = options.eventTypes ?? [];
  if (patterns.includes("*")) return { afterSeq, beforeSeq, limit, exact: [], prefixes: [] };
  const exact: string[] = [];
  const prefixes: string[] = [];
  for (const pattern of patterns) {
    if (pattern.endsWith("*")) prefixes.push(pattern.slice(0, -1));
    else exact.push(pattern);
  }
  return { afterSeq, beforeSeq, limit, exact, prefixes };
}

/** True when the query filters by type at all. */
export const filtersTypes = (query: EventQuery) =>
  query.exact.length > 0 || query.prefixes.length > 0;
