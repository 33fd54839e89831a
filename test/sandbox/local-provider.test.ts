import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseWith } from "../../src/protocol/json.ts";
import { defaultWorkerCommand, LocalSandboxProvider } from "../../src/sandbox/local.ts";
import { isAlive, processTree } from "../../src/sandbox/process-tree.ts";
import type { WorkerLaunchSpec } from "../../src/sandbox/provider.ts";
import { WorkerConfig } from "../../src/sandbox/worker-config.ts";

function launchSpec(sandboxId: string): WorkerLaunchSpec {
  return {
    sandboxId,
    taskId: null,
    serverUrl: "http://127.0.0.1:18000",
    workerToken: "worker-token",
    prompt: "hello",
    model: null,
    maxTurns: null,
    maxBudgetUsd: null,
    limits: null,
    resumeSessionId: null,
    workspace: null,
    modelBaseUrl: "http://127.0.0.1:9",
    modelEnv: { ANTHROPIC_API_KEY: "real-key" },
  };
}

/** Resolves when `file` exists: waits on the folder's change events, not on a timer. */
async function fileAppears(file: string): Promise<void> {
  const watcher = watch(path.dirname(file));
  try {
    const appeared = new Promise<void>((resolve) =>
      watcher.on("change", () => existsSync(file) && resolve()),
    );
    if (existsSync(file)) return;
    await appeared;
  } finally {
    watcher.close();
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Waits until the tree of `pid` runs `count` processes whose command starts with `prefix`. */
async function treeRunning(pid: number, prefix: string, count: number): Promise<number[]> {
  for (;;) {
    const tree = processTree(pid);
    if (tree.filter((member) => commandLine(member).startsWith(prefix)).length >= count)
      return tree;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("LocalSandboxProvider", () => {
  let dataDir: string;

  before(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "omoi-local-"));
    process.env.DATABASE_URL = "postgres://never-in-a-worker";
  });
  after(() => {
    delete process.env.DATABASE_URL;
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("preflight passes on this machine", async () => {
    await new LocalSandboxProvider({ dataDir }).preflight();
  });

  test("the default worker command runs src/worker/main.ts through tsx", () => {
    const command = defaultWorkerCommand();
    assert.equal(command[0], process.execPath);
    assert.equal(command[1], "--import");
    assert.equal(command[3], fileURLToPath(new URL("../../src/worker/main.ts", import.meta.url)));
  });

  test("start hands the worker its config; stop kills the whole process tree", async () => {
    const provider = new LocalSandboxProvider({
      dataDir,
      workerCommand: [
        "bash",
        "-c",
        'printf %s "$OMOI_WORKER_CONFIG" > config.json; env > env.txt; sleep 1000 & sleep 1000 & setsid bash -c "sleep 1000 & wait" & echo started > started; wait',
      ],
    });
    const handle = await provider.start(launchSpec("tree-1"));
    const stateDir = path.join(dataDir, "sandbox-state", "tree-1");
    assert.equal(handle.workspace, path.join(dataDir, "workspaces", "tree-1"));
    assert.ok(existsSync(handle.workspace));
    await fileAppears(path.join(stateDir, "started"));
    assert.equal(await provider.status(handle), "running");

    const config = parseWith(
      WorkerConfig,
      readFileSync(path.join(stateDir, "config.json"), "utf8"),
    );
    assert.ok(config.ok, config.ok ? "" : config.error);
    assert.equal(config.value.workspace, handle.workspace);
    assert.equal(config.value.stateDir, stateDir);
    assert.deepEqual(config.value.denyRead, [dataDir]);
    assert.equal(config.value.workerToken, "worker-token");
    const env = readFileSync(path.join(stateDir, "env.txt"), "utf8");
    assert.doesNotMatch(env, /DATABASE_URL/);

    const tree = await treeRunning(handle.pid!, "sleep 1000", 3);
    await provider.stop(handle);
    assert.deepEqual(tree.filter(isAlive), []);
    assert.equal(await provider.status(handle), "exited");
    await provider.stop(handle); // stopping twice is harmless
  });

  test("stop kills an agent inside srt too (bubblewrap's new session and pid namespace)", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/confined-sleeper.ts", import.meta.url));
    const provider = new LocalSandboxProvider({
      dataDir,
      workerCommand: [process.execPath, "--import", import.meta.resolve("tsx"), fixture],
    });
    const handle = await provider.start(launchSpec("confined-1"));
    const stateDir = path.join(dataDir, "sandbox-state", "confined-1");
    await fileAppears(path.join(stateDir, "ready"));
    const tree = await treeRunning(handle.pid!, "sleep 1000", 2);
    const commands = tree.map(commandLine);
    assert.ok(
      commands.some((command) => /^(\S*\/)?bwrap /.test(command)),
      commands.join("\n"),
    );

    await provider.stop(handle);
    assert.deepEqual(tree.filter(isAlive), []);
    assert.equal(await provider.status(handle), "exited");
  });

  test("status of a handle without a pid is unknown", async () => {
    const provider = new LocalSandboxProvider({ dataDir });
    assert.equal(
      await provider.status({ sandboxId: "x", workspace: dataDir, pid: null }),
      "unknown",
    );
  });
});
