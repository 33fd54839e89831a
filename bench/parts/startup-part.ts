import { STARTUP_STEPS, startupBreakdown, startupOnce } from "../agents.ts";
import { nodeSpawnOnce, openCliFloor } from "../floors.ts";
import { sdkInjectionRun } from "../injection.ts";
import { watchMachine } from "../lib/machine.ts";
import { alternate, Series, type Subject } from "../lib/rounds.ts";
import { type BenchServer, startServer } from "../lib/server.ts";
import { ms, summarize } from "../lib/stats.ts";
import { named, type PartRun } from "./run-context.ts";

export const AGENT_ENV = { OMOI_RUN_AGENTS: "1", OMOI_IDLE_WINDOW_MS: "0" };
/** Cold start p50 ≤ 1 s; as a ratio, 1 s over the floor on an idle machine (about 0.55 s). */
const STARTUP_BAR = { absolute: 1000, ratio: 1.8 };
const INJECTION_BAR = { absolute: 10 };

/**
 * Task created → `agent.started` with the local provider and the real SDK/CLI, one task per
 * round per version, beside its floor: a Node process spawn plus the Claude Code CLI from
 * spawn to `system/init` inside the same sandbox wrapper (and bare, for scale).
 */
export async function startupPart(run: PartRun) {
  console.log("\ntask start, embedded, local provider, real SDK + scripted model");
  const machine = watchMachine("startup");
  const servers: BenchServer[] = [];
  const cli = await openCliFloor();
  const marks = new Map<string, Map<string, number>[]>();
  try {
    for (const target of run.targets)
      servers.push(await startServer("embedded", { root: target.root, env: AGENT_ENV }));
    let task = 0;
    const subjects: Subject[] = [
      { name: "node", window: async () => ({ ms: await nodeSpawnOnce() }) },
      { name: "cli-bare", window: async () => ({ ms: await cli.bare() }) },
      { name: "cli-sandboxed", window: async () => ({ ms: await cli.sandboxed() }) },
      ...run.targets.map((target, index) => ({
        name: named("startup", target),
        window: async () => {
          const result = await startupOnce(servers[index], task++);
          const list = marks.get(target.name) ?? [];
          marks.set(target.name, list);
          list.push(result.marks);
          return { ms: result.total, completed: result.completed ? 1 : 0 };
        },
      })),
    ];
    // One task per round is few samples; take a few more rounds than the other parts.
    const rounds = Math.max(run.options.rounds + 2, 5);
    const series = await alternate(subjects, { rounds });
    // The warm-up task's marks are not part of the breakdown.
    for (const list of marks.values()) list.shift();
    const get = (name: string) => series.get(name)!;
    const [a, b] = run.targets;
    run.report.headline({
      id: "startup.p50",
      part: "startup",
      what: "task created → `agent.started` at a viewer (local provider, real SDK/CLI), p50",
      ours: { series: get(named("startup", a)), figure: "ms" },
      ...(b ? { other: { series: get(named("startup", b)), figure: "ms" } } : {}),
      floor: {
        what: "Node spawn + CLI spawn → system/init inside the sandbox wrapper",
        parts: [
          { series: get("node"), figure: "ms" },
          { series: get("cli-sandboxed"), figure: "ms" },
        ],
      },
      bar: STARTUP_BAR,
    });
    const floorLine = (name: string, what: string) => {
      const summary = summarize(get(name).values("ms"));
      return `| ${what} | ${ms(summary.p50)} | ${ms(summary.p95)} |`;
    };
    const breakdowns = run.targets.map((target) => ({
      target,
      steps: startupBreakdown(marks.get(target.name) ?? []),
    }));
    const header = breakdowns.map(
      ({ target }) => `${target.label}: step p50 / p95 ms | offset p50 ms`,
    );
    run.report.detail(
      "Task created → agent.started",
      [
        `One task per round and version (prompt \`[scenario:quick] hi\`, a real \`omoi serve\` with the local sandbox provider, the SDK's Claude Code CLI inside sandbox-runtime, the scripted model), alternating with the floors, ${rounds} rounds after a warm-up each. Floors, p50 / p95 over rounds:`,
        "",
        "| floor | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        floorLine("node", "Node process spawn → exit (`node -e 0`)"),
        floorLine("cli-bare", "Claude Code CLI spawn → `system/init`, bare"),
        floorLine(
          "cli-sandboxed",
          "Claude Code CLI spawn → `system/init`, inside the sandbox wrapper (srt)",
        ),
        ...run.targets.map((target) => {
          const summary = summarize(get(named("startup", target)).values("ms"));
          return `| Omoi ${target.label}: task created → agent.started at a viewer | ${ms(summary.p50)} | ${ms(summary.p95)} |`;
        }),
        "",
        "Where the time goes: each step's duration since the previous moment observed, p50 / p95 over tasks, and its offset from task creation. Lifecycle events by `stored_at`; the server's and the worker's moments from their logs (the worker logs `mark` lines at start-up); `system/init` is `agent.started`'s `emitted_at`, stamped when the SDK yields init. One machine, one clock, 1 ms resolution.",
        "",
        `| step | ${header.join(" | ")} |`,
        `| --- | ${breakdowns.map(() => "--- | ---").join(" | ")} |`,
        ...STARTUP_STEPS.map(
          (step, index) =>
            `| ${step.what} | ${breakdowns
              .map(({ steps }) => {
                const row = steps[index];
                if (row.offset.count === 0) return "– | –";
                return `${ms(row.step.p50)} / ${ms(row.step.p95)} | ${ms(row.offset.p50)}`;
              })
              .join(" | ")} |`,
        ),
      ].join("\n"),
    );
  } finally {
    for (const server of servers) await server.stop();
    await cli.close();
    run.report.context(machine.end());
  }
  if (!run.options.quick) await sdkInjectionPart(run);
}

/** The full path to the real SDK (this checkout only): POST → `agent.message_injected`. */
async function sdkInjectionPart(run: PartRun) {
  const machine = watchMachine("SDK injection");
  // A sandbox that stays open after its turn, so every message meets the same live session.
  const server = await startServer("embedded", {
    env: { ...AGENT_ENV, OMOI_IDLE_WINDOW_MS: "120000" },
  });
  try {
    const sdk = await sdkInjectionRun(server, { messages: 20 });
    const series = new Series("sdk");
    series.rounds.push({ p99: sdk.postToInjected.p99 });
    run.report.headline({
      id: "injection.sdk.p99",
      part: "injection",
      what: "POST /messages → `agent.message_injected` (real SDK, slow-tool), p99, 1 ms clock",
      ours: { series, figure: "p99" },
      bar: INJECTION_BAR,
    });
    run.report.detail(
      "Message injection to the real SDK",
      `A task runs the \`slow-tool\` scenario (a 3 s Bash step) in a local sandbox with the real SDK. ${sdk.samples} messages are POSTed to /api/v1/tasks/{id}/messages one at a time, the first while the tool runs and the rest after it, 400 ms apart. Timed from the POST (Date.now(), ms) to the worker's \`agent.message_injected\` emitted_at (stamped when the SDK pulls the message from its input stream): p50 ${ms(sdk.postToInjected.p50)} / p95 ${ms(sdk.postToInjected.p95)} / p99 ${ms(sdk.postToInjected.p99)} ms. To a viewer receiving that event: p50 ${ms(sdk.postToViewer.p50)} / p99 ${ms(sdk.postToViewer.p99)} ms.`,
    );
  } finally {
    await server.stop();
    run.report.context(machine.end());
  }
}
