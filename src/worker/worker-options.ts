import { z } from "zod";
import { parseWith } from "../protocol/json.ts";
import { WORKER_CONFIG_ENV, WorkerConfig } from "../sandbox/worker-config.ts";

/**
 * The worker's configuration: the provider's `WorkerConfig` plus a few worker-only
 * settings that may ride in the same JSON (a provider that does not know them leaves the
 * defaults).
 */
export const WorkerOptions = WorkerConfig.extend({
  /** `channel`: the WebSocket worker channel (default). `http`: the prototype's POST + poll. */
  transport: z.enum(["channel", "http"]).default("channel"),
  /** Stream partial text as `agent.message_delta`. */
  partialMessages: z.boolean().default(true),
  /**
   * Run the CLI without sandbox-runtime. Only for tests and machines without bubblewrap;
   * never a silent fallback: when confinement fails and this is false, the worker fails.
   */
  unconfined: z.boolean().default(false),
  /** How long the worker waits at exit for the server to acknowledge its last events. */
  flushTimeoutMs: z.number().int().positive().default(5_000),
  /** The longest a setup script may run before the run fails. */
  setupTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
});
export type WorkerOptions = z.infer<typeof WorkerOptions>;

export function readWorkerOptions(env: NodeJS.ProcessEnv = process.env): WorkerOptions {
  const text = env[WORKER_CONFIG_ENV];
  if (text === undefined) throw new Error(`${WORKER_CONFIG_ENV} is not set`);
  const parsed = parseWith(WorkerOptions, text);
  if (!parsed.ok) throw new Error(`${WORKER_CONFIG_ENV} is invalid: ${parsed.error}`);
  return parsed.value;
}
