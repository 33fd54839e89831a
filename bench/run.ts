import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../test/helpers/omoi.ts";
import { concurrencyRun, startupRun } from "./agents.ts";
import { injectionRun, sdkInjectionRun } from "./injection.ts";
import { cleanupAll } from "./lib/cleanup.ts";
import { closeConnections } from "./lib/http.ts";
import { markdown } from "./lib/markdown.ts";
import { machine, Report, verdict } from "./lib/report.ts";
import { ADMIN_DATABASE_URL, type Backend, REDIS_URL, startServer } from "./lib/server.ts";
import { ms, type Summary } from "./lib/stats.ts";
import { fanOutRun, latencyRun, throughputRun } from "./pipeline.ts";
import { postgresAppendRun, redisPublishRun, storeAppendRun } from "./store.ts";

/*
 * `npm run bench` runs every part and writes docs/benchmarks.md;
 * `npm run bench -- pipeline fanout` runs only those parts (and only prints).
 * Flags: --backend=embedded|scaled (default both), --concurrency=N (default 20),
 * --seconds=N (latency window, default 10), --write (write the doc after a partial run).
 */
const PARTS = ["pipeline", "fanout", "injection", "startup", "concurrency", "store"] as const;
type Part = (typeof PARTS)[number];

const LATENCY_RATE = 2000;
const HTTP_LATENCY_RATE = 1000;
const BARS = {
  embeddedP50: 1,
  embeddedP99: 5,
  scaledP99: 15,
  injectionP99: 10,
  startupP50: 1500,
};

function parseArgs(argv: string[]) {
  const parts: Part[] = [];
  const flags = new Map<string, string>();
  for (const arg of argv) {
    if (arg.startsWith("--")) {
      const [key, value = "true"] = arg.slice(2).split("=");
      flags.set(key, value);
      continue;
    }
    if (!(PARTS as readonly string[]).includes(arg)) {
      throw new Error(`unknown part '${arg}'; choose from: ${PARTS.join(", ")}`);
    }
    parts.push(arg as Part);
  }
  const backendFlag = flags.get("backend");
  if (backendFlag && backendFlag !== "embedded" && backendFlag !== "scaled")
    throw new Error("--backend is embedded or scaled");
  const number = (key: string, fallback: number, max: number) => {
    const value = Number(flags.get(key) ?? fallback);
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new Error(`--${key} must be an integer from 1 to ${max}`);
    return value;
  };
  return {
    parts: parts.length ? parts : [...PARTS],
    all: parts.length === 0,
    backends: (backendFlag ? [backendFlag] : ["embedded", "scaled"]) as Backend[],
    concurrency: number("concurrency", 20, 200),
    seconds: number("seconds", 10, 120),
    write: flags.has("write"),
  };
}

const label = (backend: Backend) =>
  backend === "embedded" ? "embedded (SQLite + in-process bus)" : "scaled (Postgres + Redis)";
const short = (backend: Backend) => (backend === "embedded" ? "embedded" : "Postgres+Redis");
const latencyText = (summary: Summary) =>
  `p50 ${ms(summary.p50)} / p95 ${ms(summary.p95)} / p99 ${ms(summary.p99)} / max ${ms(summary.max)} ms`;

