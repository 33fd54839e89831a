import { openEchoFloor, openPostgresFloor, openRedisFloor, openSqliteFloor } from "../floors.ts";
import { watchMachine } from "../lib/machine.ts";
import { alternate, type Series, type Subject } from "../lib/rounds.ts";
import { type Backend, type BenchServer, startServer } from "../lib/server.ts";
import { ms } from "../lib/stats.ts";
import { openLatencyProbe, openSerialProbe, throughputRun } from "../pipeline.ts";
import { backendLabel, backendShort, named, type PartRun } from "./run-context.ts";

export const LATENCY_RATE = 2000;
const SANDBOXES = 10;

/**
 * Bars (DESIGN §9) and the same bars as multiples of the floor measured beside them: the
 * absolute bar divided by the floor on an idle machine of this kind (echo p50 0.15 / p99
 * 1.0 ms, SQLite commit p99 0.1 ms, Postgres commit p99 about 3.5 ms).
 */
const BARS = {
  embeddedP50: { absolute: 1, ratio: 6 },
  embeddedP99: { absolute: 5, ratio: 4 },
  scaledP99: { absolute: 15, ratio: 3.5 },
};

/**
 * Worker emit → viewer receive at a steady rate, on the worker channel and on the seed's
 * one-POST-per-event, beside the floor of the same path (a loopback WebSocket echo at the
 * same rate and frame size, plus the store's own insert and commit), then closed-loop ingest.
 */
export async function pipelinePart(run: PartRun) {
  for (const backend of run.options.backends) {
    console.log(`\npipeline, ${backendLabel(backend)}`);
    const machine = watchMachine(`pipeline ${backend}`);
    const servers: BenchServer[] = [];
    const closers: (() => unknown)[] = [];
    try {
      for (const target of run.targets)
        servers.push(await startServer(backend, { root: target.root }));
      const echo = await openEchoFloor(SANDBOXES);
      closers.push(() => echo.close());
      const seconds = run.options.seconds;
      const serialEvents = run.options.quick ? 30 : 50;
      const subjects: Subject[] = [
        { name: "echo", window: () => echo.window(LATENCY_RATE, seconds) },
        { name: "echo-serial", window: () => echo.serial(serialEvents) },
      ];
      const storeParts: string[] = [];
      if (backend === "embedded") {
        const sqlite = openSqliteFloor();
        closers.push(() => sqlite.close());
        subjects.push({ name: "sqlite", window: () => sqlite.window(500) });
        storeParts.push("sqlite");
      } else {
        const postgres = await openPostgresFloor();
        closers.push(() => postgres.close());
        const redis = await openRedisFloor();
        closers.push(() => redis.close());
        subjects.push(
          { name: "postgres", window: () => postgres.window(150) },
          { name: "postgres-async", window: () => postgres.windowAsync(150) },
          { name: "redis", window: () => redis.window(300) },
        );
        storeParts.push("postgres");
      }
      for (const [index, target] of run.targets.entries()) {
        const server = servers[index];
        const channel = await openLatencyProbe(server, "channel", {
          rate: LATENCY_RATE,
          sandboxes: SANDBOXES,
        });
        const serial = await openSerialProbe(server);
        closers.push(
          () => channel.close(),
          () => serial.close(),
        );
        subjects.push(
          { name: named("channel", target), window: () => channel.window(seconds) },
          { name: named("serial", target), window: () => serial.window(serialEvents) },
        );
        // The prototype's way is measured beside this checkout only (A/B compares ours).
        if (index > 0) continue;
        const http = await openLatencyProbe(server, "http", {
          rate: LATENCY_RATE,
          sandboxes: SANDBOXES,
        });
        closers.push(() => http.close());
        subjects.push({ name: named("seed-http", target), window: () => http.window(seconds) });
      }
      const series = await alternate(subjects, {
        rounds: run.options.rounds,
        onRound: (round) => process.stdout.write(`  round ${round + 1}/${run.options.rounds}\r`),
      });
      latencyHeadlines(run, backend, series, storeParts);
      // Saturating ingest last: what it leaves behind (log, heap) would colour latency.
      const ingest = await alternate(
        run.targets.flatMap((target, index) =>
          INGEST_MODES.filter((mode) => index === 0 || mode.name !== "ingest-seed").map((mode) => ({
            name: named(mode.name, target),
            window: async () => {
              const result = await throughputRun(servers[index], mode, {
                seconds: run.options.quick ? 1 : 2,
                sandboxes: SANDBOXES,
              });
              return { rate: result.rate, delivered: result.delivered / result.stored };
            },
          })),
        ),
        { rounds: run.options.quick ? 2 : 3, warmup: false },
      );
      ingestHeadlines(run, backend, ingest);
    } finally {
      for (const close of closers.reverse()) await close();
      for (const server of servers) await server.stop();
      run.report.context(machine.end());
    }
  }
}

const INGEST_MODES = [
  { name: "ingest-channel", transport: "channel" as const, batch: 50, window: 2 },
  { name: "ingest-seed", transport: "http" as const, batch: 1, window: 4 },
  { name: "ingest-http-batch", transport: "http" as const, batch: 50, window: 2 },
];

