/* Environment setup events; listed in the registry in events.ts. */
import { z } from "zod";
import { defineEvent } from "./event.ts";

const loose = <S extends z.ZodRawShape>(shape: S) => z.looseObject(shape);

// environment setup (emitted by the worker, before the agent starts)
export const EnvironmentSetupStarted = defineEvent(
  "environment.setup_started",
  loose({
    environment: z.string().nullable(),
    source: z.enum(["environment", "repository"]),
    network: z.string(),
    /** True: a snapshot of an earlier run of the same script was restored instead. */
    snapshot: z.boolean().optional(),
  }),
  "The setup script started inside the sandbox, in the workspace (or its snapshot was restored).",
);
export const EnvironmentSetupOutput = defineEvent(
  "environment.setup_output",
  loose({
    lines: z.array(loose({ stream: z.enum(["stdout", "stderr"]), text: z.string() })).max(1000),
  }),
  "A batch of the setup script's output lines, secrets masked.",
);
export const EnvironmentSetupFinished = defineEvent(
  "environment.setup_finished",
  loose({
    exit_code: z.number().int().nullable(),
    duration_ms: z.number(),
    cached: z.boolean(),
    error: z.string().optional(),
    tail: z.array(z.string()).optional(),
  }),
  "The setup script ended (or a snapshot was used); a non-zero exit fails the run.",
);
export const EnvironmentPoolReady = defineEvent(
  "environment.pool_ready",
  loose({ environment: z.string().nullable() }),
  "A warm-pool sandbox is prepared (setup done, Claude Code started) and waits for a task.",
);