async function pipelinePart(report: Report, backends: Backend[], seconds: number) {
  for (const backend of backends) {
    console.log(`\npipeline, ${label(backend)}`);
    report.noteLoad(`pipeline ${backend}`);
    const server = await startServer(backend);
    try {
      const sandboxes = 10;
      const modes = [
        { transport: "channel" as const, batch: 50, window: 2 },
        { transport: "http" as const, batch: 1, window: 4 },
        { transport: "http" as const, batch: 50, window: 2 },
      ];
      const channel = await latencyRun(server, "channel", {
        rate: LATENCY_RATE,
        seconds,
        sandboxes,
        warmupSeconds: 2,
      });
      const http = await latencyRun(server, "http", {
        rate: HTTP_LATENCY_RATE,
        seconds,
        sandboxes,
        warmupSeconds: 2,
      });
      // Throughput last: a saturating run leaves a large log and heap behind that would
      // colour the steady-rate latency figures above.
      const throughput = [];
      for (const mode of modes) {
        const result = await throughputRun(server, mode, { seconds: 4, sandboxes });
        throughput.push(result);
        report.row({
          part: "pipeline",
          what: `ingest ${short(backend)}: ${result.mode}`,
          result: `${Math.round(result.rate).toLocaleString("en-US")} events/s (viewers got ${result.delivered}/${result.stored})`,
          bar: "",
          verdict: "",
        });
      }
      const p99Bar = backend === "embedded" ? BARS.embeddedP99 : BARS.scaledP99;
      const ok =
        channel.latency.p99 <= p99Bar &&
        (backend === "scaled" || channel.latency.p50 <= BARS.embeddedP50);
      report.row({
        part: "pipeline",
        what: `latency ${short(backend)}, worker channel @ ${LATENCY_RATE} ev/s`,
        result: latencyText(channel.latency),
        bar:
          backend === "embedded"
            ? `p50 ≤ ${BARS.embeddedP50} ms, p99 ≤ ${BARS.embeddedP99} ms`
            : `p99 ≤ ${BARS.scaledP99} ms`,
        verdict: verdict(ok),
      });
      report.row({
        part: "pipeline",
        what: `latency ${short(backend)}, seed HTTP POST (1 event/request) @ ${HTTP_LATENCY_RATE} ev/s`,
        result: latencyText(http.latency),
        bar: "(seed: 10–50 ms)",
        verdict: "",
      });
      const lines = [channel, http].map(
        (run) =>
          `| ${run.transport === "channel" ? "worker channel" : "HTTP POST"} | ${Math.round(run.achievedRate)} | ${run.received}/${run.sent} | ${ms(run.latency.p50)} | ${ms(run.latency.p95)} | ${ms(run.latency.p99)} | ${ms(run.latency.max)} | ${run.toStored.p50} / ${run.toStored.p99} | ${run.storedToViewer.p50} / ${run.storedToViewer.p99} | ${ms(run.clientLoopDelayP99)} | ${Math.round(run.serverCpu * 100)}% |`,
      );
      report.detail(
        `Event pipeline, ${label(backend)}`,
        [
          `${sandboxes} external sandboxes, each with its own worker-channel client (or HTTP producer) and one viewer (\`/ws/events?entity_ids=<sandbox>\`). Latency is viewer receive time − emit time, both read from \`performance.now()\` in the one benchmark process; ${seconds} s measured after a 2 s warm-up.`,
          "",
          "| transport | achieved ev/s | received/sent | p50 ms | p95 ms | p99 ms | max ms | emitted→stored p50/p99 (ms, 1 ms resolution) | stored→viewer p50/p99 | client loop delay p99 ms | server CPU |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
          ...lines,
          "",
          "Ingest (closed loop, 4 s, events the server acknowledged as stored; one viewer per sandbox receives them):",
          "",
          "| mode | events/s | delivered to viewers |",
          "| --- | --- | --- |",
          ...throughput.map(
            (result) =>
              `| ${result.mode} | ${Math.round(result.rate).toLocaleString("en-US")} | ${result.delivered}/${result.stored} |`,
          ),
        ].join("\n"),
      );
    } finally {
      await server.stop();
    }
    if (backend === "scaled") await asyncCommitRun(report, seconds);
  }
}

/**
 * The same worker-channel latency with Postgres told not to wait for the WAL fsync at
 * commit (`synchronous_commit=off`, set through DATABASE_URL): what an operator trades
 * durability across a Postgres crash for. Shows how much of the tail is the disk's fsync.
 */
