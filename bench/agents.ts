import { readFileSync } from "node:fs";
import path from "node:path";
import { safeJsonParse } from "../src/protocol/json.ts";
import { expectStatus, field } from "./lib/http.ts";
import { type BenchServer, treeRssMiB } from "./lib/server.ts";
import { type Summary, summarize } from "./lib/stats.ts";
import { BenchViewer, type ViewerEvent } from "./lib/viewer.ts";

const TERMINAL = new Set(["task.completed", "task.failed", "task.cancelled"]);

export interface TaskWatch {
  taskId: string;
  createdAt: number;
  startedAt?: number;
  /** Date.now() when the viewer received agent.started. */
  startedEpoch?: number;
  started?: ViewerEvent;
  created?: ViewerEvent;
  sandboxId?: string;
  endedAt?: number;
  outcome?: string;
  /** Event type → first time it was stamped (stored_at, or emitted_at for agent events). */
  stamps: Map<string, number>;
  done: Promise<void>;
  viewer: BenchViewer;
}

/** Creates a task (`extra` joins its body) and follows its events (replayed from the start, then live). */
export async function watchTask(
  server: BenchServer,
  prompt: string,
  timeoutMs: number,
  extra: Record<string, unknown> = {},
): Promise<TaskWatch> {
  const createdAt = performance.now();
  const task = await expectStatus(201, server.url, "POST", "/api/v1/tasks", {
    prompt,
    title: "benchmark",
    ...extra,
  });
  const taskId = field(task, "id");
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const watch: Partial<TaskWatch> = { taskId, createdAt, done, stamps: new Map() };
  const timer = setTimeout(() => {
    watch.outcome ??= "timed out";
    finish();
  }, timeoutMs);
  watch.viewer = await BenchViewer.open(
    server.ws,
    { entity_ids: taskId, since: "0" },
    (event, at) => {
      if (!watch.stamps?.has(event.event_type)) {
        const stamp = event.event_type.startsWith("agent.") ? event.emitted_at : event.stored_at;
        watch.stamps?.set(event.event_type, stamp);
      }
      if (event.event_type === "task.created") watch.created = event;
      if (event.event_type === "sandbox.created") watch.sandboxId = event.stream_id;
      if (event.event_type === "task.assigned" && typeof event.payload.sandbox_id === "string")
        watch.sandboxId = event.payload.sandbox_id;
      if (event.event_type === "agent.started" && watch.startedAt === undefined) {
        watch.startedAt = at;
        watch.startedEpoch = Date.now();
        watch.started = event;
      }
      if (TERMINAL.has(event.event_type) && watch.outcome === undefined) {
        watch.outcome = event.event_type.slice("task.".length);
        watch.endedAt = at;
        clearTimeout(timer);
        finish();
      }
    },
  );
  return watch as TaskWatch;
}

/** Start-up steps in the order they happen, and where each moment is read. */
export const STARTUP_STEPS = [
  { mark: "task.created", what: "task created (stored)" },
  { mark: "task.assigned", what: "slot taken (task.assigned stored)" },
  { mark: "sandbox.starting", what: "sandbox starting (stored)" },
  { mark: "worker_spawned", what: "sandbox prepared, worker spawned (server log)" },
  { mark: "worker_process", what: "worker process started (its start time)" },
  { mark: "worker_up", what: "worker code running (worker log)" },
  { mark: "channel_connected", what: "channel connected (server log)" },
  { mark: "confined", what: "agent confined: srt and model gateway up (worker log)" },
  { mark: "cli_spawned", what: "CLI spawned (worker log)" },
  { mark: "system_init", what: "system/init (agent.started emitted_at)" },
  { mark: "agent_stored", what: "agent.started stored" },
  { mark: "viewer", what: "agent.started at a viewer" },
] as const;

/** Marks the worker logs (pino JSON lines with `time` and `mark`) in its sandbox's log file. */
function workerMarks(server: BenchServer, sandboxId: string): Map<string, number> {
  const marks = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(
      path.join(server.dataDir, "sandbox-state", sandboxId, "worker.log"),
      "utf8",
    );
  } catch {
    return marks;
  }
  for (const line of text.split("\n")) {
    if (!line.includes('"mark"')) continue;
    const parsed = safeJsonParse(line);
    if (!parsed.ok || typeof parsed.value !== "object" || parsed.value === null) continue;
    const entry = parsed.value as Record<string, unknown>;
    if (typeof entry.mark !== "string" || typeof entry.time !== "number") continue;
    if (!marks.has(entry.mark)) marks.set(entry.mark, entry.time);
    if (typeof entry.process_started_at === "number" && !marks.has("worker_process"))
      marks.set("worker_process", entry.process_started_at);
  }
  return marks;
}

