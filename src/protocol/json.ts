import type { z } from "zod";

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses untrusted JSON text without throwing. */
export function safeJsonParse(text: string): ParseResult<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: `malformed JSON: ${(error as Error).message}` };
  }
}

/** Parses untrusted JSON text and validates it against a schema, without throwing. */
export function parseWith<S extends z.ZodType>(schema: S, text: string): ParseResult<z.output<S>> {
  const parsed = safeJsonParse(text);
  if (!parsed.ok) return parsed;
  const result = schema.safeParse(parsed.value);
  if (!result.success) return { ok: false, error: formatIssues(result.error.issues) };
  return { ok: true, value: result.data };
}

/** Turns zod issues into one readable sentence: `field.path: problem; other: problem`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(body)"}: ${issue.message}`)
    .join("; ");
}
