import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { validateEventPayload } from "../../src/protocol/events.ts";
import { edgeProblem } from "../../src/protocol/json.ts";
import { envelope } from "../../src/worker/agent-event.ts";
import { editedPath, FileEditTracker } from "../../src/worker/file-edits.ts";
import { createMappingState, mapSdkMessage } from "../../src/worker/mapping.ts";
import * as fixture from "./sdk-fixtures.ts";

const map = (message: Parameters<typeof mapSdkMessage>[0], state = createMappingState()) =>
  mapSdkMessage(message, state, { scriptedModel: true });

/** Every mapped event must pass the registry, or the server would reject it. */
function assertValid(events: ReturnType<typeof map>) {
  for (const event of events) {
    const checked = validateEventPayload(event.event_type, event.payload);
    assert.ok(checked.ok, `${event.event_type}: ${checked.ok ? "" : checked.error}`);
  }
}

describe("mapSdkMessage", () => {
  it("maps system/init to agent.started", () => {
    const events = map(fixture.init);
    assertValid(events);
    assert.equal(events.length, 1);
    assert.equal(events[0].event_type, "agent.started");
    assert.deepEqual(
      {
        session_id: events[0].payload.session_id,
        model: events[0].payload.model,
        cwd: events[0].payload.cwd,
        tools: events[0].payload.tools,
        scripted_model: events[0].payload.scripted_model,
      },
      {
        session_id: "5f0c1b7e-8a43-4c9e-9b0e-2d1f8e6c1a11",
        model: "claude-sonnet-4-5",
        cwd: "/tmp/workspace",
        tools: ["Bash", "Read", "Write", "Edit", "TodoWrite"],
        scripted_model: true,
      },
    );
  });

  it("maps thinking, text and tool_use blocks in order", () => {
    const events = map(fixture.mixed);
    assertValid(events);
    assert.deepEqual(
      events.map((event) => event.event_type),
      ["agent.thinking", "agent.message", "agent.tool_use"],
    );
    assert.equal(events[0].payload.content, "hmm");
    assert.deepEqual(events[1].payload, { content: "Let me look.", message_id: "msg_01ABC" });
    assert.deepEqual(events[2].payload, {
      tool: "Read",
      tool_use_id: "toolu_03",
      input: { file_path: "a.txt" },
    });
  });

  it("adds agent.todo_updated for TodoWrite", () => {
    const events = map(fixture.todoWrite);
    assertValid(events);
    assert.deepEqual(
      events.map((event) => event.event_type),
      ["agent.tool_use", "agent.todo_updated"],
    );
    assert.equal((events[1].payload.todos as unknown[]).length, 2);
  });

  it("maps tool results with the tool's name, text joined, error flag kept", () => {
    const state = createMappingState();
    map(fixture.toolUse, state);
    const ok = map(fixture.toolResult("toolu_01", [{ type: "text", text: "a\nb" }]), state);
    assertValid(ok);
    assert.deepEqual(ok[0], {
      event_type: "agent.tool_result",
      payload: { tool_use_id: "toolu_01", output: "a\nb", is_error: false, tool: "Bash" },
    });
    const failed = map(fixture.toolResult("toolu_01", "command not found", true), state);
    assert.equal(failed[0].payload.output, "command not found");
    assert.equal(failed[0].payload.is_error, true);
  });

  it("keeps the CLI's synthetic user text as agent.system", () => {
    const events = map(fixture.interruptedNote);
    assertValid(events);
    assert.equal(events[0].event_type, "agent.system");
    assert.equal(events[0].payload.subtype, "user_text");
  });

  it("maps text deltas to agent.message_delta with the streaming message id", () => {
    const state = createMappingState();
    const start = map(
      fixture.streamEvent({
        type: "message_start",
        message: { id: "msg_stream1", type: "message", role: "assistant", content: [] },
      }),
      state,
    );
    assert.deepEqual(start, []);
    const delta = map(
      fixture.streamEvent({
        type: "content_block_delta",
        index: 1,
        delta: { type: "text_delta", text: "Hel" },
      }),
      state,
    );
    assertValid(delta);
    assert.deepEqual(delta, [
      {
        event_type: "agent.message_delta",
        payload: { delta: "Hel", index: 1, message_id: "msg_stream1" },
      },
    ]);
    const toolInput = map(
      fixture.streamEvent({
        type: "content_block_delta",
        index: 2,
        delta: { type: "input_json_delta", partial_json: '{"a' },
      }),
      state,
    );
    assert.deepEqual(toolInput, []);
  });

  it("maps result to agent.turn_completed", () => {
    const success = map(fixture.resultSuccess);
    assertValid(success);
    assert.equal(success[0].event_type, "agent.turn_completed");
    assert.deepEqual(
      {
        num_turns: success[0].payload.num_turns,
        cost_usd: success[0].payload.cost_usd,
        duration_ms: success[0].payload.duration_ms,
        result: success[0].payload.result,
        is_error: success[0].payload.is_error,
        subtype: success[0].payload.subtype,
        usage: success[0].payload.usage,
      },
      {
        num_turns: 3,
        cost_usd: 0.0123,
        duration_ms: 1234,
        result: "Done: 3 files.",
        is_error: false,
        subtype: "success",
        usage: fixture.usage,
      },
    );
    const maxTurns = map(fixture.resultMaxTurns);
    assertValid(maxTurns);
    assert.equal(maxTurns[0].payload.subtype, "error_max_turns");
    assert.equal(maxTurns[0].payload.is_error, true);
    assert.deepEqual(maxTurns[0].payload.errors, ["Reached maximum number of turns (2)"]);
  });

  it("maps an assistant error to agent.error beside the text", () => {
    const events = map(fixture.assistantError);
    assertValid(events);
    assert.deepEqual(
      events.map((event) => event.event_type),
      ["agent.message", "agent.error"],
    );
    assert.equal(events[1].payload.code, "server_error");
  });

  it("keeps everything else as agent.system with its subtype", () => {
    const cases = [
      [fixture.status, "status"],
      [fixture.compactBoundary, "compact_boundary"],
      [fixture.apiRetry, "api_retry"],
      [fixture.rateLimit, "rate_limit_event"],
      [fixture.hookResponse, "hook_response"],
      [fixture.unknownType, "brand_new_thing"],
      [fixture.webSearchResult, "assistant_web_search_tool_result"],
    ] as const;
    for (const [message, subtype] of cases) {
      const events = map(message);
      assertValid(events);
      assert.equal(events.length, 1, subtype);
      assert.equal(events[0].event_type, "agent.system");
      assert.equal(events[0].payload.subtype, subtype);
      assert.ok(events[0].payload.data, subtype);
    }
  });
});

