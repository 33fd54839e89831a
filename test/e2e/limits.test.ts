import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { EventFrame } from "../../src/protocol/event.ts";
import type { SandboxLimits, Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runTaskToCompletion } from "../helpers/tasks.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * Every sandbox is bounded in processes, memory (RAM-backed tmpfs included) and disk. The
 * agent runs as root inside its sandbox here, so RLIMIT_NPROC would bind nothing: the
 * bound must come from the kernel's cgroup (or the watchdog), and passing it ends the run
 * with an event that names the limit.
 */

let omoi: TestOmoi;
before(async () => {
  omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "2" });
});
after(async () => omoi.stop());

const MB = 1024 * 1024;

async function runUntilLimit(command: string, limits: SandboxLimits) {
  const created = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
    prompt: `[scenario:shell] ${command}`,
    limits,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.limits, limits, "the task keeps the limits it was given");
  const viewer = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0`,
  );
  await viewer.waitForEvent("agent.limit_exceeded", undefined, 120_000);
  await viewer.waitForEvent("task.failed", undefined, 60_000);
  viewer.close();
  const exceeded = viewer.events.find(
    (event: EventFrame) => event.event_type === "agent.limit_exceeded",
  )!;
  const task = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${created.body.id}`)).body;
  return { exceeded: exceeded.payload, task, events: viewer.events };
}

/** Host processes whose command line is exactly `words`. */
function processesRunning(words: string[]): number {
  let count = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "latin1").split("\0").filter(Boolean);
      if (cmdline.join(" ") === words.join(" ")) count++;
    } catch {
      // Gone meanwhile.
    }
  }
  return count;
}

describe("sandbox limits", () => {
  test("a task's limits are validated: out of range or unknown fields get a 400", async () => {
    for (const limits of [
      { processes: 1 },
      { memory_mb: -5 },
      { disk_mb: "lots" },
      { cpu: 4 },
      "none",
    ]) {
      const response = await api<{ error: string }>(omoi.url, "POST", "/api/v1/tasks", {
        prompt: "hello",
        limits,
      });
      assert.equal(response.status, 400, JSON.stringify(limits));
    }
  });

  test("forking past the process limit ends the run with agent.limit_exceeded {limit: processes}, even as root", async () => {
    const { exceeded, task } = await runUntilLimit(
      "id -u; for i in $(seq 1 400); do sleep 3137 & done; wait",
      { processes: 96 },
    );
    assert.equal(exceeded.limit, "processes");
    assert.equal(exceeded.max, 96);
    assert.equal(task.status, "failed");
    assert.match(task.error ?? "", /processes limit/);
    assert.equal(processesRunning(["sleep", "3137"]), 0, "none of its processes outlive it");
  });

  test("allocating past the memory limit ends the run with agent.limit_exceeded {limit: memory}", async () => {
    const { exceeded, task } = await runUntilLimit(
      "python3 -c 'import time; block = bytearray(600 * 1024 * 1024); time.sleep(3138)'",
      { memory_mb: 256 },
    );
    assert.equal(exceeded.limit, "memory");
    assert.equal(exceeded.max, 256 * MB);
    assert.match(task.error ?? "", /memory limit/);
  });

  test("filling a RAM-backed tmpfs inside the sandbox counts against its memory limit", async () => {
    const { exceeded } = await runUntilLimit(
      "head -c 700m /dev/zero > /dev/shm/fill; ls -la /dev/shm; sleep 3139",
      { memory_mb: 256 },
    );
    assert.equal(exceeded.limit, "memory");
    assert.equal(processesRunning(["sleep", "3139"]), 0);
  });

  test("writing past the disk limit ends the run with agent.limit_exceeded {limit: disk}", async () => {
    const { exceeded, task } = await runUntilLimit("head -c 200m /dev/zero > big.bin; sleep 3140", {
      disk_mb: 64,
    });
    assert.equal(exceeded.limit, "disk");
    assert.equal(exceeded.max, 64 * MB);
    assert.ok(Number(exceeded.value) > 64 * MB);
    assert.match(task.error ?? "", /disk limit/);
    assert.equal(processesRunning(["sleep", "3140"]), 0);
  });
});

describe("background processes", () => {
  const runToCompletion = (command: string, limits?: SandboxLimits) =>
    runTaskToCompletion(omoi.url, {
      prompt: `[scenario:shell] ${command}`,
      ...(limits ? { limits } : {}),
    });

  const LEFT_RUNNING =
    "(sleep 3141 &); nohup sleep 3142 >/dev/null 2>&1 & setsid sleep 3143 & echo started";

  test("processes a turn started in the background do not outlive it; the sandbox stays open for follow-ups", async () => {
    const task = await runToCompletion(LEFT_RUNNING);
    for (const seconds of ["3141", "3142", "3143"]) {
      assert.equal(processesRunning(["sleep", seconds]), 0, `sleep ${seconds} was ended`);
    }
    const answered = await api(omoi.url, "POST", `/api/v1/sandboxes/${task.sandbox_id}/messages`, {
      content: "still there?",
    });
    assert.equal(answered.status, 201, "the sandbox is still open");
    const viewer = new TestViewer(
      `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${task.id}&since=0`,
    );
    await viewer.waitForEvent(
      "agent.message",
      (event) => String(event.payload.content).includes("still there?"),
      60_000,
    );
    viewer.close();
    await api(omoi.url, "DELETE", `/api/v1/sandboxes/${task.sandbox_id}`);
  });

  test("with keep_background_processes they outlive the turn, and are gone once the sandbox is deleted", async () => {
    const task = await runToCompletion(LEFT_RUNNING.replaceAll("314", "315"), {
      keep_background_processes: true,
    });
    for (const seconds of ["3151", "3152", "3153"]) {
      assert.equal(processesRunning(["sleep", seconds]), 1, `sleep ${seconds} kept`);
    }
    const deleted = await api(omoi.url, "DELETE", `/api/v1/sandboxes/${task.sandbox_id}`);
    assert.equal(deleted.status, 200);
    for (const seconds of ["3151", "3152", "3153"]) {
      assert.equal(
        processesRunning(["sleep", seconds]),
        0,
        `sleep ${seconds} ended with its sandbox`,
      );
    }
  });
});
