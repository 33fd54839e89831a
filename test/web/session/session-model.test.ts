import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EventFrame } from "../../../src/protocol/event.ts";
import { SessionModel } from "../../../web/src/session/session-model.ts";

/** Builds viewer frames of one stream with gapless seqs, as the server sends them. */
function streamOf(streamId = "sbx_1", taskId: string | null = "task_1") {
  let seq = 0;
  return (
    event_type: string,
    payload: Record<string, unknown> = {},
    stream = streamId,
  ): EventFrame => {
    seq += 1;
    return {
      type: "event",
      id: `${stream}-${seq}`,
      seq,
      stream_id: stream,
      sandbox_id: stream.startsWith("sbx_") ? stream : null,
      task_id: taskId,
      entity_type: stream.startsWith("sbx_") ? "sandbox" : "task",
      entity_id: stream,
      event_type,
      source: "agent",
      payload,
      emitted_at: 1_000 + seq,
      stored_at: 1_000 + seq,
    };
  };
}

describe("SessionModel", () => {
  it("folds streamed deltas into one assistant message that the full message settles", () => {
    const model = new SessionModel();
    const frame = streamOf();
    model.apply(frame("agent.message_delta", { delta: "Hel", message_id: "m1" }), true);
    model.apply(frame("agent.message_delta", { delta: "lo", message_id: "m1" }), true);
    assert.deepEqual(
      model.items.map((item) => item.kind === "assistant" && [item.text, item.streaming]),
      [["Hello", true]],
    );
    model.apply(frame("agent.message", { content: "Hello!", message_id: "m1" }), true);
    assert.equal(model.items.length, 1);
    const [item] = model.items;
    assert.ok(item.kind === "assistant");
    assert.equal(item.text, "Hello!");
    assert.equal(item.streaming, false);
  });

  it("attaches a tool result to its call by tool_use_id", () => {
    const model = new SessionModel();
    const frame = streamOf();
    model.apply(
      frame("agent.tool_use", { tool: "Bash", tool_use_id: "t1", input: { command: "ls" } }),
      false,
    );
    model.apply(frame("agent.thinking", { content: "hmm" }), false);
    model.apply(
      frame("agent.tool_result", { tool_use_id: "t1", output: "a.txt", is_error: false }),
      false,
    );
    const tools = model.items.filter((item) => item.kind === "tool");
    assert.equal(tools.length, 1);
    assert.deepEqual(tools[0].kind === "tool" && tools[0].result, {
      output: "a.txt",
      isError: false,
    });
  });

  it("moves a person's message from sending to queued to delivered, shown once", () => {
    const model = new SessionModel();
    const frame = streamOf();
    model.addLocalMessage("local-1", "also add tests", "user_message", "steer");
    assert.equal(model.items[0].kind === "user" && model.items[0].status, "sending");
    // The event can arrive before the POST answers: the pending bubble adopts it.
    model.apply(
      frame("message.queued", {
        message_id: "msg-1",
        message_type: "user_message",
        content: "also add tests",
      }),
      true,
    );
    model.resolveLocalMessage("local-1", "msg-1");
    assert.equal(model.items.length, 1);
    assert.equal(model.items[0].kind === "user" && model.items[0].status, "queued");
    model.apply(
      frame("agent.message_injected", {
        message_id: "msg-1",
        message_type: "user_message",
        content: "x",
      }),
      true,
    );
    assert.equal(model.items.length, 1);
    assert.equal(model.items[0].kind === "user" && model.items[0].status, "delivered");
  });

  it("takes task and sandbox status from the protocol's event → status map", () => {
    const model = new SessionModel();
    const onTask = streamOf("task_1");
    const onSandbox = streamOf("sbx_1");
    model.apply(onTask("task.created", { title: "t" }), false);
    assert.equal(model.stats.taskStatus, "pending");
    model.apply(onSandbox("sandbox.ready", {}), false);
    model.apply(onSandbox("task.started", { sandbox_id: "sbx_1" }), false);
    assert.equal(model.stats.taskStatus, "running");
    assert.equal(model.stats.sandboxStatus, "running");
    model.apply(onSandbox("task.failed", { error: "boom", will_retry: true }), false);
    assert.equal(
      model.stats.taskStatus,
      "pending",
      "a failure that will be retried queues the task again",
    );
    model.apply(onSandbox("task.failed", { error: "boom", will_retry: false }), false);
    assert.equal(model.stats.taskStatus, "failed");
  });

  it("says a lifecycle step reported on two streams once", () => {
    const model = new SessionModel();
    model.apply(streamOf("task_1")("task.created", {}), false);
    model.apply(streamOf("sbx_1")("task.created", {}), false);
    assert.equal(model.items.filter((item) => item.kind === "note").length, 1);
  });

  it("adds up turns and tokens, and keeps each stream's latest running cost", () => {
    const model = new SessionModel();
    const frame = streamOf();
    const usage = { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 3 };
    model.apply(frame("agent.turn_completed", { num_turns: 1, usage, cost_usd: 0.01 }), false);
    model.apply(frame("agent.turn_completed", { num_turns: 2, usage, cost_usd: 0.03 }), false);
    assert.equal(model.stats.turns, 3);
    assert.equal(model.stats.inputTokens, 30);
    assert.equal(model.stats.outputTokens, 6);
    assert.equal(model.totalCost, 0.03);
    assert.equal(model.stats.activity, "waiting");
  });

  it("shows one error when a failure is reported twice with the same words", () => {
    const model = new SessionModel();
    const frame = streamOf();
    model.apply(frame("agent.failed", { error: "out of budget" }), false);
    model.apply(frame("sandbox.failed", { error: "out of budget" }), false);
    assert.equal(model.items.filter((item) => item.kind === "error").length, 1);
    assert.equal(model.stats.activity, "ended");
  });

  it("keeps the person's prompt apart, set once, whenever it arrives", () => {
    const model = new SessionModel();
    model.apply(streamOf()("agent.message", { content: "done" }), false);
    model.setPrompt("fix the bug", 1);
    model.setPrompt("something else", 2);
    assert.equal(model.prompt?.content, "fix the bug");
    assert.deepEqual(
      model.items.map((item) => item.kind),
      ["assistant"],
    );
  });
  it("shows what the session loaded: the repository's settings and each MCP server's status", () => {
    const model = new SessionModel();
    const frame = streamOf();
    model.apply(frame("agent.started", { model: "m" }), true);
    assert.ok(!model.items.some((item) => item.kind === "loaded"), "nothing loaded, nothing shown");
    model.apply(
      frame("agent.started", {
        model: "m",
        mcp_servers: [
          { name: "probe", status: "connected" },
          { name: "docs", status: "failed" },
          { bad: 1 },
        ],
        project_settings: {
          files: ["CLAUDE.md"],
          commands: ["hello"],
          agents: [],
          skills: ["greet", 7],
        },
      }),
      true,
    );
    const loaded = model.items.find((item) => item.kind === "loaded");
    assert.ok(loaded?.kind === "loaded");
    assert.deepEqual(loaded.files, ["CLAUDE.md"]);
    assert.deepEqual(loaded.commands, ["hello"]);
    assert.deepEqual(loaded.skills, ["greet"]);
    assert.deepEqual(loaded.mcpServers, [
      { name: "probe", status: "connected" },
      { name: "docs", status: "failed" },
    ]);
  });
});
