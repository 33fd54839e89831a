import { STARTUP_STEPS, startupBreakdown, startupOnce } from "../agents.ts";
import { expectStatus } from "../lib/http.ts";
import { watchMachine } from "../lib/machine.ts";
import { alternate, type Subject } from "../lib/rounds.ts";
import { type BenchServer, startServer } from "../lib/server.ts";
import { ms, summarize } from "../lib/stats.ts";
import { BenchViewer } from "../lib/viewer.ts";
import type { PartRun } from "./run-context.ts";
import { AGENT_ENV } from "./startup-part.ts";

/** Second task in an environment whose setup takes 30 s: p50 ≤ 1.5 s (the snapshot). */
const SNAPSHOT_BAR = { absolute: 1500 };
/** With a warm pool of 2: task created → `agent.started` p50 ≤ 250 ms. */
const WARM_BAR = { absolute: 250 };

const WARM_STEPS = [
  { mark: "task.created", what: "task created (stored)" },
  { mark: "task.assigned", what: "warm sandbox claimed (task.assigned stored)" },
  { mark: "task_assigned", what: "task reached the worker (worker log)" },
  { mark: "system_init", what: "system/init (agent.started emitted_at)" },
  { mark: "agent_stored", what: "agent.started stored" },
  { mark: "viewer", what: "agent.started at a viewer" },
] as const;

/** A cold start's steps, with the restored setup before the agent is confined. */
const SNAPSHOT_STEPS = STARTUP_STEPS.flatMap((step) =>
  step.mark === "confined"
    ? [
        { mark: "sandboxed", what: "sandbox up: srt and model gateway (worker log)" },
        { mark: "setup_done", what: "snapshot restored (worker log)" },
        step,
      ]
    : [step],
);

/**
 * Environments' warm starts, beside a cold start on the same server: the second task in an
 * environment whose setup script takes `--setup-seconds` (the snapshot is restored, the script
 * does not run), and a task in an environment with a warm pool of 2.
 */
