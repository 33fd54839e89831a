import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import pg from "pg";
import WebSocket from "ws";
import { startScriptedModel } from "../src/model/server.ts";
import { safeJsonParse } from "../src/protocol/json.ts";
import { confine } from "../src/sandbox/confine.ts";
import { PROJECT_ROOT } from "../test/helpers/omoi.ts";
import { benchEvent } from "./lib/channel-client.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { pace } from "./lib/pace.ts";
import type { Figures } from "./lib/rounds.ts";
import { createDatabase, REDIS_URL } from "./lib/server.ts";
import { summarize } from "./lib/stats.ts";

/*
 * Floors: the raw cost, on this machine at this moment, of what each Omoi path is made of.
 * Each is measured in short windows alternating with Omoi's own, so an Omoi figure can be
 * stated as a multiple of its floor from the same minute.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** p50/p95/p99 of a window's samples, as figures. */
export function latencyFigures(samples: readonly number[]): Figures {
  const summary = summarize(samples);
  return { p50: summary.p50, p95: summary.p95, p99: summary.p99, samples: summary.count };
}

/** The echo server as a child process; resolves with its ws:// URL. */
async function startEchoServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/lib/echo-server.ts"], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout?.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once("exit", (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  return { url: `ws://127.0.0.1:${port}`, stop: onCleanup(() => stopChild(child)) };
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Loopback WebSocket echo: `streams` sockets to an echo process, frames shaped like the
 * worker channel's `events` frame, sent at `rate` events/s on the same ~1 ms tick the
 * pipeline uses. Latency is send → echo back, per event.
 */
export async function openEchoFloor(streams: number) {
  const server = await startEchoServer();
  const sockets = await Promise.all(
    Array.from({ length: streams }, async () => {
      const socket = new WebSocket(server.url, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("error", reject);
      });
      return socket;
    }),
  );
  const pending = new Map<string, { at: number; count: number }>();
  let samples: number[] = [];
  for (const socket of sockets) {
    socket.on("message", (data) => {
      const at = performance.now();
      const frame = safeJsonParse(data.toString());
      if (!frame.ok) return;
      const sent = pending.get((frame.value as { batch_id: string }).batch_id);
      if (!sent) return;
      pending.delete((frame.value as { batch_id: string }).batch_id);
      for (let index = 0; index < sent.count; index++) samples.push(at - sent.at);
    });
  }
  const send = (stream: number, count: number) => {
    const batchId = randomUUID();
    const events = Array.from({ length: count }, () => benchEvent("latency 0000"));
    pending.set(batchId, { at: performance.now(), count });
    sockets[stream].send(JSON.stringify({ type: "events", batch_id: batchId, events }));
  };
  return {
    /** Open-loop at `rate` events/s for `seconds`. */
    async window(rate: number, seconds: number): Promise<Figures> {
      samples = [];
      await pace({ rate, seconds, streams: sockets.length, send });
      const deadline = performance.now() + 5000;
      while (pending.size > 0 && performance.now() < deadline) await sleep(2);
      return latencyFigures(samples);
    },
    /** One frame at a time, each waiting for its echo (the injection path's shape). */
    async serial(frames: number): Promise<Figures> {
      const times: number[] = [];
      for (let index = 0; index < frames; index++) {
        samples = [];
        send(0, 1);
        while (samples.length === 0) await new Promise((resolve) => setImmediate(resolve));
        times.push(samples[0]);
      }
      return latencyFigures(times);
    },
    async close() {
      for (const socket of sockets) socket.terminate();
      await server.stop();
    },
  };
}

const EVENT_TABLE =
  "CREATE TABLE IF NOT EXISTS floor_events (id TEXT PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL)";

/**
 * SQLite: one event-sized row inserted and committed per call, with the settings Omoi's
 * store uses (WAL, synchronous=NORMAL), in a temp dir on the same disk as its data dir.
 */
export function openSqliteFloor() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "omoi-bench-floor-"));
  const remove = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const database = new Database(path.join(dir, "floor.db"));
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.exec(EVENT_TABLE);
  const insert = database.prepare(
    "INSERT INTO floor_events (id, stream, seq, body) VALUES (?, ?, ?, ?)",
  );
  const body = JSON.stringify(benchEvent("latency 0000"));
  let seq = 0;
  return {
    async window(inserts: number): Promise<Figures> {
      const times: number[] = [];
      for (let index = 0; index < inserts; index++) {
        const start = performance.now();
        insert.run(randomUUID(), "sbx_floor", ++seq, body);
        times.push(performance.now() - start);
        // Give the loop a turn now and then, as a server would between events.
        if (index % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      return latencyFigures(times);
    },
    async close() {
      database.close();
      await remove();
    },
  };
}

/**
 * Postgres: one row inserted per statement in its own implicit transaction (insert and
 * commit, one round trip), on a throwaway database; once as configured and once with
 * `synchronous_commit=off` (the commit does not wait for the WAL fsync).
 */
export async function openPostgresFloor() {
  const database = await createDatabase();
  const connect = async (settings?: string) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    if (settings) await client.query(settings);
    return client;
  };
  const synchronous = await connect();
  await synchronous.query(EVENT_TABLE.replace("seq INTEGER", "seq BIGINT"));
  const asynchronous = await connect("SET synchronous_commit = off");
  const body = JSON.stringify(benchEvent("latency 0000"));
  let seq = 0;
  const run = async (client: pg.Client, inserts: number) => {
    const times: number[] = [];
    for (let index = 0; index < inserts; index++) {
      const start = performance.now();
      await client.query({
        name: "floor-insert",
        text: "INSERT INTO floor_events (id, stream, seq, body) VALUES ($1, $2, $3, $4)",
        values: [randomUUID(), "sbx_floor", ++seq, body],
      });
      times.push(performance.now() - start);
    }
    return latencyFigures(times);
  };
  return {
    window: (inserts: number) => run(synchronous, inserts),
    windowAsync: (inserts: number) => run(asynchronous, inserts),
    async close() {
      await synchronous.end();
      await asynchronous.end();
      await database.drop();
    },
  };
}

