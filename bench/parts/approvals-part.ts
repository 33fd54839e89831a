import { openApprovalChannelProbe, openSdkApprovalProbe } from "../approvals.ts";
import { openEchoFloor, openSqliteFloor } from "../floors.ts";
import { watchMachine } from "../lib/machine.ts";
import { alternate, latencyTable, type Series, type Subject } from "../lib/rounds.ts";
import { type BenchServer, startServer } from "../lib/server.ts";
import { named, type PartRun } from "./run-context.ts";
import { AGENT_ENV } from "./startup-part.ts";

/** p99 ≤ 10 ms (DESIGN §9); as a ratio, 10 ms over the floor on an idle machine (about 0.5 ms). */
const BAR = { absolute: 10, ratio: 20 };

/**
 * A person's answer POSTed → the SDK's `canUseTool` promise resolved in the worker, on the
 * embedded defaults, with the real SDK and CLI in a local sandbox; beside it the server's half
 * alone (POST → the `answer` frame on a worker channel) and the floor the injection part uses
 * (one WebSocket frame's round trip plus one SQLite insert and commit). This checkout only.
 */
export async function approvalsPart(run: PartRun) {
  const answers = run.options.quick ? 5 : 10;
  console.log("\napproval answers, embedded, local provider, real SDK + scripted model");
  const machine = watchMachine("approvals");
  const closers: (() => unknown)[] = [];
  let server: BenchServer | undefined;
  try {
    // A sandbox that stays open between turns, so every answer meets the same live session.
    server = await startServer("embedded", {
      env: { ...AGENT_ENV, OMOI_IDLE_WINDOW_MS: "1800000" },
    });
    const [target] = run.targets;
    const echo = await openEchoFloor(1);
    closers.push(() => echo.close());
    const sqlite = openSqliteFloor();
    closers.push(() => sqlite.close());
    const channel = await openApprovalChannelProbe(server);
    closers.push(() => channel.close());
    const sdk = await openSdkApprovalProbe(server);
    closers.push(() => sdk.close());
    const subjects: Subject[] = [
      { name: "echo", window: () => echo.serial(answers) },
      { name: "store", window: () => sqlite.window(answers) },
      { name: named("channel", target), window: () => channel.window(answers) },
      { name: named("sdk", target), window: () => sdk.window(answers) },
    ];
    const series = await alternate(subjects, { rounds: run.options.rounds });
    const get = (name: string) => series.get(name)!;
    for (const figure of ["p50", "p99"] as const) {
      run.report.headline({
        id: `approvals.sdk.${figure}`,
        part: "approvals",
        what: `embedded: answer POSTed → the SDK's \`canUseTool\` resolved (real SDK), ${figure}`,
        ours: { series: get(named("sdk", target)), figure },
        floor: {
          what: "one WS frame round trip + SQLite insert+commit",
          parts: [
            { series: get("echo"), figure },
            { series: get("store"), figure },
          ],
        },
        ...(figure === "p99" ? { bar: BAR } : {}),
      });
    }
    const rows: { name: string; series: Series }[] = [
      { name: "floor: one WS frame round trip (echo process)", series: get("echo") },
      { name: "floor: SQLite insert+commit", series: get("store") },
      {
        name: "Omoi: POST → `answer` frame on a worker channel (the server's half)",
        series: get(named("channel", target)),
      },
      {
        name: "Omoi: POST → `canUseTool` resolved in the worker (real SDK)",
        series: get(named("sdk", target)),
      },
    ];
    run.report.detail(
      "Approval answers",
      [
        `${answers} answers per window, one at a time. The real path: a task in \`default\` mode runs the \`permission\` scenario with the real SDK and CLI in a local sandbox; each sample is a follow-up message that makes the agent run a command it must ask for, and the answer \`{decision: "allow"}\` is timed from sending its POST to the worker's \`canUseTool\` promise resolving (the worker logs \`resolved_at\` there, ms epoch with sub-ms resolution; one machine, one clock). The server's half: the same POST on an external sandbox whose worker is the benchmark's channel client, timed to the pushed \`answer\` frame. ${run.options.rounds} rounds; medians over rounds.`,
        "",
        ...latencyTable(rows),
      ].join("\n"),
    );
  } finally {
    for (const close of closers.reverse()) await close();
    await server?.stop();
    run.report.context(machine.end());
  }
}