async function asyncCommitRun(report: Report, seconds: number) {
  console.log("\npipeline, scaled with synchronous_commit=off (diagnostic)");
  const server = await startServer("scaled", {
    databaseOptions: "-c synchronous_commit=off",
  });
  try {
    const run = await latencyRun(server, "channel", {
      rate: LATENCY_RATE,
      seconds,
      sandboxes: 10,
      warmupSeconds: 2,
    });
    report.row({
      part: "pipeline",
      what: `latency Postgres+Redis with synchronous_commit=off (opt-in), worker channel @ ${LATENCY_RATE} ev/s`,
      result: latencyText(run.latency),
      bar: "(diagnostic)",
      verdict: "",
    });
  } finally {
    await server.stop();
  }
}

async function fanOutPart(report: Report, backends: Backend[]) {
  for (const backend of backends) {
    console.log(`\nfan-out, ${label(backend)}`);
    report.noteLoad(`fan-out ${backend}`);
    const server = await startServer(backend);
    try {
      const result = await fanOutRun(server, {
        sandboxes: 100,
        viewersPerSandbox: 5,
        eventsPerSandbox: 100,
        rate: 1000,
      });
      const ok =
        result.lost === 0 && result.duplicated === 0 && result.viewersExact === result.viewers;
      report.row({
        part: "fan-out",
        what: `${short(backend)}: ${result.sandboxes} sandboxes → ${result.viewers} viewers`,
        result: `${result.viewersExact}/${result.viewers} viewers got exactly 1..${result.eventsPerSandbox + 1}; lost ${result.lost}, duplicated ${result.duplicated}; ${latencyText(result.latency)}`,
        bar: "zero lost",
        verdict: verdict(ok),
      });
      report.detail(
        `Fan-out, ${label(backend)}`,
        `${result.sandboxes} external sandboxes, each a worker-channel client sending ${result.eventsPerSandbox} events (${result.targetRate} events/s in total, ${result.seconds.toFixed(1)} s); ${result.viewers} viewers, ${result.viewers / result.sandboxes} per sandbox, each subscribed with \`since=0\` before the first event. Frames received ${result.framesReceived.toLocaleString("en-US")} of ${result.framesExpected.toLocaleString("en-US")} expected; viewers with exactly seq 1..${result.eventsPerSandbox + 1} in order: ${result.viewersExact}/${result.viewers}; lost ${result.lost}; duplicated ${result.duplicated}; viewers told they lagged: ${result.laggedViewers}. Emit → viewer latency under this load: ${latencyText(result.latency)}.`,
      );
    } finally {
      await server.stop();
    }
  }
}

async function injectionPart(report: Report, backends: Backend[]) {
  for (const backend of backends) {
    console.log(`\nmessage injection, ${label(backend)}`);
    report.noteLoad(`injection ${backend}`);
    const server = await startServer(backend);
    try {
      const result = await injectionRun(server, { messages: 200, warmup: 10 });
      report.row({
        part: "injection",
        what: `${short(backend)}: POST /messages → worker channel \`message\` frame`,
        result: latencyText(result.postToWorker),
        bar: `p99 ≤ ${BARS.injectionP99} ms (seed: 500 ms poll)`,
        verdict: verdict(result.postToWorker.p99 <= BARS.injectionP99),
      });
      report.detail(
        `Message injection, ${label(backend)}`,
        `${result.samples} messages, one at a time, to an external sandbox whose worker (the benchmark's channel client) is connected. Timed from sending the POST to the pushed \`message\` frame arriving: ${latencyText(result.postToWorker)}. For scale, the POST's own round trip (201 received): ${latencyText(result.postRoundTrip)}.`,
      );
    } finally {
      await server.stop();
    }
  }
}

const AGENT_ENV = { OMOI_RUN_AGENTS: "1", OMOI_IDLE_WINDOW_MS: "0" };

