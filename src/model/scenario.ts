import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";
import { formatIssues, parseWith } from "../protocol/json.ts";

/** Pace of a stream: delay before the first token, then tokens per second (0 = as fast as possible). */
export const paceSchema = z.object({
  firstTokenMs: z.number().min(0).max(600_000),
  tokensPerSecond: z.number().min(0).max(1_000_000),
});
export type Pace = z.infer<typeof paceSchema>;

/**
 * A scripted failure: answer with an HTTP error in Anthropic's shape, or drop the connection
 * mid-response. `retryable: false` (the default) adds `x-should-retry: false`.
 */
export const failureSchema = z.object({
  status: z.number().int().min(400).max(599).default(500),
  errorType: z.string().min(1).optional(),
  message: z.string().min(1).optional(),
  drop: z.boolean().default(false),
  retryable: z.boolean().default(false),
});
export type Failure = z.infer<typeof failureSchema>;

const thinkingBlockSchema = z.object({ type: z.literal("thinking"), thinking: z.string().min(1) });
const textBlockSchema = z.object({ type: z.literal("text"), text: z.string().min(1) });
const toolBlockSchema = z.object({
  type: z.literal("tool_use"),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  /** Play this call only when the request's `tools` offers a tool of this name. */
  ifOffered: z.boolean().default(false),
});
export const scriptBlockSchema = z.discriminatedUnion("type", [
  thinkingBlockSchema,
  textBlockSchema,
  toolBlockSchema,
]);
export type ScriptBlock = z.infer<typeof scriptBlockSchema>;

/** One assistant response. */
export const stepSchema = z.object({
  blocks: z.array(scriptBlockSchema).default([]),
  fail: failureSchema.optional(),
  pace: paceSchema.optional(),
});
export type Step = z.infer<typeof stepSchema>;

const regexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid regular expression" },
);

/** How to answer a person's later message. A rule without `match` is the catch-all. */
export const ruleSchema = z.object({
  match: regexSource.optional(),
  flags: z
    .string()
    .regex(/^[imsu]*$/, "flags may use only i, m, s, u")
    .default("i"),
  steps: z.array(stepSchema).min(1),
});
export type Rule = z.infer<typeof ruleSchema>;

export const scenarioSchema = z.object({
  description: z.string().optional(),
  pace: paceSchema.optional(),
  steps: z.array(stepSchema).min(1),
  rules: z.array(ruleSchema).default([]),
});
export type Scenario = z.infer<typeof scenarioSchema>;

export type ScenarioSet = ReadonlyMap<string, Scenario>;

/** Scenario names are file names without `.json`: letters, digits, `-`, `_`, `.`. */
export const scenarioNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Validates scenarios given as values (e.g. inline in tests). Throws a readable error. */
export function scenariosFromValues(values: Record<string, unknown>): Map<string, Scenario> {
  const set = new Map<string, Scenario>();
  for (const [name, value] of Object.entries(values)) {
    if (!scenarioNamePattern.test(name)) throw new Error(`scenario name '${name}' is not allowed`);
    const result = scenarioSchema.safeParse(value);
    if (!result.success) {
      throw new Error(`scenario '${name}' is invalid: ${formatIssues(result.error.issues)}`);
    }
    set.set(name, result.data);
  }
  return set;
}

/** Loads every `*.json` in a folder as a scenario named after the file. Throws on a bad file. */
export async function loadScenarios(dir: string): Promise<Map<string, Scenario>> {
  const set = new Map<string, Scenario>();
  const names = (await readdir(dir)).filter((file) => file.endsWith(".json")).sort();
  for (const file of names) {
    const name = basename(file, ".json");
    if (!scenarioNamePattern.test(name)) continue;
    const parsed = parseWith(scenarioSchema, await readFile(join(dir, file), "utf8"));
    if (!parsed.ok) throw new Error(`scenario file ${join(dir, file)} is invalid: ${parsed.error}`);
    set.set(name, parsed.value);
  }
  return set;
}
