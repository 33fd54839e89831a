import { z } from "zod";

/** Most entries a list-valued query parameter may hold (event types, statuses, …). */
export const MAX_LIST_ENTRIES = 100;

/**
 * A comma-separated query value (`a,b,c`), each entry validated by `item`. More than `max`
 * entries is a clear 400 rather than an unbounded query; an empty value means no filter.
 */
export const commaList = <S extends z.ZodType<unknown, string>>(item: S, max = MAX_LIST_ENTRIES) =>
  z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).max(max, `at most ${max} comma-separated entries`))
    .transform((list) => (list.length ? list : undefined));