/**
 * One task with the `quick` scenario, from POST /tasks to a viewer seeing `agent.started`,
 * with every start-up moment Omoi makes observable (ms epoch; one machine, one clock).
 */
export async function startupOnce(
  server: BenchServer,
  index: number,
  body: Record<string, unknown> = {},
): Promise<{ total: number; marks: Map<string, number>; completed: boolean }> {
  const watch = await watchTask(server, `[scenario:quick] hi (${index})`, 120_000, body);
  await watch.done;
  watch.viewer.close();
  if (watch.startedAt === undefined || !watch.started) {
    throw new Error(`task ${index} never reported agent.started (${watch.outcome})`);
  }
  const marks = new Map<string, number>();
  for (const event of ["task.created", "task.assigned", "sandbox.starting"]) {
    const stamp = watch.stamps.get(event);
    if (stamp !== undefined) marks.set(event, stamp);
  }
  if (watch.sandboxId) {
    for (const [mark, at] of server.serverMarks.get(watch.sandboxId) ?? []) marks.set(mark, at);
    for (const [mark, at] of workerMarks(server, watch.sandboxId)) marks.set(mark, at);
  }
  marks.set("system_init", watch.started.emitted_at);
  marks.set("agent_stored", watch.started.stored_at);
  if (watch.startedEpoch !== undefined) marks.set("viewer", watch.startedEpoch);
  return {
    total: watch.startedAt - watch.createdAt,
    marks,
    completed: watch.outcome === "completed",
  };
}

/** Each step's duration (from the previous observed mark), p50/p95 over tasks, in ms. */
export function startupBreakdown(
  runs: Map<string, number>[],
  steps: readonly { mark: string; what: string }[] = STARTUP_STEPS,
) {
  return steps.map((step, index) => {
    const durations: number[] = [];
    const offsets: number[] = [];
    for (const marks of runs) {
      const at = marks.get(step.mark);
      const origin = marks.get("task.created");
      if (at === undefined || origin === undefined) continue;
      offsets.push(at - origin);
      const previous = steps
        .slice(0, index)
        .map((earlier) => marks.get(earlier.mark))
        .filter((value): value is number => value !== undefined)
        .pop();
      if (previous !== undefined) durations.push(at - previous);
    }
    return { ...step, step: summarize(durations), offset: summarize(offsets) };
  });
}

export interface ConcurrencyResult {
  tasks: number;
  completed: number;
  failed: number;
  timedOut: number;
  wallSeconds: number;
  createdToStarted: Summary;
  createdToDone: Summary;
  peakRssMiB: number;
  idleRssMiB: number;
}

/** `tasks` scripted agents at once (the server allows that many): completion, time, memory. */
export async function concurrencyRun(
  server: BenchServer,
  options: { tasks: number; timeoutMs: number },
): Promise<ConcurrencyResult> {
  const idleRssMiB = treeRssMiB(server.pid);
  let peakRssMiB = idleRssMiB;
  const sampler = setInterval(() => {
    peakRssMiB = Math.max(peakRssMiB, treeRssMiB(server.pid));
  }, 250);
  const start = performance.now();
  try {
    const watches = await Promise.all(
      Array.from({ length: options.tasks }, (_, index) =>
        watchTask(server, `[scenario:quick] hi (${index})`, options.timeoutMs),
      ),
    );
    await Promise.all(watches.map((watch) => watch.done));
    const wallSeconds = (performance.now() - start) / 1000;
    for (const watch of watches) watch.viewer.close();
    const started = watches.filter((watch) => watch.startedAt !== undefined);
    const ended = watches.filter((watch) => watch.endedAt !== undefined);
    return {
      tasks: options.tasks,
      completed: watches.filter((watch) => watch.outcome === "completed").length,
      failed: watches.filter((watch) => watch.outcome === "failed").length,
      timedOut: watches.filter((watch) => watch.outcome === "timed out").length,
      wallSeconds,
      createdToStarted: summarize(started.map((watch) => watch.startedAt! - watch.createdAt)),
      createdToDone: summarize(ended.map((watch) => watch.endedAt! - watch.createdAt)),
      peakRssMiB,
      idleRssMiB,
    };
  } finally {
    clearInterval(sampler);
  }
}
