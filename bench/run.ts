import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "../test/helpers/omoi.ts";
import { checkOut } from "./against.ts";
import { cleanupAll, onCleanup } from "./lib/cleanup.ts";
import { closeConnections } from "./lib/http.ts";
import { markdown } from "./lib/markdown.ts";
import { loadRecords, saveRecord } from "./lib/records.ts";
import { machine, Report } from "./lib/report.ts";
import { ADMIN_DATABASE_URL, type Backend, REDIS_URL } from "./lib/server.ts";
import { longSessionPart } from "./long-session.ts";
import { approvalsPart } from "./parts/approvals-part.ts";
import { environmentsPart } from "./parts/environments-part.ts";
import { concurrencyPart, fanOutPart } from "./parts/fleet-part.ts";
import { injectionPart } from "./parts/injection-part.ts";
import { pipelinePart } from "./parts/pipeline-part.ts";
import { repoPart } from "./parts/repo-part.ts";
import type { PartRun, RunOptions, Target } from "./parts/run-context.ts";
import { startupPart } from "./parts/startup-part.ts";

/*
 * `npm run bench` runs every part and writes docs/benchmarks.md. See that file's last
 * section for the flags; `--help` prints them.
 */
const PARTS = {
  pipeline: pipelinePart,
  injection: injectionPart,
  startup: startupPart,
  approvals: approvalsPart,
  repo: repoPart,
  fanout: fanOutPart,
  concurrency: concurrencyPart,
  "long-session": longSessionPart,
  environments: environmentsPart,
} as const;
type Part = keyof typeof PARTS;
/** Parts that compare versions (the others run on this checkout only). */
const AB_PARTS: Part[] = ["pipeline", "injection", "startup"];

const USAGE = `usage: npm run bench -- [options] [part …]
  parts: ${Object.keys(PARTS).join(", ")} (default: all; with --quick or --against: ${AB_PARTS.join(", ")})
  --parts a,b          the same as naming parts
  --quick              fewer and shorter rounds (about 3 minutes)
  --against REF        A/B: also run the git ref REF, alternating with this checkout
  --backend NAME       embedded or scaled (default both)
  --rounds N           measured rounds per part (default 6; quick 4)
  --seconds N          latency window length (default 2; quick 1)
  --concurrency N      tasks at once in the concurrency part (default 20)
  --setup-seconds N    how long the environments part's setup script runs (default 30)
  --cpu-load N         start N busy-loop processes for the run (to show floors at work)
  --record NAME        keep this run's figures in bench/records/NAME.json
  --write              write docs/benchmarks.md (default for a full run)`;

function options(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      parts: { type: "string" },
      quick: { type: "boolean" },
      against: { type: "string" },
      backend: { type: "string" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      concurrency: { type: "string" },
      "setup-seconds": { type: "string" },
      "cpu-load": { type: "string" },
      record: { type: "string" },
      write: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const named = [...positionals, ...(values.parts?.split(",") ?? [])].filter(Boolean);
  for (const part of named) {
    if (!(part in PARTS)) throw new Error(`unknown part '${part}'\n${USAGE}`);
  }
  const quick = values.quick ?? false;
  const against = values.against;
  const parts = (named.length ? named : quick || against ? AB_PARTS : Object.keys(PARTS)) as Part[];
  if (values.backend && values.backend !== "embedded" && values.backend !== "scaled")
    throw new Error("--backend is embedded or scaled");
  const number = (key: string, value: string | undefined, fallback: number, max: number) => {
    const parsed = Number(value ?? fallback);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > max)
      throw new Error(`--${key} must be an integer from 0 to ${max}`);
    return parsed;
  };
  if (values.record !== undefined && !/^[a-z0-9][a-z0-9-]{0,60}$/.test(values.record))
    throw new Error("--record takes a short name: lower-case letters, digits and dashes");
  const run: RunOptions = {
    quick,
    rounds: Math.max(2, number("rounds", values.rounds, quick ? 4 : 6, 50)),
    seconds: Math.max(1, number("seconds", values.seconds, quick ? 1 : 2, 60)),
    backends: (values.backend ? [values.backend] : ["embedded", "scaled"]) as Backend[],
    concurrency: Math.max(1, number("concurrency", values.concurrency, 20, 200)),
    setupSeconds: number("setup-seconds", values["setup-seconds"], 30, 600),
  };
  return {
    run,
    parts,
    against,
    full: named.length === 0 && !quick && !against,
    write: values.write ?? false,
    record: values.record,
    cpuLoad: number("cpu-load", values["cpu-load"], 0, 16),
  };
}

/** Busy-loop processes, stopped at the end of the run (by their own pids). */
function startCpuLoad(count: number) {
  for (let index = 0; index < count; index++) {
    const child = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
    onCleanup(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
  }
}

function currentCommit(): string {
  const commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  }).trim();
  // Kept records are the benchmark's own output, not a change to the code under test.
  const dirty = execFileSync(
    "git",
    ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/records"],
    {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    },
  ).trim();
  return dirty ? `${commit} (with uncommitted changes)` : commit;
}

async function main() {
  const settings = options(process.argv.slice(2));
  const report = new Report();
  const started = new Date();
  const commit = currentCommit();
  const targets: Target[] = [{ name: "A", label: "this checkout", root: PROJECT_ROOT }];
  // The browser part measures the web app as this checkout builds it, never a stale build
  // (an A/B's other side copies this build when its web app is the same).
  if (settings.parts.includes("long-session")) {
    execFileSync("npm", ["run", "build:web", "--silent"], { cwd: PROJECT_ROOT, stdio: "inherit" });
  }
  const other = settings.against ? checkOut(settings.against) : undefined;
  if (other) {
    targets[0].label = `A (${commit.slice(0, 12)})`;
    targets.push({ name: "B", label: `B (${other.ref})`, root: other.root });
  }
  startCpuLoad(settings.cpuLoad);
  console.log(`omoi bench: ${settings.parts.join(", ")} on ${machine()}`);
  const run: PartRun = { report, targets, options: settings.run };
  for (const part of settings.parts) await PARTS[part](run);
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(`\n(${seconds.toFixed(0)} s)`);
  if (settings.record) {
    const file = saveRecord({
      name: settings.record,
      date: started.toISOString().replace(/\.\d+Z$/, "Z"),
      machine: machine(),
      commit,
      cpuLoad: settings.cpuLoad,
      parts: settings.parts,
      rounds: settings.run.rounds,
      ...(other
        ? { against: { ref: other.ref, commit: other.commit, subject: other.subject } }
        : {}),
      contexts: report.contexts,
      headlines: report.headlines,
    });
    console.log(`kept as ${path.relative(PROJECT_ROOT, file)}`);
  }
  if (settings.full || settings.write) {
    const file = path.join(PROJECT_ROOT, "docs", "benchmarks.md");
    writeFileSync(
      file,
      markdown(
        report,
        {
          date: started,
          seconds,
          commit,
          parts: settings.parts,
          backends: settings.run.backends,
          rounds: settings.run.rounds,
          windowSeconds: settings.run.seconds,
          cpuLoad: settings.cpuLoad,
          databaseUrl: ADMIN_DATABASE_URL,
          redisUrl: REDIS_URL,
        },
        loadRecords(),
      ),
    );
    console.log("wrote docs/benchmarks.md");
  } else {
    // What the docs would hold beside the headlines, so a part can be studied on its own.
    for (const { title, body } of report.details) console.log(`\n## ${title}\n\n${body}`);
    console.log("\ndocs/benchmarks.md not written (a partial run; add --write to write it)");
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
