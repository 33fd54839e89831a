import { type TaskWatch, watchTask } from "../agents.ts";
import { watchMachine } from "../lib/machine.ts";
import { alternate, Series, type Subject } from "../lib/rounds.ts";
import { type BenchServer, startServer } from "../lib/server.ts";
import { ms, summarize } from "../lib/stats.ts";
import {
  type BigRepository,
  discardPreparedCheckouts,
  openRepoFloors,
  registerRepository,
  serveBigRepository,
  waitForPreparedCheckouts,
} from "../repo.ts";
import { named, type PartRun } from "./run-context.ts";
import { AGENT_ENV } from "./startup-part.ts";

/** DESIGN §9: at most 0.5 s more than an empty workspace (p50); a push p50 ≤ 1 s. */
const START_BAR = { absolute: 500 };
const PUSH_BAR = { absolute: 1000 };
const REPOSITORY = "big";

/** One task to its end; throws when it never started or its push never came. */
async function runTask(server: BenchServer, prompt: string, extra: Record<string, unknown> = {}) {
  const watch = await watchTask(server, prompt, 180_000, extra);
  await watch.done;
  watch.viewer.close();
  if (watch.startedAt === undefined) {
    throw new Error(`a benchmark task never reported agent.started (${watch.outcome})`);
  }
  return watch;
}

/** Moments of a repository task (ms epoch; one machine, one clock). */
function repoMarks(watch: TaskWatch) {
  const at = (type: string) => watch.stamps.get(type) ?? Number.NaN;
  const turnEnded = at("agent.turn_completed");
  return {
    start: watch.startedAt! - watch.createdAt,
    committed: at("repo.committed") - turnEnded,
    changes: at("repo.changes") - turnEnded,
    pushed: at("repo.pushed") - turnEnded,
  };
}

/**
 * A task on a registered repository of about 10,000 files and 200 MB (served on loopback
 * smart HTTP, its mirror fetched by the warm-up task) against a task on an empty workspace,
 * one of each per round: task created → `agent.started`, and on the repository end of turn →
 * `repo.pushed` for the scenario's change of two files (one committed by the agent, one left
 * for Omoi to commit). Floors: a `git checkout` of the whole tree, and a push of one small
 * commit over the same loopback HTTP. This checkout only.
 */