async function startupPart(report: Report) {
  console.log(
    "\ntask start and SDK injection, embedded, local provider, real SDK + scripted model",
  );
  report.noteLoad("startup");
  const server = await startServer("embedded", { env: AGENT_ENV });
  try {
    const startup = await startupRun(server, { tasks: 10 });
    report.row({
      part: "startup",
      what: "task created → agent.started (local provider, real SDK/CLI)",
      result: `${latencyText(startup.createdToStarted)} (${startup.completed}/${startup.tasks} completed)`,
      bar: `p50 ≤ ${BARS.startupP50} ms`,
      verdict: verdict(startup.createdToStarted.p50 <= BARS.startupP50),
    });
    report.detail(
      "Task created → agent.started",
      [
        `${startup.tasks} sequential tasks, prompt \`[scenario:quick] hi\`, real \`omoi serve\` process (local sandbox provider, the SDK's Claude Code CLI inside sandbox-runtime, scripted model). Timed from sending POST /api/v1/tasks to a viewer receiving \`agent.started\`: ${latencyText(startup.createdToStarted)}. On the server's clocks (task.created stored_at → agent.started emitted_at): ${latencyText(startup.storedToEmitted)}. ${startup.completed}/${startup.tasks} tasks completed.`,
        "",
        "Where the time goes (median offset from task.created; lifecycle events by stored_at, agent events by the worker's emitted_at):",
        "",
        "| event | ms after task.created (p50) |",
        "| --- | --- |",
        ...startup.steps.map((step) => `| ${step.event} | ${Math.round(step.p50)} |`),
      ].join("\n"),
    );
  } finally {
    await server.stop();
  }
  // A sandbox that stays open after its turn, so every message meets the same live session.
  const steerable = await startServer("embedded", {
    env: { ...AGENT_ENV, OMOI_IDLE_WINDOW_MS: "120000" },
  });
  try {
    const sdk = await sdkInjectionRun(steerable, { messages: 20 });
    report.row({
      part: "injection",
      what: "POST /messages → agent.message_injected (real SDK, slow-tool)",
      result: `${latencyText(sdk.postToInjected)} (1 ms clock)`,
      bar: `p99 ≤ ${BARS.injectionP99} ms`,
      verdict: verdict(sdk.postToInjected.p99 <= BARS.injectionP99),
    });
    report.detail(
      "Message injection to the real SDK",
      `A task runs the \`slow-tool\` scenario (a 3 s Bash step) in a local sandbox with the real SDK. ${sdk.samples} messages are POSTed to /api/v1/tasks/{id}/messages one at a time, the first while the tool runs and the rest after it, 400 ms apart. Timed from the POST (Date.now(), ms) to the worker's \`agent.message_injected\` emitted_at (stamped when the SDK pulls the message from its input stream): ${latencyText(sdk.postToInjected)}. To a viewer receiving that event: ${latencyText(sdk.postToViewer)}.`,
    );
  } finally {
    await steerable.stop();
  }
}

async function concurrencyPart(report: Report, tasks: number) {
  console.log(`\n${tasks} concurrent scripted sandboxes, embedded, local provider`);
  report.noteLoad("concurrency");
  const server = await startServer("embedded", {
    env: { ...AGENT_ENV, OMOI_MAX_SANDBOXES: String(tasks) },
  });
  try {
    const result = await concurrencyRun(server, { tasks, timeoutMs: 180_000 });
    const perSandbox = (result.peakRssMiB - result.idleRssMiB) / tasks;
    report.row({
      part: "concurrency",
      what: `${tasks} concurrent \`[scenario:quick]\` tasks`,
      result: `${result.completed}/${tasks} completed in ${result.wallSeconds.toFixed(1)} s; peak RSS ${Math.round(result.peakRssMiB)} MiB (~${Math.round(perSandbox)} MiB/sandbox)`,
      bar: "aim: 100 on 2 cores",
      verdict: "",
    });
    report.detail(
      `${tasks} concurrent scripted sandboxes`,
      `${tasks} tasks created at once with \`[scenario:quick] hi\`, OMOI_MAX_SANDBOXES=${tasks}: ${result.completed} completed, ${result.failed} failed, ${result.timedOut} timed out, all done in ${result.wallSeconds.toFixed(1)} s. Created → agent.started: ${latencyText(result.createdToStarted)}; created → task finished: ${latencyText(result.createdToDone)}. Resident memory of the server process tree (server, scripted model, workers, CLIs, sandbox-runtime): ${Math.round(result.idleRssMiB)} MiB idle, ${Math.round(result.peakRssMiB)} MiB peak, about ${Math.round(perSandbox)} MiB per running sandbox.`,
    );
  } finally {
    await server.stop();
  }
}

