import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isAlive } from "../../src/sandbox/process-tree.ts";
import { type Config, loadConfig } from "../../src/server/config.ts";
import { type RunningOmoi, startOmoi } from "../../src/server/main.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const TEST_DATABASE_URL =
  process.env.OMOI_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const TEST_REDIS_URL = process.env.OMOI_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function tempDir(prefix = "omoi-test-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestOmoi extends RunningOmoi {
  dataDir: string;
  config: Config;
  stop(): Promise<void>;
}

/** An in-process Omoi on a random port with its own data dir, removed on stop. */
export async function startTestOmoi(env: Record<string, string> = {}): Promise<TestOmoi> {
  const data = tempDir();
  const config = loadConfig({
    OMOI_PORT: "0",
    OMOI_DATA_DIR: data.dir,
    OMOI_LOG_LEVEL: "warn",
    OMOI_IDLE_WINDOW_MS: "60000",
    ...env,
  });
  const omoi = await startOmoi(config);
  return {
    ...omoi,
    dataDir: data.dir,
    config,
    stop: async () => {
      await omoi.close();
      data.remove();
    },
  };
}

export interface OmoiProcess {
  url: string;
  port: number;
  child: ChildProcess;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Everything a spawned Omoi prints from now on (stdout and stderr), read when called. */
export function collectOutput(omoi: OmoiProcess): () => string {
  let output = "";
  for (const stream of [omoi.child.stdout, omoi.child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
  }
  return () => output;
}

/** Omoi as a separate process (for kill -9 and replicas). Resolves once it listens. */
export async function spawnOmoi(env: Record<string, string>): Promise<OmoiProcess> {
  const child = spawn(process.execPath, ["bin/omoi.js", "serve"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, OMOI_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/"msg":"Server listening at (http:\/\/[^"]+)"/);
      if (match) {
        child.stderr?.off("data", onData);
        resolve(match[1]);
      }
    };
    child.stderr?.on("data", onData);
    child.stdout?.resume();
    child.once("exit", (code) =>
      reject(new Error(`omoi exited with ${code} before listening:\n${output.slice(-3000)}`)),
    );
  });
  child.stderr?.resume();
  return {
    url,
    port: Number(new URL(url).port),
    child,
    kill9: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function api<T = unknown>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  // Even without a body: Omoi refuses a POST a web page could send (see docs/security.md).
  if (body !== undefined || method === "POST") headers["content-type"] = "application/json";
  const response = await fetch(`${base}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * Whether a process still runs. A killed child of this test process stays a zombie until
 * Node reaps it, and signal 0 would still reach it; /proc tells the two apart.
 */
export const pidAlive = (pid: number): boolean => isAlive(pid);
