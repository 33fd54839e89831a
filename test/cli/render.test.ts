import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventRenderer } from "../../src/cli/render.ts";
import { createStyle, stripAnsi } from "../../src/cli/style.ts";

const plain = () => new EventRenderer({ style: createStyle(false), width: 100 });
const event = (event_type: string, payload: Record<string, unknown> = {}) => ({
  event_type,
  payload,
});

describe("render: assistant text", () => {
  it("streams deltas as they come and does not reprint the full message", () => {
    const renderer = plain();
    assert.equal(
      renderer.render(event("agent.message_delta", { delta: "Hel", message_id: "m1" })),
      "Hel",
    );
    assert.equal(
      renderer.render(event("agent.message_delta", { delta: "lo", message_id: "m1" })),
      "lo",
    );
    assert.equal(
      renderer.render(event("agent.message", { content: "Hello", message_id: "m1" })),
      "\n",
    );
  });

  it("prints what the deltas missed when the full message is longer", () => {
    const renderer = plain();
    renderer.render(event("agent.message_delta", { delta: "Hello" }));
    assert.equal(renderer.render(event("agent.message", { content: "Hello world" })), " world\n");
  });

  it("prints a message that was not streamed", () => {
    const renderer = plain();
    assert.equal(
      renderer.render(event("agent.message", { content: "All done.\n" })),
      "All done.\n",
    );
  });

  it("starts other output on a fresh line after a partial delta", () => {
    const renderer = plain();
    renderer.render(event("agent.message_delta", { delta: "Looking" }));
    const text = renderer.render(
      event("agent.tool_use", { tool: "Bash", input: { command: "ls" } }),
    );
    assert.equal(text, "\n⏺ Bash $ ls\n");
    assert.equal(renderer.breakLine(), "");
  });

  it("dims thinking", () => {
    const renderer = new EventRenderer({ style: createStyle(true) });
    const text = renderer.render(event("agent.thinking", { content: "Let me see.\nThen act." }));
    assert.ok(text.includes("\x1b[2m"));
    assert.equal(stripAnsi(text), "✻ Let me see.\n  Then act.\n");
  });
});

describe("render: tools", () => {
  it("shows a Bash command plainly, with its description", () => {
    const text = plain().render(
      event("agent.tool_use", {
        tool: "Bash",
        input: { command: "npm test", description: "Run the tests" },
      }),
    );
    assert.equal(text, "⏺ Bash $ npm test  # Run the tests\n");
  });

  it("shows a multi-line Bash command on indented lines", () => {
    const text = plain().render(
      event("agent.tool_use", { tool: "Bash", input: { command: "cd src\nls" } }),
    );
    assert.equal(text, "⏺ Bash $ cd src\n    ls\n");
  });

  it("shows other tools' input as compact JSON, cut when long", () => {
    const renderer = plain();
    assert.equal(
      renderer.render(event("agent.tool_use", { tool: "Read", input: { file_path: "/a.ts" } })),
      '⏺ Read {"file_path":"/a.ts"}\n',
    );
    const long = renderer.render(
      event("agent.tool_use", { tool: "Write", input: { content: "x".repeat(1000) } }),
    );
    assert.ok(long.length < 400);
    assert.match(long, /…\n$/);
  });

  it("folds long tool results", () => {
    const output = Array.from({ length: 20 }, (_, index) => `line ${index + 1}`).join("\n");
    const text = plain().render(event("agent.tool_result", { tool_use_id: "t1", output }));
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[0], "  ⎿ line 1");
    assert.equal(lines[7], "    line 8");
    assert.equal(lines[8], "    … +12 more lines");
    assert.equal(lines.length, 9);
  });

  it("reads content blocks and shows errors in red", () => {
    const renderer = new EventRenderer({ style: createStyle(true) });
    const text = renderer.render(
      event("agent.tool_result", {
        output: [{ type: "text", text: "command not found" }],
        is_error: true,
      }),
    );
    assert.ok(text.includes("\x1b[31m"));
    assert.equal(stripAnsi(text), "  ⎿ command not found\n");
  });

  it("says when a tool printed nothing", () => {
    assert.equal(plain().render(event("agent.tool_result", { output: "" })), "  ⎿ (no output)\n");
  });
});