export async function repoPart(run: PartRun) {
  console.log("\nrepository tasks, embedded, local provider, real SDK + scripted model + real git");
  const machine = watchMachine("repo");
  let repo: BigRepository | undefined;
  let server: BenchServer | undefined;
  let floors: Awaited<ReturnType<typeof openRepoFloors>> | undefined;
  try {
    repo = await serveBigRepository();
    console.log(
      `  built the repository: ${repo.files} files, ${(repo.bytes / 1e6).toFixed(0)} MB, in ${(repo.builtMs / 1000).toFixed(1)} s`,
    );
    server = await startServer("embedded", { env: AGENT_ENV });
    await registerRepository(server, repo, REPOSITORY);
    floors = await openRepoFloors(repo);
    const [target] = run.targets;
    const opened = { server, floors };
    const repoRuns: ReturnType<typeof repoMarks>[] = [];
    const clones: number[] = [];
    let task = 0;
    const subjects: Subject[] = [
      { name: "checkout", window: async () => ({ ms: await opened.floors.checkout() }) },
      { name: "push-floor", window: async () => ({ ms: await opened.floors.push() }) },
      {
        name: named("empty", target),
        window: async () => {
          const watch = await runTask(opened.server, `[scenario:quick] hi (${task++})`);
          return { ms: watch.startedAt! - watch.createdAt };
        },
      },
      {
        name: named("repo", target),
        window: async () => {
          const watch = await runTask(opened.server, `[scenario:repo-edit] edit (${task++})`, {
            repo: REPOSITORY,
          });
          const marks = repoMarks(watch);
          if (Number.isNaN(marks.pushed)) {
            throw new Error(`the repository task ended without repo.pushed (${watch.outcome})`);
          }
          repoRuns.push(marks);
          clones.push(
            (watch.stamps.get("repo.cloned") ?? Number.NaN) -
              (watch.stamps.get("sandbox.starting") ?? Number.NaN),
          );
          // The server prepares the next checkout in the background; nothing measured shares
          // the machine with that work.
          await waitForPreparedCheckouts(opened.server.dataDir);
          return { ms: marks.start, push: marks.pushed };
        },
      },
      {
        // The first task on a repository (or one right behind another) has no prepared
        // checkout and clones: shown beside the bar, not under it.
        name: named("repo-cold", target),
        window: async () => {
          await discardPreparedCheckouts(opened.server.dataDir);
          const watch = await runTask(opened.server, `[scenario:repo-edit] edit (${task++})`, {
            repo: REPOSITORY,
          });
          await waitForPreparedCheckouts(opened.server.dataDir);
          return { ms: watch.startedAt! - watch.createdAt };
        },
      },
    ];
    // One task per round is few samples; take a few more rounds than the other parts.
    const rounds = Math.max(run.options.rounds, 3);
    const series = await alternate(subjects, { rounds });
    // The warm-up task fetched the mirror; it is not part of the figures.
    repoRuns.shift();
    clones.shift();
    const get = (name: string) => series.get(name)!;
    const empty = get(named("empty", target));
    const onRepo = get(named("repo", target));
    // The extra cost of the repository, round by round (the two tasks shared that minute).
    const extra = new Series("repo-extra");
    onRepo.rounds.forEach((round, index) => {
      extra.rounds.push({ ms: (round.ms ?? Number.NaN) - (empty.rounds[index]?.ms ?? Number.NaN) });
    });
    run.report.headline({
      id: "repo.start.extra.p50",
      part: "repo",
      what: `task created → \`agent.started\` on a ${repo.files}-file ${(repo.bytes / 1e6).toFixed(0)} MB registered repository (its next checkout prepared ahead), minus the same on an empty workspace (same round), p50`,
      ours: { series: extra, figure: "ms" },
      floor: {
        what: "`git checkout` of the whole tree into an empty folder",
        parts: [{ series: get("checkout"), figure: "ms" }],
      },
      bar: START_BAR,
    });
    run.report.headline({
      id: "repo.push.p50",
      part: "repo",
      what: "end of turn → `repo.pushed`, a change of two files on that repository, loopback smart HTTP, p50",
      ours: { series: onRepo, figure: "push" },
      floor: {
        what: "`git push` of one small commit over the same loopback HTTP",
        parts: [{ series: get("push-floor"), figure: "ms" }],
      },
      bar: PUSH_BAR,
    });
    const line = (what: string, values: number[]) => {
      const summary = summarize(values.filter((value) => !Number.isNaN(value)));
      return `| ${what} | ${ms(summary.p50)} | ${ms(summary.p95)} |`;
    };
    run.report.detail(
      "Tasks on a large repository",
      [
        `A bare repository of ${repo.files} generated source-like files, ${(repo.bytes / 1e6).toFixed(0)} MB (one commit; built with \`git fast-import\` in ${(repo.builtMs / 1000).toFixed(1)} s), served by \`git http-backend\` behind basic authentication on loopback and registered with its credential. Per round, alternating with the floors: one task on it (\`repo-edit\`: the agent commits one new file and leaves another for Omoi to commit) that takes the checkout the server prepared after the previous one, one task on an empty workspace (\`quick\`), and one task on it with the prepared checkout removed first (it clones, as the first task on a repository does); ${rounds} rounds after a warm-up each (the warm-up task fetches the mirror). Each repository task waits for the server to finish preparing the next checkout before the next window, so no figure shares the machine with that background work. p50 / p95 over rounds:`,
        "",
        "| what | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        line("task created → agent.started, empty workspace", empty.values("ms")),
        line(
          "task created → agent.started, on the repository (its checkout prepared ahead)",
          onRepo.values("ms"),
        ),
        line("the difference, same round", extra.values("ms")),
        line(
          "task created → agent.started, on the repository with no prepared checkout (it clones)",
          get(named("repo-cold", target)).values("ms"),
        ),
        line("floor: `git checkout` of the whole tree", get("checkout").values("ms")),
        line("`sandbox.starting` → `repo.cloned` (mirror fetch + workspace clone)", clones),
        line(
          "end of turn → `repo.committed` (Omoi commits what was left)",
          repoRuns.map((marks) => marks.committed),
        ),
        line(
          "end of turn → `repo.changes`",
          repoRuns.map((marks) => marks.changes),
        ),
        line(
          "end of turn → `repo.pushed`",
          repoRuns.map((marks) => marks.pushed),
        ),
        line("floor: `git push` of one small commit", get("push-floor").values("ms")),
        "",
        "End of turn is `agent.turn_completed`'s `emitted_at` (the worker's clock); the `repo.*` moments are their `stored_at` (the server's); one machine, one clock, 1 ms resolution.",
      ].join("\n"),
    );
  } finally {
    await floors?.close();
    await server?.stop();
    await repo?.close();
    run.report.context(machine.end());
  }
}
