import { FINDINGS } from "../findings.ts";
import type { PartContext } from "./machine.ts";
import type { RunRecord } from "./records.ts";
import { type Headline, machine, type Report, valueText } from "./report.ts";
import { ratiosAgree, ratioText, ratioVerdict } from "./stats.ts";

export interface RunInfo {
  date: Date;
  seconds: number;
  commit: string;
  parts: readonly string[];
  backends: readonly string[];
  rounds: number;
  windowSeconds: number;
  cpuLoad: number;
  databaseUrl: string;
  redisUrl: string;
}

const escapeCell = (text: string) => text.replaceAll("|", "\\|");

function barText(headline: Headline): string {
  const bar = headline.bar;
  if (!bar) return "";
  if (bar.text) return bar.text;
  const sign = bar.higherIsBetter ? "≥" : "≤";
  const absolute =
    bar.absolute !== undefined ? `${sign} ${valueText(bar.absolute, headline.unit)}` : "";
  return bar.ratio !== undefined ? `${absolute}; ${sign} ${bar.ratio}× floor` : absolute;
}

function verdictText(headline: Headline): string {
  const marks = [headline.verdict, headline.ratioVerdict ? `${headline.ratioVerdict} (ratio)` : ""];
  return marks
    .filter(Boolean)
    .map((mark) => `**${mark}**`)
    .join(" / ");
}

function contextsTable(contexts: PartContext[]): string[] {
  const load = (values: number[]) => values.map((value) => value.toFixed(1)).join("/");
  const percent = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : "–");
  return [
    "| part | load 1/5/15 min, start → end | CPU busy (all processes) | steal | calibration loop ms | seconds |",
    "| --- | --- | --- | --- | --- | --- |",
    ...contexts.map(
      (context) =>
        `| ${context.part} | ${load(context.loadStart)} → ${load(context.loadEnd)} | ${percent(context.busy)} | ${percent(context.steal)} | ${context.calibrationMs.toFixed(1)} | ${Math.round(context.seconds)} |`,
    ),
  ];
}

function resultsTable(headlines: Headline[]): string[] {
  return [
    "| part | what | Omoi | floor (same rounds) | Omoi ÷ floor [95% CI] | the prototype's way | prototype ÷ Omoi [95% CI] | bar | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...headlines.map((headline) => {
      const floor = headline.floor;
      const seed = headline.seed;
      return `| ${headline.part} | ${escapeCell(headline.what)} | ${valueText(headline.value, headline.unit)} | ${floor ? `${escapeCell(floor.what)}: ${valueText(floor.value, "ms")}` : ""} | ${floor ? ratioText(floor.ratio) : ""} | ${seed ? `${escapeCell(seed.what)}: ${valueText(seed.value, headline.unit)}` : ""} | ${seed ? ratioText(seed.ratio) : ""} | ${escapeCell(barText(headline))} | ${verdictText(headline)} |`;
    }),
  ];
}