describe("render: file edits and todos", () => {
  const diff = [
    "Index: a.txt",
    "===================================================================",
    "--- a/a.txt",
    "+++ b/a.txt",
    "@@ -1,2 +1,2 @@",
    " same",
    "-old",
    "+new",
    "",
  ].join("\n");

  it("shows the path and the diff's hunks, without the preamble", () => {
    assert.equal(
      plain().render(event("agent.file_edited", { path: "a.txt", diff })),
      "✎ a.txt\n  @@ -1,2 +1,2 @@\n   same\n  -old\n  +new\n",
    );
  });

  it("colours added lines green and removed lines red", () => {
    const text = new EventRenderer({ style: createStyle(true) }).render(
      event("agent.file_edited", { path: "a.txt", diff }),
    );
    assert.ok(text.includes("\x1b[32m  +new\x1b[39m"));
    assert.ok(text.includes("\x1b[31m  -old\x1b[39m"));
    assert.ok(text.includes("\x1b[36m  @@ -1,2 +1,2 @@\x1b[39m"));
  });

  it("keeps a removed line that looks like a header", () => {
    const tricky = "@@ -1 +1 @@\n--- not a header\n+x\n";
    assert.equal(
      plain().render(event("agent.file_edited", { path: "b", diff: tricky })),
      "✎ b\n  @@ -1 +1 @@\n  --- not a header\n  +x\n",
    );
  });

  it("lists todos by status", () => {
    const text = plain().render(
      event("agent.todo_updated", {
        todos: [
          { content: "Read the code", status: "completed" },
          { content: "Fix the bug", status: "in_progress", activeForm: "Fixing the bug" },
          { content: "Run the tests", status: "pending" },
        ],
      }),
    );
    assert.equal(text, "☰ todos\n  ✔ Read the code\n  ▸ Fixing the bug\n  ○ Run the tests\n");
  });
});

describe("render: messages, turns, status", () => {
  it("shows queued once, whichever of the answer and the event comes first", () => {
    const renderer = plain();
    assert.equal(
      renderer.queued({ message_id: "m1", content: "use tabs" }),
      "→ queued: use tabs\n",
    );
    assert.equal(
      renderer.render(
        event("message.queued", {
          message_id: "m1",
          message_type: "user_message",
          content: "use tabs",
        }),
      ),
      "",
    );
    assert.equal(
      renderer.render(
        event("message.queued", {
          message_id: "m2",
          message_type: "user_message",
          content: "and spaces",
        }),
      ),
      "→ queued: and spaces\n",
    );
    assert.equal(renderer.queued({ message_id: "m2", content: "and spaces" }), "");
  });

  it("shows delivery of an injected message", () => {
    const renderer = plain();
    assert.equal(
      renderer.render(
        event("agent.message_injected", {
          message_id: "m1",
          message_type: "user_message",
          content: "use tabs",
        }),
      ),
      "→ delivered: use tabs\n",
    );
    assert.equal(
      renderer.render(
        event("agent.message_injected", {
          message_id: "m2",
          message_type: "interrupt",
          content: "x",
        }),
      ),
      "→ delivered: interrupt\n",
    );
  });

  it("shows a turn's cost, tokens and duration", () => {
    const text = plain().render(
      event("agent.turn_completed", {
        num_turns: 3,
        cost_usd: 0.01234,
        usage: { input_tokens: 12_345, output_tokens: 678 },
        duration_ms: 4200,
      }),
    );
    assert.equal(text, "── turn 3 done · $0.0123 · 12,345 in / 678 out tokens · 4.2s\n");
  });

  it("shows task status changes", () => {
    const renderer = plain();
    assert.equal(
      renderer.render(event("task.created", { title: "Fix it", priority: "HIGH" })),
      "● task queued: Fix it (high)\n",
    );
    assert.equal(
      renderer.render(event("task.assigned", { sandbox_id: "sbx_1" })),
      "● assigned to sandbox sbx_1\n",
    );
    assert.equal(renderer.render(event("task.started")), "● task started\n");
    assert.equal(renderer.render(event("task.completed")), "✓ task completed\n");
    assert.equal(renderer.render(event("task.failed", { error: "boom" })), "✗ task failed: boom\n");
    assert.equal(
      renderer.render(event("task.failed", { error: "boom", will_retry: true })),
      "✗ task failed (will retry): boom\n",
    );
    assert.equal(
      renderer.render(event("task.cancelled", { reason: "by you" })),
      "■ task cancelled: by you\n",
    );
  });

  it("shows errors in red", () => {
    const renderer = new EventRenderer({ style: createStyle(true) });
    for (const text of [
      renderer.render(event("agent.error", { error: "rate limited" })),
      renderer.render(event("agent.failed", { error: "crashed" })),
      renderer.render(event("sandbox.failed", { error: "no bwrap" })),
    ]) {
      assert.ok(text.includes("\x1b[31m"));
    }
    assert.equal(
      stripAnsi(renderer.render(event("agent.error", { error: "rate limited" }))),
      "✗ error: rate limited\n",
    );
  });

  it("says when the scripted demo model answers", () => {
    const text = plain().render(
      event("agent.started", { model: "m", cwd: "/w", scripted_model: true }),
    );
    assert.equal(text, "● agent started · m · /w (scripted demo model)\n");
  });

  it("hints at steering while waiting, when a person is at the terminal", () => {
    const interactive = new EventRenderer({ style: createStyle(false), interactive: true });
    assert.match(interactive.render(event("agent.waiting")), /type a message and press Enter/);
    assert.equal(plain().render(event("agent.waiting")), "◌ agent waiting for a message\n");
  });

  it("keeps quiet about heartbeats and runtime chatter, and shows unknown events compactly", () => {
    const renderer = plain();
    assert.equal(renderer.render(event("agent.heartbeat")), "");
    assert.equal(renderer.render(event("agent.system", { subtype: "thinking_tokens" })), "");
    assert.equal(
      renderer.render(event("agent.system", { subtype: "status", data: { status: "requesting" } })),
      "",
    );
    assert.equal(
      renderer.render(event("agent.system", { subtype: "compact_boundary" })),
      "· context compacted\n",
    );
    assert.equal(renderer.render(event("agent.system", { subtype: "task_notification" })), "");
    assert.equal(renderer.render(event("custom.thing", { a: 1 })), '· custom.thing {"a":1}\n');
  });

  it("never writes colour codes when colour is off", () => {
    const renderer = plain();
    const text = [
      renderer.render(event("agent.error", { error: "x" })),
      renderer.render(event("agent.thinking", { content: "y" })),
      renderer.render(event("task.completed")),
    ].join("");
    assert.equal(text, stripAnsi(text));
  });
});

