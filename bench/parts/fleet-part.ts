import { concurrencyRun } from "../agents.ts";
import { watchMachine } from "../lib/machine.ts";
import { Series } from "../lib/rounds.ts";
import { startServer } from "../lib/server.ts";
import { ms, type Summary } from "../lib/stats.ts";
import { fanOutRun } from "../pipeline.ts";
import { backendLabel, backendShort, type PartRun } from "./run-context.ts";
import { AGENT_ENV } from "./startup-part.ts";

const latencyText = (summary: Summary) =>
  `p50 ${ms(summary.p50)} / p95 ${ms(summary.p95)} / p99 ${ms(summary.p99)} / max ${ms(summary.max)} ms`;

/** A figure measured once (no rounds): a one-round series. */
function once(name: string, figures: Record<string, number>): Series {
  const series = new Series(name);
  series.rounds.push(figures);
  return series;
}

/** 100 sandboxes → 500 viewers: nothing lost, nothing duplicated, in order (this checkout). */
export async function fanOutPart(run: PartRun) {
  for (const backend of run.options.backends) {
    console.log(`\nfan-out, ${backendLabel(backend)}`);
    const machine = watchMachine(`fan-out ${backend}`);
    const server = await startServer(backend);
    try {
      const result = await fanOutRun(server, {
        sandboxes: 100,
        viewersPerSandbox: 5,
        eventsPerSandbox: 100,
        rate: 1000,
      });
      const lost = result.lost + result.duplicated + (result.viewers - result.viewersExact);
      run.report.headline({
        id: `fanout.${backend}.p99`,
        part: "fan-out",
        what: `${backendShort(backend)}: ${result.sandboxes} sandboxes → ${result.viewers} viewers, lost ${result.lost}, duplicated ${result.duplicated}, out of order ${result.viewers - result.viewersExact}; emit → viewer p99`,
        ours: { series: once("fanout", { p99: result.latency.p99 }), figure: "p99" },
        bar: { text: "zero lost", met: lost === 0 },
      });
      run.report.detail(
        `Fan-out, ${backendLabel(backend)}`,
        `${result.sandboxes} external sandboxes, each a worker-channel client sending ${result.eventsPerSandbox} events (${result.targetRate} events/s in total, ${result.seconds.toFixed(1)} s); ${result.viewers} viewers, ${result.viewers / result.sandboxes} per sandbox, each subscribed with \`since=0\` before the first event. Frames received ${result.framesReceived.toLocaleString("en-US")} of ${result.framesExpected.toLocaleString("en-US")} expected; viewers with exactly seq 1..${result.eventsPerSandbox + 1} in order: ${result.viewersExact}/${result.viewers}; lost ${result.lost}; duplicated ${result.duplicated}; viewers told they lagged: ${result.laggedViewers}. Emit → viewer latency under this load: ${latencyText(result.latency)}. The bar is zero lost.`,
      );
    } finally {
      await server.stop();
      run.report.context(machine.end());
    }
  }
}

/** Many scripted sandboxes at once: all complete, and how much memory each costs. */
export async function concurrencyPart(run: PartRun) {
  const tasks = run.options.concurrency;
  console.log(`\n${tasks} concurrent scripted sandboxes, embedded, local provider`);
  const machine = watchMachine("concurrency");
  const server = await startServer("embedded", {
    env: { ...AGENT_ENV, OMOI_MAX_SANDBOXES: String(tasks) },
  });
  try {
    const result = await concurrencyRun(server, { tasks, timeoutMs: 180_000 });
    const perSandbox = (result.peakRssMiB - result.idleRssMiB) / tasks;
    run.report.headline({
      id: "concurrency.created-to-done.p50",
      part: "concurrency",
      what: `${tasks} concurrent \`[scenario:quick]\` tasks: ${result.completed}/${tasks} completed in ${result.wallSeconds.toFixed(1)} s, ~${Math.round(perSandbox)} MiB/sandbox; created → finished p50`,
      ours: { series: once("concurrency", { p50: result.createdToDone.p50 }), figure: "p50" },
    });
    run.report.detail(
      `${tasks} concurrent scripted sandboxes`,
      `${tasks} tasks created at once with \`[scenario:quick] hi\`, OMOI_MAX_SANDBOXES=${tasks}: ${result.completed} completed, ${result.failed} failed, ${result.timedOut} timed out, all done in ${result.wallSeconds.toFixed(1)} s. Created → agent.started: ${latencyText(result.createdToStarted)}; created → task finished: ${latencyText(result.createdToDone)}. Resident memory of the server process tree (server, scripted model, workers, CLIs, sandbox-runtime): ${Math.round(result.idleRssMiB)} MiB idle, ${Math.round(result.peakRssMiB)} MiB peak, about ${Math.round(perSandbox)} MiB per running sandbox.`,
    );
  } finally {
    await server.stop();
    run.report.context(machine.end());
  }
}
