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

/** How deeply JSON that crosses into Omoi may nest (bodies and frames, envelope included). */
export const MAX_JSON_DEPTH = 64;

/** Node 20 has String.prototype.isWellFormed; TypeScript's ES2023 library does not list it. */
const isWellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why a text cannot be stored exactly (both stores would have to change it), if it cannot. */
export function textProblem(text: string): string | undefined {
  if (text.includes("\0")) return "contains a NUL character (U+0000), which Omoi does not store";
  if (!isWellFormed(text)) return "contains a lone UTF-16 surrogate (text cut mid-character)";
  return undefined;
}

/**
 * Why a parsed value must be refused at the edge, if it must: nested deeper than `maxDepth`
 * (deeper values break common clients and the serializer), or a key or string Omoi could
 * not store exactly. Iterative, so no input can exhaust the stack.
 */
export function edgeProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const pending: { value: unknown; depth: number; path: string }[] = [
    { value, depth: 1, path: "" },
  ];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value: current, depth, path } = next;
    if (typeof current === "string") {
      const problem = textProblem(current);
      if (problem) return `${path || "(body)"}: ${problem}`;
      continue;
    }
    if (typeof current !== "object" || current === null) continue;
    if (depth > maxDepth) return `nested deeper than ${maxDepth} levels`;
    if (Array.isArray(current)) {
      current.forEach((item, index) => {
        pending.push({ value: item, depth: depth + 1, path: `${path}[${index}]` });
      });
      continue;
    }
    for (const [key, item] of Object.entries(current)) {
      const problem = textProblem(key);
      if (problem) return `${path || "(body)"}: a key ${problem}`;
      pending.push({ value: item, depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
  return undefined;
}

/** Parses JSON that crosses into Omoi: malformed, too deep or unstorable text is refused. */
export function parseAtEdge(text: string): ParseResult<unknown> {
  const parsed = safeJsonParse(text);
  if (!parsed.ok) return parsed;
  const problem = edgeProblem(parsed.value);
  return problem ? { ok: false, error: problem } : parsed;
}

/** Like parseWith, for JSON that crosses into Omoi (see parseAtEdge). */
export function parseAtEdgeWith<S extends z.ZodType>(
  schema: S,
  text: string,
): ParseResult<z.output<S>> {
  const parsed = parseAtEdge(text);
  if (!parsed.ok) return parsed;
  return validated(schema, parsed.value);
}

function validated<S extends z.ZodType>(schema: S, value: unknown): ParseResult<z.output<S>> {
  const result = schema.safeParse(value);
  if (!result.success) return { ok: false, error: formatIssues(result.error.issues) };
  return { ok: true, value: result.data };
}

/** Parses untrusted JSON text and validates it against a schema, without throwing. */
export function parseWith<S extends z.ZodType>(schema: S, text: string): ParseResult<z.output<S>> {
  const parsed = safeJsonParse(text);
  if (!parsed.ok) return parsed;
  return validated(schema, parsed.value);
}

/** Turns zod issues into one readable sentence: `field.path: problem; other: problem`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(body)"}: ${issue.message}`)
    .join("; ");
}