describe("render: setup, requests for a person, modes and limits read as words, not JSON", () => {
  const text = (type: string, payload: Record<string, unknown>) =>
    plain().render(event(type, payload));

  it("shows the environment's setup: start, its output, its end", () => {
    assert.equal(
      text("environment.setup_started", {
        environment: "web",
        source: "environment",
        network: "trusted",
      }),
      "● setup started: environment web · network trusted\n",
    );
    assert.equal(
      text("environment.setup_output", {
        lines: [
          { stream: "stdout", text: "installing" },
          { stream: "stderr", text: "warning: old" },
        ],
      }),
      "  │ installing\n  │ warning: old\n",
    );
    assert.equal(
      text("environment.setup_finished", { exit_code: 0, duration_ms: 1204, cached: false }),
      "● setup finished in 1.2s\n",
    );
    assert.equal(
      text("environment.setup_finished", { exit_code: 0, duration_ms: 30, cached: true }),
      "● setup restored from its snapshot in 30ms\n",
    );
    assert.equal(
      text("environment.setup_finished", { exit_code: 3, duration_ms: 2000, cached: false }),
      "✗ setup failed (exit 3) after 2.0s\n",
    );
  });

  it("says what waits for a person and how it was answered", () => {
    assert.equal(
      text("agent.permission_requested", {
        request_id: "r1",
        tool: "Bash",
        input: { command: "rm -rf build", description: "Clean" },
        description: "Clean the build",
      }),
      "? Bash asks for permission: $ rm -rf build\n  Clean the build\n",
    );
    assert.equal(
      text("agent.permission_requested", {
        request_id: "r1",
        tool: "Write",
        input: { file_path: "/w/a.txt" },
      }),
      "? Write asks for permission: /w/a.txt\n",
    );
    assert.equal(
      text("agent.question", {
        request_id: "r2",
        tool: "AskUserQuestion",
        questions: [{ question: "Which colour?", options: [{ label: "red" }, { label: "blue" }] }],
      }),
      "? Which colour? (red · blue)\n",
    );
    assert.equal(
      text("agent.plan_proposed", {
        request_id: "r3",
        tool: "ExitPlanMode",
        plan: "1. read\n2. fix\n",
      }),
      "? the agent proposes a plan:\n  1. read\n  2. fix\n",
    );
    const resolved = (fields: Record<string, unknown>) =>
      text("agent.permission_resolved", {
        request_id: "r1",
        kind: "permission",
        status: "resolved",
        answered_by: { kind: "person", client: "web" },
        ...fields,
      });
    assert.equal(resolved({ decision: "allow", remember: true }), "✓ allowed from now on (web)\n");
    assert.equal(resolved({ decision: "deny", reason: "not that" }), "! denied: not that (web)\n");
    assert.equal(
      resolved({ decision: "deny", status: "expired", answered_by: { kind: "policy" } }),
      "! denied (no answer: the task's policy)\n",
    );
    assert.equal(
      resolved({ kind: "plan", decision: "approve", mode: "acceptEdits" }),
      "✓ plan approved, working in acceptEdits (web)\n",
    );
  });

  it("shows mode switches and a passed limit", () => {
    assert.equal(
      text("sandbox.mode_requested", { mode: "plan" }),
      "● mode change requested: plan\n",
    );
    assert.equal(
      text("agent.mode_changed", {
        mode: "plan",
        previous: "bypassPermissions",
        reason: "requested",
      }),
      "● permission mode: plan (was bypassPermissions)\n",
    );
    assert.equal(
      text("agent.limit_exceeded", {
        limit: "memory",
        value: 1_100 * 1024 * 1024,
        max: 1024 * 1024 * 1024,
        unit: "bytes",
      }),
      "✗ memory limit passed: 1100 MiB of 1024 MiB allowed\n",
    );
  });
});
