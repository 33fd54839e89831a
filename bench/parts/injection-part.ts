import { openEchoFloor, openPostgresFloor, openSqliteFloor } from "../floors.ts";
import { openInjectionProbe, openSeedPollProbe } from "../injection.ts";
import { watchMachine } from "../lib/machine.ts";
import { alternate, latencyTable, type Series, type Subject } from "../lib/rounds.ts";
import { type BenchServer, startServer } from "../lib/server.ts";
import { backendLabel, backendShort, named, type PartRun } from "./run-context.ts";

/** p99 ≤ 10 ms; as a ratio, 10 ms over the floor on an idle machine (about 0.5 ms embedded, 3.5 ms with Postgres). */
const BARS = { embedded: { absolute: 10, ratio: 20 }, scaled: { absolute: 10, ratio: 3 } };
/** The prototype's worker polled for messages this often. */
const SEED_POLL_MS = 500;

/**
 * POST /messages → the `message` frame on a connected worker channel, beside its floor (one
 * WebSocket frame's round trip plus the store's insert and commit) and beside the prototype's
 * delivery (a worker polling GET /messages every 500 ms).
 */
export async function injectionPart(run: PartRun) {
  const messages = run.options.quick ? 15 : 30;
  for (const backend of run.options.backends) {
    console.log(`\nmessage injection, ${backendLabel(backend)}`);
    const machine = watchMachine(`injection ${backend}`);
    const servers: BenchServer[] = [];
    const closers: (() => unknown)[] = [];
    try {
      for (const target of run.targets)
        servers.push(await startServer(backend, { root: target.root }));
      const echo = await openEchoFloor(1);
      closers.push(() => echo.close());
      const subjects: Subject[] = [{ name: "echo", window: () => echo.serial(messages) }];
      if (backend === "embedded") {
        const sqlite = openSqliteFloor();
        closers.push(() => sqlite.close());
        subjects.push({ name: "store", window: () => sqlite.window(messages) });
      } else {
        const postgres = await openPostgresFloor();
        closers.push(() => postgres.close());
        subjects.push({ name: "store", window: () => postgres.window(messages) });
      }
      for (const [index, target] of run.targets.entries()) {
        const probe = await openInjectionProbe(servers[index]);
        closers.push(() => probe.close());
        subjects.push({ name: named("injection", target), window: () => probe.window(messages) });
        // The prototype's way is measured beside this checkout only (A/B compares ours).
        if (index > 0) continue;
        const seed = await openSeedPollProbe(servers[index], {
          sandboxes: 10,
          intervalMs: SEED_POLL_MS,
        });
        closers.push(() => seed.close());
        subjects.push({ name: named("seed-poll", target), window: () => seed.window() });
      }
      const series = await alternate(subjects, { rounds: run.options.rounds });
      const get = (name: string) => series.get(name)!;
      const [a, b] = run.targets;
      const store = backend === "embedded" ? "SQLite" : "Postgres";
      for (const figure of ["p50", "p99"] as const) {
        run.report.headline({
          id: `injection.${backend}.${figure}`,
          part: "injection",
          what: `${backendShort(backend)}: POST /messages → worker channel \`message\` frame, ${figure}`,
          ours: { series: get(named("injection", a)), figure },
          ...(b ? { other: { series: get(named("injection", b)), figure } } : {}),
          floor: {
            what: `one WS frame round trip + ${store} insert+commit`,
            parts: [
              { series: get("echo"), figure },
              { series: get("store"), figure },
            ],
          },
          seed: {
            what: `seed: worker polls GET /messages every ${SEED_POLL_MS} ms`,
            ref: { series: get(named("seed-poll", a)), figure },
          },
          ...(figure === "p99" ? { bar: BARS[backend] } : {}),
        });
      }
      const rows = [
        { name: "floor: one WS frame round trip (echo process)", series: get("echo") },
        { name: `floor: ${store} insert+commit`, series: get("store") },
        ...run.targets.flatMap((target) => [
          {
            name: `Omoi ${target.label}: POST → \`message\` frame`,
            series: get(named("injection", target)),
          },
          {
            name: `Omoi ${target.label}: seed poll every ${SEED_POLL_MS} ms`,
            series: series.get(named("seed-poll", target)),
          },
        ]),
      ].filter((row): row is { name: string; series: Series } => row.series !== undefined);
      run.report.detail(
        `Message injection, ${backendLabel(backend)}`,
        [
          `${messages} messages per window, one at a time, to an external sandbox whose worker (the benchmark's channel client) is connected; timed from sending the POST to the pushed frame arriving. The seed's way: 10 sandboxes without a channel, each polled by a worker every ${SEED_POLL_MS} ms at staggered phases; one message to each per window at a random moment, timed to the poll that returns it. ${run.options.rounds} rounds; medians over rounds.`,
          "",
          ...latencyTable(rows),
        ].join("\n"),
      );
    } finally {
      for (const close of closers.reverse()) await close();
      for (const server of servers) await server.stop();
      run.report.context(machine.end());
    }
  }
}
