import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { safeJsonParse } from "../../src/protocol/json.ts";
import { workerToken } from "../../src/server/worker-token.ts";
import { PROJECT_ROOT, TEST_DATABASE_URL, TEST_REDIS_URL } from "../../test/helpers/omoi.ts";
import { onCleanup } from "./cleanup.ts";

/** `embedded`: SQLite + in-process bus. `scaled`: Postgres + Redis. */
export type Backend = "embedded" | "scaled";

export const ADMIN_DATABASE_URL = TEST_DATABASE_URL;
export const REDIS_URL = TEST_REDIS_URL;

export interface BenchServer {
  backend: Backend;
  url: string;
  ws: string;
  pid: number;
  token(sandboxId: string): string;
  /** The server's data dir (worker logs are under `sandbox-state/<id>/worker.log`). */
  dataDir: string;
  /** Start-up moments the server logged, per sandbox: name → ms epoch (server clock). */
  serverMarks: Map<string, Map<string, number>>;
  stop(): Promise<void>;
}

/** Server log messages that mark a sandbox's start-up, and the name the benchmark gives them. */
const SERVER_MARKS: Record<string, string> = {
  "local sandbox: worker started": "worker_spawned",
  "worker connected": "channel_connected",
};

/** Picks start-up marks out of the server's JSON log lines (first of each per sandbox). */
function watchLog(line: string, marks: Map<string, Map<string, number>>) {
  if (!line.includes('"worker connected"') && !line.includes('"local sandbox: worker started"'))
    return;
  const parsed = safeJsonParse(line);
  if (!parsed.ok || typeof parsed.value !== "object" || parsed.value === null) return;
  const entry = parsed.value as Record<string, unknown>;
  const sandbox = entry.sandbox_id ?? entry.sandboxId;
  const mark = typeof entry.msg === "string" ? SERVER_MARKS[entry.msg] : undefined;
  if (typeof sandbox !== "string" || typeof entry.time !== "number" || !mark) return;
  const seen = marks.get(sandbox) ?? new Map<string, number>();
  marks.set(sandbox, seen);
  if (!seen.has(mark)) seen.set(mark, entry.time);
}

/** Creates a throwaway Postgres database; the returned URL points at it. */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `omoi_bench_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const drop = onCleanup(async () => {
    const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  return { url: url.toString(), drop };
}

/** `omoi serve` as a child process (what `npm start` runs); resolves once it listens. */
async function spawnServer(
  root: string,
  env: Record<string, string>,
  nodeArgs: string[],
  onLogLine: (line: string) => void,
) {
  const child = spawn(process.execPath, [...nodeArgs, "bin/omoi.js", "serve"], {
    cwd: root,
    env: { ...process.env, OMOI_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      const match = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(output);
      if (!match) return;
      child.stderr?.off("data", onData);
      let partial = "";
      child.stderr?.on("data", (more: Buffer) => {
        const lines = (partial + more.toString()).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) onLogLine(line);
      });
      resolve(match[1]);
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`omoi exited with ${code} before listening:\n${output.slice(-3000)}`)),
    );
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };
  return { url, pid: child.pid ?? 0, stop };
}

/**
 * Omoi as its own process (so the benchmark's clients and the server do not share an event
 * loop), with a temp data dir, a known secret and, for `scaled`, a fresh database.
 */
export async function startServer(
  backend: Backend,
  options: {
    env?: Record<string, string>;
    nodeArgs?: string[];
    dataRoot?: string;
    /** The checkout whose `omoi serve` runs (default: this one); see bench/against.ts. */
    root?: string;
    /** Postgres run-time settings for the server's connections (libpq `options`). */
    databaseOptions?: string;
  } = {},
): Promise<BenchServer> {
  // What an earlier part wrote is flushed to disk first, so its writeback does not land on
  // this part's fsyncs; each part pays only for its own writes.
  execFileSync("sync");
  const dataDir = mkdtempSync(path.join(options.dataRoot ?? os.tmpdir(), "omoi-bench-"));
  const removeData = onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  let dropDatabase: (() => Promise<void>) | undefined;
  // Blank values count as unset, so an embedded run ignores a DATABASE_URL in the shell.
  const backendEnv: Record<string, string> = { DATABASE_URL: "", REDIS_URL: "" };
  if (backend === "scaled") {
    const database = await createDatabase();
    dropDatabase = database.drop;
    const url = new URL(database.url);
    if (options.databaseOptions) url.searchParams.set("options", options.databaseOptions);
    backendEnv.DATABASE_URL = url.toString();
    backendEnv.REDIS_URL = REDIS_URL;
    // Its own channel, so nothing else on this Redis hears the benchmark's events.
    backendEnv.OMOI_REDIS_CHANNEL = `omoi:bench:${path.basename(dataDir)}`;
  }
  const secret = randomBytes(24).toString("hex");
  const serverMarks = new Map<string, Map<string, number>>();
  const omoi = await spawnServer(
    options.root ?? PROJECT_ROOT,
    {
      OMOI_PORT: "0",
      OMOI_HOST: "127.0.0.1",
      OMOI_DATA_DIR: dataDir,
      OMOI_SECRET: secret,
      OMOI_RUN_AGENTS: "0",
      ...backendEnv,
      ...options.env,
    },
    options.nodeArgs ?? [],
    (line) => watchLog(line, serverMarks),
  );
  const stopProcess = onCleanup(() => omoi.stop());
  return {
    backend,
    url: omoi.url,
    ws: omoi.url.replace(/^http/, "ws"),
    pid: omoi.pid,
    token: (sandboxId) => workerToken(secret, sandboxId),
    dataDir,
    serverMarks,
    stop: async () => {
      await stopProcess();
      await dropDatabase?.();
      await removeData();
    },
  };
}

/** Resident memory of a process and all its descendants, in MiB (Linux /proc). */
export function treeRssMiB(rootPid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const parent = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const resident = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const pid = Number(entry);
      rss.set(pid, resident);
      children.set(parent, [...(children.get(parent) ?? []), pid]);
    } catch {
      // The process ended while we read.
    }
  }
  let total = 0;
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    total += rss.get(pid) ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return total / 1024;
}

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
