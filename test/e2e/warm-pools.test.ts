import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startScriptedModel } from "../../src/model/server.ts";
import type { Environment } from "../../src/protocol/environment.ts";
import type { EventFrame } from "../../src/protocol/event.ts";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import {
  api,
  pidAlive,
  spawnOmoi,
  startTestOmoi,
  type TestOmoi,
  tempDir,
} from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { assertNoProcesses, processesOf } from "../orchestrator/helpers.ts";

/*
 * Warm pools with the real sandbox and the real SDK against the scripted model: sandboxes set
 * up and started before any task, claimed once each, refilled, drained when their
 * environment changes.
 */

let omoi: TestOmoi;
/** Every pool and sandbox event of the server, from the start. */
let watcher: TestViewer;

before(async () => {
  // Pools read the environments again only when a change is heard of (or after an hour): so
  // every pool below fills, drains and refills because the server heard of the change.
  omoi = await startTestOmoi({ OMOI_WARM_POOL_REFRESH_MS: String(60 * 60_000) });
  watcher = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?event_types=environment.pool_ready,environment.setup_started,environment.setup_finished,sandbox.created,sandbox.terminated,sandbox.failed`,
  );
  await watcher.opened;
});
after(async () => {
  watcher.close();
  await omoi.stop();
});

const poolReady = () =>
  watcher.events.filter((event) => event.event_type === "environment.pool_ready");
const ended = (sandboxId: string) =>
  watcher.events.some(
    (event) =>
      event.entity_id === sandboxId &&
      (event.event_type === "sandbox.terminated" || event.event_type === "sandbox.failed"),
  );
/** Pool sandboxes ready and not ended, of one environment. */
const readyOf = (environment: string) =>
  poolReady()
    .filter((event) => event.payload.environment === environment && !ended(event.entity_id))
    .map((event) => event.entity_id);

async function waitReady(environment: string, count: number, excluding: string[] = []) {
  await watcher.waitFor(
    () => readyOf(environment).filter((id) => !excluding.includes(id)).length >= count,
    `${count} ready pool sandboxes of ${environment}`,
    120_000,
  );
  return readyOf(environment).filter((id) => !excluding.includes(id));
}

async function createEnvironment(body: Record<string, unknown>) {
  const created = await api<Environment>(omoi.url, "POST", "/api/v1/environments", body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

async function startTask(environment: string, command: string) {
  const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
    prompt: `[scenario:shell] ${command}`,
    environment,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

async function finish(taskId: string) {
  const viewer = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${taskId}&since=0`,
  );
  try {
    await viewer.waitFor(
      () =>
        viewer.events.some(
          (event) => event.event_type === "task.completed" || event.event_type === "task.failed",
        ),
      "the task's end",
      120_000,
    );
    const task = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${taskId}`)).body;
    return { task, events: [...viewer.events] };
  } finally {
    viewer.close();
  }
}

const output = (events: EventFrame[]) =>
  String(events.find((event) => event.event_type === "agent.tool_result")?.payload.output);
const assigned = (events: EventFrame[]) =>
  events.find((event) => event.event_type === "task.assigned")?.payload;
const setupStarts = (sandboxId: string) =>
  watcher.events.filter(
    (event) => event.event_type === "environment.setup_started" && event.entity_id === sandboxId,
  );

describe("warm pools", () => {
  test("warm_pool edited on a running server is honoured at once: raised, the pool fills; lowered, it drains", async () => {
    // Made without a pool, after the server's pools had read the (empty) list of environments.
    const environment = await createEnvironment({ name: "resized", setup_script: "echo ok" });
    assert.equal(environment.warm_pool, 0);
    const raised = await api<Environment>(omoi.url, "PATCH", "/api/v1/environments/resized", {
      warm_pool: 1,
    });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.warm_pool, 1);
    const [pooled] = await waitReady("resized", 1);
    const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${pooled}`)).body;
    assert.ok(sandbox.worker_pid && pidAlive(sandbox.worker_pid), "the pool sandbox runs");

    const lowered = await api<Environment>(omoi.url, "PATCH", "/api/v1/environments/resized", {
      warm_pool: 0,
    });
    assert.equal(lowered.status, 200, JSON.stringify(lowered.body));
    await watcher.waitFor(() => ended(pooled), "the pool sandbox ended", 30_000);
    assertNoProcesses(sandbox);
    const deleted = await api(omoi.url, "DELETE", "/api/v1/environments/resized");
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(readyOf("resized"), [], "no pool sandbox of it is left");
  });

  test("a task starts from a pooled sandbox without running setup again; nothing of it reaches the next one; the pool refills", async () => {
    await createEnvironment({
      name: "warm",
      setup_script: 'echo ran >> "$HOME/setup-runs"\necho prepared > prepared.txt',
      warm_pool: 1,
    });
    const [first] = await waitReady("warm", 1);
    assert.equal(setupStarts(first).length, 1, "setup ran once, before any task");

    const taskId = await startTask(
      "warm",
      'cat prepared.txt; echo "runs=$(wc -l < "$HOME/setup-runs")"; echo left-by-first > leak.txt',
    );
    const one = await finish(taskId);
    assert.equal(one.task.status, "completed", one.task.error ?? "");
    assert.equal(one.task.sandbox_id, first, "the task got the pooled sandbox");
    assert.equal(assigned(one.events)?.warm, true, "task.assigned says it started warm");
    // The task's view shows its sandbox's setup, done in the pool before the claim.
    const claimedAt = one.events.findIndex((event) => event.event_type === "task.assigned");
    assert.ok(
      !one.events
        .slice(claimedAt)
        .some((event) => event.event_type.startsWith("environment.setup")),
      "no setup ran for the task",
    );
    assert.equal(setupStarts(first).length, 1, "the pooled sandbox did not set up again");
    assert.match(output(one.events), /prepared/);
    assert.match(output(one.events), /runs=1/);
    const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${first}`)).body;
    assert.equal(sandbox.task_id, taskId);

    // The pool refills with a new sandbox, and a sandbox is used once: the next task gets
    // the fresh one, where nothing the first task did is found.
    const [second] = await waitReady("warm", 1, [first]);
    assert.notEqual(second, first);
    const nextId = await startTask("warm", "ls; cat leak.txt 2>&1 || echo no-leak");
    const two = await finish(nextId);
    assert.equal(two.task.status, "completed", two.task.error ?? "");
    assert.equal(two.task.sandbox_id, second);
    assert.equal(assigned(two.events)?.warm, true);
    assert.match(output(two.events), /no-leak/);
    assert.doesNotMatch(output(two.events), /left-by-first/);
  });

  test("a task created while the pool's sandbox is still being set up takes it, and begins once it is ready", async () => {
    await createEnvironment({
      name: "slow-setup",
      setup_script: "sleep 3\necho made-by-setup > made.txt",
      warm_pool: 1,
    });
    const pooledCreated = () =>
      watcher.events.find(
        (event) =>
          event.event_type === "sandbox.created" && event.payload.warm_pool === "slow-setup",
      );
    await watcher.waitFor(() => pooledCreated() !== undefined, "the pool's sandbox", 30_000);
    const pooled = pooledCreated()?.entity_id ?? "";
    assert.equal(readyOf("slow-setup").length, 0, "not ready yet");
    const run = await finish(await startTask("slow-setup", "cat made.txt"));
    assert.equal(run.task.status, "completed", run.task.error ?? "");
    assert.equal(run.task.sandbox_id, pooled, "the task took the sandbox being prepared");
    assert.equal(assigned(run.events)?.warm, true);
    assert.match(output(run.events), /made-by-setup/, "it began after setup, not before");
  });

  test("two tasks created at once claim different pooled sandboxes", async () => {
    await createEnvironment({ name: "pair", setup_script: "echo ok > ready.txt", warm_pool: 2 });
    const ready = await waitReady("pair", 2);
    const ids = await Promise.all([
      startTask("pair", "cat ready.txt"),
      startTask("pair", "cat ready.txt"),
    ]);
    const [a, b] = await Promise.all(ids.map(finish));
    assert.equal(a.task.status, "completed", a.task.error ?? "");
    assert.equal(b.task.status, "completed", b.task.error ?? "");
    assert.notEqual(a.task.sandbox_id, b.task.sandbox_id, "each task got its own sandbox");
    assert.ok(ready.includes(a.task.sandbox_id ?? ""), "the first came from the pool");
    assert.ok(ready.includes(b.task.sandbox_id ?? ""), "the second came from the pool");
    assert.equal(assigned(a.events)?.warm, true);
    assert.equal(assigned(b.events)?.warm, true);
  });

  test("a changed environment drains its pool; deleting it ends the pool's sandboxes, processes and all", async () => {
    const environment = await createEnvironment({
      name: "drained",
      setup_script: "echo v1 > version.txt",
      warm_pool: 1,
    });
    const [old] = await waitReady("drained", 1);
    const patched = await api(omoi.url, "PATCH", `/api/v1/environments/${environment.id}`, {
      setup_script: "echo v2 > version.txt",
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await watcher.waitFor(() => ended(old), "the old pool sandbox ended", 30_000);
    const [fresh] = await waitReady("drained", 1, [old]);

    const taskId = await startTask("drained", "cat version.txt");
    const run = await finish(taskId);
    assert.equal(run.task.status, "completed", run.task.error ?? "");
    assert.equal(run.task.sandbox_id, fresh);
    assert.match(output(run.events), /v2/, "the task runs on the new version");

    const [pooled] = await waitReady("drained", 1, [old, fresh]);
    const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${pooled}`)).body;
    assert.ok(sandbox.worker_pid && pidAlive(sandbox.worker_pid), "the pool sandbox runs");
    assert.equal(sandbox.task_id, null, "a pool sandbox has no task");
    const deleted = await api(omoi.url, "DELETE", `/api/v1/environments/${environment.id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    await watcher.waitFor(() => ended(pooled), "the pool sandbox ended", 30_000);
    const after = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${pooled}`)).body;
    assert.equal(after.status, "terminated");
    assertNoProcesses(sandbox);
    const tasks = (await api<{ tasks: Task[] }>(omoi.url, "GET", "/api/v1/tasks?limit=500")).body;
    assert.ok(
      !tasks.tasks.some((task) => task.sandbox_id === pooled),
      "pool sandboxes are not tasks",
    );
  });

  test("bad warm_pool values are a 400 naming the field, and nothing is stored", async () => {
    for (const warm_pool of [-1, 5, 1.5, "2", true]) {
      const created = await api<{ error?: { message?: string } }>(
        omoi.url,
        "POST",
        "/api/v1/environments",
        { name: "bad-pool", warm_pool },
      );
      assert.equal(created.status, 400, `${JSON.stringify(warm_pool)}: ${created.status}`);
      assert.match(JSON.stringify(created.body), /warm_pool/);
    }
    const missing = await api(omoi.url, "GET", "/api/v1/environments/bad-pool");
    assert.equal(missing.status, 404);

    const environment = await createEnvironment({ name: "sized" });
    assert.equal(environment.warm_pool, 0, "no pool unless asked");
    const patched = await api(omoi.url, "PATCH", "/api/v1/environments/sized", { warm_pool: 9 });
    assert.equal(patched.status, 400);
    assert.match(JSON.stringify(patched.body), /warm_pool/);
    const cleared = await api<Environment>(omoi.url, "PATCH", "/api/v1/environments/sized", {
      warm_pool: null,
    });
    assert.equal(cleared.status, 200);
    assert.equal(cleared.body.warm_pool, 0);
  });
});

