import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startScriptedModel } from "../../src/model/server.ts";
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

/*
 * The prototype's "what should work" list, end to end: the real Claude Agent SDK and CLI, confined
 * by the local sandbox, against the scripted model, driven only through Omoi's public API.
 */

let omoi: TestOmoi;
before(async () => {
  omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "3" });
});
after(async () => omoi.stop());

async function runTask(prompt: string, base = omoi.url) {
  const created = await api<Task>(base, "POST", "/api/v1/tasks", { prompt });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = new TestViewer(
    `${base.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0`,
  );
  await viewer.opened;
  return { task: created.body, viewer };
}

const types = (events: EventFrame[]) => events.map((event) => event.event_type);

describe("a task, watched and steered", () => {
  test("started → thinking → tool_use (a real command ran) → message → injected message → answered", async () => {
    const { task, viewer } = await runTask("Set up the demo workspace.");
    await viewer.waitForEvent("agent.started", undefined, 60_000);
    await viewer.waitForEvent("agent.message", undefined, 60_000);
    // The first run ends; the sandbox stays open and a message starts the next turn.
    await viewer.waitForEvent("task.completed", undefined, 60_000);
    const sandboxId = viewer.events.find((event) => event.event_type === "agent.started")!
      .sandbox_id!;

    // The prototype's curl body.
    const sent = await api<{ status: string; message_id: string }>(
      omoi.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/messages`,
      {
        content: "Please create a file named steered.txt",
        message_type: "user_message",
      },
    );
    assert.equal(sent.status, 201);
    assert.equal(sent.body.status, "queued");
    await viewer.waitForEvent(
      "agent.message_injected",
      (event) => event.payload.message_id === sent.body.message_id,
      60_000,
    );
    await viewer.waitForEvent(
      "agent.message",
      (event) => String(event.payload.content).includes("I created `steered.txt`"),
      60_000,
    );
    await viewer.waitFor(
      () => viewer.events.filter((event) => event.event_type === "task.completed").length === 2,
      "the follow-up run completed",
      60_000,
    );

    const order = types(viewer.events);
    const index = (type: string) => order.indexOf(type);
    assert.ok(index("agent.started") < index("agent.thinking"), order.join(" "));
    assert.ok(index("agent.thinking") < index("agent.tool_use"));
    assert.ok(index("agent.tool_use") < index("agent.tool_result"));
    assert.ok(index("message.queued") < index("agent.message_injected"));
    const injected = order.indexOf("agent.message_injected");
    assert.ok(
      order.slice(injected).includes("agent.message"),
      "a new message answers the injected one",
    );

    const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${sandboxId}`)).body;
    assert.ok(sandbox.workspace);
    assert.match(
      readFileSync(path.join(sandbox.workspace, "greet.sh"), "utf8"),
      /Hello from the Omoi demo/,
    );
    const toolResult = viewer.events.find(
      (event) =>
        event.event_type === "agent.tool_result" &&
        String(event.payload.output).includes("Hello from the Omoi demo"),
    );
    assert.ok(toolResult, "the command's real output came back");
    assert.match(
      readFileSync(path.join(sandbox.workspace, "steered.txt"), "utf8"),
      /create a file named steered.txt/,
    );
    assert.ok(
      viewer.events.some(
        (event) => event.event_type === "agent.file_edited" && event.payload.path === "README.md",
      ),
    );

    const done = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${task.id}`)).body;
    assert.equal(done.status, "completed");
    assert.ok(done.num_turns > 0 && done.cost_usd > 0 && done.input_tokens > 0);
    assert.ok(done.session_id);
    const seqs = viewer.events
      .filter((event) => event.stream_id === sandboxId)
      .map((event) => event.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
      "in order, no gap, no duplicate",
    );
    viewer.close();
  });

  test("interrupt mid-tool stops the turn and keeps the session; stop kills everything", async () => {
    const { task, viewer } = await runTask("[scenario:slow-tool] run the slow job");
    await viewer.waitForEvent("agent.tool_use", (event) => event.payload.tool === "Bash", 60_000);
    const sandboxId = viewer.events.find((event) => event.event_type === "agent.tool_use")!
      .sandbox_id!;
    await api(omoi.url, "POST", `/api/v1/sandboxes/${sandboxId}/messages`, {
      content: "",
      message_type: "interrupt",
    });
    await viewer.waitForEvent("agent.interrupted", undefined, 30_000);
    assert.ok(
      !viewer.events.some(
        (event) =>
          event.event_type === "agent.tool_result" &&
          String(event.payload.output).includes("slow-step-done"),
      ),
    );

    const follow = await api<{ message_id: string }>(
      omoi.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/messages`,
      { content: "are you still there?" },
    );
    await viewer.waitForEvent(
      "agent.message",
      (event) => String(event.payload.content).includes("are you still there?"),
      60_000,
    );
    assert.ok(
      viewer.events.some(
        (event) =>
          event.event_type === "agent.message_injected" &&
          event.payload.message_id === follow.body.message_id,
      ),
    );

    const sandbox = (await api<Sandbox>(omoi.url, "GET", `/api/v1/sandboxes/${sandboxId}`)).body;
    assert.ok(sandbox.worker_pid && pidAlive(sandbox.worker_pid));
    const stopped = await api<Sandbox>(omoi.url, "DELETE", `/api/v1/sandboxes/${sandboxId}`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, "terminated");
    assert.equal(pidAlive(sandbox.worker_pid), false, "the worker is gone when DELETE returns");
    await viewer.waitForEvent("sandbox.terminated");
    const after = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${task.id}`)).body;
    assert.ok(["cancelled", "completed"].includes(after.status), after.status);
    viewer.close();
  });

  test("a failing model endpoint gives a clear agent.error and a failed task, not a hang", async () => {
    const { task, viewer } = await runTask("[scenario:fail-server-error] anything");
    await viewer.waitForEvent("agent.error", undefined, 90_000);
    await viewer.waitForEvent("task.failed", undefined, 90_000);
    const failed = (await api<Task>(omoi.url, "GET", `/api/v1/tasks/${task.id}`)).body;
    assert.equal(failed.status, "failed");
    assert.ok(failed.error && failed.error.length > 0);
    viewer.close();
  });
});

describe("restarts", () => {
  test("the server killed -9 mid-run and restarted: the worker reconnects, every event arrives once, in order", async () => {
    const data = tempDir();
    // The model lives outside the server here, as a real endpoint would, so it survives the kill.
    const model = await startScriptedModel({ port: 0 });
    const env = { OMOI_DATA_DIR: data.dir, OMOI_PORT: "0", ANTHROPIC_BASE_URL: model.url };
    const first = await spawnOmoi(env);
    const { task, viewer } = await runTask(
      "[scenario:slow-tool] slow job across a restart",
      first.url,
    );
    await viewer.waitForEvent("agent.tool_use", undefined, 60_000);
    await first.kill9();
    // Same data dir and port: the worker finds the server where it left it.
    const second = await spawnOmoi({ ...env, OMOI_PORT: String(first.port) });
    try {
      const resumed = new TestViewer(
        `${second.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${task.id}&since=0`,
      );
      await resumed.waitForEvent(
        "agent.message",
        (event) => String(event.payload.content).includes("slow job finished"),
        90_000,
      );
      const sandboxId = resumed.events.find((event) => event.event_type === "agent.started")!
        .sandbox_id!;
      const stream = resumed.events.filter((event) => event.stream_id === sandboxId);
      assert.deepEqual(
        stream.map((event) => event.seq),
        Array.from({ length: stream.length }, (_, i) => i + 1),
      );
      assert.equal(
        new Set(stream.map((event) => event.id)).size,
        stream.length,
        "no event stored twice",
      );
      assert.equal(stream.filter((event) => event.event_type === "agent.started").length, 1);
      const final = await api<Task>(second.url, "GET", `/api/v1/tasks/${task.id}`);
      assert.notEqual(final.body.status, "assigned");
      resumed.close();
    } finally {
      viewer.close();
      await second.stop();
      await model.close();
      data.remove();
    }
  });
});
