import { expectStatus, field } from "./lib/http.ts";
import { type BenchServer, treeRssMiB } from "./lib/server.ts";
import { type Summary, summarize } from "./lib/stats.ts";
import { BenchViewer, type ViewerEvent } from "./lib/viewer.ts";

const TERMINAL = new Set(["task.completed", "task.failed", "task.cancelled"]);

interface TaskWatch {
  taskId: string;
  createdAt: number;
  startedAt?: number;
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

/** Creates a task and follows its events (replayed from the start, then live). */
async function watchTask(
  server: BenchServer,
  prompt: string,
  timeoutMs: number,
): Promise<TaskWatch> {
  const createdAt = performance.now();
  const task = await expectStatus(201, server.url, "POST", "/api/v1/tasks", {
    prompt,
    title: "benchmark",
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
      if (event.event_type === "agent.started" && watch.startedAt === undefined) {
        watch.startedAt = at;
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

export interface StartupResult {
  tasks: number;
  completed: number;
  /** POST /tasks sent → a viewer receives `agent.started` (one clock: this process). */
  createdToStarted: Summary;
  /** task.created stored_at → agent.started emitted_at (server and worker clocks, same machine). */
  storedToEmitted: Summary;
  /** Median offset of each lifecycle event from task.created, in ms, in the order seen. */
  steps: { event: string; p50: number }[];
}

const WORKER_CONNECTED = "worker connected (server log: hello on the channel)";
const STEPS = [
  "task.assigned",
  "sandbox.created",
  "sandbox.starting",
  WORKER_CONNECTED,
  "sandbox.ready",
  "task.started",
  "agent.started",
  "agent.message",
  "agent.turn_completed",
  "task.completed",
];

/** Sequential tasks with the `quick` scenario: how long until the agent session is up. */
export async function startupRun(
  server: BenchServer,
  options: { tasks: number },
): Promise<StartupResult> {
  const toStarted: number[] = [];
  const storedToEmitted: number[] = [];
  const offsets = new Map<string, number[]>(STEPS.map((step) => [step, []]));
  let completed = 0;
  for (let index = 0; index < options.tasks; index++) {
    const watch = await watchTask(server, `[scenario:quick] hi (${index})`, 60_000);
    await watch.done;
    watch.viewer.close();
    if (watch.outcome === "completed") completed++;
    if (watch.startedAt === undefined) {
      throw new Error(`task ${index} never reported agent.started (${watch.outcome})`);
    }
    toStarted.push(watch.startedAt - watch.createdAt);
    if (watch.started && watch.created)
      storedToEmitted.push(watch.started.emitted_at - watch.created.stored_at);
    const connected = watch.sandboxId && server.workerConnectedAt.get(watch.sandboxId);
    if (connected) watch.stamps.set(WORKER_CONNECTED, connected);
    const origin = watch.stamps.get("task.created");
    for (const step of STEPS) {
      const stamp = watch.stamps.get(step);
      if (origin !== undefined && stamp !== undefined) offsets.get(step)?.push(stamp - origin);
    }
  }
  return {
    tasks: options.tasks,
    completed,
    createdToStarted: summarize(toStarted),
    storedToEmitted: summarize(storedToEmitted),
    steps: STEPS.filter((step) => offsets.get(step)?.length)
      .map((step) => ({ event: step, p50: summarize(offsets.get(step) ?? []).p50 }))
      .sort((a, b) => a.p50 - b.p50),
  };
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