describe("warm pools across a restart", () => {
  const data = tempDir("omoi-warm-restart-");
  after(() => data.remove());

  test("after kill -9 of the server, the restarted one ends the pool sandboxes it finds and refills; a stop ends them", async () => {
    // The model lives outside the server, as it would in production.
    const model = await startScriptedModel({ port: 0 });
    const env = {
      OMOI_DATA_DIR: data.dir,
      OMOI_PORT: "0",
      ANTHROPIC_BASE_URL: model.url,
    };
    let server = await spawnOmoi(env);
    // Live from the moment the server listens: a pool sandbox takes seconds to get ready.
    const watch = async (url: string) => {
      const viewer = new TestViewer(
        `${url.replace("http", "ws")}/ws/events?event_types=environment.pool_ready`,
      );
      await viewer.opened;
      return viewer;
    };
    const readyOn = async (viewer: TestViewer, url: string) => {
      try {
        await viewer.waitFor(() => viewer.events.length > 0, "a ready pool sandbox", 120_000);
        const id = viewer.events[0].entity_id;
        return (await api<Sandbox>(url, "GET", `/api/v1/sandboxes/${id}`)).body;
      } finally {
        viewer.close();
      }
    };
    const firstViewer = await watch(server.url);
    try {
      const created = await api(server.url, "POST", "/api/v1/environments", {
        name: "survives",
        setup_script: "echo ok > ready.txt",
        warm_pool: 1,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const before = await readyOn(firstViewer, server.url);
      assert.ok(before.worker_pid && pidAlive(before.worker_pid));

      await server.kill9();
      assert.ok(pidAlive(before.worker_pid), "workers outlive a crashed server");
      server = await spawnOmoi({ ...env, OMOI_PORT: String(server.port) });
      const after = await readyOn(await watch(server.url), server.url);
      assert.notEqual(after.id, before.id);
      const ended = (await api<Sandbox>(server.url, "GET", `/api/v1/sandboxes/${before.id}`)).body;
      assert.equal(ended.status, "terminated");
      assertNoProcesses(before);
      assert.ok(processesOf(after.id).length > 0, "the pool refilled");

      await server.stop();
      assertNoProcesses(after);
    } finally {
      await server.stop();
      await model.close();
    }
  });
});