/** Redis: PUBLISH of an event-sized message → a subscriber connection receives it. */
export async function openRedisFloor() {
  const publisher = new Redis(REDIS_URL, { lazyConnect: true });
  const subscriber = new Redis(REDIS_URL, { lazyConnect: true });
  await publisher.connect();
  await subscriber.connect();
  const channel = `omoi-bench-floor:${randomUUID()}`;
  await subscriber.subscribe(channel);
  let arrived: (() => void) | undefined;
  subscriber.on("message", () => arrived?.());
  const text = JSON.stringify(benchEvent("latency 0000"));
  return {
    async window(publishes: number): Promise<Figures> {
      const times: number[] = [];
      for (let index = 0; index < publishes; index++) {
        const start = performance.now();
        const received = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        await publisher.publish(channel, text);
        await received;
        times.push(performance.now() - start);
      }
      return latencyFigures(times);
    },
    async close() {
      await subscriber.quit();
      await publisher.quit();
    },
  };
}

/** A Node process: spawn → exit of `node -e 0`. */
export async function nodeSpawnOnce(): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return performance.now() - start;
}

/** The Claude Code CLI binary the Agent SDK runs (its platform package). */
function claudeCodeBinary(): string {
  const require = createRequire(path.join(PROJECT_ROOT, "package.json"));
  const platform = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`;
  return path.join(path.dirname(require.resolve(`${platform}/package.json`)), "claude");
}

const CLI_ARGS = ["-p", "hi", "--output-format", "stream-json", "--verbose"];

interface CliProcess {
  stdout: NodeJS.ReadableStream;
  once(event: "exit", listener: (code: number | null) => void): unknown;
  kill(signal: NodeJS.Signals): unknown;
}

/** ms from `start` until the CLI's stream-json output holds `system/init`; then kills it. */
async function timeToInit(start: number, child: CliProcess): Promise<number> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      let buffer = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (text: string) => {
        buffer += text;
        if (/"type":"system","subtype":"init"/.test(buffer)) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`the CLI exited (${code}) before system/init: ${buffer.slice(0, 300)}`)),
      );
    });
    return performance.now() - start;
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * The Claude Code CLI from spawn to `system/init` with a trivial prompt against the scripted
 * model: bare (the binary, its own config dir) and inside the local provider's sandbox
 * wrapper (srt, through the same spawner the worker hands the SDK).
 */
export async function openCliFloor() {
  const model = await startScriptedModel({ port: 0, host: "127.0.0.1" });
  const stopModel = onCleanup(() => model.close());
  const root = mkdtempSync(path.join(os.tmpdir(), "omoi-bench-cli-"));
  const removeRoot = onCleanup(() => rmSync(root, { recursive: true, force: true }));
  const binary = claudeCodeBinary();
  const workspace = path.join(root, "workspace");
  const stateDir = path.join(root, "state");
  mkdirSync(workspace, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const confinement = await confine({
    sandboxId: "bench-floor",
    workspace,
    stateDir,
    modelBaseUrl: model.url,
    modelEnv: { ANTHROPIC_API_KEY: "bench-not-a-key" },
    denyRead: [],
    onStderr: () => undefined,
  });
  const disposeConfinement = onCleanup(() => confinement.dispose());
  const bareHome = path.join(root, "bare-home");
  mkdirSync(bareHome, { recursive: true });
  const bareEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: bareHome,
    CLAUDE_CONFIG_DIR: path.join(bareHome, ".claude"),
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: "bench-not-a-key",
    IS_SANDBOX: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  };
  return {
    async bare(): Promise<number> {
      const start = performance.now();
      const child = spawn(binary, CLI_ARGS, {
        cwd: workspace,
        env: bareEnv,
        stdio: ["ignore", "pipe", "ignore"],
      });
      return timeToInit(start, child);
    },
    async sandboxed(): Promise<number> {
      const start = performance.now();
      const child = confinement.spawnClaudeCodeProcess({
        command: binary,
        args: CLI_ARGS,
        cwd: workspace,
        env: confinement.env,
        signal: new AbortController().signal,
      });
      child.stdin.end();
      return timeToInit(start, child);
    },
    async close() {
      await disposeConfinement();
      await stopModel();
      await removeRoot();
    },
  };
}