function latencyHeadlines(
  run: PartRun,
  backend: Backend,
  series: Map<string, Series>,
  storeParts: string[],
) {
  const get = (name: string) => series.get(name)!;
  const [a, b] = run.targets;
  const short = backendShort(backend);
  const floorWhat = `loopback WS echo @ ${LATENCY_RATE}/s + ${backend === "embedded" ? "SQLite" : "Postgres"} insert+commit`;
  for (const figure of ["p50", "p99"] as const) {
    const bar =
      backend === "embedded"
        ? figure === "p50"
          ? BARS.embeddedP50
          : BARS.embeddedP99
        : figure === "p99"
          ? BARS.scaledP99
          : undefined;
    run.report.headline({
      id: `pipeline.${backend}.${figure}`,
      part: "pipeline",
      what: `${short}: worker emit → viewer, worker channel @ ${LATENCY_RATE} ev/s, ${figure}`,
      ours: { series: get(named("channel", a)), figure },
      ...(b ? { other: { series: get(named("channel", b)), figure } } : {}),
      floor: {
        what: floorWhat,
        parts: [
          { series: get("echo"), figure },
          ...storeParts.map((name) => ({ series: get(name), figure })),
        ],
      },
      seed: {
        what: `seed: one HTTP POST per event @ ${LATENCY_RATE} ev/s`,
        ref: { series: get(named("seed-http", a)), figure },
      },
      ...(bar ? { bar } : {}),
    });
  }
  run.report.headline({
    id: `pipeline.${backend}.serial.p50`,
    part: "pipeline",
    what: `${short}: worker emit → viewer, one event at a time (no queue), p50`,
    ours: { series: get(named("serial", a)), figure: "p50" },
    ...(b ? { other: { series: get(named("serial", b)), figure: "p50" } } : {}),
    floor: {
      what: `one WS frame round trip + ${backend === "embedded" ? "SQLite" : "Postgres"} insert+commit`,
      parts: [
        { series: get("echo-serial"), figure: "p50" },
        ...storeParts.map((name) => ({ series: get(name), figure: "p50" })),
      ],
    },
  });
  const floorRows = [
    "echo",
    "echo-serial",
    ...storeParts,
    ...(backend === "scaled" ? ["postgres-async", "redis"] : []),
  ];
  const floorNames: Record<string, string> = {
    echo: `loopback WebSocket echo, ${SANDBOXES} sockets @ ${LATENCY_RATE} frames/s, channel-sized frames`,
    "echo-serial": "loopback WebSocket echo, one frame at a time",
    sqlite: "SQLite insert+commit (WAL, synchronous=NORMAL, like Omoi's store)",
    postgres: "Postgres single-row insert+commit",
    "postgres-async": "Postgres single-row insert+commit, synchronous_commit=off",
    redis: "Redis PUBLISH → subscriber receives",
  };
  const subjectRows: { name: string; series: Series | undefined }[] = [
    ...floorRows.map((name) => ({ name: `floor: ${floorNames[name]}`, series: get(name) })),
    ...run.targets.flatMap((target) => [
      { name: `Omoi ${target.label}: worker channel`, series: get(named("channel", target)) },
      {
        name: `Omoi ${target.label}: worker channel, one event at a time`,
        series: get(named("serial", target)),
      },
      {
        name: `Omoi ${target.label}: seed HTTP POST per event`,
        series: series.get(named("seed-http", target)),
      },
    ]),
  ];
  run.report.detail(
    `Event pipeline, ${backendLabel(backend)}`,
    [
      `${SANDBOXES} external sandboxes, each with its own worker-channel client (or seed HTTP producer) and one viewer (\`/ws/events?entity_ids=<sandbox>\`), ${LATENCY_RATE} events/s in total. Windows of ${run.options.seconds} s, each subject in turn, ${run.options.rounds} rounds after a warm-up window each; figures are medians over rounds. Latency is viewer receive − emit, both \`performance.now()\` in the benchmark process. Floors run in the same rounds. Server CPU per event (the server process's user + system time over the window ÷ events) depends little on how busy the machine is: it is the figure to compare across machines for the CPU-bound share of the path.`,
      "",
      "| subject | p50 ms | p95 ms | p99 ms | achieved ev/s | server CPU (share of a core) | server CPU µs per event | client loop delay p99 ms |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...subjectRows.flatMap(({ name, series: row }) => {
        if (!row) return [];
        const cpu = row.median("serverCpu");
        const rate = row.median("achievedRate");
        const delay = row.median("clientLoopDelayP99");
        const perEvent = row.median("cpuPerEvent");
        return `| ${name} | ${ms(row.median("p50"))} | ${ms(row.median("p95"))} | ${ms(row.median("p99"))} | ${Number.isFinite(rate) ? Math.round(rate) : ""} | ${Number.isFinite(cpu) ? `${Math.round(cpu * 100)}%` : ""} | ${Number.isFinite(perEvent) ? Math.round(perEvent) : ""} | ${Number.isFinite(delay) ? ms(delay) : ""} |`;
      }),
    ].join("\n"),
  );
}

function ingestHeadlines(run: PartRun, backend: Backend, series: Map<string, Series>) {
  const get = (name: string) => series.get(name)!;
  const [a, b] = run.targets;
  run.report.headline({
    id: `ingest.${backend}.channel`,
    part: "ingest",
    what: `${backendShort(backend)}: ingest, worker channel (batches of 50, 2 in flight per sandbox)`,
    unit: "events/s",
    ours: { series: get(named("ingest-channel", a)), figure: "rate" },
    ...(b ? { other: { series: get(named("ingest-channel", b)), figure: "rate" } } : {}),
    seed: {
      what: "seed: one HTTP POST per event, 4 in flight per sandbox",
      ref: { series: get(named("ingest-seed", a)), figure: "rate" },
    },
  });
  run.report.headline({
    id: `ingest.${backend}.http-batch`,
    part: "ingest",
    what: `${backendShort(backend)}: ingest, HTTP POST batches of 50`,
    unit: "events/s",
    ours: { series: get(named("ingest-http-batch", a)), figure: "rate" },
    ...(b ? { other: { series: get(named("ingest-http-batch", b)), figure: "rate" } } : {}),
  });
}