describe("envelope", () => {
  it("stamps id, source, time, and cuts oversized payloads to fit", () => {
    const big = "x".repeat(400_000);
    const event = envelope(
      { event_type: "agent.tool_result", payload: { tool_use_id: "t", output: big } },
      "agent",
      "task_1",
    );
    assert.match(event.id, /^[0-9a-f-]{36}$/);
    assert.equal(event.task_id, "task_1");
    assert.ok(JSON.stringify(event.payload).length < 256 * 1024);
    assert.equal(event.payload.truncated, true);
  });

  it("sends what the server stores exactly: binary output shows U+FFFD, deep input is cut and marked", () => {
    let deep: unknown = "bottom";
    for (let level = 0; level < 5000; level += 1) deep = [deep];
    const event = envelope(
      {
        event_type: "agent.tool_use",
        payload: {
          tool: "Bash",
          tool_use_id: "t1",
          input: { "key\u0000": "a\u0000b \ud800", deep },
        },
      },
      "agent",
      null,
    );
    assert.equal(
      edgeProblem(JSON.parse(JSON.stringify({ type: "events", events: [event] }))),
      undefined,
    );
    const input = event.payload.input as Record<string, unknown>;
    assert.equal(input["key\ufffd"], "a\ufffdb \ufffd");
    assert.equal(event.payload.truncated, true);
  });

  it("turns a payload the registry rejects into agent.system, not a lost event", () => {
    const event = envelope({ event_type: "agent.tool_use", payload: { tool: 42 } }, "agent", null);
    assert.equal(event.event_type, "agent.system");
    assert.equal(event.payload.subtype, "invalid_event");
  });
});

describe("FileEditTracker", () => {
  it("diffs a file between before and after, with a workspace-relative path", async () => {
    const workspace = await mkdtemp(join(tmpdir(), "omoi-edit-"));
    try {
      await mkdir(join(workspace, "src"));
      const file = join(workspace, "src", "a.txt");
      await writeFile(file, "one\ntwo\n");
      const tracker = new FileEditTracker(workspace);
      await tracker.before("t1", "Edit", { file_path: file, old_string: "two", new_string: "2" });
      await writeFile(file, "one\n2\n");
      const event = await tracker.after("t1");
      assert.equal(event?.event_type, "agent.file_edited");
      assert.equal(event?.payload.path, join("src", "a.txt"));
      assert.match(String(event?.payload.diff), /^-two$/m);
      assert.match(String(event?.payload.diff), /^\+2$/m);

      await tracker.before("t2", "Write", { file_path: "new.txt", content: "hi\n" });
      await writeFile(join(workspace, "new.txt"), "hi\n");
      const created = await tracker.after("t2");
      assert.equal(created?.payload.path, "new.txt");
      assert.match(String(created?.payload.diff), /^\+hi$/m);
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  });

  it("never reads files outside the workspace, even through a symlink", async () => {
    const root = await mkdtemp(join(tmpdir(), "omoi-edit-"));
    try {
      const workspace = join(root, "workspace");
      await mkdir(workspace);
      const secret = join(root, "secret.env");
      await writeFile(secret, "KEY=hunter2\n");
      await symlink(secret, join(workspace, "link.env"));
      const tracker = new FileEditTracker(workspace);
      await tracker.before("t1", "Edit", { file_path: secret });
      await tracker.before("t2", "Write", { file_path: join(workspace, "link.env") });
      await writeFile(secret, "KEY=changed\n");
      assert.equal(await tracker.after("t1"), null);
      assert.equal(await tracker.after("t2"), null);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("knows which tools edit which file", () => {
    assert.equal(editedPath("Write", { file_path: "a" }), "a");
    assert.equal(editedPath("NotebookEdit", { notebook_path: "n.ipynb" }), "n.ipynb");
    assert.equal(editedPath("Bash", { command: "x" }), null);
  });
});