/** The same code at different machine loads: absolute figures beside floor ratios. */
function loadComparison(records: RunRecord[]): string[] {
  const loads = records.filter((record) => !record.against);
  if (loads.length < 2) return [];
  const [first, second] = loads.slice(-2);
  const byId = new Map(second.headlines.map((headline) => [headline.id, headline]));
  const rows = first.headlines
    .filter((headline) => headline.floor && byId.get(headline.id)?.floor)
    .map((headline) => {
      const other = byId.get(headline.id)!;
      const agree = ratiosAgree(headline.floor!.ratio, other.floor!.ratio);
      const change = other.value / headline.value;
      return `| ${escapeCell(headline.what)} | ${valueText(headline.value, headline.unit)} | ${valueText(other.value, other.unit)} | ${change.toFixed(2)}× | ${ratioText(headline.floor!.ratio)} | ${ratioText(other.floor!.ratio)} | ${agree ? "yes" : "**no**"} |`;
    });
  const describe = (record: RunRecord) =>
    `\`${record.name}\` (${record.date}, ${record.cpuLoad ? `${record.cpuLoad} busy-loop processes started by the run` : "no added load"}; calibration loop ${record.contexts.map((context) => context.calibrationMs.toFixed(0)).join("/")} ms, CPU busy ${record.contexts.map((context) => `${Math.round(context.busy * 100)}%`).join("/")} by part)`;
  return [
    "### The same code at two machine loads",
    "",
    `Run A: ${describe(first)}. Run B: ${describe(second)}. Both on commit ${first.commit}${second.commit !== first.commit ? ` and ${second.commit}` : ""}, parts ${first.parts.join(", ")}, ${first.rounds} rounds. The absolute figures move with the load; each figure's ratio to its floor from the same rounds should not, and "agree" says whether the two 95% intervals overlap.`,
    "",
    "| figure | A | B | B ÷ A | A: ÷ floor | B: ÷ floor | ratios agree |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ];
}

function abSection(record: RunRecord): string[] {
  const against = record.against!;
  const rows = record.headlines
    .filter((headline) => headline.against)
    .map((headline) => {
      const ratio = headline.against!.ratio;
      const verdict = ratioVerdict(ratio);
      const said =
        verdict === "no difference" || verdict === "unknown"
          ? verdict
          : `**${headline.unit === "ms" ? (verdict === "higher" ? "slower" : "faster") : verdict === "higher" ? "more" : "less"}**`;
      return `| ${escapeCell(headline.what)} | ${valueText(headline.value, headline.unit)} | ${valueText(headline.against!.value, headline.unit)} | ${ratioText(ratio)} | ${said} |`;
    });
  return [
    `### A/B: \`${record.name}\` — this checkout (A) against \`${against.ref}\` (B)`,
    "",
    `${record.date}; A is ${record.commit}, B is ${against.commit.slice(0, 12)} (“${escapeCell(against.subject)}”). Parts ${record.parts.join(", ")}; A and B alternate window by window, ${record.rounds} rounds. A difference is reported only when the 95% interval of B ÷ A leaves out 1; with many figures, about one in twenty does so by chance.`,
    "",
    "| figure | A | B | B ÷ A [95% CI] | verdict |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ];
}

/** docs/benchmarks.md from one run and the kept records. */
export function markdown(report: Report, run: RunInfo, records: RunRecord[]): string {
  const database = new URL(run.databaseUrl);
  database.password = "";
  const abRecords = records.filter((record) => record.against);
  return [
    "# Omoi benchmarks",
    "",
    "Generated by `npm run bench` (bench/run.ts); do not edit by hand — rerun it. Speed is",
    "measured here, never in tests. Bars are DESIGN §9.",
    "",
    "Our machines are shared, noisy and unlike one another, so an absolute figure from one run",
    "says little. Every Omoi figure here is measured **beside its floor** — the raw cost, on this",
    "machine in the same minute, of what the path is made of (a loopback WebSocket echo at the",
    "same rate and frame size, the store's own insert and commit, a process spawn, the Claude",
    "Code CLI reaching `system/init`) — and beside **the prototype's protocol** driven at the same",
    "rate. The subjects take turns in short windows (floor, Omoi, prototype, floor, Omoi, …), and",
    "each ratio is taken round by round, so a busy minute slows both sides of it alike. Bars are",
    "stated both ways: the absolute target and the same target as a multiple of the floor.",
    "",
    "**To judge a speed change, run an A/B** (`npm run bench -- --quick --against main`): the other",
    "version is built in a temporary git worktree and the two alternate window by window over the",
    "same parts; each figure is reported for both with the ratio B ÷ A and its 95% interval. A",
    "change is real when the interval leaves out 1; compare absolute figures across runs only with",
    "their floors.",
    "",
    `- **Date**: ${run.date.toISOString().replace(/\.\d+Z$/, "Z")} on commit ${run.commit} (the whole run took ${Math.round(run.seconds)} s)`,
    `- **Machine**: ${machine()}${run.cpuLoad ? `; ${run.cpuLoad} busy-loop processes added by the run` : ""}`,
    `- **Rounds**: ${run.rounds} per part after a warm-up window each; latency windows of ${run.windowSeconds} s. Figures are medians over rounds; intervals are 95% paired t intervals on the log of the per-round ratios.`,
    "- **Server**: a real `omoi serve` child process (what `npm start` runs), so the benchmark's",
    "  clients and the server do not share an event loop; loopback only; `OMOI_LOG_LEVEL=info`.",
    "  `OMOI_RUN_AGENTS=0` for the pipeline parts. Dirty pages are flushed (`sync`) before each server starts.",
    "- **Embedded**: SQLite in a fresh temp data dir, in-process bus.",
    `- **Scaled**: Postgres (a throwaway database created and dropped on ${database.host}) and Redis (${escapeCell(run.redisUrl)}, a channel of its own per run).`,
    `- **Parts**: ${run.parts.join(", ")}; backends ${run.backends.join(", ")}.`,
    "",
    "The machine while each part ran (CPU busy and steal from /proc/stat over the part; the",
    "calibration loop is a fixed piece of CPU work timed at the part's start — twice the time means",
    "half the CPU):",
    "",
    ...contextsTable(report.contexts),
    "",
    "## Results",
    "",
    ...resultsTable(report.headlines),
    "",
    ...(report.rows.length
      ? [
          "| part | what | result | bar | verdict |",
          "| --- | --- | --- | --- | --- |",
          ...report.rows.map(
            (row) =>
              `| ${row.part} | ${escapeCell(row.what)} | ${escapeCell(row.result)} | ${escapeCell(row.bar)} | ${row.verdict ? `**${row.verdict}**` : ""} |`,
          ),
          "",
        ]
      : []),
    FINDINGS,
    "",
    "## Details",
    "",
    ...report.details.flatMap((detail) => [`### ${detail.title}`, "", detail.body, ""]),
    "## Recorded comparisons",
    "",
    "Runs kept with `--record NAME` (bench/records/), shown beside the run above.",
    "",
    ...loadComparison(records),
    ...abRecords.flatMap(abSection),
    "## How to reproduce",
    "",
    "```sh",
    "npm run bench                                  # every part, writes this file (about 8 minutes)",
    "npm run bench -- --quick                       # pipeline, injection, startup; fewer, shorter rounds; prints only",
    "npm run bench -- --parts pipeline,startup      # chosen parts: pipeline injection startup approvals repo fanout concurrency long-session environments",
    "npm run bench -- --quick --against main        # A/B: this checkout against another git ref",
    "npm run bench -- --quick --cpu-load 2 --record load-busy   # the same under added CPU load, kept",
    "npm run bench -- --backend embedded --rounds 10 --seconds 3",
    "npm run bench -- environments --setup-seconds 5   # a shorter setup: the snapshot's cost does not depend on it",
    "```",
    "",
    "Postgres and Redis must be reachable: `OMOI_TEST_DATABASE_URL` (default",
    "`postgres://postgres@127.0.0.1:5432/test`; the benchmark creates and drops its own database",
    "on that server) and `OMOI_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). The agent",
    "parts need the local sandbox (`npm run setup`). Every server, database, worktree and temp",
    "dir the run creates is removed at the end, also on Ctrl-C.",
    "",
    "How each figure is taken:",
    "",
    "- **Latency** is open-loop: events fall due at a steady rate and go out on a ~1 ms tick, each",
    "  stamped with `performance.now()` when sent; viewers stamp arrival on the same clock in",
    "  the same process. The WebSocket floor sends frames of the same shape on the same tick.",
    "- **Ingest** is closed-loop: each sandbox keeps a fixed number of requests in flight and",
    "  counts events the server acknowledged as stored.",
    "- **Ratios** are taken round by round between subjects measured in the same round, then",
    "  summarized as a geometric mean with a 95% paired t interval on their logarithms",
    "  (bench/lib/stats.ts, unit-tested in test/bench/stats.test.ts).",
    "- **A/B** (`--against REF`) checks REF out in a temporary git worktree, reuses this",
    "  checkout's node_modules as hard links when the lock file is the same (else `npm ci`) and",
    "  its built web app when `web/` is the same (else builds it), starts one server per version",
    "  and alternates them window by window (A B A B …) over the same parts.",
    "- **A part** is a function of the run (`(run: PartRun) => Promise<void>`, bench/parts/)",
    "  registered in `PARTS` in bench/run.ts; it adds headlines (figures with floors and bars)",
    "  or plain rows, and details.",
    "- **Agent parts** use the real SDK and Claude Code CLI against the scripted model, in the",
    "  local provider's sandbox, with `OMOI_IDLE_WINDOW_MS=0` so finished sandboxes close.",
    "",
  ].join("\n");
}