export async function environmentsPart(run: PartRun) {
  const setupSeconds = run.options.setupSeconds;
  console.log(`\nenvironments: snapshot (setup ${setupSeconds} s) and warm pool, embedded`);
  const machine = watchMachine("environments");
  const server = await startServer("embedded", { env: AGENT_ENV });
  const pools = await PoolWatch.open(server);
  try {
    const prepare = "mkdir -p deps && echo ready > deps/ready.txt";
    await expectStatus(201, server.url, "POST", "/api/v1/environments", {
      name: "bench-setup",
      setup_script: `sleep ${setupSeconds}\n${prepare}`,
    });
    await expectStatus(201, server.url, "POST", "/api/v1/environments", {
      name: "bench-warm",
      setup_script: prepare,
      warm_pool: 2,
    });
    let task = 0;
    const first = await startupOnce(server, task++, { environment: "bench-setup" });
    const warmMarks: Map<string, number>[] = [];
    const snapshotMarks: Map<string, number>[] = [];
    const subjects: Subject[] = [
      { name: "cold", window: async () => ({ ms: (await startupOnce(server, task++)).total }) },
      {
        name: "snapshot",
        window: async () => {
          const result = await startupOnce(server, task++, { environment: "bench-setup" });
          snapshotMarks.push(result.marks);
          return { ms: result.total };
        },
      },
      {
        name: "warm",
        window: async () => {
          // The bar is for a full pool: wait for it to refill after the previous claim.
          await pools.ready("bench-warm", 2);
          const result = await startupOnce(server, task++, { environment: "bench-warm" });
          warmMarks.push(result.marks);
          return { ms: result.total, warm: result.marks.has("task_assigned") ? 1 : 0 };
        },
      },
    ];
    const rounds = Math.max(run.options.rounds + 2, 5);
    const series = await alternate(subjects, { rounds });
    warmMarks.shift();
    snapshotMarks.shift();
    const get = (name: string) => series.get(name)!;
    const cold = { series: get("cold"), figure: "ms" };
    run.report.headline({
      id: "environments.snapshot.p50",
      part: "environments",
      what: `second task in an environment whose setup takes ${setupSeconds} s: created → \`agent.started\`, p50`,
      ours: { series: get("snapshot"), figure: "ms" },
      floor: { what: "a cold start without an environment, same server", parts: [cold] },
      bar: SNAPSHOT_BAR,
    });
    run.report.headline({
      id: "environments.warm.p50",
      part: "environments",
      what: "task in an environment with a warm pool of 2: created → `agent.started`, p50",
      ours: { series: get("warm"), figure: "ms" },
      bar: WARM_BAR,
    });
    const line = (name: string, what: string) => {
      const summary = summarize(get(name).values("ms"));
      return `| ${what} | ${ms(summary.p50)} | ${ms(summary.p95)} |`;
    };
    const warmed = get("warm").values("warm");
    const table = (steps: ReturnType<typeof startupBreakdown>) => [
      "| step | step p50 / p95 ms | offset p50 ms |",
      "| --- | --- | --- |",
      ...steps.map((step) =>
        step.offset.count === 0
          ? `| ${step.what} | – | – |`
          : `| ${step.what} | ${ms(step.step.p50)} / ${ms(step.step.p95)} | ${ms(step.offset.p50)} |`,
      ),
    ];
    run.report.detail(
      "Environments: snapshot and warm pool",
      [
        `One server (embedded, local provider, real SDK/CLI, scripted model, \`[scenario:quick] hi\`). Environment \`bench-setup\` runs \`sleep ${setupSeconds}\` then makes \`deps/\`; its first task paid the setup: created → agent.started ${ms(first.total)} ms. Later tasks restore the snapshot (\`deps/\` and the home) and do not run the script, so their cost does not depend on how long the script takes (\`--setup-seconds\`, default 30). Environment \`bench-warm\` keeps a warm pool of 2; each warm round waits until the pool is full again. ${rounds} rounds after a warm-up each, alternating; ${warmed.filter((value) => value === 1).length} of ${warmed.length} warm rounds got a pooled sandbox.`,
        "",
        "| start | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        line("cold", "cold: no environment"),
        line("snapshot", `snapshot: setup of ${setupSeconds} s restored`),
        line("warm", "warm pool of 2"),
        "",
        "Where a warm start's time goes (each step since the previous moment observed, and its offset from task creation; moments as in the startup part):",
        "",
        ...table(startupBreakdown(warmMarks, WARM_STEPS)),
        "",
        "Where a snapshot start's time goes:",
        "",
        ...table(startupBreakdown(snapshotMarks, SNAPSHOT_STEPS)),
      ].join("\n"),
    );
  } finally {
    pools.close();
    await server.stop();
    run.report.context(machine.end());
  }
}

/** Which pool sandboxes are ready and unclaimed, from the server's events. */
class PoolWatch {
  private readonly unclaimed = new Map<string, string>();
  private waiters: (() => void)[] = [];

  private constructor(private viewer: BenchViewer | undefined) {}

  static async open(server: BenchServer): Promise<PoolWatch> {
    const watch = new PoolWatch(undefined);
    watch.viewer = await BenchViewer.open(
      server.ws,
      {
        event_types:
          "environment.pool_ready,task.assigned,sandbox.completed,sandbox.failed,sandbox.terminated",
      },
      (event) => {
        if (event.event_type === "environment.pool_ready")
          watch.unclaimed.set(event.stream_id, String(event.payload.environment));
        else if (event.event_type === "task.assigned")
          watch.unclaimed.delete(String(event.payload.sandbox_id));
        else watch.unclaimed.delete(event.stream_id);
        for (const waiter of watch.waiters.splice(0)) waiter();
      },
    );
    return watch;
  }

  async ready(environment: string, count: number, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    const have = () => [...this.unclaimed.values()].filter((name) => name === environment).length;
    while (have() < count) {
      if (Date.now() > deadline)
        throw new Error(`the warm pool of ${environment} did not fill (${have()} of ${count})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close() {
    this.viewer?.close();
  }
}
