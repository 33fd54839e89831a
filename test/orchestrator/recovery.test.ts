import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startScriptedModel } from "../../src/model/server.ts";
import { isAlive } from "../../src/sandbox/process-tree.ts";
import {
  type OmoiProcess,
  spawnOmoi,
  startTestOmoi,
  type TestOmoi,
  tempDir,
} from "../helpers/omoi.ts";
import {
  assertNoProcesses,
  createTask,
  getTask,
  Lifecycle,
  listSandboxes,
  listTasks,
  processesOf,
  settled,
} from "./helpers.ts";

const SLOW = "[scenario:slow-tool] run the slow step";

describe("liveness: a worker that dies or goes silent", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "2" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("kill -9 of the worker: the run fails, its processes are gone, the retry completes", async () => {
    const task = await createTask(omoi.url, { prompt: SLOW, max_retries: 1 });
    await events.next(task.id, "task.started");
    const first = (await getTask(omoi.url, task.id)).sandbox!;
    assert.ok(first.worker_pid);
    process.kill(first.worker_pid, "SIGKILL");

    const failed = await events.next(task.id, "task.failed", 30_000);
    assert.equal(failed.payload.will_retry, true);
    assert.equal(failed.sandbox_id, first.id);
    await events.viewer.waitForEvent("sandbox.failed", (event) => event.sandbox_id === first.id);
    const dead = (await listSandboxes(omoi.url, `task_id=${task.id}`)).find(
      (sandbox) => sandbox.id === first.id,
    )!;
    assert.equal(dead.status, "failed");
    assert.match(dead.error ?? "", /worker/);
    assertNoProcesses(first);

    await events.next(task.id, "task.completed");
    const row = await getTask(omoi.url, task.id);
    assert.equal(row.status, "completed");
    assert.equal(row.attempts, 2);
    assert.notEqual(row.sandbox_id, first.id, "the retry ran in a new sandbox");
  });

  test("a worker whose heartbeats stop (SIGSTOP) is declared dead and killed", async () => {
    const task = await createTask(omoi.url, { prompt: SLOW });
    await events.next(task.id, "task.started");
    const sandbox = (await getTask(omoi.url, task.id)).sandbox!;
    assert.ok(sandbox.worker_pid);
    // Frozen, not exited: only the missing heartbeats can tell.
    process.kill(sandbox.worker_pid, "SIGSTOP");
    const failed = await events.next(task.id, "task.failed", 45_000);
    assert.match(String(failed.payload.error), /no heartbeat/);
    assert.equal(failed.payload.will_retry, false);
    const row = await getTask(omoi.url, task.id);
    assert.equal(row.status, "failed");
    assert.equal(row.sandbox?.status, "failed");
    assertNoProcesses(sandbox);
  });
});

describe("restart: kill -9 of the server mid-run", () => {
  const data = tempDir("omoi-restart-");
  let model: Awaited<ReturnType<typeof startScriptedModel>>;
  let server: OmoiProcess | undefined;
  let env: Record<string, string>;

  before(async () => {
    // The model lives outside the server, so a run can go on while the server is down.
    model = await startScriptedModel({ port: 0, pace: { firstTokenMs: 50, tokensPerSecond: 400 } });
    env = {
      OMOI_DATA_DIR: data.dir,
      OMOI_PORT: "0",
      OMOI_MAX_SANDBOXES: "2",
      ANTHROPIC_BASE_URL: model.url,
      OMOI_IDLE_WINDOW_MS: "60000",
    };
  });
  after(async () => {
    await server?.stop();
    await model.close();
    data.remove();
  });

  test("every run is re-attached and finished, or closed out failed; nothing claims to run", async () => {
    server = await spawnOmoi(env);
    let events = await new Lifecycle(server.url).open();
    const survivor = await createTask(server.url, { prompt: SLOW, title: "survivor" });
    const orphan = await createTask(server.url, { prompt: SLOW, title: "orphan" });
    await events.next(survivor.id, "task.started");
    await events.next(orphan.id, "task.started");
    const survivorSandbox = (await getTask(server.url, survivor.id)).sandbox!;
    const orphanSandbox = (await getTask(server.url, orphan.id)).sandbox!;
    events.close();

    await server.kill9();
    // While the server is down, one worker dies too; the other keeps working.
    process.kill(orphanSandbox.worker_pid!, "SIGKILL");
    assert.ok(isAlive(survivorSandbox.worker_pid!), "workers outlive the server");

    server = await spawnOmoi({ ...env, OMOI_PORT: String(server.port) });
    events = await new Lifecycle(server.url).open();
    try {
      // Closed out at start-up: its worker was gone.
      const closed = await settled(events, orphan.id, "failed");
      assert.equal(closed.status, "failed");
      assert.match(closed.error ?? "", /restart/);
      assert.equal(closed.sandbox?.status, "failed");
      assertNoProcesses(orphanSandbox);

      // Re-attached: the worker reconnects, the run finishes and is recorded.
      const finished = await settled(events, survivor.id, "completed");
      assert.equal(finished.status, "completed");
      assert.equal(finished.sandbox_id, survivorSandbox.id, "the same sandbox finished the run");
      assert.match(finished.result ?? "", /\S/);
      assert.equal(finished.sandbox?.status, "idle");
      assert.ok(isAlive(survivorSandbox.worker_pid!), "the open sandbox's worker still runs");

      const claiming = await listTasks(server.url, "status=assigned,running,pending");
      assert.equal(claiming.total, 0, "no task claims to run");
      for (const sandbox of await listSandboxes(server.url)) {
        if (sandbox.status === "idle") assert.ok(processesOf(sandbox.id).length > 0);
        else assert.ok(["completed", "failed", "terminated"].includes(sandbox.status));
      }
    } finally {
      events.close();
      await server.stop();
      server = undefined;
    }
    // A graceful stop ends what the server runs.
    assertNoProcesses(survivorSandbox);
  });
});

describe("a server that never comes back", () => {
  const data = tempDir("omoi-orphan-");
  after(() => data.remove());

  test("its worker stops the agent and exits after the orphan timeout", async () => {
    const server = await spawnOmoi({
      OMOI_DATA_DIR: data.dir,
      OMOI_PORT: "0",
      OMOI_WORKER_ORPHAN_TIMEOUT_MS: "2000",
    });
    let sandbox: Awaited<ReturnType<typeof getTask>>["sandbox"];
    try {
      const events = await new Lifecycle(server.url).open();
      const task = await createTask(server.url, { prompt: SLOW, title: "orphaned" });
      await events.next(task.id, "task.started");
      events.close();
      sandbox = (await getTask(server.url, task.id)).sandbox!;
    } finally {
      await server.kill9();
    }
    assert.ok(isAlive(sandbox.worker_pid!), "the worker outlives its server at first");
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && processesOf(sandbox.id).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assertNoProcesses(sandbox);
  });
});