async function storePart(report: Report, backends: Backend[]) {
  console.log("\nstores and bus: one-event appends (diagnostic)");
  report.noteLoad("store");
  const places = [
    { where: "temp dir on disk", root: os.tmpdir() },
    { where: "tmpfs (/dev/shm, fsync is free)", root: "/dev/shm" },
  ];
  const rows = [];
  for (const place of places) {
    const result = await storeAppendRun({ appends: 5000, root: place.root, where: place.where });
    rows.push(result);
    report.row({
      part: "store",
      what: `SQLite appendEvents (1 event), ${place.where}`,
      result: `${latencyText(result.append)}; ${result.over2ms}/${result.appends} over 2 ms`,
      bar: "(diagnostic)",
      verdict: "",
    });
  }
  if (backends.includes("scaled")) {
    for (const run of [
      () => postgresAppendRun({ appends: 2000 }),
      () => redisPublishRun({ publishes: 5000 }),
    ]) {
      const result = await run();
      rows.push(result);
      report.row({
        part: "store",
        what:
          result.where === "Postgres"
            ? "PostgresStore appendEvents (1 event)"
            : "Redis PUBLISH round trip (1 event)",
        result: `${latencyText(result.append)}; ${result.over2ms}/${result.appends} over 2 ms`,
        bar: "(diagnostic)",
        verdict: "",
      });
    }
  }
  report.detail(
    "Stores and bus: one event at a time (diagnostic)",
    [
      "`appendEvents` with one event per call (one transaction each, as the worker channel does at these rates), in the benchmark process, and one awaited Redis `PUBLISH` of an event (what `Ingest.append` does for each event, one after another). better-sqlite3 is synchronous, so a slow SQLite call stalls the server's whole event loop: every event in flight waits behind it.",
      "",
      "| what | p50 ms | p99 ms | p99.9 ms | max ms | calls over 2 ms |",
      "| --- | --- | --- | --- | --- | --- |",
      ...rows.map(
        (row) =>
          `| ${row.where} | ${ms(row.append.p50)} | ${ms(row.append.p99)} | ${ms(row.p999)} | ${ms(row.append.max)} | ${row.over2ms}/${row.appends} |`,
      ),
    ].join("\n"),
  );
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const report = new Report();
  const started = new Date();
  console.log(`omoi bench: ${options.parts.join(", ")} on ${machine()}`);
  for (const part of options.parts) {
    if (part === "pipeline") await pipelinePart(report, options.backends, options.seconds);
    if (part === "fanout") await fanOutPart(report, options.backends);
    if (part === "injection") await injectionPart(report, options.backends);
    if (part === "startup") await startupPart(report);
    if (part === "concurrency") await concurrencyPart(report, options.concurrency);
    if (part === "store") await storePart(report, options.backends);
  }
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(`\n${report.table()}\n\n(${seconds.toFixed(0)} s)`);
  if (options.all || options.write) {
    const file = path.join(PROJECT_ROOT, "docs", "benchmarks.md");
    writeFileSync(
      file,
      markdown(report, {
        date: started,
        seconds,
        parts: options.parts,
        backends: options.backends,
        databaseUrl: ADMIN_DATABASE_URL,
        redisUrl: REDIS_URL,
      }),
    );
    console.log("wrote docs/benchmarks.md");
  } else {
    console.log("docs/benchmarks.md not written (a partial run; add --write to write it)");
  }
}

const interrupt = (signal: string) => {
  console.error(`\n${signal}: cleaning up`);
  void cleanupAll().finally(() => process.exit(130));
};
process.once("SIGINT", () => interrupt("SIGINT"));
process.once("SIGTERM", () => interrupt("SIGTERM"));

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanupAll();
  closeConnections();
}
